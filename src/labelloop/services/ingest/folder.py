"""Folder import: every file is an item; multimodal projects group files by name.

For a project with one medium, each file becomes one item. For a multimodal project (say media
``image`` and ``caption``), files that share a path stem form one item: ``a/cat.jpg`` +
``a/cat.txt``. When two media fields have the same kind, the field name goes before the
extension: ``scene1.camera.png``, ``scene1.lidar.pcd``.

Hidden files, ``__MACOSX`` folders and a root manifest are skipped; symbolic links that leave
the folder are refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from labelloop.core import ItemError, LabelSchema, Medium
from labelloop.modalities import sniff
from labelloop.services.ingest.candidates import Candidate, FileRef

__all__ = ["iter_files", "read_folder"]


def iter_files(root: Path) -> Iterator[tuple[str, Path] | ItemError]:
    """Yield ``(relative posix path, absolute path)`` of every regular file, sorted."""
    base = root.resolve()
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for fn in sorted(filenames):
            if fn.startswith("."):
                continue
            p = Path(dirpath) / fn
            rel = p.relative_to(base).as_posix()
            if p.is_symlink():
                target = p.resolve()
                if not target.is_relative_to(base) or not target.is_file():
                    yield ItemError(rel, "expected a file inside the import folder, got a link that leaves it")
                    continue
            yield rel, p


def _kind_of(path: Path) -> Medium | None:
    try:
        with path.open("rb") as f:
            head = f.read(4096)
        return sniff(head, size=path.stat().st_size)
    except OSError:
        return None


def read_folder(
    root: Path, schema: LabelSchema, *, skip: frozenset[str] = frozenset()
) -> Iterator[Candidate | ItemError]:
    """Yield one candidate per file (one medium) or per file group (multimodal)."""
    fields = schema.media
    if len(fields) == 1:
        only = fields[0].name
        for entry in iter_files(root):
            if isinstance(entry, ItemError):
                yield entry
            elif entry[0] not in skip:
                rel, path = entry
                yield Candidate(source=rel, line=None, fields={only: FileRef(path, rel)}, key=rel)
        return
    names = {f.name for f in fields}
    by_kind: dict[Medium, list[str]] = {}
    for f in fields:
        by_kind.setdefault(f.kind, []).append(f.name)
    groups: dict[str, dict[str, FileRef]] = {}
    for entry in iter_files(root):
        if isinstance(entry, ItemError):
            yield entry
            continue
        rel, path = entry
        if rel in skip:
            continue
        pure = PurePosixPath(rel)
        stem = pure.stem
        field_name: str | None = None
        if "." in stem and stem.rsplit(".", 1)[1] in names:
            stem, field_name = stem.rsplit(".", 1)
        else:
            kind = _kind_of(path)
            candidates = by_kind.get(kind, []) if kind is not None else []
            if len(candidates) == 1:
                field_name = candidates[0]
            elif len(candidates) > 1:
                yield ItemError(rel, f"expected the field name before the extension (one of {candidates}), got none")
                continue
            else:
                kinds = ", ".join(sorted(k.value for k in by_kind))
                got = kind.value if kind is not None else "unrecognised content"
                yield ItemError(rel, f"expected one of this project's media ({kinds}), got {got}")
                continue
        group_key = str(pure.parent / stem)
        group = groups.setdefault(group_key, {})
        if field_name in group:
            yield ItemError(rel, f"expected one file for {field_name!r} of {group_key!r}, got another")
            continue
        group[field_name] = FileRef(path, rel)
    for key in sorted(groups):
        group = groups[key]
        missing = sorted(names - group.keys())
        if missing:
            yield ItemError(key, f"expected files for every media field, missing {missing}")
            continue
        yield Candidate(source=key, line=None, fields=dict(group), key=key)
