"""What a rule sees (one label value of one item) and how it reports findings."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from labelloop.core.findings import Detector, Finding, LabelSource, Severity
from labelloop.core.media import MediaRef
from labelloop.core.schema import Control, LabelSchema

__all__ = ["Emit", "RuleContext", "floats", "region_label"]


@dataclass(frozen=True, slots=True)
class RuleContext:
    """One label value under check.

    Attributes:
        item_id: The item.
        schema: The project's label schema.
        regions: The value (list of region dicts); malformed regions are skipped by rules.
        media: The item's media by field name (for image size, text, audio duration).
        label_source: Who made the value.
        annotator: The annotator or backend name.
        record_id: The annotation or suggestion id.
        size_priors: Class → (length, width, height) in metres for cuboid checks.
    """

    item_id: int
    schema: LabelSchema
    regions: list[dict[str, Any]]
    media: Mapping[str, MediaRef] = field(default_factory=dict)
    label_source: LabelSource = LabelSource.HUMAN
    annotator: str | None = None
    record_id: int | None = None
    size_priors: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)

    def of(self, control: Control) -> list[dict[str, Any]]:
        """The regions of one control."""
        return [r for r in self.regions if r.get("control") == control.name]


class Emit:
    """Collects the findings of one rule on one value, stamped with the rule and the record."""

    def __init__(self, ctx: RuleContext, rule_id: str, severity: Severity) -> None:
        self.ctx = ctx
        self.rule_id = rule_id
        self.severity = severity
        self.found: list[Finding] = []

    def __call__(
        self,
        message: str,
        *,
        control: Control | None = None,
        region: Mapping[str, Any] | None = None,
        fix: dict[str, Any] | None = None,
        severity: Severity | None = None,
        label: str | None = None,
    ) -> None:
        """Record one finding."""
        rid = region.get("id") if region is not None else None
        self.found.append(
            Finding(
                item_id=self.ctx.item_id,
                rule_id=self.rule_id,
                severity=severity or self.severity,
                message=message,
                region_id=str(rid) if rid is not None else None,
                control=control.name if control is not None else None,
                label=label if label is not None else (region_label(region) if region is not None else None),
                fix=fix,
                detector=Detector.RULE,
                label_source=self.ctx.label_source,
                annotator=self.ctx.annotator,
                record_id=self.ctx.record_id,
            )
        )


def region_label(region: Mapping[str, Any]) -> str | None:
    """The class of a region: ``label``, or the first of ``labels``."""
    lab = region.get("label")
    if isinstance(lab, str):
        return lab
    labs = region.get("labels")
    if isinstance(labs, list) and labs and isinstance(labs[0], str):
        return str(labs[0])
    return None


def floats(value: Any, n: int) -> list[float] | None:
    """``value`` as ``n`` finite floats, or None when it is not that (a malformed region)."""
    if not isinstance(value, list | tuple) or len(value) != n:
        return None
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return None
        out.append(float(v))
    return out
