"""ASAM OpenLABEL 1.0 JSON for cuboids and multimodal items (exporter).

Layout: ``<out>/<split>/<name>.json`` — one OpenLABEL document per item (an item is one scene
of one frame, or of several when regions carry ``frame_index``) — and the media under
``<out>/media/<field>/<name>``.

Mapping:

* ``metadata``: ``schema_version`` "1.0.0", ``name`` (the item key), ``annotator`` "labelloop".
* ``streams``: one per media field — point cloud → ``lidar``, image → ``camera``, others →
  ``other``; ``uri`` is the media path relative to the document's folder; each frame's
  ``frame_properties.streams`` repeats the ``uri``.
* ``coordinate_systems``: ``base`` (``scene_cs``, the root) and one ``sensor_cs`` child per
  cuboid ``frame`` name and per image field, ``pose_wrt_parent`` = identity ``matrix4x4`` (no
  extrinsics are known; a release with calibration can replace them).
* ``objects``: one per region, keyed ``"0"``, ``"1"``, … (integer UIDs); regions joined by a
  ``links`` region become one object (e.g. a cuboid and its camera box); ``type`` is the label
  of the first region, ``name`` ``<label>-<region id>``, ``frame_intervals`` the frames seen.
* ``frames["<n>"].objects[uid].object_data``: ``cuboid`` ``val`` = 10 values ``x y z qx qy qz
  qw sx sy sz`` (quaternion **scalar-last**, yaw about +z; ``sx sy sz`` = ``size`` l w h) with
  the ``coordinate_system`` of the cuboid's ``frame``; ``bbox`` = **centre-based**
  ``[cx, cy, w, h]`` and ``poly2d`` (``MODE_POLY2D_ABSOLUTE``, closed) in pixels with the image
  field as ``coordinate_system``. Region attributes go to ``attributes`` (``boolean``/``num``/
  ``text``). Other controls are counted in ``ignored_regions``.

Example:
    >>> cuboid_val([1, 2, 3], [4, 2, 1.5], 0.0)
    [1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 1.0, 4.0, 2.0, 1.5]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from labelloop.core import ControlKind, ItemError, LabelSchema, Medium
from labelloop.errors import FormatError
from labelloop.formats._base import (
    ExportRecord,
    ExportReport,
    MediaPath,
    Value,
    check_problems,
    safe_split,
)
from labelloop.formats._media import MediaWriter, _safe_stem, image_size
from labelloop.formats._output import atomic_output

__all__ = ["SCHEMA_VERSION", "cuboid_val", "export_openlabel", "openlabel_document"]

SCHEMA_VERSION = "1.0.0"
_STREAM = {Medium.POINTCLOUD: "lidar", Medium.IMAGE: "camera"}
_GEOM = (ControlKind.CUBOIDS, ControlKind.BOXES, ControlKind.POLYGONS)
_IDENTITY = [1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 1.0]


def cuboid_val(center: list[float], size: list[float], yaw: float) -> list[float]:
    """OpenLABEL's 10-value cuboid (quaternion ``qx qy qz qw``, rotation about +z)."""
    half = float(yaw) / 2
    return [*(float(c) for c in center), 0.0, 0.0, math.sin(half), math.cos(half), *(float(s) for s in size)]


def _attributes(attrs: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, val in (attrs or {}).items():
        if val is None:
            continue
        kind = "boolean" if isinstance(val, bool) else "num" if isinstance(val, int | float) else "text"
        out.setdefault(kind, []).append({"name": name, "val": val if kind != "text" else str(val)})
    return out


def _groups(schema: LabelSchema, value: Value) -> list[list[dict[str, Any]]]:
    """Geometric regions grouped into objects by ``links`` regions (union-find)."""
    geom = [r for r in value if schema.control(r["control"]).kind in _GEOM]
    parent = {r["id"]: r["id"] for r in geom}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in value:
        if schema.control(r["control"]).kind == ControlKind.LINKS and r["from_id"] in parent and r["to_id"] in parent:
            parent[find(r["from_id"])] = find(r["to_id"])
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in geom:
        groups.setdefault(find(r["id"]), []).append(r)
    return list(groups.values())


def _object_data(schema: LabelSchema, r: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ctl = schema.control(r["control"])
    data: dict[str, Any] = {"name": ctl.name}
    if ctl.kind == ControlKind.CUBOIDS:
        kind = "cuboid"
        data |= {"val": cuboid_val(r["center"], r["size"], r.get("yaw", 0.0)), "coordinate_system": r["frame"]}
    elif ctl.kind == ControlKind.BOXES:
        kind = "bbox"
        x0, y0, x1, y1 = (float(v) for v in r["xyxy"])
        data |= {"val": [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], "coordinate_system": ctl.target}
    else:
        kind = "poly2d"
        flat = [float(c) for p in r["points"] for c in p]
        data |= {"val": flat, "mode": "MODE_POLY2D_ABSOLUTE", "closed": True, "coordinate_system": ctl.target}
    attrs = _attributes(r.get("attributes"))
    if attrs:
        data["attributes"] = attrs
    return kind, data


def openlabel_document(
    schema: LabelSchema, value: Value, name: str, uris: dict[str, str]
) -> tuple[dict[str, Any], int]:
    """The OpenLABEL document of one item; returns it and the number of regions carried.

    Args:
        schema: The label schema.
        value: A valid annotation value.
        name: The document name (the item key).
        uris: Media field → URI of its file (relative to the document).
    """
    streams = {f: {"type": _STREAM.get(schema.medium_of(f), "other"), "uri": u} for f, u in uris.items()}
    frames: dict[str, dict[str, Any]] = {}
    objects: dict[str, Any] = {}
    cs_names: set[str] = {f for f in uris if schema.medium_of(f) == Medium.IMAGE}
    carried = 0
    for uid, group in enumerate(_groups(schema, value)):
        seen: set[int] = set()
        for r in group:
            kind, data = _object_data(schema, r)
            if kind == "cuboid":
                cs_names.add(r["frame"])
            fidx = int(r.get("frame_index") or 0)
            seen.add(fidx)
            slot = frames.setdefault(str(fidx), {"objects": {}})["objects"]
            slot.setdefault(str(uid), {"object_data": {}})["object_data"].setdefault(kind, []).append(data)
            carried += 1
        first = group[0]
        objects[str(uid)] = {
            "name": f"{first['label']}-{first['id']}",
            "type": first["label"],
            "frame_intervals": [{"frame_start": i, "frame_end": i} for i in sorted(seen)],
        }
    if not frames:
        frames["0"] = {}
    for frame in frames.values():
        frame["frame_properties"] = {"streams": {f: {"uri": u} for f, u in uris.items()}}
    ids = sorted(int(k) for k in frames)
    coords: dict[str, Any] = {"base": {"type": "scene_cs", "parent": "", "children": sorted(cs_names)}}
    for cs in sorted(cs_names):
        coords[cs] = {
            "type": "sensor_cs",
            "parent": "base",
            "children": [],
            "pose_wrt_parent": {"matrix4x4": _IDENTITY},
        }
    doc = {
        "metadata": {"schema_version": SCHEMA_VERSION, "name": name, "annotator": "labelloop"},
        "streams": streams,
        "coordinate_systems": coords,
        "frame_intervals": [{"frame_start": ids[0], "frame_end": ids[-1]}],
        "objects": objects,
        "frames": {str(i): frames[str(i)] for i in ids},
    }
    return {"openlabel": doc}, carried


def export_openlabel(
    records: Iterable[ExportRecord],
    schema: LabelSchema,
    out: Path,
    media_path: MediaPath,
    /,
    *,
    link: bool = False,
    with_media: bool = True,
) -> ExportReport:
    """Export items as ASAM OpenLABEL 1.0 documents, one per item (published atomically).

    Args:
        records: The items to export (``split`` from the record or ``item.meta``).
        schema: The label schema (cuboids, boxes, polygons and links are carried).
        out: The folder to create (must not exist, or be empty), or a new ``.zip`` file.
        media_path: Maps a blob's SHA-256 to its file.
        link: Hard-link media instead of copying.
        with_media: Write the media files (False: a labels-only export whose label
            files still name the media as a full export would).

    Returns:
        The report; other controls' regions are counted in ``ignored_regions``.

    Example:
        >>> # export_openlabel(records, schema, Path("release/openlabel"), store.path_of)
    """
    if not any(c.kind in _GEOM for c in schema.controls):
        raise FormatError("OpenLABEL export needs a cuboids, boxes or polygons control")
    report = ExportReport(out)
    used: set[str] = set()
    with atomic_output(out) as dest:
        media = MediaWriter(dest, media_path, link=link, write=with_media)
        for rec in records:
            try:
                split = safe_split(rec.split_name)
                placed, uris, metas = [], {}, {}
                for m in schema.media:
                    ref = rec.item.data.get(m.name)
                    if ref is None or m.kind == Medium.TEXT:
                        continue
                    src = media.source(ref)
                    if m.kind == Medium.IMAGE:
                        w, h = image_size(ref, src)
                        metas[m.name] = {"width": w, "height": h}
                    fname = media.name_for(rec.item, ref, f"media/{m.name}", src)
                    placed.append((src, f"media/{m.name}", fname))
                    uris[m.name] = f"../media/{m.name}/{fname}"
                value = rec.value or []
                for fld in metas or [schema.media[0].name]:
                    problems = check_problems(schema, fld, value, metas.get(fld, {}))
                    if problems:
                        raise ValueError("invalid annotation: " + "; ".join(problems))
                doc, carried = openlabel_document(schema, value, rec.item.key or f"item-{rec.item.id}", uris)
                # Validated values are finite, so orjson's NaN-as-null never applies.
                data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
            except (ValueError, orjson.JSONEncodeError) as exc:
                report.errors.append(ItemError(rec.where, str(exc), code="LL-FORMAT"))
                continue
            for p in placed:
                media.place(*p)
            stem = _safe_stem(rec.item.key) or f"item-{rec.item.id}"
            if f"{split}/{stem}" in used:
                stem = f"{stem}-{rec.item.id}"
            used.add(f"{split}/{stem}")
            dest.write(f"{media.folder(split)}{stem}.json", data)
            report.items += 1
            n_links = sum(1 for r in value if schema.control(r["control"]).kind == ControlKind.LINKS)
            report.regions += carried + n_links
            report.ignored_regions += len(value) - carried - n_links
    return report
