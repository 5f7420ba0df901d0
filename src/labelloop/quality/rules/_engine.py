"""The rule engine: the configured rules bound to a schema, run on one value at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from labelloop.core.findings import Finding, LabelSource, Severity
from labelloop.core.media import MediaRef
from labelloop.core.schema import Control, LabelSchema
from labelloop.errors import InvalidSchema
from labelloop.quality.rules._config import QCConfig, RuleSpec
from labelloop.quality.rules._context import Emit, RuleContext
from labelloop.quality.rules._library import BUILTIN_RULES, BuiltinRule

__all__ = ["RuleEngine"]


@dataclass(frozen=True, slots=True)
class _Bound:
    rule_id: str
    rule: BuiltinRule
    params: BaseModel
    severity: Severity
    controls: tuple[Control, ...]


class RuleEngine:
    """Runs the built-in library and the configured rules on annotation values.

    Args:
        schema: The project's label schema.
        config: The ``qc`` section; by default the built-in library with default parameters.
        size_priors: Class → (l, w, h) metres for ``cuboid_size`` (the pre-annotation
            backend's priors, passed in by the QC service).

    Raises:
        InvalidSchema: A rule names a control the schema lacks, or one of a kind it cannot check.

    Example:
        >>> schema = LabelSchema.model_validate({"media": [{"name": "image", "kind": "image"}],
        ...     "controls": [{"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat"]}]})
        >>> eng = RuleEngine(schema)
        >>> v = [{"id": "a", "control": "objects", "label": "cat", "xyxy": [0, 0, 1, 1]}]
        >>> [(f.rule_id, f.fix) for f in eng.check(1, v)]
        [('box_min_size', {'action': 'delete'})]
    """

    def __init__(
        self,
        schema: LabelSchema,
        config: QCConfig | None = None,
        *,
        size_priors: Mapping[str, tuple[float, float, float]] | None = None,
    ) -> None:
        self.schema = schema
        self.config = config or QCConfig()
        self.size_priors = dict(size_priors or {})
        self.rules = self._bind()

    def _specs(self) -> list[RuleSpec]:
        specs = list(self.config.rules)
        overridden = {s.rule for s in specs if s.id is None}
        if self.config.builtins:
            defaults = [RuleSpec(rule=r.name) for r in BUILTIN_RULES.values() if r.default and r.name not in overridden]
            specs = defaults + specs
        return [s for s in specs if s.enabled]

    def _bind(self) -> list[_Bound]:
        by_name = {c.name: c for c in self.schema.controls}
        out = []
        for spec in self._specs():
            rule = BUILTIN_RULES[spec.rule]  # validated by parse_qc_config / RuleSpec users
            unknown = [c for c in spec.controls if c not in by_name]
            if unknown:
                raise InvalidSchema(
                    f"qc rule {spec.rule_id!r}: unknown controls {unknown}; the schema has {sorted(by_name)}"
                )
            if spec.controls:
                ctls = tuple(by_name[c] for c in spec.controls)
                wrong = [c.name for c in ctls if rule.kinds is not None and c.kind not in rule.kinds]
                if wrong:
                    kinds = sorted(k.value for k in rule.kinds or ())
                    raise InvalidSchema(f"qc rule {spec.rule_id!r}: controls {wrong} are not of kind {kinds}")
            elif spec.rule == "required_labels" and not spec.params:
                ctls = tuple(c for c in self.schema.controls if c.required)
            else:
                ctls = tuple(c for c in self.schema.controls if rule.kinds is None or c.kind in rule.kinds)
            if not ctls:
                continue
            out.append(
                _Bound(
                    spec.rule_id, rule, rule.params.model_validate(spec.params), spec.severity or rule.severity, ctls
                )
            )
        return out

    @property
    def rule_ids(self) -> list[str]:
        """The ids of the rules that will run on this schema."""
        return [b.rule_id for b in self.rules]

    def check(
        self,
        item_id: int,
        value: Any,
        media: Mapping[str, MediaRef] | None = None,
        *,
        label_source: LabelSource = LabelSource.HUMAN,
        annotator: str | None = None,
        record_id: int | None = None,
    ) -> list[Finding]:
        """Run every bound rule on one value; a malformed value gives one finding, never a crash."""
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            return [
                Finding(
                    item_id,
                    "schema_valid",
                    Severity.ERROR,
                    f"expected a list of region objects, got {type(value).__name__}",
                    label_source=label_source,
                    annotator=annotator,
                    record_id=record_id,
                    fix={"action": "review", "hint": "re-annotate the item"},
                )
            ]
        ctx = RuleContext(
            item_id, self.schema, value, media or {}, label_source, annotator, record_id, self.size_priors
        )
        found: list[Finding] = []
        for b in self.rules:
            emit = Emit(ctx, b.rule_id, b.severity)
            for ctl in b.controls:
                b.rule.check(ctx, ctl, b.params, emit)
            found.extend(emit.found)
        return found
