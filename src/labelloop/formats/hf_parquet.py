"""Hugging Face ``datasets``-style Parquet: one row per item (exporter, via pyarrow).

Layout: ``<out>/data/<split>.parquet`` (streamed with a ``pyarrow.parquet.ParquetWriter``, one
row group per ``row_group_size`` rows) and a ``README.md`` whose YAML header declares the
``configs``/``data_files`` so ``datasets.load_dataset(<out>)`` finds the splits.

Columns:

* ``id`` (int64), ``key`` (string, nullable);
* one per media field: text → ``string``; image / audio → ``struct<bytes: binary, path:
  string>`` with the file's bytes embedded (the ``datasets`` ``Image`` / ``Audio`` storage,
  declared in the ``huggingface`` schema metadata); point cloud → ``string``, a path relative
  to ``<out>`` of the copy under ``media/<field>/``;
* one per control: classification → ``list<string>`` (the chosen labels; empty when none);
  every other kind → ``string``, the JSON list of that control's regions (ids, geometry in
  labelloop's own units: pixels, code points, seconds, metres);
* ``suggestions`` → ``string``, JSON ``[{"model_version", "score", "value"}]``;
* ``annotated`` (bool): whether the item had an annotation.

Example:
    >>> sorted(arrow_schema_for(_demo_schema()).names)
    ['annotated', 'id', 'key', 'suggestions', 'text', 'topic']
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from labelloop.core import ControlKind, ItemError, LabelSchema, Medium
from labelloop.formats._base import (
    ExportRecord,
    ExportReport,
    MediaPath,
    check_problems,
    is_finite_number,
    safe_split,
)
from labelloop.formats._media import MediaWriter
from labelloop.formats._output import ExportOutput, atomic_output

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

__all__ = ["arrow_schema_for", "export_hf_parquet"]


def _demo_schema() -> LabelSchema:
    return LabelSchema.model_validate(
        {
            "media": [{"name": "text", "kind": "text"}],
            "controls": [{"name": "topic", "kind": "classification", "target": "text", "labels": ["a"]}],
        }
    )


def arrow_schema_for(schema: LabelSchema) -> pa.Schema:
    """The Arrow schema of the rows (with ``datasets`` features in its metadata)."""
    import pyarrow as pa  # type: ignore[import-untyped]

    blob = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    fields = [pa.field("id", pa.int64(), nullable=False), pa.field("key", pa.string())]
    features: dict[str, Any] = {
        "id": {"dtype": "int64", "_type": "Value"},
        "key": {"dtype": "string", "_type": "Value"},
    }
    string = {"dtype": "string", "_type": "Value"}
    for m in schema.media:
        if m.kind in (Medium.IMAGE, Medium.AUDIO):
            fields.append(pa.field(m.name, blob))
            features[m.name] = {"_type": "Image" if m.kind == Medium.IMAGE else "Audio"}
        else:
            fields.append(pa.field(m.name, pa.string()))
            features[m.name] = string
    for c in schema.controls:
        if c.kind == ControlKind.CLASSIFICATION:
            fields.append(pa.field(c.name, pa.list_(pa.string())))
            features[c.name] = {"feature": string, "_type": "Sequence"}
        else:
            fields.append(pa.field(c.name, pa.string()))
            features[c.name] = string
    fields += [pa.field("suggestions", pa.string()), pa.field("annotated", pa.bool_())]
    features |= {"suggestions": string, "annotated": {"dtype": "bool", "_type": "Value"}}
    meta = {"huggingface": json.dumps({"info": {"features": features}})}
    return pa.schema(fields, metadata=meta)


def _row(rec: ExportRecord, schema: LabelSchema, media: MediaWriter) -> tuple[dict[str, Any], list[Any], int]:
    row: dict[str, Any] = {"id": rec.item.id, "key": rec.item.key}
    placed: list[Any] = []
    metas: dict[str, dict[str, Any]] = {}
    for m in schema.media:
        ref = rec.item.data.get(m.name)
        if ref is None:
            row[m.name] = None
            continue
        if m.kind == Medium.TEXT:
            row[m.name] = ref.text
            metas[m.name] = {"text": ref.text or ""}
            continue
        src = media.source(ref)
        if m.kind in (Medium.IMAGE, Medium.AUDIO):
            name = media.name_for(rec.item, ref, m.name, src)
            with open(src, "rb") as fh:  # noqa: PTH123  (no pathlib cost per item)
                row[m.name] = {"bytes": fh.read(), "path": name}
            if m.kind == Medium.IMAGE and isinstance(ref.meta.get("width"), int):
                metas[m.name] = {"width": ref.meta["width"], "height": ref.meta.get("height")}
        else:
            name = media.name_for(rec.item, ref, f"media/{m.name}", src)
            placed.append((src, f"media/{m.name}", name))
            row[m.name] = f"media/{m.name}/{name}"
        metas.setdefault(m.name, {})
    value = rec.value or []
    for fld, meta in metas.items():
        problems = check_problems(schema, fld, value, meta)
        if problems:
            raise ValueError("invalid annotation: " + "; ".join(problems))
    for c in schema.controls:
        mine = [r for r in value if r.get("control") == c.name]
        if c.kind == ControlKind.CLASSIFICATION:
            row[c.name] = [label for r in mine for label in r["labels"]]
        else:
            row[c.name] = orjson.dumps(mine).decode()  # validated above: finite numbers only
    for s in rec.suggestions:
        if s.score is not None and not is_finite_number(s.score):
            raise ValueError(f"suggestion of {s.model_version!r}: score {s.score!r} is not a finite number")
    sugg = [{"model_version": s.model_version, "score": s.score, "value": s.value} for s in rec.suggestions]
    try:
        row["suggestions"] = json.dumps(sugg, ensure_ascii=False, allow_nan=False) if sugg else "[]"
    except (TypeError, ValueError) as exc:
        raise ValueError(f"suggestions are not JSON numbers and strings ({exc})") from exc
    row["annotated"] = rec.value is not None
    return row, placed, len(value)


def export_hf_parquet(
    records: Iterable[ExportRecord],
    schema: LabelSchema,
    out: Path,
    media_path: MediaPath,
    /,
    *,
    row_group_size: int = 1000,
) -> ExportReport:
    """Export items as ``datasets``-loadable Parquet files, one per split (published atomically).

    Args:
        records: The items to export (``split`` from the record or ``item.meta``).
        schema: The label schema (its media fields and controls give the columns).
        out: The folder to create (must not exist, or be empty), or a new ``.zip`` file.
        media_path: Maps a blob's SHA-256 to its file.
        row_group_size: Rows buffered per row group (the memory bound: images are embedded).

    Returns:
        The report (``regions``: every region written in a label column).

    Example:
        >>> # export_hf_parquet(records, schema, Path("release/hf"), store.path_of)
        >>> # pyarrow.parquet.read_table("release/hf/data/train.parquet")
    """
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    arrow = arrow_schema_for(schema)
    report = ExportReport(out)
    writers: dict[str, pq.ParquetWriter] = {}
    buffers: dict[str, list[dict[str, Any]]] = {}
    size = max(1, row_group_size)
    sinks: list[IO[bytes]] = []
    with atomic_output(out) as dest:
        dest.makedirs("data")
        media = MediaWriter(dest, media_path)

        def flush(split: str) -> None:
            rows = buffers.pop(split, [])
            if not rows:
                return
            if split not in writers:
                sinks.append(dest.open(f"data/{split}.parquet"))
                writers[split] = pq.ParquetWriter(sinks[-1], arrow)
            writers[split].write_table(pa.Table.from_pylist(rows, schema=arrow), row_group_size=size)

        try:
            for rec in records:
                try:
                    split = safe_split(rec.split_name)
                    row, placed, n = _row(rec, schema, media)
                except ValueError as exc:
                    report.errors.append(ItemError(rec.where, str(exc), code="LL-FORMAT"))
                    continue
                for p in placed:
                    media.place(*p)
                buffers.setdefault(split, []).append(row)
                if len(buffers[split]) >= size:
                    flush(split)
                report.items += 1
                report.regions += n
            for split in list(buffers):
                flush(split)
        finally:
            for w in writers.values():
                w.close()
            for sink in sinks:
                sink.close()
        _readme(dest, sorted(writers))
    return report


def _readme(dest: ExportOutput, splits: list[str]) -> None:
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    lines += [f"  - split: {s}\n    path: data/{s}.parquet" for s in splits]
    lines += ["---", "", "Exported by labelloop (one row per item; label columns are JSON).", ""]
    dest.write("README.md", "\n".join(lines).encode())
