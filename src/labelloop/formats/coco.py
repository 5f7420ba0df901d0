"""COCO detection / instance-segmentation (polygons) / keypoints: exporter and importer.

The exporter writes ``<out>/annotations.json`` and ``<out>/images/<file>``; when records carry
suggestions it also writes ``<out>/predictions.json`` in the COCO *results* format
(``image_id``, ``category_id``, ``bbox``, ``score``, plus ``segmentation``/``keypoints``).

Conventions:

* Categories are the labels of the schema's boxes, polygons and keypoints controls on the image
  field, in schema order (control order, then label order), de-duplicated by name, with
  1-based ids. A label of a keypoints control carries ``keypoints`` (the names) and
  ``skeleton`` (empty: the schema declares no edges).
* ``bbox`` is ``[x, y, w, h]`` from ``xyxy``; polygons give ``segmentation`` ``[[x1, y1, ...]]``
  with the polygon's bounding box and shoelace ``area``; keypoints give ``keypoints``
  ``[x, y, v] * K``, ``num_keypoints`` (v > 0) and the bounding box of the visible points.
  Every annotation has ``area`` and ``iscrowd`` = 0; ``info`` and ``licenses`` are always
  present; images without annotations are listed too.
* Streaming: images and annotations are written to part files as records arrive and joined
  at the end; memory holds the category map and counters only.

Example:
    >>> from labelloop.core import LabelSchema
    >>> s = LabelSchema.model_validate({"media": [{"name": "image", "kind": "image"}],
    ...     "controls": [{"name": "obj", "kind": "boxes", "target": "image", "labels": ["cat", "dog"]}]})
    >>> [(c["id"], c["name"]) for c in coco_categories(s)[1]]
    [(1, 'cat'), (2, 'dog')]
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from labelloop.core import ControlKind, ItemError, LabelSchema
from labelloop.errors import FormatError
from labelloop.formats._base import (
    ExportRecord,
    ExportReport,
    MediaPath,
    Value,
    check_problems,
    controls_of,
    image_ref,
)
from labelloop.formats._coco_read import import_coco
from labelloop.formats._media import MediaWriter, image_size
from labelloop.formats._output import ExportOutput, atomic_output

__all__ = ["coco_categories", "export_coco", "import_coco"]

GEOMETRY = (ControlKind.BOXES, ControlKind.POLYGONS, ControlKind.KEYPOINTS)


def coco_categories(schema: LabelSchema, field: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """Return the image field and the COCO categories the schema gives it.

    Raises:
        FormatError: when the schema has no boxes, polygons or keypoints control.
    """
    controls = controls_of(schema, GEOMETRY, field)
    if not controls:
        raise FormatError(f"COCO needs a boxes, polygons or keypoints control{f' on {field!r}' if field else ''}")
    field_name = controls[0].target
    cats: dict[str, dict[str, Any]] = {}
    for ctl in controls_of(schema, GEOMETRY, field_name):
        for label in ctl.labels:
            cat = cats.setdefault(label, {"id": len(cats) + 1, "name": label, "supercategory": ctl.name})
            if ctl.kind == ControlKind.KEYPOINTS and "keypoints" not in cat:
                cat["keypoints"] = list(ctl.keypoints)
                cat["skeleton"] = []
    return field_name, list(cats.values())


def _bounds(points: Sequence[Sequence[float]]) -> list[float]:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def _shoelace(points: Sequence[Sequence[float]]) -> float:
    acc = 0.0
    for (x0, y0), (x1, y1) in zip(points, [*points[1:], points[0]], strict=True):
        acc += x0 * y1 - x1 * y0
    return abs(acc) / 2.0


def region_to_coco(region: dict[str, Any], kind: ControlKind) -> dict[str, Any]:
    """The COCO geometry fields (``bbox``, ``area``, ...) of one region.

    Example:
        >>> region_to_coco({"label": "cat", "xyxy": [10, 20, 40, 60]}, ControlKind.BOXES)
        {'bbox': [10, 20, 30, 40], 'area': 1200, 'iscrowd': 0}
    """
    if kind == ControlKind.BOXES:
        x0, y0, x1, y1 = region["xyxy"]
        return {"bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0}
    if kind == ControlKind.POLYGONS:
        pts = [(p[0], p[1]) for p in region["points"]]
        return {
            "segmentation": [[c for p in pts for c in p]],
            "bbox": _bounds(pts),
            "area": _shoelace(pts),
            "iscrowd": 0,
        }
    pts3 = region["points"]
    visible = [(x, y) for x, y, v in pts3 if v > 0]
    bbox = _bounds(visible) if visible else [0, 0, 0, 0]
    return {
        "keypoints": [c for p in pts3 for c in p],
        "num_keypoints": len(visible),
        "bbox": bbox,
        "area": bbox[2] * bbox[3],
        "iscrowd": 0,
    }


class _JsonArray:
    """Writes JSON objects one by one, comma-separated, to an open binary file (UTF-8)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.count = 0

    def add(self, obj: dict[str, Any]) -> None:
        self.fh.write((b",\n" if self.count else b"\n") + orjson.dumps(obj))
        self.count += 1


def _item_annotations(
    value: Value, kinds: dict[str, ControlKind], cat_ids: dict[str, int]
) -> tuple[list[dict[str, Any]], int]:
    out: list[dict[str, Any]] = []
    ignored = 0
    for region in value:
        kind = kinds.get(str(region.get("control")))
        if kind is None:
            ignored += 1
            continue
        ann = {"category_id": cat_ids[region["label"]], **region_to_coco(region, kind)}
        # Validated geometry lies inside the image, so every derived number is finite; check
        # anyway, before any file is touched for this item (orjson would write NaN as null).
        if not all(map(math.isfinite, ann["bbox"])) or not math.isfinite(ann["area"]):
            raise ValueError(f"region {region.get('id')!r}: coordinates are not finite numbers")
        out.append(ann)
    return out, ignored


def export_coco(
    records: Iterable[ExportRecord],
    schema: LabelSchema,
    out: Path,
    media_path: MediaPath,
    /,
    *,
    field: str | None = None,
    link: bool = False,
    with_media: bool = True,
) -> ExportReport:
    """Export records as a COCO dataset folder (streamed, published atomically).

    Args:
        records: The items to export, each with its chosen value (``None``: no annotations).
        schema: The project's label schema.
        out: The folder to create (must not exist, or be empty), or a new ``.zip`` file.
        media_path: Maps an image's SHA-256 to its file.
        field: The image field (default: the target of the first geometric control).
        link: Hard-link images instead of copying them.
        with_media: Write the media files (False: a labels-only export whose label
            files still name the media as a full export would).

    Returns:
        The report; items that could not be exported are listed in ``errors``.

    Example:
        >>> # export_coco(records, schema, Path("release/coco"), store.path_of)
    """
    field_name, categories = coco_categories(schema, field)
    cat_ids = {c["name"]: c["id"] for c in categories}
    kinds = {c.name: c.kind for c in controls_of(schema, GEOMETRY, field_name)}
    report = ExportReport(out)
    with atomic_output(out) as dest:
        media = MediaWriter(dest, media_path, link=link, write=with_media)
        # Part files are anonymous scratch files (not in the artifact), joined at the end.
        with dest.scratch() as img_fh, dest.scratch() as ann_fh, dest.scratch() as pred_fh:
            images, anns, preds = _JsonArray(img_fh), _JsonArray(ann_fh), _JsonArray(pred_fh)
            pred_fh.write(b"[")
            for rec in records:
                _export_one(rec, schema, field_name, kinds, cat_ids, media, images, anns, preds, report)
            pred_fh.write(b"\n]\n")
            _assemble(dest, categories, {"images": img_fh, "annotations": ann_fh})
            if preds.count:
                pred_fh.seek(0)
                dest.copy_in("predictions.json", pred_fh)
    return report


def _export_one(
    rec: ExportRecord,
    schema: LabelSchema,
    field_name: str,
    kinds: dict[str, ControlKind],
    cat_ids: dict[str, int],
    media: MediaWriter,
    images: _JsonArray,
    anns: _JsonArray,
    preds: _JsonArray,
    report: ExportReport,
) -> None:
    try:
        ref = image_ref(rec.item, field_name)
        src = media.source(ref)
        width, height = image_size(ref, src)
        size = {"width": width, "height": height}
        value = rec.value or []
        problems = check_problems(schema, field_name, value, size)
        if problems:
            raise ValueError("invalid annotation: " + "; ".join(problems))
        item_anns, ignored = _item_annotations(value, kinds, cat_ids)
        pred_rows: list[dict[str, Any]] = []
        for s in rec.suggestions:
            if check_problems(schema, field_name, s.value, size):
                report.errors.append(ItemError(rec.where, "suggestion skipped: invalid value", code="LL-FORMAT"))
                continue
            rows, _ = _item_annotations(s.value, kinds, cat_ids)
            score = 1.0 if s.score is None else float(s.score)
            pred_rows += [{**r, "score": score, "model_version": s.model_version} for r in rows]
    except ValueError as exc:
        report.errors.append(ItemError(rec.where, str(exc), code="LL-FORMAT"))
        return
    name = media.name_for(rec.item, ref, "images", src)
    media.place(src, "images", name)
    image_id = images.count + 1
    images.add({"id": image_id, "file_name": name, "item_id": rec.item.id, **size})
    for ann in item_anns:
        anns.add({"id": anns.count + 1, "image_id": image_id, **ann})
    for row in pred_rows:
        preds.add({"image_id": image_id, **row})
    report.items += 1
    report.regions += len(item_anns)
    report.suggestions += len(pred_rows)
    report.ignored_regions += ignored


def _assemble(dest: ExportOutput, categories: list[dict[str, Any]], parts: dict[str, IO[bytes]]) -> None:
    now = datetime.now(UTC)
    head = {
        "info": {
            "description": "labelloop export",
            "version": "1.0",
            "year": now.year,
            "contributor": "labelloop",
            "url": "",
            "date_created": now.isoformat(timespec="seconds"),
        },
        "licenses": [],
        "categories": categories,
    }
    with dest.open("annotations.json") as fh:
        fh.write(orjson.dumps(head)[:-1])
        for key in ("images", "annotations"):
            part = parts[key]
            fh.write(f', "{key}": ['.encode())
            part.seek(0)
            shutil.copyfileobj(part, fh, 1 << 20)
            fh.write(b"\n]")
        fh.write(b"}\n")
