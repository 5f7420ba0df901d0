"""Error distribution: findings counted by label type × annotator × source × data slice.

The four dimensions are the control (label type), the annotator (or backend) of the label in
question, who made it (:class:`~labelloop.core.findings.LabelSource`: human, model, LLM or
rule) and a data slice (an item attribute such as language or camera). With label counts per
cell (``labels``) the distribution also gives error rates.

Example:
    >>> from labelloop.core.findings import Finding, Severity
    >>> fs = [Finding(1, "box_bounds", Severity.ERROR, "m", control="objects", annotator="ann"),
    ...       Finding(2, "box_bounds", Severity.ERROR, "m", control="objects", annotator="bob")]
    >>> d = error_distribution(fs, slices={1: "day", 2: "night"})
    >>> d.by("slice"), d.by("annotator")
    ({'day': 1, 'night': 1}, {'ann': 1, 'bob': 1})
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from labelloop.core.findings import Finding
from labelloop.errors import InputRejected

__all__ = ["DIMENSIONS", "ErrorDistribution", "error_distribution"]

Dimension = Literal["control", "annotator", "source", "slice", "rule", "severity", "detector"]
DIMENSIONS: tuple[Dimension, ...] = ("control", "annotator", "source", "slice")
_ALL = "(all)"
_NONE = "(none)"
Cell = tuple[str, str, str, str]


@dataclass(slots=True)
class ErrorDistribution:
    """Counts of findings per (control, annotator, source, slice) cell, plus per rule and severity.

    Attributes:
        cells: Cell → findings.
        labels: Cell → labels checked (for rates); empty when not given.
        rules: Rule id → findings.
        severities: Severity → findings.
        detectors: Detector → findings.
    """

    cells: Counter[Cell] = field(default_factory=Counter)
    labels: Counter[Cell] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    severities: Counter[str] = field(default_factory=Counter)
    detectors: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """All findings counted."""
        return sum(self.cells.values())

    def by(self, dim: Dimension) -> dict[str, int]:
        """Marginal counts along one dimension, largest first.

        Raises:
            InputRejected: ``dim`` is not a dimension.
        """
        if dim == "rule":
            return dict(self.rules.most_common())
        if dim == "severity":
            return dict(self.severities.most_common())
        if dim == "detector":
            return dict(self.detectors.most_common())
        if dim not in DIMENSIONS:
            raise InputRejected("dimension", f"one of {[*DIMENSIONS, 'rule', 'severity', 'detector']}", repr(dim))
        i = DIMENSIONS.index(dim)
        acc: Counter[str] = Counter()
        for cell, n in self.cells.items():
            acc[cell[i]] += n
        return dict(acc.most_common())

    def rate(self, dim: Dimension) -> dict[str, float]:
        """Findings per checked label along ``dim`` (only where label counts were given)."""
        if dim not in DIMENSIONS:
            raise InputRejected("dimension", f"one of {list(DIMENSIONS)}", repr(dim))
        i = DIMENSIONS.index(dim)
        num: Counter[str] = Counter()
        den: Counter[str] = Counter()
        for cell, n in self.cells.items():
            num[cell[i]] += n
        for cell, n in self.labels.items():
            den[cell[i]] += n
        return {k: num[k] / d for k, d in den.items() if d}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the marginals, the rates and the non-empty cells."""
        return {
            "total": self.total,
            **{f"by_{d}": self.by(d) for d in DIMENSIONS},
            "by_rule": self.by("rule"),
            "by_severity": self.by("severity"),
            "by_detector": self.by("detector"),
            "rates": {d: self.rate(d) for d in DIMENSIONS} if self.labels else {},
            "cells": [
                {**dict(zip(DIMENSIONS, c, strict=True)), "findings": n, "labels": self.labels.get(c, 0)}
                for c, n in sorted(self.cells.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        }


def _field(f: Finding | Mapping[str, Any], name: str) -> Any:
    return f.get(name) if isinstance(f, Mapping) else getattr(f, name)


def error_distribution(
    findings: Iterable[Finding | Mapping[str, Any]],
    *,
    slices: Mapping[int, str] | None = None,
    labels: Mapping[Cell, int] | None = None,
) -> ErrorDistribution:
    """Count findings (objects or their ``to_dict()`` form) per cell.

    Args:
        findings: The findings.
        slices: Item id → slice name; items not in it fall in ``(all)``.
        labels: Cell → labels checked, for :meth:`ErrorDistribution.rate`.
    """
    d = ErrorDistribution()
    for f in findings:
        item = _field(f, "item_id")
        src = _field(f, "label_source")
        cell: Cell = (
            str(_field(f, "control") or _NONE),
            str(_field(f, "annotator") or _NONE),
            str(getattr(src, "value", src) or _NONE),
            (slices or {}).get(int(item), _ALL) if item is not None else _ALL,
        )
        d.cells[cell] += 1
        d.rules[str(_field(f, "rule_id"))] += 1
        sev, det = _field(f, "severity"), _field(f, "detector")
        d.severities[str(getattr(sev, "value", sev))] += 1
        d.detectors[str(getattr(det, "value", det))] += 1
    if labels:
        d.labels.update(labels)
    return d
