"""COCO importer: one :class:`ImportedItem` per image, or an :class:`ItemError`.

An annotation becomes a polygon region when it has a polygon ``segmentation`` and a polygons
control takes its category; a keypoints region when it has ``keypoints`` and a keypoints
control takes it; otherwise a box from ``bbox``. A multi-part polygon gives one region per
part. RLE masks (``iscrowd`` = 1) are refused. Any bad annotation refuses its whole image,
with the annotation's index in the reason; the other images continue.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "annotations.json").write_text("{not json")
    >>> s = LabelSchema.model_validate({"media": [{"name": "image", "kind": "image"}],
    ...     "controls": [{"name": "obj", "kind": "boxes", "target": "image", "labels": ["cat"]}]})
    >>> [str(e) for e in import_coco(root, s)]
    ['annotations.json:1: malformed JSON: Expecting property name enclosed in double quotes (column 2)']
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from labelloop.core import Control, ControlKind, ItemError, LabelSchema
from labelloop.errors import FormatError
from labelloop.formats._base import ImportedItem, Value, check_problems, controls_of, is_finite_number, resolve_inside

__all__ = ["import_coco"]

_GEOMETRY = (ControlKind.BOXES, ControlKind.POLYGONS, ControlKind.KEYPOINTS)
MAX_JSON_BYTES = 2 * 1024**3


def _nums(values: object, what: str) -> list[float]:
    if not isinstance(values, list) or not all(is_finite_number(v) for v in values):
        raise ValueError(f"{what}: expected a list of finite numbers, got {str(values)[:80]}")
    return [v for v in values if isinstance(v, int | float)]


class _Router:
    """Finds, for a label, the control of each kind that takes it."""

    def __init__(self, controls: list[Control]) -> None:
        self.by_kind: dict[tuple[ControlKind, str], Control] = {}
        for c in controls:
            for label in c.labels:
                self.by_kind.setdefault((c.kind, label), c)

    def get(self, kind: ControlKind, label: str) -> Control | None:
        return self.by_kind.get((kind, label))


def _regions(ann: dict[str, Any], label: str, router: _Router, next_id: int) -> list[dict[str, Any]]:
    seg = ann.get("segmentation")
    if ann.get("iscrowd") == 1 or isinstance(seg, dict):
        raise ValueError("RLE masks (iscrowd=1) are not supported")
    poly = router.get(ControlKind.POLYGONS, label)
    if poly is not None and isinstance(seg, list) and seg:
        out = []
        for j, part in enumerate(seg):
            flat = _nums(part, f"segmentation[{j}]")
            if len(flat) < 6 or len(flat) % 2:
                raise ValueError(f"segmentation[{j}]: a polygon needs an even number (>= 6) of coordinates")
            pts = [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)]
            out.append({"id": f"r{next_id + j}", "control": poly.name, "label": label, "points": pts})
        return out
    kp_ctl = router.get(ControlKind.KEYPOINTS, label)
    kps = ann.get("keypoints")
    if kp_ctl is not None and isinstance(kps, list) and kps:
        flat = _nums(kps, "keypoints")
        k = len(kp_ctl.keypoints)
        if len(flat) != 3 * k:
            raise ValueError(f"keypoints: expected {3 * k} values ({k} points x 3), got {len(flat)}")
        pts = []
        for i in range(0, len(flat), 3):
            v = flat[i + 2]
            if v not in (0, 1, 2):
                raise ValueError(f"keypoints[{i + 2}]: visibility must be 0, 1 or 2, got {v}")
            pts.append([flat[i], flat[i + 1], int(v)])
        return [{"id": f"r{next_id}", "control": kp_ctl.name, "label": label, "points": pts}]
    box = router.get(ControlKind.BOXES, label)
    if box is None:
        raise ValueError(f"category {label!r} has no matching boxes/polygons/keypoints control in the schema")
    x, y, w, h = _box(ann.get("bbox"))
    return [{"id": f"r{next_id}", "control": box.name, "label": label, "xyxy": [x, y, x + w, y + h]}]


def _box(bbox: object) -> tuple[float, float, float, float]:
    vals = _nums(bbox, "bbox")
    if len(vals) != 4:
        raise ValueError(f"bbox: expected [x, y, w, h], got {len(vals)} values")
    x, y, w, h = vals
    if w <= 0 or h <= 0:
        raise ValueError(f"bbox: width and height must be positive, got {vals}")
    return x, y, w, h


def _load(root: Path, annotations: str) -> dict[str, Any]:
    path = resolve_inside(root, annotations)
    if not path.is_file():
        raise FileNotFoundError(f"no annotation file at {annotations!r}")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ValueError(f"the annotation file is larger than {MAX_JSON_BYTES} bytes")
    with path.open("rb") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object at the top, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key, []), list):
            raise ValueError(f"{key!r} must be a list")
    return data


def import_coco(
    root: Path,
    schema: LabelSchema,
    /,
    *,
    annotations: str = "annotations.json",
    images_dir: str = "images",
    field: str | None = None,
) -> Iterator[ImportedItem | ItemError]:
    """Read a COCO dataset folder; never reads outside ``root``.

    Args:
        root: The dataset folder.
        schema: The project's label schema (categories are matched to labels by name).
        annotations: The annotation file, relative to ``root``.
        images_dir: Where ``file_name`` is resolved, relative to ``root``.
        field: The image field (default: the target of the first geometric control).

    Yields:
        One :class:`ImportedItem` per image, or an :class:`ItemError` naming the file, the
        index (``images[3]``) and the reason.

    Raises:
        FormatError: when the schema has no boxes, polygons or keypoints control.
    """
    controls = controls_of(schema, _GEOMETRY, field)
    if not controls:
        raise FormatError("COCO import needs a boxes, polygons or keypoints control")
    field_name = controls[0].target
    router = _Router(controls_of(schema, _GEOMETRY, field_name))
    try:
        data = _load(root, annotations)
    except json.JSONDecodeError as exc:
        yield ItemError(annotations, f"malformed JSON: {exc.msg} (column {exc.colno})", line=exc.lineno)
        return
    except (OSError, ValueError) as exc:
        yield ItemError(annotations, str(exc))
        return
    cats: dict[int, str] = {}
    for i, c in enumerate(data.get("categories", [])):
        if isinstance(c, dict) and isinstance(c.get("id"), int) and isinstance(c.get("name"), str):
            cats[c["id"]] = c["name"]
        else:
            yield ItemError(f"{annotations}:categories[{i}]", "expected {id: int, name: str}")
    images: list[Any] = data.get("images", [])
    image_ids = {im.get("id") for im in images if isinstance(im, dict) and isinstance(im.get("id"), int | str)}
    by_image: dict[Any, list[int]] = {}
    for i, a in enumerate(data.get("annotations", [])):
        iid = a.get("image_id") if isinstance(a, dict) else None
        if not isinstance(iid, int | str) or iid not in image_ids:
            yield ItemError(f"{annotations}:annotations[{i}]", f"refers to no listed image (image_id {iid!r})")
            continue
        by_image.setdefault(iid, []).append(i)
    for idx, im in enumerate(images):
        where = f"{annotations}:images[{idx}]"
        try:
            yield _image(root, schema, im, data["annotations"], by_image, cats, router, field_name, images_dir, where)
        except ValueError as exc:
            yield ItemError(where, str(exc))


def _image(
    root: Path,
    schema: LabelSchema,
    im: object,
    anns: list[Any],
    by_image: dict[Any, list[int]],
    cats: dict[int, str],
    router: _Router,
    field_name: str,
    images_dir: str,
    where: str,
) -> ImportedItem:
    if not isinstance(im, dict):
        raise ValueError(f"expected an image object, got {type(im).__name__}")
    name, width, height = im.get("file_name"), im.get("width"), im.get("height")
    if not isinstance(name, str):
        raise ValueError(f"file_name: expected a string, got {name!r}")
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise ValueError(f"width/height: expected positive integers, got {width!r}x{height!r}")
    path = resolve_inside(root, name, base=images_dir)
    if not path.is_file():
        raise ValueError(f"missing image {name!r}")
    regions: Value = []
    iid = im.get("id")
    for ai in by_image.get(iid, []) if isinstance(iid, int | str) else []:
        ann = anns[ai]
        try:
            cid = ann.get("category_id")
            if cid not in cats:
                raise ValueError(f"category_id {cid!r} is not one of the categories {sorted(cats)}")
            regions += _regions(ann, cats[cid], router, len(regions) + 1)
        except ValueError as exc:
            raise ValueError(f"annotations[{ai}]: {exc}") from None
    problems = check_problems(schema, field_name, regions, {"width": width, "height": height})
    if problems:
        raise ValueError("; ".join(problems))
    key = PurePosixPath(name.replace("\\", "/")).as_posix()
    return ImportedItem(
        key, field_name, path, None, regions, where, {"coco_id": im.get("id"), "width": width, "height": height}
    )
