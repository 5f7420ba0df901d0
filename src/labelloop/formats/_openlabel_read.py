"""ASAM OpenLABEL 1.0 importer (the exporter is :mod:`labelloop.formats.openlabel`).

Reads every ``*.json`` document under ``root`` (split = its folder's name, else ``train``).
A document names its media in ``streams``; the stream whose key is a media field of the
schema is the item's media (``uri`` relative to the document, never outside ``root``).
``object_data`` becomes regions of the control it names (``name``), labelled with the
object's ``type``:

* ``cuboid`` — 10 values ``x y z qx qy qz qw sx sy sz`` (scalar-last quaternion) or 9 values
  ``x y z rx ry rz sx sy sz``; only rotations about +z (yaw) are representable, others are
  refused; ``coordinate_system`` becomes the cuboid's ``frame``;
* ``bbox`` — centre-based ``[cx, cy, w, h]`` → ``xyxy``;
* ``poly2d`` — a flat ``[x1, y1, ...]`` list → ``points``;
* ``attributes`` (``boolean``/``num``/``text``) → the region's attributes.

The region id is the object's ``name`` after ``<type>-`` (as exported), else ``o<uid>``;
a frame other than ``0`` is kept as ``frame_index``. Documents with several media streams
(multimodal items) are refused with a clear error: an import item carries one medium.

Example:
    >>> yaw_from_quaternion(0.0, 0.0, 0.0, 1.0)
    0.0
"""

from __future__ import annotations

import json
import math
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labelloop.core import ControlKind, ItemError, LabelSchema
from labelloop.formats._base import ImportedItem, UnsafePath, check_problems, is_finite_number, resolve_inside

__all__ = ["import_openlabel", "yaw_from_quaternion"]

_TOL = 1e-9
_KINDS = {"cuboid": ControlKind.CUBOIDS, "bbox": ControlKind.BOXES, "poly2d": ControlKind.POLYGONS}


def yaw_from_quaternion(qx: float, qy: float, qz: float, qw: float) -> float:
    """The rotation about +z of a scalar-last quaternion that rotates about +z only.

    Raises:
        ValueError: the quaternion also tilts about x or y, or is not a rotation.
    """
    norm = math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw)
    if not math.isfinite(norm) or norm < 1e-12:
        raise ValueError(f"expected a rotation quaternion, got {[qx, qy, qz, qw]}")
    if abs(qx) / norm > 1e-6 or abs(qy) / norm > 1e-6:
        raise ValueError("only rotations about +z (yaw) are supported; the cuboid is tilted")
    return math.atan2(qz, qw) * 2 if abs(qz) + abs(qw) > 0 else 0.0


def _numbers(val: Any, n: tuple[int, ...], what: str) -> list[float]:
    if not isinstance(val, list) or len(val) not in n or not all(is_finite_number(v) for v in val):
        raise ValueError(f"{what}: expected {' or '.join(map(str, n))} finite numbers, got {str(val)[:80]}")
    return [float(v) for v in val]


def _attributes(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("boolean", "num", "text"):
        for a in (data.get("attributes") or {}).get(kind) or []:
            if isinstance(a, dict) and isinstance(a.get("name"), str):
                out[a["name"]] = a.get("val")
    return out


def _region(kind: str, data: dict[str, Any], label: str, rid: str, schema: LabelSchema) -> dict[str, Any]:
    control = data.get("name")
    if not isinstance(control, str) or control not in {c.name for c in schema.controls}:
        raise ValueError(f"object_data {kind} names control {control!r}, which the schema does not have")
    if schema.control(control).kind != _KINDS[kind]:
        raise ValueError(f"object_data {kind} names control {control!r} of another kind")
    region: dict[str, Any] = {"id": rid, "control": control, "label": label}
    if kind == "cuboid":
        v = _numbers(data.get("val"), (9, 10), "cuboid val")
        yaw = yaw_from_quaternion(*v[3:7]) if len(v) == 10 else v[5]
        if len(v) == 9 and (abs(v[3]) > _TOL or abs(v[4]) > _TOL):
            raise ValueError("only rotations about +z (yaw) are supported; the cuboid is tilted")
        region |= {"center": v[0:3], "size": v[-3:], "yaw": yaw}
        if isinstance(data.get("coordinate_system"), str):
            region["frame"] = data["coordinate_system"]
    elif kind == "bbox":
        cx, cy, w, h = _numbers(data.get("val"), (4,), "bbox val")
        region["xyxy"] = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    else:
        flat = _numbers(data.get("val"), tuple(range(6, 100_002, 2)), "poly2d val")
        region["points"] = [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)]
    attrs = _attributes(data)
    if attrs:
        region["attributes"] = attrs
    return region


def _read(top: Path, doc_path: Path, schema: LabelSchema) -> ImportedItem:
    rel = doc_path.relative_to(top).as_posix()
    try:
        root = json.loads(doc_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"expected an OpenLABEL JSON document, got unreadable JSON ({exc})") from None
    doc = root.get("openlabel") if isinstance(root, dict) else None
    if not isinstance(doc, dict) or not isinstance(doc.get("metadata"), dict):
        raise ValueError('expected a JSON object {"openlabel": {"metadata": ...}}')
    streams = {k: v for k, v in (doc.get("streams") or {}).items() if k in {m.name for m in schema.media}}
    if len(streams) != 1:
        raise ValueError(
            f"expected exactly one stream named after a media field of the schema, got {sorted(streams) or 'none'}"
            + (" (multimodal documents are not importable yet)" if len(streams) > 1 else "")
        )
    ((field, stream),) = streams.items()
    uri = stream.get("uri") if isinstance(stream, dict) else None
    # URIs are relative to the document (the exporter writes ``../media/...``): join, then
    # normalise, and the result must still name a place inside the dataset root.
    base = doc_path.parent.relative_to(top).as_posix()
    joined = posixpath.normpath(posixpath.join(base, str(uri))) if isinstance(uri, str) and uri else ""
    if not isinstance(uri, str) or uri.startswith("/") or joined.startswith(".."):
        raise UnsafePath(uri)
    media = resolve_inside(top, joined)
    if not media.is_file():
        raise ValueError(f"stream {field!r}: media file {uri!r} is missing")
    names = {str(uid): obj for uid, obj in (doc.get("objects") or {}).items() if isinstance(obj, dict)}
    regions: list[dict[str, Any]] = []
    for fkey, frame in sorted((doc.get("frames") or {}).items(), key=lambda kv: int(kv[0])):
        for uid, entry in ((frame or {}).get("objects") or {}).items():
            obj = names.get(str(uid))
            if obj is None or not isinstance(obj.get("type"), str):
                raise ValueError(f"frame {fkey}: object {uid!r} is not declared in objects (with a type)")
            label, name = obj["type"], str(obj.get("name") or "")
            base_id = name[len(label) + 1 :] if name.startswith(f"{label}-") else f"o{uid}"
            for kind, items in ((entry or {}).get("object_data") or {}).items():
                if kind not in _KINDS:
                    continue
                for n, data in enumerate(items or []):
                    rid = base_id if n == 0 and len(items) == 1 else f"{base_id}-{n}"
                    region = _region(kind, data, label, rid, schema)
                    if int(fkey):
                        region["frame_index"] = int(fkey)
                    regions.append(region)
    problems = check_problems(schema, field, regions, {})
    if problems:
        raise ValueError("; ".join(problems))
    split = doc_path.parent.name if doc_path.parent != top else "train"
    key = media.relative_to(top).as_posix()
    return ImportedItem(key, field, media, None, regions, rel, {"split": split, "document": rel})


def import_openlabel(root: Path, schema: LabelSchema, /) -> Iterator[ImportedItem | ItemError]:
    """Read OpenLABEL 1.0 documents (``**/*.json``) under ``root``; never reads outside it.

    Yields:
        One :class:`ImportedItem` per document, or an :class:`ItemError` naming the document.
    """
    top = root.resolve()
    docs = sorted(p for p in top.rglob("*.json") if p.is_file() and not p.is_symlink())
    if not docs:
        yield ItemError(str(root), "expected OpenLABEL documents (*.json), found none")
        return
    for doc in docs:
        try:
            yield _read(top, doc, schema)
        except (ValueError, UnsafePath, TypeError, AttributeError) as exc:
            yield ItemError(doc.relative_to(top).as_posix(), str(exc) or type(exc).__name__)
