"""The label schema: which media a project holds and which annotations it allows.

The schema is the single source of truth. From it labelloop builds pydantic models for every
control, which validate human annotations and machine suggestions alike and emit the JSON
Schema that constrains LLM output. Checks that need the item (text length, image size, audio
duration, point count) and cross-region rules (overlap, references) run afterwards in
:meth:`LabelSchema.validate_value`.

An annotation value is a list of *regions*; each region names its ``control`` and carries the
fields of that control's kind:

================  ==============================================================
kind              region fields
================  ==============================================================
classification    ``labels`` (exactly one unless ``multi``)
spans             ``label``, ``start``, ``end`` (code points), optional ``text``
relations         ``label``, ``from_id``, ``to_id`` (ids of span regions)
text_field        ``text``
boxes             ``label``, ``xyxy`` = [x_min, y_min, x_max, y_max] in pixels
polygons          ``label``, ``points`` = [[x, y], ...] in pixels
keypoints         ``label``, ``points`` = [[x, y, v], ...], one per keypoint name
segments          ``label``, ``start_s``, ``end_s``, optional ``transcript``
cuboids           ``label``, ``center`` [x, y, z], ``size`` [l, w, h], ``yaw``, ``frame``
point_labels      ``label``, ``indices`` (point indices)
links             ``from_id``, ``to_id`` (regions of two different controls), ``label``
================  ==============================================================

Every region has an ``id`` (unique in the value) and may carry ``attributes``; geometric
regions may carry ``frame`` / ``track`` for the frame sequences of future video items.

Example:
    >>> schema = LabelSchema.model_validate({
    ...     "media": [{"name": "text", "kind": "text"}],
    ...     "controls": [{"name": "sentiment", "kind": "classification", "target": "text",
    ...                   "labels": ["pos", "neg"]}]})
    >>> schema.validate_value([{"id": "a", "control": "sentiment", "labels": ["pos"]}])
    []
    >>> schema.validate_value([{"id": "a", "control": "sentiment", "labels": ["meh"]}])[0]
    "regions[0].labels.0: Input should be 'pos' or 'neg'"
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import cached_property
from itertools import pairwise
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from labelloop.core.media import MediaRef, Medium

if TYPE_CHECKING:
    from labelloop.core.schema_fast import KnownGood

__all__ = ["Attribute", "Control", "ControlKind", "LabelSchema", "MediaField"]

_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"


class ControlKind(StrEnum):
    """What a control annotates."""

    CLASSIFICATION = "classification"
    SPANS = "spans"
    RELATIONS = "relations"
    TEXT_FIELD = "text_field"
    BOXES = "boxes"
    POLYGONS = "polygons"
    KEYPOINTS = "keypoints"
    SEGMENTS = "segments"
    CUBOIDS = "cuboids"
    POINT_LABELS = "point_labels"
    LINKS = "links"


# Which media each kind may target (None: it targets other controls, not media).
_TARGET_MEDIA: dict[ControlKind, frozenset[Medium] | None] = {
    ControlKind.CLASSIFICATION: frozenset(Medium),
    ControlKind.TEXT_FIELD: frozenset(Medium),
    ControlKind.SPANS: frozenset({Medium.TEXT}),
    ControlKind.BOXES: frozenset({Medium.IMAGE}),
    ControlKind.POLYGONS: frozenset({Medium.IMAGE}),
    ControlKind.KEYPOINTS: frozenset({Medium.IMAGE}),
    ControlKind.SEGMENTS: frozenset({Medium.AUDIO}),
    ControlKind.CUBOIDS: frozenset({Medium.POINTCLOUD}),
    ControlKind.POINT_LABELS: frozenset({Medium.POINTCLOUD}),
    ControlKind.RELATIONS: None,
    ControlKind.LINKS: None,
}
_NEEDS_LABELS = frozenset(ControlKind) - {ControlKind.TEXT_FIELD, ControlKind.LINKS}
_GEOMETRIC = frozenset(
    {
        ControlKind.BOXES,
        ControlKind.POLYGONS,
        ControlKind.KEYPOINTS,
        ControlKind.CUBOIDS,
        ControlKind.POINT_LABELS,
    }
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MediaField(_Strict):
    """One medium of an item, by name (``image``, ``caption``)."""

    name: str = Field(pattern=_NAME)
    kind: Medium


class Attribute(_Strict):
    """An attribute a region may carry.

    Attributes:
        type: ``enum`` (one of ``values``), ``bool``, ``number`` (within ``min``/``max``)
            or ``text``.
        required: Every region of the control must set it.
    """

    name: str = Field(pattern=_NAME)
    type: Literal["enum", "bool", "number", "text"]
    values: list[str] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    required: bool = False

    @model_validator(mode="after")
    def _check(self) -> Attribute:
        if self.type == "enum" and not self.values:
            raise ValueError(f"attribute {self.name!r}: an enum needs 'values'")
        if self.type != "enum" and self.values:
            raise ValueError(f"attribute {self.name!r}: 'values' only applies to enum")
        if self.type != "number" and (self.min is not None or self.max is not None):
            raise ValueError(f"attribute {self.name!r}: 'min'/'max' only apply to number")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"attribute {self.name!r}: min {self.min} > max {self.max}")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"attribute {self.name!r}: duplicate values")
        return self


class Control(_Strict):
    """One kind of annotation the project asks for.

    Attributes:
        name: Unique within the schema; regions name it in their ``control`` field.
        kind: What is annotated.
        target: A media field name; for ``relations`` the spans control they connect.
        source: For ``links``: the control whose regions are linked to ``target``'s.
        labels: The classes (required except for ``text_field`` and ``links``).
        multi: ``classification`` only: several labels at once.
        allow_overlap: ``spans`` / ``segments``: regions of this control may overlap.
        keypoints: ``keypoints`` only: the names of the points, in order.
        transcript: ``segments`` only: each segment carries a transcript.
        min_points: ``polygons`` only: the fewest vertices (at least 3).
        required: An annotation must contain at least one region of this control.
        attributes: Attributes its regions may carry.
        description: Guidelines shown to annotators and given to LLMs.
    """

    name: str = Field(pattern=_NAME)
    kind: ControlKind
    target: str
    source: str | None = None
    labels: list[str] = Field(default_factory=list)
    multi: bool = False
    allow_overlap: bool = False
    keypoints: list[str] = Field(default_factory=list)
    transcript: bool = False
    min_points: int = Field(default=3, ge=3)
    required: bool = False
    attributes: list[Attribute] = Field(default_factory=list)
    description: str = ""

    @field_validator("labels")
    @classmethod
    def _labels_ok(cls, labels: list[str]) -> list[str]:
        if len(set(labels)) != len(labels):
            raise ValueError("duplicate labels")
        if any(not label.strip() for label in labels):
            raise ValueError("labels must not be blank")
        return labels

    @model_validator(mode="after")
    def _check(self) -> Control:
        if self.kind in _NEEDS_LABELS and not self.labels:
            raise ValueError(f"control {self.name!r} ({self.kind}) needs at least one label")
        if self.multi and self.kind != ControlKind.CLASSIFICATION:
            raise ValueError(f"control {self.name!r}: 'multi' only applies to classification")
        if self.allow_overlap and self.kind not in (ControlKind.SPANS, ControlKind.SEGMENTS):
            raise ValueError(f"control {self.name!r}: 'allow_overlap' only applies to spans and segments")
        if self.kind == ControlKind.KEYPOINTS and not self.keypoints:
            raise ValueError(f"control {self.name!r}: keypoints need the 'keypoints' names")
        if self.kind != ControlKind.KEYPOINTS and self.keypoints:
            raise ValueError(f"control {self.name!r}: 'keypoints' only applies to keypoints")
        if self.transcript and self.kind != ControlKind.SEGMENTS:
            raise ValueError(f"control {self.name!r}: 'transcript' only applies to segments")
        if (self.source is None) != (self.kind != ControlKind.LINKS):
            raise ValueError(f"control {self.name!r}: 'source' is required for links and only for links")
        names = [a.name for a in self.attributes]
        if len(set(names)) != len(names):
            raise ValueError(f"control {self.name!r}: duplicate attribute names")
        return self


class LabelSchema(_Strict):
    """A project's label schema.

    Build it from a dict (YAML/JSON file) with :meth:`pydantic.BaseModel.model_validate`.
    """

    version: Literal[1] = 1
    media: list[MediaField] = Field(min_length=1)
    controls: list[Control] = Field(default_factory=list)
    guidelines: str = ""

    @model_validator(mode="after")
    def _check_refs(self) -> LabelSchema:
        media = {m.name: m.kind for m in self.media}
        if len(media) != len(self.media):
            raise ValueError("duplicate media field names")
        controls = {c.name: c for c in self.controls}
        if len(controls) != len(self.controls):
            raise ValueError("duplicate control names")
        clash = set(media) & set(controls)
        if clash:
            raise ValueError(f"names used for both a medium and a control: {sorted(clash)}")
        for c in self.controls:
            allowed = _TARGET_MEDIA[c.kind]
            if allowed is not None:
                if c.target not in media:
                    raise ValueError(f"control {c.name!r}: target {c.target!r} is not a media field {sorted(media)}")
                if media[c.target] not in allowed:
                    raise ValueError(
                        f"control {c.name!r}: {c.kind} cannot target {media[c.target]} media "
                        f"(allowed: {', '.join(sorted(allowed))})"
                    )
            elif c.kind == ControlKind.RELATIONS:
                tgt = controls.get(c.target)
                if tgt is None or tgt.kind != ControlKind.SPANS:
                    raise ValueError(f"control {c.name!r}: relations must target a spans control, got {c.target!r}")
            else:  # links
                for end in (c.source, c.target):
                    ctl = controls.get(end or "")
                    if ctl is None or ctl.kind not in _GEOMETRIC | {ControlKind.SPANS, ControlKind.SEGMENTS}:
                        raise ValueError(f"control {c.name!r}: links connect region controls; {end!r} is not one")
                if c.source == c.target:
                    raise ValueError(f"control {c.name!r}: a link joins two different controls")
        return self

    # ------------------------------------------------------------------ lookups
    def control(self, name: str) -> Control:
        """Return the control called ``name``.

        Raises:
            KeyError: with the names that exist.
        """
        for c in self.controls:
            if c.name == name:
                return c
        raise KeyError(f"no control {name!r}; controls: {[c.name for c in self.controls]}")

    def medium_of(self, field_name: str) -> Medium:
        """Return the medium of the media field ``field_name``."""
        for m in self.media:
            if m.name == field_name:
                return m.kind
        raise KeyError(f"no media field {field_name!r}; media: {[m.name for m in self.media]}")

    @property
    def media_kinds(self) -> list[Medium]:
        """The media of the item, in declaration order."""
        return [m.kind for m in self.media]

    # ------------------------------------------------------------------ validation
    @cached_property
    def _value_adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(_value_type(self))

    @cached_property
    def _known_good(self) -> KnownGood:
        from labelloop.core.schema_fast import KnownGood  # it imports this module's types

        return KnownGood(self)

    def is_known_good(self, value: Any, media: Mapping[str, MediaRef] | None = None) -> bool:
        """Whether ``value`` is certainly valid and plain JSON, by a fast check of common shapes.

        ``False`` does not mean invalid: it means "ask :meth:`validate_value`" (see
        :mod:`labelloop.core.schema_fast`).

        Example:
            >>> s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}],
            ...     "controls": [{"name": "c", "kind": "classification", "target": "t", "labels": ["a"]}]})
            >>> s.is_known_good([{"id": "x", "control": "c", "labels": ["a"]}])
            True
        """
        return self._known_good(value, media)

    def json_schema(self) -> dict[str, Any]:
        """Return the JSON Schema of an annotation value (a list of regions).

        Example:
            >>> s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}],
            ...     "controls": [{"name": "c", "kind": "classification", "target": "t",
            ...                   "labels": ["a", "b"]}]})
            >>> s.json_schema()["type"]
            'array'
        """
        schema: dict[str, Any] = self._value_adapter.json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = "labelloop annotation value"
        return schema

    def validate_value(self, value: Any, media: Mapping[str, MediaRef] | None = None) -> list[str]:
        """Check an annotation or suggestion value; return one line per problem.

        Args:
            value: The list of regions.
            media: The item's media; when given, geometry is checked against it (text length,
                image size, audio duration, point count).

        Returns:
            An empty list when the value is valid.
        """
        if self._known_good(value, media):  # the common well-formed shapes need no pydantic models
            return []
        return self._full_problems(value, media)

    def _full_problems(self, value: Any, media: Mapping[str, MediaRef] | None) -> list[str]:
        """The pydantic models and the item-aware checks, with one line per problem."""
        try:
            regions = self._value_adapter.validate_python(value)
        except ValidationError as exc:
            tags = {c.name for c in self.controls}
            return [_format_error(e, tags) for e in exc.errors()]
        problems = _semantic_problems(self, regions, media or {})
        if not problems:  # valid, and stored as given: it must be JSON the store can write
            try:
                orjson.dumps(value)
            except TypeError as exc:  # an integer beyond 64 bits, a tuple key, a numpy scalar ...
                problems.append(f"regions: cannot be stored as JSON ({exc})")
        return problems


# ---------------------------------------------------------------------- model building
_Finite = Annotated[float, Field(allow_inf_nan=False)]
_NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def _literal(values: Sequence[str]) -> Any:
    return Literal[tuple(values)]


def _attributes_model(control: Control) -> Any:
    fields: dict[str, Any] = {}
    for a in control.attributes:
        typ: Any
        if a.type == "enum":
            typ = _literal(a.values)
        elif a.type == "bool":
            typ = StrictBool
        elif a.type == "number":
            typ = Annotated[float, Field(ge=a.min, le=a.max, allow_inf_nan=False)]
        else:
            typ = Annotated[str, Field(max_length=10_000)]
        fields[a.name] = (typ, ...) if a.required else (typ | None, None)
    return create_model(  # type: ignore[call-overload]
        f"{control.name}_attributes", __config__=ConfigDict(extra="forbid"), **fields
    )


def _region_model(control: Control) -> Any:
    fields: dict[str, Any] = {
        "id": (Annotated[str, Field(min_length=1, max_length=128)], ...),
        "control": (Literal[control.name], ...),
    }
    label = (_literal(control.labels), ...)
    k = control.kind
    if k == ControlKind.CLASSIFICATION:
        label_type = _literal(control.labels)
        fields["labels"] = (list[label_type], Field(min_length=1))  # type: ignore[valid-type]
    elif k == ControlKind.SPANS:
        fields |= {
            "label": label,
            "start": (Annotated[int, Field(ge=0)], ...),
            "end": (Annotated[int, Field(ge=0)], ...),
            "text": (str | None, None),
        }
    elif k == ControlKind.RELATIONS:
        fields |= {"label": label, "from_id": (str, ...), "to_id": (str, ...)}
    elif k == ControlKind.TEXT_FIELD:
        fields["text"] = (Annotated[str, Field(max_length=100_000)], ...)
    elif k == ControlKind.BOXES:
        fields |= {"label": label, "xyxy": (tuple[_Finite, _Finite, _Finite, _Finite], ...)}
    elif k == ControlKind.POLYGONS:
        fields |= {
            "label": label,
            "points": (list[tuple[_Finite, _Finite]], Field(min_length=control.min_points)),
        }
    elif k == ControlKind.KEYPOINTS:
        n = len(control.keypoints)
        fields |= {
            "label": label,
            "points": (list[tuple[_Finite, _Finite, Literal[0, 1, 2]]], Field(min_length=n, max_length=n)),
        }
    elif k == ControlKind.SEGMENTS:
        fields |= {"label": label, "start_s": (_NonNeg, ...), "end_s": (_NonNeg, ...)}
        if control.transcript:
            fields["transcript"] = (Annotated[str, Field(max_length=100_000)], "")
    elif k == ControlKind.CUBOIDS:
        fields |= {
            "label": label,
            "center": (tuple[_Finite, _Finite, _Finite], ...),
            "size": (tuple[_NonNeg, _NonNeg, _NonNeg], ...),
            "yaw": (_Finite, 0.0),
            "frame": (Annotated[str, Field(min_length=1, max_length=64)], "lidar"),
        }
    elif k == ControlKind.POINT_LABELS:
        fields |= {"label": label, "indices": (list[Annotated[int, Field(ge=0)]], Field(min_length=1))}
    elif k == ControlKind.LINKS:
        links_label: Any = _literal(control.labels) if control.labels else str
        fields |= {"from_id": (str, ...), "to_id": (str, ...), "label": (links_label | None, None)}
    if control.attributes:
        fields["attributes"] = (_attributes_model(control) | None, None)
    if k in _GEOMETRIC:
        fields["frame_index"] = (Annotated[int, Field(ge=0)] | None, None)
        fields["track"] = (Annotated[str, Field(max_length=128)] | None, None)
    return create_model(  # type: ignore[call-overload]
        f"{control.name}_region",
        __config__=ConfigDict(extra="forbid", title=f"{control.name} ({k.value})"),
        **fields,
    )


def _value_type(schema: LabelSchema) -> Any:
    models = [_region_model(c) for c in schema.controls]
    if not models:
        return Annotated[list[Any], Field(max_length=0)]
    if len(models) == 1:
        return list[models[0]]  # type: ignore[valid-type]
    union: Any = Union[tuple(models)]  # noqa: UP007 - built at run time
    return list[Annotated[union, Field(discriminator="control")]]  # type: ignore[valid-type]


def _format_error(err: Mapping[str, Any], tags: set[str]) -> str:
    loc = list(err.get("loc", ()))
    path = "regions"
    parts = []
    for i, part in enumerate(loc):
        if i == 0 and isinstance(part, int):
            path = f"regions[{part}]"
            continue
        # pydantic puts the discriminator tag (or the model title) into the location: drop it
        if i == 1 and isinstance(part, str) and (part in tags or part.endswith(("_region", ")"))):
            continue
        parts.append(str(part))
    where = path + ("." + ".".join(parts) if parts else "")
    return f"{where}: {err.get('msg', 'invalid')}"


# ---------------------------------------------------------------------- semantic checks
def _semantic_problems(schema: LabelSchema, regions: list[Any], media: Mapping[str, MediaRef]) -> list[str]:
    problems: list[str] = []
    by_id: dict[str, tuple[int, Control, Any]] = {}
    per_control: dict[str, list[tuple[int, Any]]] = {}
    for i, r in enumerate(regions):
        ctl = schema.control(r.control)
        if r.id in by_id:
            problems.append(f"regions[{i}].id: duplicate region id {r.id!r}")
        by_id[r.id] = (i, ctl, r)
        per_control.setdefault(ctl.name, []).append((i, r))
    for ctl in schema.controls:
        items = per_control.get(ctl.name, [])
        if ctl.required and not items:
            problems.append(f"control {ctl.name!r}: at least one region is required")
        ref = media.get(ctl.target)
        for i, r in items:
            problems.extend(_check_region(ctl, i, r, ref))
        if ctl.kind in (ControlKind.SPANS, ControlKind.SEGMENTS) and not ctl.allow_overlap:
            problems.extend(_overlaps(ctl, items))
        if ctl.kind == ControlKind.CLASSIFICATION and len(items) > 1:
            problems.append(f"control {ctl.name!r}: one classification region expected, got {len(items)}")
    for i, r in enumerate(regions):
        ctl = by_id[r.id][1]
        if ctl.kind in (ControlKind.RELATIONS, ControlKind.LINKS):
            want = {ctl.target} if ctl.kind == ControlKind.RELATIONS else {ctl.source or "", ctl.target}
            ends = []
            for fld in ("from_id", "to_id"):
                rid = getattr(r, fld)
                hit = by_id.get(rid)
                if hit is None:
                    problems.append(f"regions[{i}].{fld}: no region with id {rid!r}")
                elif hit[1].name not in want:
                    problems.append(
                        f"regions[{i}].{fld}: region {rid!r} belongs to {hit[1].name!r}, expected {sorted(want)}"
                    )
                else:
                    ends.append(hit[1].name)
            if ctl.kind == ControlKind.LINKS and len(ends) == 2 and ends[0] == ends[1]:
                problems.append(f"regions[{i}]: a link must join a {ctl.source!r} region and a {ctl.target!r} region")
            if r.from_id == r.to_id:
                problems.append(f"regions[{i}]: a region cannot relate to itself")
    return problems


def _check_region(ctl: Control, i: int, r: Any, ref: MediaRef | None) -> list[str]:
    out: list[str] = []
    k = ctl.kind
    at = f"regions[{i}]"
    if k == ControlKind.CLASSIFICATION and not ctl.multi and len(r.labels) != 1:
        out.append(f"{at}.labels: exactly one label expected for {ctl.name!r}, got {len(r.labels)}")
    if k == ControlKind.CLASSIFICATION and len(set(r.labels)) != len(r.labels):
        out.append(f"{at}.labels: duplicate labels")
    if k == ControlKind.SPANS:
        if r.end <= r.start:
            out.append(f"{at}: span end {r.end} must be greater than start {r.start}")
        elif ref is not None and ref.text is not None:
            if r.end > len(ref.text):
                out.append(f"{at}.end: {r.end} is past the end of the text ({len(ref.text)} characters)")
            elif r.text is not None and ref.text[r.start : r.end] != r.text:
                out.append(f"{at}.text: {r.text!r} does not match the text at [{r.start}:{r.end}]")
    elif k == ControlKind.BOXES:
        x0, y0, x1, y1 = r.xyxy
        if x1 <= x0 or y1 <= y0:
            out.append(f"{at}.xyxy: x_max/y_max must exceed x_min/y_min, got {list(r.xyxy)}")
        out.extend(_inside_image(at + ".xyxy", [(x0, y0), (x1, y1)], ref))
    elif k == ControlKind.POLYGONS:
        if _polygon_area(r.points) == 0.0:
            out.append(f"{at}.points: the polygon has zero area")
        out.extend(_inside_image(at + ".points", r.points, ref))
    elif k == ControlKind.KEYPOINTS:
        out.extend(_inside_image(at + ".points", [(x, y) for x, y, v in r.points if v > 0], ref))
    elif k == ControlKind.SEGMENTS:
        if r.end_s <= r.start_s:
            out.append(f"{at}: segment end_s {r.end_s} must be greater than start_s {r.start_s}")
        dur = ref.meta.get("duration_s") if ref is not None else None
        if isinstance(dur, int | float) and r.end_s > dur + 1e-6:
            out.append(f"{at}.end_s: {r.end_s} is past the end of the audio ({dur:.3f} s)")
    elif k == ControlKind.POINT_LABELS:
        n = ref.meta.get("points") if ref is not None else None
        if isinstance(n, int) and r.indices and max(r.indices) >= n:
            out.append(f"{at}.indices: index {max(r.indices)} is out of range for {n} points")
        if len(set(r.indices)) != len(r.indices):
            out.append(f"{at}.indices: duplicate point indices")
    if ctl.attributes and getattr(r, "attributes", None) is None and any(a.required for a in ctl.attributes):
        out.append(f"{at}.attributes: required attributes missing: {[a.name for a in ctl.attributes if a.required]}")
    return out


def _inside_image(at: str, points: Sequence[Sequence[float]], ref: MediaRef | None) -> list[str]:
    if ref is None:
        return []
    w, h = ref.meta.get("width"), ref.meta.get("height")
    if not isinstance(w, int) or not isinstance(h, int):
        return []
    for x, y in points:
        if x < 0 or y < 0 or x > w or y > h:
            return [f"{at}: point ({x:g}, {y:g}) lies outside the {w}x{h} image"]
    return []


def _polygon_area(points: Sequence[tuple[float, float]]) -> float:
    acc = 0.0
    for (x0, y0), (x1, y1) in zip(points, [*points[1:], points[0]], strict=True):
        acc += x0 * y1 - x1 * y0
    return abs(acc) / 2.0


def _overlaps(ctl: Control, items: list[tuple[int, Any]]) -> list[str]:
    if ctl.kind == ControlKind.SPANS:
        spans = sorted(((r.start, r.end, i) for i, r in items))
    else:
        spans = sorted(((r.start_s, r.end_s, i) for i, r in items))
    out = []
    for (_s0, e0, i0), (s1, _e1, i1) in pairwise(spans):
        if s1 < e0 and not math.isclose(s1, e0):
            out.append(f"regions[{i1}]: overlaps regions[{i0}] in {ctl.name!r}, which does not allow overlap")
    return out
