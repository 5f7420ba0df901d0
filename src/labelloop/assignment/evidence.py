"""Per-label-type skill: what a gold answer or a review says about an annotator, and the skill it earns.

A **label type** is a ``(control, label)`` pair. Free text (text fields, transcripts) names no
label type and is left out.

**Outcomes.** Comparing an annotator's value with a reference value gives, for every label type
in either of them, one observation with a credit in [0, 1]: with ``a`` and ``r`` the number of
regions carrying that label in the answer and in the reference,

    credit = min(a, r) / max(a, r)

so a classification label is 1 when both have it and 0 when only one has it (a wrong label and
a missed one each cost), and for region kinds it is the share of that label's regions the two
agree on in number (geometry is not judged here; the QC report scores it).

* **Gold**: the reference is the gold answer.
* **Review** of an annotation: ``accept`` — the reference is the annotation itself (every label
  type in it earns 1); ``correct`` — the reference is the reviewer's correction (labels kept earn
  1, labels removed or changed earn 0, labels the reviewer added are misses and earn 0);
  ``reject`` — every label type in the annotation earns 0 (nothing says what was right).

Each outcome adds 1 to the label type's ``seen`` and its credit to ``correct``.

**Skill** for a label type is the posterior mean accuracy under a Beta prior whose mean is the
annotator's overall skill ``m`` (:func:`labelloop.assignment.skill`) and whose weight is
``strength`` pseudo-observations (:data:`PRIOR_STRENGTH`)::

    skill = (correct + strength · m) / (seen + strength)

so with no evidence it is the overall skill, and it moves to the label's own accuracy as
evidence for it accumulates.

Example:
    >>> a = [{"id": "1", "control": "c", "labels": ["cat"]}]
    >>> gold = [{"id": "g", "control": "c", "labels": ["dog"]}]
    >>> sorted(outcomes(a, gold).items())
    [(('c', 'cat'), 0.0), (('c', 'dog'), 0.0)]
    >>> label_skill(LabelEvidence(8, 8.0), 0.5)
    0.8333333333333334
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PRIOR_STRENGTH",
    "LabelEvidence",
    "LabelKey",
    "label_counts",
    "label_skill",
    "outcomes",
    "review_outcomes",
]

LabelKey = tuple[str, str]
"""A label type: ``(control, label)``."""

PRIOR_STRENGTH = 4.0
"""Pseudo-observations the overall skill is worth in a label type's prior."""


@dataclass(frozen=True, slots=True)
class LabelEvidence:
    """Observations of one annotator on one label type: how many, and their summed credit."""

    seen: int
    correct: float

    @property
    def accuracy(self) -> float | None:
        """``correct / seen`` (None without observations).

        Example:
            >>> LabelEvidence(4, 3.0).accuracy, LabelEvidence(0, 0.0).accuracy
            (0.75, None)
        """
        return None if self.seen <= 0 else self.correct / self.seen


def label_counts(value: Sequence[Mapping[str, Any]]) -> Counter[LabelKey]:
    """How many regions of a value carry each label type (a multi-label region counts for each).

    Example:
        >>> v = [{"control": "b", "label": "car"}, {"control": "b", "label": "car"},
        ...      {"control": "c", "labels": ["x", "y"]}, {"control": "t", "text": "free"}]
        >>> sorted(label_counts(v).items())
        [(('b', 'car'), 2), (('c', 'x'), 1), (('c', 'y'), 1)]
    """
    out: Counter[LabelKey] = Counter()
    for region in value:
        if not isinstance(region, Mapping):
            continue
        control = str(region.get("control", ""))
        labels = region.get("labels")
        if not isinstance(labels, list):
            labels = [region["label"]] if region.get("label") is not None else []
        for label in dict.fromkeys(str(x) for x in labels):  # a label twice in one region counts once
            out[(control, label)] += 1
    return out


def outcomes(value: Sequence[Mapping[str, Any]], reference: Sequence[Mapping[str, Any]]) -> dict[LabelKey, float]:
    """Credit per label type of ``value`` against ``reference`` (see the module docstring).

    Example:
        >>> boxes = lambda *ls: [{"control": "b", "label": x} for x in ls]
        >>> outcomes(boxes("car", "car", "bus"), boxes("car", "bus", "bus"))
        {('b', 'car'): 0.5, ('b', 'bus'): 0.5}
        >>> outcomes([], [])
        {}
    """
    a, r = label_counts(value), label_counts(reference)
    return {k: min(a[k], r[k]) / max(a[k], r[k]) for k in a | r}


def review_outcomes(
    value: Sequence[Mapping[str, Any]],
    verdict: str,
    correction: Sequence[Mapping[str, Any]] | None = None,
) -> dict[LabelKey, float]:
    """Credit per label type a review (verdict ``accept``, ``reject`` or ``correct``) gives the author.

    Raises:
        ValueError: ``correct`` without a correction, or an unknown verdict.

    Example:
        >>> v = [{"control": "c", "labels": ["cat"]}]
        >>> review_outcomes(v, "accept"), review_outcomes(v, "reject")
        ({('c', 'cat'): 1.0}, {('c', 'cat'): 0.0})
        >>> sorted(review_outcomes(v, "correct", [{"control": "c", "labels": ["dog"]}]).items())
        [(('c', 'cat'), 0.0), (('c', 'dog'), 0.0)]
    """
    if verdict == "accept":
        return dict.fromkeys(label_counts(value), 1.0)
    if verdict == "reject":
        return dict.fromkeys(label_counts(value), 0.0)
    if verdict == "correct":
        if correction is None:
            raise ValueError("a 'correct' review needs the correction's value")
        return outcomes(value, correction)
    raise ValueError(f"verdict: expected accept, reject or correct, got {verdict!r}")


def label_skill(evidence: LabelEvidence | None, overall: float, *, strength: float = PRIOR_STRENGTH) -> float:
    """Posterior mean accuracy on a label type, shrunk toward the overall skill.

    ``(correct + strength · overall) / (seen + strength)``: a Beta prior of mean ``overall``
    worth ``strength`` observations, updated with the label type's evidence.

    Example:
        >>> label_skill(None, 0.7)
        0.7
        >>> label_skill(LabelEvidence(10, 9.0), 0.5)  # (9 + 2) / (10 + 4)
        0.7857142857142857
        >>> label_skill(LabelEvidence(10, 1.0), 0.9)  # (1 + 3.6) / 14
        0.32857142857142857
    """
    if evidence is None or evidence.seen <= 0:
        return overall
    return (evidence.correct + strength * overall) / (evidence.seen + strength)
