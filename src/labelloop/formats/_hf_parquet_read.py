"""Hugging Face Parquet importer (the exporter is :mod:`labelloop.formats.hf_parquet`).

Reads ``data/<split>.parquet`` under ``root`` in record batches (memory bounded by the batch,
not the file). One row is one item of the schema's single media field: text from a string
column; an image or audio from a ``struct<bytes, path>`` column (the embedded bytes are
written to a temporary folder, removed once no imported item refers to it any more; a row
with only a ``path``
uses that file, which must lie inside ``root``); a point cloud from a path string. Label
columns: a classification control's ``list<string>`` becomes one region, every other
control's JSON list of regions is taken as is; rows with ``annotated`` false carry no label.
Every value is validated against the schema; a bad row is refused naming file and row.

Example:
    >>> # list(import_hf_parquet(Path("datasets/reviews"), schema))
"""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labelloop.core import ControlKind, ItemError, LabelSchema, Medium
from labelloop.formats._base import ImportedItem, UnsafePath, check_problems, resolve_inside

__all__ = ["import_hf_parquet"]


class _Scratch:
    """A temporary folder that is removed when the last path pointing into it is dropped."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="labelloop-parquet-"))
        self.files = 0
        weakref.finalize(self, shutil.rmtree, self.path, True)

    def new_file(self, suffix: str) -> Path:
        """A fresh file name in the folder (unique across every Parquet file of the import)."""
        self.files += 1
        return self.path / f"{self.files:09d}{suffix}"


class _HeldPath(type(Path())):  # type: ignore[misc]
    """A path that keeps its :class:`_Scratch` folder alive while the path itself is."""

    scratch: _Scratch


def _regions(row: dict[str, Any], schema: LabelSchema) -> list[dict[str, Any]]:
    if row.get("annotated") is False:
        return []
    regions: list[dict[str, Any]] = []
    for c in schema.controls:
        cell = row.get(c.name)
        if cell is None:
            continue
        if c.kind == ControlKind.CLASSIFICATION:
            if not isinstance(cell, list) or not all(isinstance(x, str) for x in cell):
                raise ValueError(f"column {c.name!r}: expected a list of labels, got {str(cell)[:80]}")
            if cell:
                regions.append({"id": c.name, "control": c.name, "labels": list(cell)})
            continue
        try:
            mine = json.loads(cell) if isinstance(cell, str) else None
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"column {c.name!r}: expected a JSON list of regions, got malformed JSON ({exc.msg})"
            ) from None
        if not isinstance(mine, list) or not all(isinstance(r, dict) for r in mine):
            raise ValueError(f"column {c.name!r}: expected a JSON list of regions, got {str(cell)[:80]}")
        if any(r.get("control", c.name) != c.name for r in mine):
            raise ValueError(f"column {c.name!r}: holds regions of another control")
        regions += [{**r, "control": c.name} for r in mine]
    return regions


def _media(
    row: dict[str, Any], field: str, kind: Medium, top: Path, scratch: _Scratch
) -> tuple[Path | None, str | None]:
    cell = row.get(field)
    if cell is None:
        raise ValueError(f"column {field!r} is empty")
    if kind == Medium.TEXT:
        if not isinstance(cell, str):
            raise ValueError(f"column {field!r}: expected text, got {type(cell).__name__}")
        return None, cell
    if kind == Medium.POINTCLOUD:
        path = resolve_inside(top, str(cell))
    elif isinstance(cell, dict) and isinstance(cell.get("bytes"), bytes):
        # The ingest pipeline reads the file a batch later than this row is yielded, so the
        # folder lives as long as any item's path does (not merely as long as this generator).
        path = _HeldPath(scratch.new_file(Path(str(cell.get("path") or "")).suffix[:10]))
        path.scratch = scratch
        path.write_bytes(cell["bytes"])
    elif isinstance(cell, dict) and isinstance(cell.get("path"), str):
        path = resolve_inside(top, cell["path"])
    else:
        raise ValueError(f"column {field!r}: expected {{bytes, path}}, got {type(cell).__name__}")
    if not path.is_file():
        raise ValueError(
            f"column {field!r}: media file {cell if isinstance(cell, str) else cell.get('path')!r} is missing"
        )
    return path, None


def import_hf_parquet(
    root: Path, schema: LabelSchema, /, *, batch_size: int = 1000
) -> Iterator[ImportedItem | ItemError]:
    """Read ``data/*.parquet`` under ``root``; never reads outside it.

    Yields:
        One :class:`ImportedItem` per row (key: the ``key`` column, else ``<split>:<id>``), or
        an :class:`ItemError` naming the file and row.
    """
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    if len(schema.media) != 1:
        yield ItemError(str(root), f"Parquet import reads one media field; the schema has {len(schema.media)}")
        return
    field, kind = schema.media[0].name, schema.media[0].kind
    top = root.resolve()
    files = sorted((top / "data").glob("*.parquet")) if (top / "data").is_dir() else []
    if not files:
        yield ItemError(str(root), "expected data/<split>.parquet files, found none")
        return
    scratch = _Scratch()
    for file in files:
        rel, split = file.relative_to(top).as_posix(), file.stem
        try:
            batches = pq.ParquetFile(file).iter_batches(batch_size=batch_size)
            n = 0
            for rb in batches:
                for row in rb.to_pylist():
                    n += 1
                    try:
                        path, text = _media(row, field, kind, top, scratch)
                        regions = _regions(row, schema)
                        problems = check_problems(schema, field, regions, {"text": text} if text else {})
                        if problems:
                            raise ValueError("; ".join(problems))
                    except (ValueError, UnsafePath) as exc:
                        yield ItemError(rel, str(exc), line=n)
                        continue
                    key = row.get("key") or f"{split}:{row.get('id', n)}"
                    yield ImportedItem(str(key), field, path, text, regions, f"{rel}:{n}", {"split": split})
        except OSError as exc:  # pyarrow raises ArrowInvalid (an OSError/ValueError) for broken files
            yield ItemError(rel, f"expected a readable Parquet file, got {exc}")
