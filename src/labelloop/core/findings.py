"""QC findings: one suspected problem in one item (and region), with a suggested fix.

A :class:`Finding` names the item, the region, the rule or check that raised it, how severe it
is, a message for people and — where one can be computed — a concrete corrected value. It also
says who made the label in question (:class:`LabelSource`: a person, a model, an LLM or a
rule-based backend) and what detected the problem (:class:`Detector`), which is what the error
analytics group by.

Example:
    >>> f = Finding(7, "box_bounds", Severity.ERROR, "box leaves the image", region_id="r1",
    ...             fix={"action": "set", "field": "xyxy", "value": [0, 0, 10, 10]})
    >>> f.to_dict()["fix"]["value"], label_source_of_backend("text.rules")
    ([0, 0, 10, 10], <LabelSource.RULE: 'rule'>)
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

__all__ = ["Detector", "Finding", "FindingRecord", "LabelSource", "Severity", "label_source_of_backend"]


class Severity(StrEnum):
    """How bad a finding is: errors must be fixed, warnings looked at, infos are hints."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Detector(StrEnum):
    """What raised a finding."""

    RULE = "rule"  # a declarative rule
    MODEL = "model"  # a model check (missing label, box deviation, class disagreement)
    LABEL_ERROR = "label_error"  # confident learning
    GOLD = "gold"  # disagreement with a gold label


class LabelSource(StrEnum):
    """Who made the label a finding is about."""

    HUMAN = "human"
    MODEL = "model"
    LLM = "llm"
    RULE = "rule"


def label_source_of_backend(backend: str) -> LabelSource:
    """Classify a pre-annotation backend name as a model, an LLM or a rule set.

    Example:
        >>> [label_source_of_backend(b).value for b in ("image.classify", "llm.openai", "text.rules")]
        ['model', 'llm', 'rule']
    """
    parts = backend.lower().replace("-", ".").replace("_", ".").split(".")
    if "llm" in parts:
        return LabelSource.LLM
    if "rules" in parts or "rule" in parts:
        return LabelSource.RULE
    return LabelSource.MODEL


@dataclass(frozen=True, slots=True)
class Finding:
    """One suspected problem.

    Attributes:
        item_id: The item.
        rule_id: The rule or check that raised it (``box_bounds``, ``model.missing_label``).
        severity: How bad it is.
        message: What is wrong, for people.
        region_id: The region, when the problem is in one.
        control: The control (label type) concerned.
        label: The class concerned, if any.
        fix: A suggested fix: ``{"action": "set", "field": ..., "value": ...}``,
            ``{"action": "delete"}``, ``{"action": "add", "region": {...}}`` or
            ``{"action": "review", "hint": ...}`` when no value can be computed.
        detector: What raised it.
        label_source: Who made the label in question.
        annotator: The annotator (or backend) of the label in question.
        record_id: The annotation (human) or suggestion (machine) id checked.
        score: A confidence or quality score, when the check has one.
    """

    item_id: int
    rule_id: str
    severity: Severity
    message: str
    region_id: str | None = None
    control: str | None = None
    label: str | None = None
    fix: dict[str, Any] | None = None
    detector: Detector = Detector.RULE
    label_source: LabelSource = LabelSource.HUMAN
    annotator: str | None = None
    record_id: int | None = None
    score: float | None = None

    @property
    def author(self) -> str | None:
        """The person who wrote the label in question, or None when no single person did.

        That is the annotator of the human annotation the finding names (``record_id``). A
        finding about a machine label (a model's, an LLM's or a rule set's suggestion) or about
        the item itself (no ``record_id``) has no author. The permission table's ``author``
        fact for a correction task comes from here.

        Example:
            >>> Finding(1, "r", Severity.INFO, "m", annotator="ann", record_id=4).author
            'ann'
            >>> Finding(1, "r", Severity.INFO, "m", annotator="llm.x", record_id=4, label_source=LabelSource.LLM).author
            >>> Finding(1, "r", Severity.INFO, "m").author
        """
        if self.label_source is not LabelSource.HUMAN or self.record_id is None:
            return None
        return self.annotator

    def fingerprint(self) -> str:
        """A stable hash of what the finding is about, used to match it across QC runs.

        The message and score are left out, so a re-run that finds the same problem with a
        slightly different number keeps the existing correction task.
        """
        key = [self.item_id, self.rule_id, self.region_id, self.control, self.label, self.annotator, self.record_id]
        return hashlib.sha256(orjson.dumps(key)).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["severity"] = self.severity.value
        out["detector"] = self.detector.value
        out["label_source"] = self.label_source.value
        return out


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """A stored finding with its correction task.

    Attributes:
        id: The finding id.
        run_id: The QC run that raised it.
        finding: The finding.
        task_id: Its correction task.
        status: ``open`` or ``resolved``.
        resolution: How it was resolved (``fixed``, ``dismissed``, ``gone`` when a later run no
            longer finds it); None while open.
        created_at: When it was raised.
    """

    id: int
    run_id: int
    finding: Finding
    task_id: int
    status: str
    resolution: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the finding's fields plus the record's."""
        return {
            "id": self.id,
            "run_id": self.run_id,
            "task_id": self.task_id,
            "status": self.status,
            "resolution": self.resolution,
            "created_at": self.created_at.isoformat(),
            **self.finding.to_dict(),
        }
