"""Tiered routing with a certified auto-accept tier and continuous audit (pure maths).

Items go to one of three tiers from their calibrated confidence: **auto-accept** (confidence
>= the certified threshold; no person sees the label), **review** (a person confirms or
corrects the suggestion), **manual** (confidence below ``manual_below``; a person labels from
scratch, which is cheaper than correcting a likely-wrong suggestion).

Continuous audit samples a fraction of the auto-accepted items uniformly at random for people
to label blind; :func:`reaudit` pools those results with the earlier audit, re-certifies the
threshold with :func:`~labelloop.active.bounds.certified_threshold`, only ever tightens it,
and lists the auto-accepted items that must go back to people. A
:class:`QualityCertificate` records what was claimed and on what evidence.

Example:
    >>> conf = np.array([0.99, 0.95, 0.7, 0.3])
    >>> policy = RoutingPolicy(accept_at=0.9, manual_below=0.5)
    >>> [t.value for t in route(conf, policy)]
    ['auto', 'auto', 'review', 'manual']
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelloop.active.bounds import certified_threshold, clopper_pearson, cp_lower
from labelloop.errors import InputRejected

__all__ = [
    "AuditOutcome",
    "ClassCertificate",
    "QualityCertificate",
    "RoutingPolicy",
    "Tier",
    "audit_sample",
    "build_certificate",
    "reaudit",
    "route",
]


class Tier(StrEnum):
    """Where an item goes."""

    AUTO = "auto"
    REVIEW = "review"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """Thresholds on calibrated confidence.

    Attributes:
        accept_at: Auto-accept at or above this (``math.inf``: never); a float, or one per
            predicted class (classes missing from the mapping are never auto-accepted).
        manual_below: Label from scratch below this confidence.
    """

    accept_at: float | Mapping[Hashable, float] = math.inf
    manual_below: float = 0.0

    def accept_thresholds(self, predicted: Sequence[Hashable] | None, n: int) -> NDArray[np.float64]:
        """The accept threshold that applies to each of ``n`` items."""
        if not isinstance(self.accept_at, Mapping):
            return np.full(n, float(self.accept_at))
        if predicted is None or len(predicted) != n:
            raise InputRejected("route", "one predicted class per item with per-class thresholds", "none")
        return np.array([float(self.accept_at.get(c, math.inf)) for c in predicted], dtype=np.float64)


def route(confidence: ArrayLike, policy: RoutingPolicy, predicted: Sequence[Hashable] | None = None) -> list[Tier]:
    """Tier of each item.

    Example:
        >>> p = RoutingPolicy(accept_at={"a": 0.9}, manual_below=0.2)
        >>> [t.value for t in route([0.95, 0.95, 0.1], p, ["a", "b", "a"])]
        ['auto', 'review', 'manual']
    """
    c = np.asarray(confidence, dtype=np.float64).ravel()
    acc = policy.accept_thresholds(predicted, c.size)
    codes = np.where(c >= acc, 0, np.where(c < policy.manual_below, 2, 1))
    tiers = (Tier.AUTO, Tier.REVIEW, Tier.MANUAL)
    return [tiers[int(i)] for i in codes]


def audit_sample(auto_items: ArrayLike, fraction: float, seed: int = 0, *, minimum: int = 1) -> NDArray[np.int64]:
    """A uniform random sample of auto-accepted item ids for blind human audit.

    Example:
        >>> audit_sample(np.arange(100), 0.05, seed=1).size
        5
    """
    ids = np.asarray(auto_items, dtype=np.int64).ravel()
    if not 0.0 <= fraction <= 1.0:
        raise InputRejected("fraction", "a share between 0 and 1", str(fraction))
    if ids.size == 0 or fraction == 0.0:
        return np.empty(0, dtype=np.int64)
    m = min(ids.size, max(minimum, math.ceil(fraction * ids.size)))
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(ids, size=m, replace=False))


@dataclass(frozen=True, slots=True)
class AuditOutcome:
    """Result of :func:`reaudit`.

    Attributes:
        policy: The policy to use from now on (threshold never lower than before).
        tightened: Whether the threshold rose.
        reroute: Auto-accepted item ids now below the threshold (send them to people).
        held: Whether the pooled audit still certifies the old threshold.
    """

    policy: RoutingPolicy
    tightened: bool
    reroute: NDArray[np.int64]
    held: bool


def reaudit(
    policy: RoutingPolicy,
    audit_scores: ArrayLike,
    audit_correct: ArrayLike,
    auto_items: ArrayLike,
    auto_scores: ArrayLike,
    *,
    target: float,
    confidence: float = 0.95,
    breakpoints: bool = False,
) -> AuditOutcome:
    """Re-certify a global threshold on all audit results so far; tighten and re-route if broken.

    Args:
        policy: The current policy (global ``accept_at``).
        audit_scores: Confidence of every audited item (earlier and new audits pooled).
        audit_correct: Whether each audit found the machine label right.
        auto_items: Ids of items currently auto-accepted and not yet seen by people.
        auto_scores: Their confidence.
        target: Required accuracy.
        confidence: Confidence of the claim.
        breakpoints: Scan as :func:`~labelloop.active.bounds.certified_threshold` does with it.

    Example:
        >>> p = RoutingPolicy(accept_at=0.5)
        >>> s = np.r_[np.full(200, 0.9), np.full(50, 0.6)]
        >>> ok = np.r_[np.ones(200, bool), np.zeros(50, bool)]
        >>> out = reaudit(p, s, ok, [7, 8], [0.95, 0.6], target=0.98)
        >>> out.tightened, out.policy.accept_at, out.reroute.tolist()
        (True, 0.9, [8])
    """
    if isinstance(policy.accept_at, Mapping):
        raise InputRejected("reaudit", "a policy with one global accept threshold", "per-class thresholds")
    old = float(policy.accept_at)
    res = certified_threshold(audit_scores, audit_correct, target, confidence, breakpoints=breakpoints)
    new = math.inf if res.threshold is None else max(old, res.threshold)
    ids = np.asarray(auto_items, dtype=np.int64).ravel()
    sc = np.asarray(auto_scores, dtype=np.float64).ravel()
    reroute = np.sort(ids[sc < new])
    held = res.threshold is not None and res.threshold <= old
    return AuditOutcome(replace(policy, accept_at=new), new > old, reroute, held)


@dataclass(frozen=True, slots=True)
class ClassCertificate:
    """Audited accuracy of one predicted class among auto-accepted items."""

    auto: int
    audited: int
    correct: int
    accuracy: float | None
    ci: tuple[float, float]


@dataclass(frozen=True, slots=True)
class QualityCertificate:
    """What a release claims about its machine labels, and the evidence.

    Attributes:
        target: Required accuracy of auto-accepted labels.
        confidence: Confidence of the claim.
        threshold: Certified accept threshold (``None``: nothing auto-accepted).
        tiers: Labels per tier.
        audited: Audited items at or above the threshold.
        audited_correct: How many of those the audit found right.
        accuracy: Their observed accuracy.
        ci: Two-sided Clopper-Pearson interval of that accuracy.
        lower: One-sided lower bound (the certified quantity).
        holds: Whether ``lower >= target``.
        method: How the threshold was chosen.
        per_class: Per predicted class evidence.
    """

    target: float
    confidence: float
    threshold: float | None
    tiers: dict[str, int]
    audited: int
    audited_correct: int
    accuracy: float | None
    ci: tuple[float, float]
    lower: float
    holds: bool
    method: str = "Clopper-Pearson (1934) lower bound, fixed-sequence scan from high to low scores"
    per_class: dict[str, ClassCertificate] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = asdict(self)
        d["ci"] = list(self.ci)
        d["per_class"] = {k: {**asdict(v), "ci": list(v.ci)} for k, v in self.per_class.items()}
        return d

    def to_json(self) -> str:
        """The certificate as a JSON document (sorted keys).

        Example:
            >>> c = build_certificate([0.9] * 150, [True] * 150, ["a"] * 150, [Tier.AUTO] * 150,
            ...                       ["a"] * 150, threshold=0.9, target=0.98)
            >>> json.loads(c.to_json())["holds"]
            True
        """
        return json.dumps(self.to_dict(), sort_keys=True)


def build_certificate(
    audit_scores: ArrayLike,
    audit_correct: ArrayLike,
    audit_predicted: Sequence[Hashable],
    tiers: Sequence[Tier],
    predicted: Sequence[Hashable],
    *,
    threshold: float | None,
    target: float,
    confidence: float = 0.95,
) -> QualityCertificate:
    """Summarise the audit evidence behind an auto-accept threshold.

    Args:
        audit_scores: Confidence of each audited item.
        audit_correct: Whether each was right.
        audit_predicted: Machine label of each audited item.
        tiers: Final tier of every item.
        predicted: Machine label of every item.
        threshold: The accept threshold in force.
        target: Required accuracy.
        confidence: Confidence of the claim.
    """
    s = np.asarray(audit_scores, dtype=np.float64).ravel()
    y = np.asarray(audit_correct, dtype=bool).ravel()
    ap = np.asarray(audit_predicted, dtype=object).ravel()
    keep = s >= (math.inf if threshold is None else threshold)
    n, k = int(keep.sum()), int(y[keep].sum())
    lower = float(cp_lower(k, n, confidence))
    counts = {t.value: 0 for t in Tier}
    for t in tiers:
        counts[t.value] += 1
    per: dict[str, ClassCertificate] = {}
    pred = list(predicted)
    for c in sorted(set(pred) | set(ap[keep].tolist()), key=str):
        m = keep & (ap == c)
        nc, kc = int(m.sum()), int(y[m].sum())
        auto_c = sum(1 for p, t in zip(pred, tiers, strict=True) if p == c and t is Tier.AUTO)
        per[str(c)] = ClassCertificate(auto_c, nc, kc, kc / nc if nc else None, clopper_pearson(kc, nc, confidence))
    return QualityCertificate(
        target=target,
        confidence=confidence,
        threshold=threshold,
        tiers=counts,
        audited=n,
        audited_correct=k,
        accuracy=k / n if n else None,
        ci=clopper_pearson(k, n, confidence),
        lower=lower,
        holds=threshold is not None and lower >= target,
        per_class=per,
    )
