"""The built-in rule library: name → (control kinds, default severity, params model, check)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labelloop.core.findings import Severity
from labelloop.core.schema import Control, ControlKind
from labelloop.quality.rules import _geometry as g
from labelloop.quality.rules import _sequence as s
from labelloop.quality.rules._config import RuleSpec
from labelloop.quality.rules._context import Emit, RuleContext, region_label

__all__ = ["BUILTIN_RULES", "BuiltinRule", "validate_rule_specs"]

Check = Callable[[RuleContext, Control, Any, Emit], None]


@dataclass(frozen=True, slots=True)
class BuiltinRule:
    """A rule of the library.

    Attributes:
        name: What ``rule:`` names in the config.
        kinds: The control kinds it applies to (None: all).
        severity: Its default severity.
        params: The pydantic model of its parameters.
        check: The function.
        default: Whether ``builtins: true`` runs it without configuration.
        description: One line for docs and reports.
    """

    name: str
    kinds: frozenset[ControlKind] | None
    severity: Severity
    params: type[BaseModel]
    check: Check
    default: bool
    description: str


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequiredParams(_P):
    """Labels that must appear among a control's regions (empty: any region will do)."""

    labels: list[str] = Field(default_factory=list)


def required_labels(ctx: RuleContext, ctl: Control, p: RequiredParams, emit: Emit) -> None:
    """A required control has at least one region, and each of ``labels`` appears."""
    regs = ctx.of(ctl)
    if not regs:
        emit(
            f"no {ctl.name!r} region, which is required",
            control=ctl,
            fix={"action": "add", "region": {"control": ctl.name}, "hint": f"add a {ctl.kind.value} region"},
        )
        return
    present: set[str] = set()
    for r in regs:
        raw = r.get("labels")
        labs: list[Any] = raw if isinstance(raw, list) else [r.get("label")]
        present.update(x for x in labs if isinstance(x, str))
    for lab in p.labels:
        if lab not in present:
            emit(
                f"required label {lab!r} is missing from {ctl.name!r}",
                control=ctl,
                label=lab,
                fix={"action": "add", "region": {"control": ctl.name, "label": lab}},
            )


class AttributeIfParams(_P):
    """``attribute`` is required when the region has class ``if_label`` and/or ``if_attribute`` == ``equals``."""

    attribute: str
    if_label: str | None = None
    if_attribute: str | None = None
    equals: Any = None


def attribute_required_if(ctx: RuleContext, ctl: Control, p: AttributeIfParams, emit: Emit) -> None:
    """Attribute consistency: a conditionally required attribute is set."""
    for r in ctx.of(ctl):
        attrs = r.get("attributes") if isinstance(r.get("attributes"), dict) else {}
        assert isinstance(attrs, dict)
        if p.if_label is not None and region_label(r) != p.if_label:
            continue
        if p.if_attribute is not None:
            got = attrs.get(p.if_attribute)
            if (p.equals is None and got in (None, False, "")) or (p.equals is not None and got != p.equals):
                continue
        if attrs.get(p.attribute) in (None, ""):
            cond = " and ".join(
                x
                for x in (
                    f"class {p.if_label!r}" if p.if_label else "",
                    f"{p.if_attribute}={p.equals!r}" if p.if_attribute else "",
                )
                if x
            )
            choices = next((a.values for a in ctl.attributes if a.name == p.attribute and a.values), None)
            fix: dict[str, Any] = {"action": "review", "hint": f"set attribute {p.attribute!r}"}
            if choices is not None and len(choices) == 1:
                fix = {"action": "set", "field": f"attributes.{p.attribute}", "value": choices[0]}
            emit(f"attribute {p.attribute!r} is required when {cond or 'always'}", control=ctl, region=r, fix=fix)


class NoParams(_P):
    """No parameters."""


_REGION_AT = re.compile(r"^regions\[(\d+)\]")
# schema problems that a dedicated rule reports with a concrete fix
_COVERED = (
    "which does not allow overlap",
    "lies outside the",
    "at least one region is required",
    "the polygon has zero area",
)


def schema_valid(ctx: RuleContext, ctl: Control, p: NoParams, emit: Emit) -> None:
    """The value validates against the label schema (run once per value, on its first control)."""
    if ctx.schema.controls and ctl.name != ctx.schema.controls[0].name:
        return
    for problem in ctx.schema.validate_value(ctx.regions, ctx.media):
        if any(c in problem for c in _COVERED):
            continue
        m = _REGION_AT.match(problem)
        region = ctx.regions[int(m.group(1))] if m and int(m.group(1)) < len(ctx.regions) else None
        own = None
        if isinstance(region, dict) and isinstance(region.get("control"), str):
            own = next((c for c in ctx.schema.controls if c.name == region["control"]), None)
        emit(
            problem,
            control=own,
            region=region if isinstance(region, dict) else None,
            fix={"action": "review", "hint": "correct the region so it matches the schema"},
        )


_BOX = frozenset({ControlKind.BOXES})
BUILTIN_RULES: dict[str, BuiltinRule] = {
    r.name: r
    for r in (
        BuiltinRule("schema_valid", None, Severity.ERROR, NoParams, schema_valid, True, "value matches the schema"),
        BuiltinRule(
            "required_labels", None, Severity.ERROR, RequiredParams, required_labels, True, "required labels present"
        ),
        BuiltinRule("box_bounds", _BOX, Severity.ERROR, g.BoxBoundsParams, g.box_bounds, True, "boxes inside image"),
        BuiltinRule("box_min_size", _BOX, Severity.WARNING, g.BoxMinSizeParams, g.box_min_size, True, "box size"),
        BuiltinRule("box_overlap", _BOX, Severity.WARNING, g.BoxOverlapParams, g.box_overlap, True, "duplicate boxes"),
        BuiltinRule(
            "polygon_validity",
            frozenset({ControlKind.POLYGONS}),
            Severity.ERROR,
            g.PolygonParams,
            g.polygon_validity,
            True,
            "simple polygons with area",
        ),
        BuiltinRule(
            "span_tokens",
            frozenset({ControlKind.SPANS}),
            Severity.WARNING,
            s.SpanTokenParams,
            s.span_tokens,
            True,
            "span boundaries on token edges",
        ),
        BuiltinRule(
            "span_overlap",
            frozenset({ControlKind.SPANS}),
            Severity.ERROR,
            s.OverlapParams,
            s.span_overlap,
            True,
            "no overlapping spans where the schema forbids it",
        ),
        BuiltinRule(
            "segment_overlap",
            frozenset({ControlKind.SEGMENTS}),
            Severity.ERROR,
            s.OverlapParams,
            s.segment_overlap,
            True,
            "no overlapping audio segments where the schema forbids it",
        ),
        BuiltinRule(
            "empty_transcript",
            frozenset({ControlKind.SEGMENTS, ControlKind.TEXT_FIELD}),
            Severity.ERROR,
            s.EmptyTextParams,
            s.empty_transcript,
            True,
            "no empty transcripts or text fields",
        ),
        BuiltinRule(
            "cuboid_size",
            frozenset({ControlKind.CUBOIDS}),
            Severity.WARNING,
            g.CuboidSizeParams,
            g.cuboid_size,
            True,
            "cuboid sizes plausible for their class",
        ),
        BuiltinRule(
            "attribute_required_if",
            None,
            Severity.ERROR,
            AttributeIfParams,
            attribute_required_if,
            False,
            "attribute required when a condition holds",
        ),
    )
}


def validate_rule_specs(specs: Sequence[RuleSpec]) -> list[str]:
    """Check each spec names a known rule with valid params and ids are unique; return problems."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        where = f"qc.rules.{i}"
        rule = BUILTIN_RULES.get(spec.rule)
        if rule is None:
            problems.append(f"{where}.rule: unknown rule {spec.rule!r}; known: {', '.join(sorted(BUILTIN_RULES))}")
            continue
        if spec.rule_id in seen:
            problems.append(f"{where}.id: duplicate rule id {spec.rule_id!r}")
        seen.add(spec.rule_id)
        try:
            rule.params.model_validate(spec.params)
        except ValidationError as exc:
            for e in exc.errors():
                loc = ".".join(str(x) for x in e["loc"])
                problems.append(f"{where}.params{'.' + loc if loc else ''}: {e['msg']}")
    return problems
