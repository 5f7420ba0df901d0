"""Label Studio JSON (full export): exporter and importer, with the labelling config.

Layout written: ``tasks.json`` (a JSON list of tasks, streamed), ``config.xml`` (the labelling
config built from the schema, so ``from_name``/``to_name`` always exist) and binary media under
``media/<field>/<name>``. A task is::

    {"id": item.id, "data": {field: text or "<media_prefix>media/<field>/<name>"},
     "meta": {"labelloop_key": key, "split": split},
     "annotations": [{"id", "completed_by", "result", "was_cancelled", "ground_truth",
                      "lead_time", "created_at"}],
     "predictions": [{"model_version", "score", "result"}]}

Region mapping (``from_name`` = control name, ``to_name`` = media field, result ``id`` =
region id):

===============  =================================================================
control kind     Label Studio result
===============  =================================================================
boxes            ``rectanglelabels``: x/y/width/height in **percent** + original size
polygons         ``polygonlabels``: points in percent + original size
spans            ``labels``: ``start``/``end`` (code points), ``text``, ``labels``
segments         ``labels`` on ``<Audio>``: ``start``/``end`` seconds, ``channel`` 0;
                 a transcript is a per-region ``textarea`` (``<name>_transcript``)
                 with the same result id
classification   ``choices``
text_field       ``textarea`` (``text`` list)
relations        ``relation``: ``from_id``/``to_id``, ``direction`` "right", ``labels``
===============  =================================================================

Keypoints, cuboids, point labels and links have no full-export form here and are counted in
``ignored_regions``. The record carries no annotator nor lead time: ``completed_by`` is the
``completed_by`` option (an LS user id) and ``lead_time`` is ``item.meta["lead_time"]`` when
set, else 0. Suggestions become ``predictions`` (with ``model_version``, without which LS hides
scores).

Example:
    >>> to_percent([10, 20, 60, 70], 200, 100)
    {'x': 5.0, 'y': 20.0, 'width': 25.0, 'height': 50.0, 'rotation': 0}
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from labelloop.core import ControlKind, ItemError, LabelSchema, Medium
from labelloop.errors import FormatError
from labelloop.formats._base import (
    ExportRecord,
    ExportReport,
    MediaPath,
    Value,
    check_problems,
    is_finite_number,
    safe_split,
)
from labelloop.formats._labelstudio_read import import_label_studio
from labelloop.formats._media import MediaWriter, image_size
from labelloop.formats._output import atomic_output

__all__ = ["export_label_studio", "import_label_studio", "label_config", "to_percent"]

_CONFIG_TAG = {
    ControlKind.BOXES: "RectangleLabels",
    ControlKind.POLYGONS: "PolygonLabels",
    ControlKind.SPANS: "Labels",
    ControlKind.SEGMENTS: "Labels",
    ControlKind.CLASSIFICATION: "Choices",
    ControlKind.TEXT_FIELD: "TextArea",
}
_MEDIA_TAG = {Medium.IMAGE: "Image", Medium.TEXT: "Text", Medium.AUDIO: "Audio"}


def label_config(schema: LabelSchema) -> str:
    """The Label Studio labelling config (XML) for the parts of ``schema`` this format carries.

    Example:
        >>> from labelloop.core import LabelSchema
        >>> s = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}],
        ...     "controls": [{"name": "ents", "kind": "spans", "target": "text", "labels": ["PER"]}]})
        >>> print(label_config(s))
        <View><Text name="text" value="$text" /><Labels name="ents" toName="text"><Label value="PER" /></Labels></View>
    """
    import xml.etree.ElementTree as ET

    view = ET.Element("View")
    for m in schema.media:
        if m.kind in _MEDIA_TAG:
            ET.SubElement(view, _MEDIA_TAG[m.kind], {"name": m.name, "value": f"${m.name}"})
    for c in schema.controls:
        if c.kind == ControlKind.RELATIONS:
            rel = ET.SubElement(view, "Relations")
            for label in c.labels:
                ET.SubElement(rel, "Relation", {"value": label})
            continue
        tag = _CONFIG_TAG.get(c.kind)
        if tag is None:
            continue
        attrs = {"name": c.name, "toName": c.target}
        if c.kind == ControlKind.CLASSIFICATION:
            attrs["choice"] = "multiple" if c.multi else "single"
        el = ET.SubElement(view, tag, attrs)
        for label in c.labels:
            ET.SubElement(el, "Choice" if c.kind == ControlKind.CLASSIFICATION else "Label", {"value": label})
        if c.kind == ControlKind.SEGMENTS and c.transcript:
            ET.SubElement(view, "TextArea", {"name": f"{c.name}_transcript", "toName": c.target, "perRegion": "true"})
    return ET.tostring(view, encoding="unicode")


def to_percent(xyxy: list[float], width: int, height: int) -> dict[str, Any]:
    """A pixel ``[x0, y0, x1, y1]`` box as Label Studio's percent ``x/y/width/height``."""
    x0, y0, x1, y1 = xyxy
    return {
        "x": x0 * 100 / width,
        "y": y0 * 100 / height,
        "width": (x1 - x0) * 100 / width,
        "height": (y1 - y0) * 100 / height,
        "rotation": 0,
    }


def _results(schema: LabelSchema, value: Value, sizes: dict[str, tuple[int, int]]) -> tuple[list[Any], int]:
    """LS result items for ``value``; returns them and the number of regions not carried."""
    out: list[dict[str, Any]] = []
    skipped = 0
    for r in value:
        ctl = schema.control(r["control"])
        base = {"id": r["id"], "from_name": ctl.name, "to_name": ctl.target}
        k = ctl.kind
        if k in (ControlKind.BOXES, ControlKind.POLYGONS):
            w, h = sizes[ctl.target]
            base |= {"original_width": w, "original_height": h, "image_rotation": 0}
            if k == ControlKind.BOXES:
                val = to_percent(r["xyxy"], w, h) | {"rectanglelabels": [r["label"]]}
                out.append(base | {"type": "rectanglelabels", "value": val})
            else:
                pts = [[x * 100 / w, y * 100 / h] for x, y in r["points"]]
                val = {"points": pts, "closed": True, "polygonlabels": [r["label"]]}
                out.append(base | {"type": "polygonlabels", "value": val})
        elif k == ControlKind.SPANS:
            val = {"start": r["start"], "end": r["end"], "labels": [r["label"]]}
            if r.get("text") is not None:
                val["text"] = r["text"]
            out.append(base | {"type": "labels", "value": val})
        elif k == ControlKind.SEGMENTS:
            seg = {"start": r["start_s"], "end": r["end_s"], "channel": 0}
            out.append(base | {"type": "labels", "value": seg | {"labels": [r["label"]]}})
            if ctl.transcript:
                tr = base | {"from_name": f"{ctl.name}_transcript", "type": "textarea"}
                out.append(tr | {"value": seg | {"text": [r.get("transcript") or ""]}})
        elif k == ControlKind.CLASSIFICATION:
            out.append(base | {"type": "choices", "value": {"choices": list(r["labels"])}})
        elif k == ControlKind.TEXT_FIELD:
            out.append(base | {"type": "textarea", "value": {"text": [r["text"]]}})
        elif k == ControlKind.RELATIONS:
            out.append(
                {
                    "id": r["id"],
                    "type": "relation",
                    "from_id": r["from_id"],
                    "to_id": r["to_id"],
                    "direction": "right",
                    "labels": [r["label"]],
                }
            )
        else:
            skipped += 1
    return out, skipped


def _check(schema: LabelSchema, value: Value, metas: dict[str, dict[str, Any]], what: str) -> None:
    for fld, meta in metas.items():
        problems = check_problems(schema, fld, value, meta)
        if problems:
            raise ValueError(f"invalid {what}: " + "; ".join(problems))


def export_label_studio(
    records: Iterable[ExportRecord],
    schema: LabelSchema,
    out: Path,
    media_path: MediaPath,
    /,
    *,
    media_prefix: str = "",
    completed_by: int = 1,
    link: bool = False,
    with_media: bool = True,
) -> ExportReport:
    """Export records as a Label Studio full JSON export (streamed, published atomically).

    Args:
        records: The items to export; unannotated items get no annotation.
        schema: The project's label schema.
        out: The folder to create (must not exist, or be empty), or a new ``.zip`` file.
        media_path: Maps a blob's SHA-256 to its file.
        media_prefix: Put before ``media/...`` in ``data`` (e.g. ``/data/local-files/?d=``
            for a Label Studio local-storage root).
        completed_by: The LS user id written on annotations.
        link: Hard-link media instead of copying.
        with_media: Write the media files (False: a labels-only export whose label
            files still name the media as a full export would).

    Returns:
        The report; items whose value does not validate are listed in ``errors``.

    Example:
        >>> # export_label_studio(records, schema, Path("release/ls"), store.path_of)
    """
    if not any(m.kind in _MEDIA_TAG for m in schema.media):
        raise FormatError("Label Studio export needs an image, text or audio media field")
    report = ExportReport(out)
    with atomic_output(out) as dest:
        dest.write("config.xml", (label_config(schema) + "\n").encode())
        media = MediaWriter(dest, media_path, link=link, write=with_media)
        with dest.open("tasks.json") as fh:
            fh.write(b"[")
            first = True
            for rec in records:
                try:
                    task, n_regions, n_sugg, skipped = _task(rec, schema, media, media_prefix, completed_by)
                except (ValueError, KeyError) as exc:
                    report.errors.append(
                        ItemError(
                            rec.where,
                            str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc),
                            code="LL-FORMAT",
                        )
                    )
                    continue
                _write_task(fh, task, first)
                first = False
                report.items += 1
                report.regions += n_regions
                report.suggestions += n_sugg
                report.ignored_regions += skipped
            fh.write(b"\n]\n")
    return report


def _write_task(fh: IO[bytes], task: dict[str, Any], first: bool) -> None:
    # Values were validated (finite numbers only), so orjson's NaN-as-null never applies.
    fh.write((b"\n" if first else b",\n") + orjson.dumps(task))


def _task(
    rec: ExportRecord, schema: LabelSchema, media: MediaWriter, prefix: str, completed_by: int
) -> tuple[dict[str, Any], int, int, int]:
    split = safe_split(rec.split_name)
    data: dict[str, Any] = {}
    sizes: dict[str, tuple[int, int]] = {}
    metas: dict[str, dict[str, Any]] = {}
    placed: list[tuple[Path, str, str]] = []
    for m in schema.media:
        ref = rec.item.data.get(m.name)
        if ref is None or m.kind not in _MEDIA_TAG:
            continue
        if m.kind == Medium.TEXT:
            data[m.name] = ref.text or ""
            metas[m.name] = {"text": ref.text or ""}
            continue
        src = media.source(ref)
        if m.kind == Medium.IMAGE:
            sizes[m.name] = image_size(ref, src)
            metas[m.name] = {"width": sizes[m.name][0], "height": sizes[m.name][1]}
        else:
            metas[m.name] = {}
        sub = f"media/{m.name}"
        name = media.name_for(rec.item, ref, sub, src)
        placed.append((src, sub, name))
        data[m.name] = f"{prefix}{sub}/{name}"
    if not data:
        raise ValueError("the item has none of the schema's image, text or audio fields")
    value = rec.value or []
    _check(schema, value, metas, "annotation")
    result, skipped = _results(schema, value, sizes)
    task: dict[str, Any] = {
        "id": rec.item.id,
        "data": data,
        "meta": {"labelloop_key": rec.item.key, "split": split},
        "annotations": [],
        "predictions": [],
    }
    if rec.value is not None:
        lead = rec.item.meta.get("lead_time")
        task["annotations"].append(
            {
                "id": rec.item.id,
                "completed_by": completed_by,
                "result": result,
                "was_cancelled": False,
                "ground_truth": False,
                "lead_time": float(lead) if isinstance(lead, int | float) and is_finite_number(lead) else 0.0,
                "created_at": rec.item.created_at.isoformat(),
            }
        )
    n_sugg = 0
    for i, s in enumerate(rec.suggestions):
        _check(schema, s.value, metas, f"suggestion {i}")
        pres, _ = _results(schema, s.value, sizes)
        pred: dict[str, Any] = {"model_version": s.model_version or "unknown", "result": pres}
        if s.score is not None:
            if not is_finite_number(s.score):
                raise ValueError(f"suggestion {i}: score {s.score!r} is not a finite number")
            pred["score"] = s.score
        task["predictions"].append(pred)
        n_sugg += len(pres)
    for src, sub, name in placed:  # only once the item is known to be valid
        media.place(src, sub, name)
    return task, len(value) - skipped, n_sugg, skipped
