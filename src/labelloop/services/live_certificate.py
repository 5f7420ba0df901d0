"""Certify auto-accept thresholds on a live project's evidence, and write the quality certificate.

:func:`certify` picks one threshold overall or one per predicted class, each by the
fixed-sequence Clopper-Pearson scan of :func:`labelloop.active.certified_threshold` (with
``breakpoints``: one early audit error does not end the scan). Per class is chosen only when the
data allow it, and the choice looks at **counts alone** (how many evidence items each predicted
class has), never at which of them were right, so it cannot inflate the error rate: per class
needs at least two classes, a class on every routed item, and for every class at least the
clean items that could certify it at the Bonferroni level ``1 - (1 - confidence) / classes``
(for 98% at 95% over two classes: 182). Otherwise one threshold holds for all items.

:func:`run_certificate` summarises what a run claims: labels per tier, the evidence at or above
the thresholds (audited accuracy with its exact two-sided Clopper-Pearson interval and the
one-sided lower bound that is the certified quantity), per class, and the caveats that apply.

Example:
    >>> rng = np.random.default_rng(0)
    >>> s = rng.uniform(0.5, 1.0, 400)
    >>> ok = np.ones(400, bool)
    >>> c = certify(s, ok, [None] * 400, [None], target=0.98, confidence=0.95)
    >>> c.mode, c.certified, c.needed
    ('overall', True, 0)
    >>> certify([], [], [], [None], target=0.98, confidence=0.95).needed
    149
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from labelloop.active import ThresholdResult, certified_threshold, clopper_pearson, cp_lower, min_clean_audits

__all__ = ["ALL", "Certification", "certify", "run_certificate"]

ALL = "*"
"""The key of the one overall threshold."""


@dataclass(frozen=True, slots=True)
class Certification:
    """Certified thresholds on the raw score (``None``: that class is never auto-accepted).

    Attributes:
        mode: ``per-class`` or ``overall``.
        reason: Why that mode.
        level: Confidence of each test (Bonferroni-split per class).
        results: The scan's outcome per class (or under :data:`ALL`).
    """

    mode: str
    reason: str
    level: float
    results: dict[str, ThresholdResult]

    @property
    def thresholds(self) -> dict[str, float | None]:
        """Threshold per class (or under :data:`ALL`)."""
        return {k: r.threshold for k, r in self.results.items()}

    @property
    def certified(self) -> bool:
        """Whether any threshold was certified."""
        return any(r.certified for r in self.results.values())

    @property
    def needed(self) -> int:
        """More clean audited items that would certify a first threshold (0 once one is)."""
        if self.certified or not self.results:
            return 0
        return min(r.needed for r in self.results.values())

    def threshold_for(self, cls: str | None) -> float | None:
        """The threshold an item predicting ``cls`` must reach (None: never auto)."""
        if self.mode == "overall":
            return self.results[ALL].threshold
        r = self.results.get(cls or "")
        return None if r is None else r.threshold

    def passes(self, score: float, cls: str | None) -> bool:
        """Whether an item with this raw score and predicted class is auto-accepted."""
        t = self.threshold_for(cls)
        return t is not None and score >= t


def certify(
    scores: ArrayLike,
    correct: ArrayLike,
    classes: Sequence[str | None],
    routed_classes: Sequence[str | None],
    *,
    target: float,
    confidence: float,
) -> Certification:
    """Certify thresholds on evidence (``scores``, ``correct``, predicted ``classes``).

    Args:
        scores: Raw score of each evidence item's suggestion.
        correct: Whether the person's label agreed with it.
        classes: Predicted class of each evidence item (None: not a single classification).
        routed_classes: Predicted class of each item being routed (decides whether per class
            is possible: every one needs a class with evidence).
        target: Required accuracy.
        confidence: Confidence of the claim (family-wise over classes).

    Example:
        >>> s = np.full(600, 0.9)
        >>> c = certify(s, np.ones(600, bool), ["a"] * 300 + ["b"] * 300, ["a", "b"], target=0.98, confidence=0.95)
        >>> c.mode, c.thresholds
        ('per-class', {'a': 0.9, 'b': 0.9})
    """
    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(correct, bool).ravel()
    cls = np.asarray(list(classes), dtype=object)
    wanted = set(routed_classes)
    names = sorted(c for c in wanted if c is not None)
    reason = ""
    if None in wanted or len(names) < 2:
        reason = "one threshold: the routed suggestions are not all single classifications of two or more classes"
    else:
        level = 1.0 - (1.0 - confidence) / len(names)
        need = min_clean_audits(target, level)
        short = [c for c in names if int((cls == c).sum()) < need]
        if not short:
            results = {c: certified_threshold(s[cls == c], y[cls == c], target, level, breakpoints=True) for c in names}
            why = f"per class: each of {len(names)} classes has at least {need} evidence items (Bonferroni level)"
            return Certification("per-class", why, level, results)
        reason = (
            f"one threshold: per class needs {need} evidence items for each of {len(names)} classes; "
            f"{', '.join(short[:5])}{' ...' if len(short) > 5 else ''} have fewer"
        )
    return Certification(
        "overall", reason, confidence, {ALL: certified_threshold(s, y, target, confidence, breakpoints=True)}
    )


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None


def run_certificate(
    cert: Certification,
    scores: ArrayLike,
    correct: ArrayLike,
    classes: Sequence[str | None],
    *,
    tiers: Mapping[str, int],
    auto_by_class: Mapping[str, int],
    target: float,
    confidence: float,
    meta: Mapping[str, Any],
    caveats: Sequence[str] = (),
) -> dict[str, Any]:
    """The certificate of one routing run as a JSON-ready dict.

    Args:
        cert: The certification.
        scores: Raw score of each evidence item.
        correct: Whether each was right.
        classes: Predicted class of each.
        tiers: Items per tier after the run (of this model version).
        auto_by_class: Auto-accepted items per predicted class (``None`` class under ``"-"``).
        target: Required accuracy.
        confidence: Confidence of the claim.
        meta: Run facts to include as they are (project, backend, version, policy, counts).
        caveats: Plain sentences on what the claim assumes.

    Example:
        >>> c = certify(np.full(200, 0.9), np.ones(200, bool), [None] * 200, [None], target=0.98, confidence=0.95)
        >>> d = run_certificate(c, np.full(200, 0.9), np.ones(200, bool), [None] * 200, tiers={"auto": 5},
        ...                     auto_by_class={"-": 5}, target=0.98, confidence=0.95, meta={})
        >>> d["holds"], d["audited"], d["lower"] >= 0.98
        (True, 200, True)
    """
    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(correct, bool).ravel()
    cls = list(classes)
    thresholds = [cert.threshold_for(c) for c in cls]
    above = np.array([t is not None and v >= t for v, t in zip(s, thresholds, strict=True)], bool)
    basis = "evidence at or above the certified thresholds"
    if not cert.certified:
        above = np.ones(s.size, bool)
        basis = "all evidence (nothing certified yet)"
    n, k = int(above.sum()), int(y[above].sum())
    lower = float(cp_lower(k, n, confidence))
    per: dict[str, Any] = {}
    names = sorted({c or "-" for c in cls} | set(auto_by_class) | {k_ for k_ in cert.results if k_ != ALL})
    for name in names:
        m = above & np.array([(c or "-") == name for c in cls], bool)
        nc, kc = int(m.sum()), int(y[m].sum())
        res = cert.results.get(name) if cert.mode == "per-class" else None
        per[name] = {
            "threshold": None if res is None else res.threshold,
            "needed": None if res is None else res.needed,
            "auto": int(auto_by_class.get(name, 0)),
            "audited": nc,
            "correct": kc,
            "accuracy": _rate(kc, nc),
            "ci": list(clopper_pearson(kc, nc, confidence)),
            "lower": float(cp_lower(kc, nc, cert.level)),
        }
    thresholds_out = {k_: (None if v is None or math.isinf(v) else v) for k_, v in cert.thresholds.items()}
    return {
        **dict(meta),
        "target": target,
        "confidence": confidence,
        "mode": cert.mode,
        "mode_reason": cert.reason,
        "level_per_test": cert.level,
        "thresholds": thresholds_out,
        "certified": cert.certified,
        "needed": cert.needed,
        "unlock_minimum": min_clean_audits(target, confidence),
        "tiers": dict(tiers),
        "basis": basis,
        "audited": n,
        "audited_correct": k,
        "accuracy": _rate(k, n),
        "ci": list(clopper_pearson(k, n, confidence)),
        "lower": lower,
        "holds": bool(cert.certified and lower >= target),
        "per_class": per,
        "method": "Clopper-Pearson (1934) exact bound; fixed-sequence scan from high to low scores "
        "(Bauer 1991), tested at error breakpoints; Bonferroni over classes",
        "caveats": list(caveats),
    }
