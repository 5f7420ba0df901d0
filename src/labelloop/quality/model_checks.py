"""Model checks: a person's label against a confident model's suggestion for the same item.

* **Missing label** — the model found a region (box, cuboid, segment, span) that overlaps no
  human region: the fix adds the model's region.
* **Box deviation** — a human box (or cuboid) matched to a model one (Hungarian matching,
  :func:`labelloop.quality.geometry_agreement.match_by_iou`) overlaps it with IoU below
  ``box_iou``: the fix sets the model's geometry.
* **Class disagreement** — matched regions, or classification values, whose classes differ:
  the fix sets the model's class.
* **Text–image mismatch** — where a :class:`TextImageEncoder` is available, a caption or text
  field that scores low against its image (the services wire the ``multimodal.similarity``
  encoders in: OCR text against the caption offline, or a user's CLIP export).

Suggestions are confident when their ``score`` is at least ``min_confidence``; a suggestion
without a score is not used.

Example:
    >>> from labelloop.core import LabelSchema
    >>> schema = LabelSchema.model_validate({"media": [{"name": "image", "kind": "image"}],
    ...     "controls": [{"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat", "dog"]}]})
    >>> human = [{"id": "h1", "control": "objects", "label": "cat", "xyxy": [0, 0, 10, 10]}]
    >>> model = [{"id": "m1", "control": "objects", "label": "dog", "xyxy": [0, 0, 10, 10]},
    ...          {"id": "m2", "control": "objects", "label": "cat", "xyxy": [50, 50, 60, 60]}]
    >>> [f.rule_id for f in model_checks(1, schema, human, model, 0.95)]
    ['model.class_disagreement', 'model.missing_label']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from labelloop.core.findings import Detector, Finding, LabelSource, Severity
from labelloop.core.media import MediaRef
from labelloop.core.schema import Control, ControlKind, LabelSchema
from labelloop.quality.geometry_agreement import (
    box_iou_matrix,
    cuboid_iou_matrix,
    match_by_iou,
    segment_iou_matrix,
)
from labelloop.quality.votes import FloatArray

__all__ = ["DescribesImage", "TextImageEncoder", "model_checks", "region_coords", "region_iou", "text_image_mismatch"]

_GEOMETRY: dict[ControlKind, tuple[str, ...]] = {
    ControlKind.BOXES: ("xyxy",),
    ControlKind.CUBOIDS: ("center", "size", "yaw"),
    ControlKind.SEGMENTS: ("start_s", "end_s"),
    ControlKind.SPANS: ("start", "end"),
}


def region_coords(kind: ControlKind, r: Mapping[str, Any]) -> list[float] | None:
    """The geometry of a box, cuboid, segment or span region as floats; None when malformed.

    Example:
        >>> region_coords(ControlKind.SEGMENTS, {"start_s": 1, "end_s": 2.5})
        [1.0, 2.5]
    """
    try:
        if kind == ControlKind.BOXES:
            v = [float(x) for x in r["xyxy"]]
            return v if len(v) == 4 and v[2] > v[0] and v[3] > v[1] else None
        if kind == ControlKind.CUBOIDS:
            v = [*map(float, r["center"]), *map(float, r["size"]), float(r.get("yaw", 0.0))]
            return v if len(v) == 7 else None
        a, b = _GEOMETRY[kind]
        s, e = float(r[a]), float(r[b])
        return [s, e] if e > s else None
    except (KeyError, TypeError, ValueError):
        return None


def region_iou(kind: ControlKind, a: list[list[float]], b: list[list[float]]) -> FloatArray:
    """IoU matrix of two region lists of one kind (cuboids in 3-D, spans and segments in 1-D).

    Example:
        >>> region_iou(ControlKind.SPANS, [[0, 4]], [[2, 4]]).tolist()
        [[0.5]]
    """
    if kind == ControlKind.BOXES:
        return box_iou_matrix(a, b)
    if kind == ControlKind.CUBOIDS:
        return cuboid_iou_matrix(a, b)
    return segment_iou_matrix(a, b)


def _label(r: Mapping[str, Any]) -> str | None:
    lab = r.get("label")
    return lab if isinstance(lab, str) else None


def _regions(value: Any, ctl: Control) -> list[tuple[dict[str, Any], list[float]]]:
    if not isinstance(value, list):
        return []
    out = []
    for r in value:
        if isinstance(r, dict) and r.get("control") == ctl.name:
            c = region_coords(ctl.kind, r)
            if c is not None:
                out.append((r, c))
    return out


def _classes(value: Any, ctl: Control) -> list[str] | None:
    if not isinstance(value, list):
        return None
    for r in value:
        if isinstance(r, dict) and r.get("control") == ctl.name and isinstance(r.get("labels"), list):
            return sorted(str(x) for x in r["labels"])
    return None


def model_checks(
    item_id: int,
    schema: LabelSchema,
    human: Any,
    model: Any,
    score: float | None,
    *,
    min_confidence: float = 0.8,
    deviation_iou: float = 0.5,
    match_iou: float = 0.1,
    annotator: str | None = None,
    record_id: int | None = None,
    backend: str | None = None,
) -> list[Finding]:
    """Compare one human value with one model suggestion of the same item.

    Args:
        item_id: The item.
        schema: The label schema.
        human: The human annotation value (list of regions).
        model: The suggestion value.
        score: The suggestion's confidence; below ``min_confidence`` (or None) nothing is checked.
        min_confidence: How confident the model must be.
        deviation_iou: Matched regions overlapping less than this are a box deviation.
        match_iou: The least overlap for a human and a model region to be the same object.
        annotator: The human annotator (named in the findings).
        record_id: The annotation id (named in the findings).
        backend: The suggesting backend (named in the messages).

    Returns:
        Findings with detector ``model`` about the human label.
    """
    if score is None or not score >= min_confidence:
        return []
    who = backend or "the model"
    out: list[Finding] = []

    def add(
        rule: str, ctl: Control, msg: str, region: Mapping[str, Any] | None, fix: dict[str, Any], **kw: Any
    ) -> None:
        rid = region.get("id") if region is not None else None
        out.append(
            Finding(
                item_id,
                f"model.{rule}",
                kw.pop("severity", Severity.WARNING),
                msg,
                region_id=str(rid) if rid is not None else None,
                control=ctl.name,
                fix=fix,
                detector=Detector.MODEL,
                label_source=LabelSource.HUMAN,
                annotator=annotator,
                record_id=record_id,
                score=float(score),
                **kw,
            )
        )

    for ctl in schema.controls:
        if ctl.kind == ControlKind.CLASSIFICATION:
            h, m = _classes(human, ctl), _classes(model, ctl)
            if h is not None and m is not None and h != m:
                add(
                    "class_disagreement",
                    ctl,
                    f"{ctl.name}: human {h} but {who} says {m} (confidence {score:.2f})",
                    None,
                    {"action": "set", "field": "labels", "value": m},
                    label=h[0] if h else None,
                )
            continue
        if ctl.kind not in _GEOMETRY:
            continue
        hs, ms = _regions(human, ctl), _regions(model, ctl)
        if not ms:
            continue
        matched_m: set[int] = set()
        iou = region_iou(ctl.kind, [c for _, c in hs], [c for _, c in ms]) if hs else np.zeros((0, len(ms)))
        if hs:
            res = match_by_iou(iou, match_iou)
            for (i, j), v in zip(res.pairs.tolist(), res.ious.tolist(), strict=True):
                matched_m.add(j)
                (hr, _), (mr, _) = hs[i], ms[j]
                if _label(hr) != _label(mr):
                    add(
                        "class_disagreement",
                        ctl,
                        f"{ctl.name}: {hr.get('id')!r} is {_label(hr)!r} but {who} says {_label(mr)!r} "
                        f"(confidence {score:.2f})",
                        hr,
                        {"action": "set", "field": "label", "value": _label(mr)},
                        label=_label(hr),
                    )
                if ctl.kind in (ControlKind.BOXES, ControlKind.CUBOIDS) and v < deviation_iou:
                    fields = _GEOMETRY[ctl.kind]
                    add(
                        "box_deviation",
                        ctl,
                        f"{ctl.name}: {hr.get('id')!r} overlaps {who}'s region at IoU {v:.2f} < {deviation_iou:g}",
                        hr,
                        {"action": "set", "field": list(fields), "value": [mr[f] for f in fields if f in mr]},
                        label=_label(hr),
                    )
        for j, (mr, _) in enumerate(ms):
            if j in matched_m:
                continue
            overlap = float(iou[:, j].max()) if hs else 0.0
            if overlap < match_iou:
                region = {k: v for k, v in mr.items() if k != "id"}
                add(
                    "missing_label",
                    ctl,
                    f"{ctl.name}: {who} found a {_label(mr)!r} region nobody drew (confidence {score:.2f})",
                    None,
                    {"action": "add", "region": region},
                    label=_label(mr),
                    severity=Severity.WARNING,
                )
    return out


@runtime_checkable
class TextImageEncoder(Protocol):
    """A joint text–image encoder (CLIP-like) that scores how well a text describes an image."""

    def similarity(self, image: MediaRef, texts: Sequence[str]) -> Sequence[float]:
        """Return one similarity in ``[0, 1]`` per text (NaN where the pair cannot be judged)."""
        ...


@runtime_checkable
class DescribesImage(Protocol):
    """An encoder that can also say what an image shows as text (OCR), for the suggested fix."""

    def image_text(self, image: MediaRef) -> str:
        """The image's own text (empty when none)."""
        ...


def text_image_mismatch(
    item_id: int,
    schema: LabelSchema,
    value: Any,
    media: Mapping[str, MediaRef],
    encoder: TextImageEncoder | None,
    *,
    threshold: float = 0.5,
    annotator: str | None = None,
    record_id: int | None = None,
    include_media: bool = True,
) -> list[Finding]:
    """Flag texts that score below ``threshold`` against the item's (first) image.

    The texts are the item's text media (a caption; with ``include_media``) and the
    ``text_field`` regions of ``value``. A finding's fix is ``review`` for a text medium (the
    item's data, not a label) and ``set`` of the region's ``text`` for a text field; both carry
    the image's own text when the encoder can read it (:class:`DescribesImage`). A NaN
    similarity (nothing to judge, e.g. an image without text for the OCR encoder) is no finding.
    Without an encoder this returns no findings: the check is off, not failed.

    Example:
        >>> text_image_mismatch(1, None, [], {}, None)  # type: ignore[arg-type]
        []
    """
    if encoder is None:
        return []
    images = [m.name for m in schema.media if m.kind.value == "image" and m.name in media]
    if not images:
        return []
    image = media[images[0]]
    texts: list[tuple[str, str | None, str | None]] = []  # (text, region id, medium name)
    if include_media:
        texts += [(ref.text, None, m.name) for m in schema.media if (ref := media.get(m.name)) is not None and ref.text]
    fields = {c.name for c in schema.controls if c.kind == ControlKind.TEXT_FIELD}
    if isinstance(value, list):
        texts += [
            (r["text"], str(r.get("id")), None)
            for r in value
            if isinstance(r, dict) and r.get("control") in fields and isinstance(r.get("text"), str) and r["text"]
        ]
    if not texts:
        return []
    sims = [float(x) for x in encoder.similarity(image, [t for t, _, _ in texts])]
    flagged = [(t, s) for t, s in zip(texts, sims, strict=True) if s < threshold]  # NaN compares False
    if not flagged:
        return []
    seen = encoder.image_text(image) if isinstance(encoder, DescribesImage) else ""
    out = []
    for (text, rid, medium), s in flagged:
        fix: dict[str, Any]
        if rid is None:
            fix = {"action": "review", "field": medium, "hint": f"the {medium} does not describe the image: rewrite it"}
        else:
            fix = {"action": "set", "field": "text", "hint": "the text does not describe the image"}
            if seen:
                fix["value"] = seen
        if seen:
            fix["image_text"] = seen
        out.append(
            Finding(
                item_id,
                "model.text_image_mismatch",
                Severity.WARNING,
                f"{medium or 'text'} {text[:60]!r} scores {s:.2f} against the image (< {threshold:g})"
                + (f"; the image reads {seen[:60]!r}" if seen else ""),
                region_id=rid,
                control=None if rid is None else _control_of(value, rid),
                fix=fix,
                detector=Detector.MODEL,
                annotator=annotator if rid is not None else None,  # a caption is the item's, not a label
                record_id=record_id if rid is not None else None,
                score=s,
            )
        )
    return out


def _control_of(value: Any, rid: str) -> str | None:
    for r in value if isinstance(value, list) else []:
        if isinstance(r, dict) and str(r.get("id")) == rid:
            c = r.get("control")
            return c if isinstance(c, str) else None
    return None
