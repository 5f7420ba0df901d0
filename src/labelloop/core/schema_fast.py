"""A fast acceptance check for annotation values of common, well-formed shape.

:meth:`LabelSchema.validate_value` builds pydantic models for every region and then runs the
item-aware checks; for a pre-annotation backend that takes microseconds per item, that costs
more than the prediction. :class:`KnownGood` answers one question cheaply: *is this value
certainly valid?* It walks plain dicts and lists with exact type checks (``type(x) is int``,
no coercion) for the region kinds backends produce most (classification, spans, text fields,
boxes, polygons, cuboids, with or without attributes) and runs the same item-aware checks (text length
and span text, image bounds, overlaps, duplicate ids, one classification per control,
required controls and attributes).

It never decides that a value is invalid: anything it does not accept (another kind, a
coercible but inexact type such as ``3.0`` for an offset, a bad label, ...) goes to the full
validator, which gives the per-problem messages. So ``True`` here implies
``validate_value(...) == []``; ``False`` means "ask the full validator". A value it accepts is
also plain JSON: only ``dict`` (string keys), ``list``, ``str``, ``int``, finite ``float``,
``bool`` and ``None`` pass its type checks.

Example:
    >>> from labelloop.core import LabelSchema, MediaRef
    >>> s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}], "controls": [
    ...     {"name": "ents", "kind": "spans", "target": "t", "labels": ["LOC"]}]})
    >>> ok = KnownGood(s)
    >>> media = {"t": MediaRef.from_text("in Paris")}
    >>> ok([{"id": "a", "control": "ents", "label": "LOC", "start": 3, "end": 8, "text": "Paris"}], media)
    True
    >>> ok([{"id": "a", "control": "ents", "label": "LOC", "start": 3.0, "end": 8}], media)  # ask the full validator
    False
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from labelloop.core.media import MediaRef

if TYPE_CHECKING:
    from labelloop.core.schema import Attribute, Control, LabelSchema

__all__ = ["KnownGood"]

_COMMON = frozenset({"id", "control"})
_GEOMETRY_EXTRA = frozenset({"frame_index", "track"})
_KEYS: dict[str, frozenset[str]] = {
    "classification": frozenset({"labels"}),
    "spans": frozenset({"label", "start", "end", "text"}),
    "text_field": frozenset({"text"}),
    "boxes": frozenset({"label", "xyxy"}) | _GEOMETRY_EXTRA,
    "polygons": frozenset({"label", "points"}) | _GEOMETRY_EXTRA,
    "cuboids": frozenset({"label", "center", "size", "yaw", "frame"}) | _GEOMETRY_EXTRA,
}
_REQUIRED: dict[str, frozenset[str]] = {
    "classification": frozenset({"id", "control", "labels"}),
    "spans": frozenset({"id", "control", "label", "start", "end"}),
    "text_field": frozenset({"id", "control", "text"}),
    "boxes": frozenset({"id", "control", "label", "xyxy"}),
    "polygons": frozenset({"id", "control", "label", "points"}),
    "cuboids": frozenset({"id", "control", "label", "center", "size"}),
}
_MAX_TEXT = 100_000
_MAX_ATTR_TEXT = 10_000
_MAX_FRAME = 64


_I64 = 2**63


def _finite(x: Any) -> bool:
    """An exact ``int`` that JSON writers take (64-bit), or a finite ``float``."""
    t = type(x)
    return (t is int and -_I64 <= x < _I64) or (t is float and math.isfinite(x))


def _text(x: Any, most: int) -> bool:
    """An exact ``str`` of at most ``most`` characters that UTF-8 can encode (no lone surrogates)."""
    if type(x) is not str or len(x) > most:
        return False
    if x.isascii():
        return True
    try:
        x.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _point_ok(p: Any) -> bool:
    return type(p) in (list, tuple) and len(p) == 2 and _finite(p[0]) and _finite(p[1])


def _inside(points: list[Any], ref: MediaRef | None) -> bool:
    if ref is None:
        return True
    w, h = ref.meta.get("width"), ref.meta.get("height")
    if not isinstance(w, int) or not isinstance(h, int):
        return True
    return all(0 <= x <= w and 0 <= y <= h for x, y in points)


def _area_nonzero(points: list[Any]) -> bool:
    """The shoelace area in floats, as the full validator computes it on its parsed points."""
    acc = 0.0
    n = len(points)
    for i in range(n):
        x0, y0 = points[i]
        x1, y1 = points[(i + 1) % n]
        acc += float(x0) * float(y1) - float(x1) * float(y0)
    return abs(acc) / 2.0 != 0.0


def _attribute_check(attrs: list[Attribute]) -> Callable[[Any], bool]:
    """A check of a region's ``attributes`` value against the declared attributes."""
    by_name = {a.name: a for a in attrs}
    required = [a.name for a in attrs if a.required]

    def ok(value: Any) -> bool:
        if value is None:
            return not required
        if type(value) is not dict:
            return False
        for name in required:
            if value.get(name) is None:
                return False
        for name, v in value.items():
            a = by_name.get(name)
            if a is None:
                return False
            if v is None:
                continue  # optional attributes may be null (required ones were checked above)
            if a.type == "text":
                if not _text(v, _MAX_ATTR_TEXT):
                    return False
            elif a.type == "enum":
                if type(v) is not str or v not in a.values:
                    return False
            elif a.type == "bool":
                if type(v) is not bool:
                    return False
            elif not _finite(v) or (a.min is not None and v < a.min) or (a.max is not None and v > a.max):
                return False
        return True

    return ok


class _ControlCheck:
    """The per-control part of :class:`KnownGood` (only for the kinds in ``_KEYS``).

    ``region(r, ref)`` is bound at construction to the check of the control's kind.
    """

    __slots__ = ("allowed", "attrs", "ctl", "kind", "labels", "region", "required")

    def __init__(self, ctl: Control) -> None:
        self.ctl = ctl
        self.kind = ctl.kind.value
        self.labels = frozenset(ctl.labels)
        self.allowed = _COMMON | _KEYS[self.kind] | ({"attributes"} if ctl.attributes else set())
        self.required = _REQUIRED[self.kind]
        self.attrs = _attribute_check(ctl.attributes) if ctl.attributes else None
        self.region: Callable[[dict[str, Any], MediaRef | None], bool] = getattr(self, "_" + self.kind)

    def _head(self, r: dict[str, Any]) -> bool:
        """Keys, id and attributes: what every kind shares."""
        keys = r.keys()
        if not (keys <= self.allowed and keys >= self.required):
            return False
        rid = r["id"]
        if type(rid) is not str or not 0 < len(rid) <= 128 or not (rid.isascii() or _text(rid, 128)):
            return False
        return self.attrs is None or self.attrs(r.get("attributes"))

    def _classification(self, r: dict[str, Any], ref: MediaRef | None) -> bool:
        if not self._head(r):
            return False
        labels = r["labels"]
        if type(labels) is not list or not labels or (len(labels) != 1 and not self.ctl.multi):
            return False
        if not all(type(x) is str and x in self.labels for x in labels):
            return False
        return len(labels) == 1 or len(set(labels)) == len(labels)

    def _text_field(self, r: dict[str, Any], ref: MediaRef | None) -> bool:
        return self._head(r) and _text(r["text"], _MAX_TEXT)

    def _spans(self, r: dict[str, Any], ref: MediaRef | None) -> bool:
        if not self._head(r):
            return False
        label, start, end = r["label"], r["start"], r["end"]
        if type(label) is not str or label not in self.labels:
            return False
        if type(start) is not int or type(end) is not int or not 0 <= start < end < _I64:
            return False
        span_text = r.get("text")
        full = ref.text if ref is not None else None
        if full is None:  # nothing to check the span against: its text must stand on its own
            return span_text is None or _text(span_text, len(span_text))
        if end > len(full):
            return False
        if span_text is None:
            return True
        if type(span_text) is not str or full[start:end] != span_text:
            return False
        return span_text.isascii() or _text(span_text, end)

    def _geometry_head(self, r: dict[str, Any]) -> bool:
        if not self._head(r):
            return False
        label = r["label"]
        if type(label) is not str or label not in self.labels:
            return False
        fi, track = r.get("frame_index"), r.get("track")
        if fi is not None and (type(fi) is not int or not 0 <= fi < _I64):
            return False
        return track is None or _text(track, 128)

    def _boxes(self, r: dict[str, Any], ref: MediaRef | None) -> bool:
        if not self._geometry_head(r):
            return False
        xyxy = r["xyxy"]
        if type(xyxy) not in (list, tuple) or len(xyxy) != 4 or not all(_finite(v) for v in xyxy):
            return False
        x0, y0, x1, y1 = xyxy
        return x1 > x0 and y1 > y0 and _inside([[x0, y0], [x1, y1]], ref)

    def _polygons(self, r: dict[str, Any], ref: MediaRef | None) -> bool:
        if not self._geometry_head(r):
            return False
        points = r["points"]
        if type(points) is not list or len(points) < self.ctl.min_points or not all(_point_ok(p) for p in points):
            return False
        return _area_nonzero(points) and _inside(points, ref)

    def _cuboids(self, r: dict[str, Any], ref: MediaRef | None) -> bool:
        if not self._geometry_head(r) or not _triple(r["center"]) or not _triple(r["size"], nonneg=True):
            return False
        if "yaw" in r and not _finite(r["yaw"]):  # (optional, but not null)
            return False
        if "frame" in r:
            frame = r["frame"]
            return type(frame) is str and 0 < len(frame) <= _MAX_FRAME and _text(frame, _MAX_FRAME)
        return True


def _triple(v: Any, *, nonneg: bool = False) -> bool:
    """Three finite numbers (``nonneg``: none below zero), as a list or tuple."""
    if type(v) not in (list, tuple) or len(v) != 3:
        return False
    a, b, c = v
    if not (_finite(a) and _finite(b) and _finite(c)):
        return False
    return not nonneg or (a >= 0 and b >= 0 and c >= 0)


class KnownGood:
    """``check(value, media) -> bool``: True only when ``value`` is certainly valid for the schema.

    Args:
        schema: The label schema (controls of other kinds make their regions fall back).
    """

    def __init__(self, schema: LabelSchema) -> None:
        self.controls = {c.name: _ControlCheck(c) for c in schema.controls if c.kind.value in _KEYS}
        self.all_fast = len(self.controls) == len(schema.controls)
        self.required = [c.name for c in schema.controls if c.required]
        self.no_overlap = {
            name for name, check in self.controls.items() if check.kind == "spans" and not check.ctl.allow_overlap
        }

    def __call__(self, value: Any, media: Mapping[str, MediaRef] | None = None) -> bool:
        """Whether ``value`` is certainly valid (False: run the full validator)."""
        if type(value) is not list:
            return False
        media = media or {}
        ids: set[str] = set()
        seen: set[str] = set()
        spans: dict[str, list[tuple[int, int]]] = {}
        classified: set[str] = set()
        for r in value:
            if type(r) is not dict:
                return False
            name = r.get("control")
            if type(name) is not str:
                return False
            check = self.controls.get(name)
            if check is None or not check.region(r, media.get(check.ctl.target)):
                return False
            rid = r["id"]
            if rid in ids:
                return False
            ids.add(rid)
            seen.add(name)
            kind = check.kind
            if kind == "classification":
                if name in classified:
                    return False
                classified.add(name)
            elif kind == "spans" and name in self.no_overlap:
                spans.setdefault(name, []).append((r["start"], r["end"]))
        for name in self.required:
            if name not in seen:
                return False
        for pairs in spans.values():
            pairs.sort()
            for (_, e0), (s1, _) in pairwise(pairs):
                if s1 < e0:
                    return False
        return True
