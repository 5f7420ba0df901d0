r"""CSV export: one row per region (classification label, span, box, polygon, ...).

``<out>/annotations.csv`` (UTF-8, RFC 4180 quoting) with the columns :data:`COLUMNS`.
Suggestions follow their item as rows with ``origin`` = ``suggestion``, ``score`` and
``model_version``. An item without regions still gets one row (empty ``control``).

Formula injection: every text cell taken from user data (key, labels, text, names, JSON)
that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with
``'`` so spreadsheet programs show it as text. Numbers written by labelloop are not escaped.

Example:
    >>> escape_cell("=HYPERLINK('http://x')"), escape_cell("cat")
    ("'=HYPERLINK('http://x')", 'cat')
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from labelloop.core import ControlKind, ItemError, LabelSchema, MediaRef
from labelloop.formats._base import ExportRecord, ExportReport, MediaPath, Value, fmt_num
from labelloop.formats._output import atomic_output

__all__ = ["COLUMNS", "escape_cell", "export_csv"]

COLUMNS = (
    "item_id",
    "key",
    "split",
    "origin",
    "model_version",
    "score",
    "control",
    "kind",
    "region_id",
    "label",
    "start",
    "end",
    "text",
    "x_min",
    "y_min",
    "x_max",
    "y_max",
    "points",
    "attributes",
    "extra",
)
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_GEOM = {"id", "control", "label", "labels", "start", "end", "text", "xyxy", "points", "attributes"}


def escape_cell(value: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula."""
    return "'" + value if value.startswith(_DANGEROUS) else value


def _num(v: object) -> str:
    return fmt_num(v) if isinstance(v, int | float) and not isinstance(v, bool) else ""


def _json(v: object) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":")) if v not in (None, {}, []) else ""


def _rows(region: dict[str, Any], kind: ControlKind | None, ref: MediaRef | None) -> list[dict[str, str]]:
    base = {
        "control": str(region.get("control", "")),
        "kind": kind.value if kind else "",
        "region_id": str(region.get("id", "")),
        "attributes": _json(region.get("attributes")),
        "extra": _json({k: v for k, v in region.items() if k not in _GEOM}),
    }
    if kind == ControlKind.CLASSIFICATION:
        return [{**base, "label": str(label)} for label in region.get("labels", [])]
    row = {**base, "label": str(region.get("label") or "")}
    if kind == ControlKind.SPANS:
        start, end = region.get("start"), region.get("end")
        text = region.get("text")
        if (
            text is None
            and ref is not None
            and ref.text is not None
            and isinstance(start, int)
            and isinstance(end, int)
        ):
            text = ref.text[start:end]
        row |= {"start": _num(start), "end": _num(end), "text": str(text or "")}
    elif kind == ControlKind.BOXES:
        row |= dict(zip(("x_min", "y_min", "x_max", "y_max"), (_num(v) for v in region["xyxy"]), strict=True))
    elif kind in (ControlKind.POLYGONS, ControlKind.KEYPOINTS):
        row["points"] = _json(region.get("points"))
    elif kind == ControlKind.TEXT_FIELD:
        row["text"] = str(region.get("text", ""))
    return [row]


def export_csv(
    records: Iterable[ExportRecord],
    schema: LabelSchema,
    out: Path,
    media_path: MediaPath,
    /,
    *,
    include_suggestions: bool = True,
) -> ExportReport:
    """Export every region as a CSV row, escaped against formula injection (streamed).

    Args:
        records: The items to export.
        schema: The project's label schema (gives each control's kind).
        out: The folder to create, holding ``annotations.csv``.
        media_path: Unused (media are not copied); accepted for the common signature.
        include_suggestions: Also write suggestion rows.

    Returns:
        The report.

    Example:
        >>> # export_csv(records, schema, Path("release/csv"), store.path_of)
    """
    del media_path
    kinds = {c.name: c.kind for c in schema.controls}
    report = ExportReport(out)
    with atomic_output(out) as dest, dest.open_text("annotations.csv", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for rec in records:
            item = rec.item
            first = next(iter(item.data.values()), None)
            common = {"item_id": str(item.id), "key": item.key or "", "split": rec.split_name}
            groups: list[tuple[dict[str, str], Value, bool]] = [({"origin": "annotation"}, rec.value or [], True)]
            if include_suggestions:
                groups += [
                    ({"origin": "suggestion", "model_version": s.model_version, "score": _num(s.score)}, s.value, False)
                    for s in rec.suggestions
                ]
            out_rows: list[dict[str, str]] = []
            n_regions = n_suggested = 0
            try:
                for head, value, is_annotation in groups:
                    rows = []
                    for region in value:
                        kind = kinds.get(str(region.get("control")))
                        ref = item.data.get(_target(schema, region)) if kind else first
                        rows += _rows(region, kind, ref)
                    if is_annotation and not rows:
                        rows = [{}]
                    out_rows += [{**common, **head, **row} for row in rows]
                    if is_annotation:
                        n_regions += len(value)
                    else:
                        n_suggested += len(value)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                report.errors.append(ItemError(rec.where, f"malformed region: {exc}", code="LL-FORMAT"))
                continue
            writer.writerows(
                [
                    (v if numeric or not v else escape_cell(v))
                    for v, numeric in zip(map(cells.get, COLUMNS, _BLANKS), _IS_NUMERIC, strict=True)
                ]
                for cells in out_rows
            )
            report.regions += n_regions
            report.suggestions += n_suggested
            report.items += 1
    return report


_NUMERIC = frozenset({"item_id", "score", "start", "end", "x_min", "y_min", "x_max", "y_max"})
_IS_NUMERIC = tuple(c in _NUMERIC for c in COLUMNS)
_BLANKS = ("",) * len(COLUMNS)


def _target(schema: LabelSchema, region: dict[str, Any]) -> str:
    try:
        return schema.control(str(region.get("control"))).target
    except KeyError:
        return ""
