"""Import a native export (``labelloop export``'s JSONL + media) into an existing project.

Unlike :func:`~labelloop.services.native.restore_native`, which makes a new project, this adds
the export's items with their whole history (suggestions, annotation versions with their
parents, reviews, original authors and times) to a project that already exists. Each item is
checked against the target project's schema: media fields must match and every label value
must validate; an item that does not fit is refused with a per-item error while the rest
imports, and items already present (same content) are skipped as duplicates. A malformed or
truncated export, or a media file that does not match its hash, fails the whole import and
rolls it back. Memory is bounded by the batch size.

Example:
    >>> # import_native(store, "pets", Path("backups/pets"), actor="user:alice").items
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from labelloop.core import ImportReport, ItemError, LabelSchema, MediaRef, NewItem
from labelloop.errors import FormatError
from labelloop.services._gc import without_gc
from labelloop.services.native import JSONL, NativeReport, _lines, _Restorer, item_batches, read_header
from labelloop.storage import BlobRow, Store, UnitOfWork

__all__ = ["import_native"]

ProgressFn = Callable[[int, int | None], None]


def _fit_problems(obj: dict[str, Any], schema: LabelSchema) -> list[str]:
    """Why a native item does not fit ``schema`` (empty when it does)."""
    try:
        data = {k: MediaRef.from_json(v) for k, v in obj["data"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"expected a labelloop item, got a malformed one ({exc!r})"]
    kinds = {m.name: m.kind for m in schema.media}
    problems = [
        f"media field {name!r} ({ref.kind.value}) is not a {ref.kind.value} field of the project"
        for name, ref in data.items()
        if kinds.get(name) != ref.kind
    ]
    if problems:
        return problems
    for kind in ("suggestions", "annotations"):
        for n, row in enumerate(obj.get(kind) or []):
            value = row.get("value") if isinstance(row, dict) else None
            problems += [f"{kind}[{n}]: {p}" for p in schema.validate_value(value, data)]
    return problems


class _Importer(_Restorer):
    def __init__(self, store: Store, tx: UnitOfWork, src: Path, schema: LabelSchema, project_id: int) -> None:
        super().__init__(store, tx, src, schema, project_id)
        self.report = ImportReport()
        self.labels_report = NativeReport("")

    def add(self, lines: list[tuple[int, dict[str, Any]]], name: str, import_id: int, actor: str) -> None:
        fitting: list[tuple[int, dict[str, Any], NewItem]] = []
        blobs: list[BlobRow] = []
        for number, obj in lines:
            problems = _fit_problems(obj, self.schema)
            if problems:
                self.report.errors.append(ItemError(name, "; ".join(problems)[:2000], "LL-ANNOTATION", number))
                continue
            data = {k: MediaRef.from_json(v) for k, v in obj["data"].items()}
            item = NewItem(data, obj["content_hash"], obj.get("key"), obj.get("source", ""), obj.get("meta") or {})
            try:
                rows = [row for ref in data.values() if (row := self.media(ref, f"{name}:{number}")) is not None]
            except FormatError as exc:  # a missing or altered media file: this item only
                self.report.errors.append(ItemError(name, str(exc).split(": ", 1)[-1], exc.code, number))
                continue
            blobs.extend(rows)
            fitting.append((number, obj, item))
        self.tx.items.add_blobs(blobs)
        ids = self.tx.items.add_many(
            self.project_id,
            [f[2] for f in fitting],
            created_by=[str(f[1].get("created_by") or actor) for f in fitting],
            created_at=[datetime.fromisoformat(f[1]["created_at"]) for f in fitting],
            import_id=import_id,
        )
        for (number, obj, _), item_id in zip(fitting, ids, strict=True):
            if item_id is None:
                self.report.duplicates += 1
                continue
            self.report.items += 1
            self.labels(obj, item_id, f"{name}:{number}", self.labels_report)
        self.report.annotations = self.labels_report.annotations
        self.report.suggestions = self.labels_report.suggestions


@without_gc
def import_native(
    store: Store,
    project: str | int,
    src: Path,
    *,
    actor: str,
    batch: int = 1000,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import a native export folder (or its ``labelloop.jsonl``) into ``project``.

    Raises:
        FormatError: the export is malformed or truncated, or a media file does not match its hash.
        NotFound: no such project.
    """
    path = src / JSONL if src.is_dir() else src
    if not path.is_file():
        raise FormatError(f"{src}: expected a labelloop export folder with {JSONL}, got none")
    with store.read() as tx:
        proj = tx.projects.get(project)
    with store.transaction() as tx:
        import_id = tx.imports.start(proj.id, src.name or str(src), actor)
    importer: _Importer | None = None
    try:
        with path.open("rb") as f, store.transaction() as tx:
            total = path.stat().st_size
            lines = _lines(f, path.name)
            read_header(lines, path.name)
            importer = _Importer(store, tx, path.parent, proj.schema, proj.id)
            for pending in item_batches(lines, path.name, batch, {}):
                importer.add(pending, path.name, import_id, actor)
                if progress:
                    progress(f.tell(), total)
            report = importer.report
            report.import_id = import_id
            report.blobs_new = len(importer.new_blobs)
            tx.imports.commit(import_id, report)
        _drop_orphans(store, importer.new_blobs)
        return report
    except BaseException as exc:
        if importer is not None:
            _drop_orphans(store, importer.new_blobs)
        with store.transaction() as tx:
            tx.imports.fail(import_id, exc)
        if isinstance(exc, KeyError | TypeError | ValueError):
            raise FormatError(f"{path.name}: malformed export ({exc!r})") from exc
        raise


def _drop_orphans(store: Store, new_blobs: list[str]) -> None:
    if not new_blobs:
        return
    with store.read() as tx:
        known = tx.items.blob_known(new_blobs)
    for sha in new_blobs:
        if sha not in known:
            store.blobs.delete(sha)
