"""Exact binomial bounds and the certified auto-accept threshold.

* :func:`clopper_pearson` is the exact (conservative) binomial confidence interval of
  Clopper & Pearson (1934), from quantiles of the beta distribution.
* :func:`certified_threshold` finds the lowest score threshold ``t`` such that the one-sided
  lower confidence bound of accuracy among audited items with score >= ``t`` meets a target.

Multiple looks. Scanning many thresholds and keeping the best would overstate confidence, so
the scan is *fixed-sequence testing* (Bauer, 1991; Westfall & Krishen, 2001), as used for
threshold selection by Learn-then-Test (Angelopoulos et al., 2021): candidate thresholds are
tested from the highest score down, each at the full level ``alpha = 1 - confidence``, and the
scan stops at the first threshold whose bound misses the target. The candidates (the distinct
audited scores, or a grid) and the skipping of candidates with too few items to ever pass
depend on the scores only, never on correctness, so conditional on the scores the order is
fixed in advance and the family-wise error is at most ``alpha``. With ``breakpoints=True`` the
sequence keeps only the candidates where one more audit error becomes tolerable (for 98% at 95%:
149 audited items above the threshold with no error, 236 with one, 313 with two, ...; see
:func:`error_breakpoints`) plus the lowest candidate: a coarse sequence fixed by the counts alone,
so a single early error no longer ends the scan at the next item. Per-class thresholds split
``alpha`` over the classes (Bonferroni), so all per-class claims hold together.

The audited items must be a uniform random sample of the items the threshold is applied to
(see :mod:`labelloop.active.routing`); the guarantee is about that population.

References:
    Clopper, C. J., & Pearson, E. S. (1934). The use of confidence or fiducial limits
    illustrated in the case of the binomial. *Biometrika* 26(4), 404-413.
    Bauer, P. (1991). Multiple testing in clinical trials. *Statistics in Medicine* 10(6).
    Westfall, P. H., & Krishen, A. (2001). Optimally weighted, fixed sequence and gatekeeper
    multiple testing procedures. *J. Statistical Planning and Inference* 99(1).
    Angelopoulos, A. N., Bates, S., Candès, E. J., Jordan, M. I., & Lei, L. (2021).
    Learn then test: calibrating predictive algorithms to achieve risk control. arXiv:2110.01052.

Example:
    >>> rng = np.random.default_rng(0)
    >>> scores = rng.uniform(0.5, 1.0, 2000)
    >>> correct = rng.random(2000) < scores  # calibrated scores
    >>> r = certified_threshold(scores, correct, target=0.95, confidence=0.95)
    >>> r.certified, r.lower >= 0.95, 0.9 < r.threshold < 1.0
    (True, True, True)
    >>> min_clean_audits(0.98, 0.95)
    149
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelloop.errors import InputRejected

__all__ = [
    "ThresholdResult",
    "certified_threshold",
    "certified_thresholds_per_class",
    "clean_items_needed",
    "clopper_pearson",
    "cp_lower",
    "error_breakpoints",
    "min_clean_audits",
]


def _check_levels(target: float, confidence: float) -> None:
    if not 0.0 < target < 1.0:
        raise InputRejected("target", "an accuracy strictly between 0 and 1", str(target))
    if not 0.0 < confidence < 1.0:
        raise InputRejected("confidence", "a level strictly between 0 and 1", str(confidence))


def cp_lower(k: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> NDArray[np.float64]:
    """One-sided Clopper-Pearson lower bound of a proportion, vectorised.

    Args:
        k: Successes.
        n: Trials (``0 <= k <= n``); ``n = 0`` gives a bound of 0.
        confidence: One-sided level, e.g. 0.95.

    Returns:
        ``Beta(1 - confidence; k, n - k + 1)`` quantiles, 0 where ``k = 0``.

    Example:
        >>> cp_lower([149, 148], [149, 149], 0.95).round(4).tolist()
        [0.9801, 0.9686]
    """
    from scipy.stats import beta

    kk = np.asarray(k, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = beta.ppf(1.0 - confidence, np.maximum(kk, 1.0), np.maximum(nn - kk + 1.0, 1.0))
    out: NDArray[np.float64] = np.where(kk <= 0, 0.0, np.asarray(lo, dtype=np.float64))
    return out


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided exact Clopper-Pearson interval of a proportion ``k / n``.

    Example:
        >>> lo, hi = clopper_pearson(0, 10)
        >>> lo, round(hi, 4)
        (0.0, 0.3085)
    """
    from scipy.stats import beta

    if not 0 <= k <= n:
        raise InputRejected("clopper_pearson", "0 <= k <= n", f"k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    a = (1.0 - confidence) / 2.0
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1.0 - a, k + 1, n - k))
    return lo, hi


def min_clean_audits(target: float, confidence: float = 0.95) -> int:
    """Fewest audited items, all correct, whose lower bound reaches ``target``.

    With ``n`` clean items the one-sided bound is ``alpha ** (1 / n)``, so
    ``n = ceil(ln(alpha) / ln(target))``.

    Example:
        >>> min_clean_audits(0.98, 0.95), min_clean_audits(0.95, 0.95)
        (149, 59)
    """
    _check_levels(target, confidence)
    n = math.ceil(math.log(1.0 - confidence) / math.log(target) - 1e-12)
    while float(cp_lower(n, n, confidence)) < target:  # guard against rounding
        n += 1
    return n


def clean_items_needed(k: int, n: int, target: float, confidence: float = 0.95) -> int:
    """How many more correct audited items lift the bound of ``k / n`` to ``target``.

    Example:
        >>> clean_items_needed(0, 0, 0.98), clean_items_needed(148, 148, 0.98), clean_items_needed(149, 149, 0.98)
        (149, 1, 0)
    """
    _check_levels(target, confidence)
    if float(cp_lower(k, n, confidence)) >= target:
        return 0
    hi = max(1, min_clean_audits(target, confidence))
    while float(cp_lower(k + hi, n + hi, confidence)) < target:
        hi *= 2
    lo = 0  # invariant: lo fails, hi passes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if float(cp_lower(k + mid, n + mid, confidence)) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def error_breakpoints(target: float, confidence: float = 0.95, n_max: int = 10_000) -> list[int]:
    """Audited counts at which 0, 1, 2, ... errors first keep the lower bound at ``target``.

    ``n_e`` is the smallest ``n`` with ``cp_lower(n - e, n) >= target``; the list stops before
    the first ``n_e > n_max``.

    Example:
        >>> error_breakpoints(0.98, 0.95, n_max=400)
        [149, 236, 313, 386]
    """
    _check_levels(target, confidence)
    out: list[int] = []
    errors = 0
    while (n := _breakpoint(errors, target, confidence)) <= n_max:
        out.append(n)
        errors += 1
    return out


@functools.lru_cache(maxsize=4096)
def _breakpoint(errors: int, target: float, confidence: float) -> int:
    return errors + clean_items_needed(0, errors, target, confidence)


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    """Outcome of :func:`certified_threshold`.

    Attributes:
        threshold: Lowest certified score threshold, or ``None`` without enough evidence.
        n: Audited items with score >= threshold (at the last tested candidate if none passed).
        k: How many of them were correct.
        lower: Their one-sided lower confidence bound of accuracy.
        needed: More clean audited items that would certify some threshold (0 when certified).
        confidence: The level each test used (after any Bonferroni split).
    """

    threshold: float | None
    n: int
    k: int
    lower: float
    needed: int
    confidence: float

    @property
    def certified(self) -> bool:
        """Whether a threshold was certified."""
        return self.threshold is not None


def certified_threshold(
    scores: ArrayLike,
    correct: ArrayLike,
    target: float,
    confidence: float = 0.95,
    *,
    grid: ArrayLike | None = None,
    step: int = 1,
    breakpoints: bool = False,
) -> ThresholdResult:
    """Lowest score threshold whose audited accuracy is certified to be >= ``target``.

    Fixed-sequence testing from the highest candidate down (see the module docstring).

    Args:
        scores: Confidence of each audited item (any monotone score).
        correct: Whether the audit found the machine label right.
        target: Required accuracy among items at or above the threshold.
        confidence: One-sided confidence of the claim (family-wise over the scan).
        grid: Candidate thresholds; by default the distinct audited scores.
        step: Keep only every ``step``-th candidate counted in items from the top (a coarser
            sequence loses less power to one early error; it depends on scores only).
        breakpoints: Test only the first candidate reaching each of :func:`error_breakpoints`
            and the lowest candidate (depends on the counts only; excludes ``step``).

    Returns:
        A :class:`ThresholdResult`; ``threshold`` is ``None`` with too little evidence.

    Example:
        >>> certified_threshold([0.9] * 148, [True] * 148, 0.98).needed
        1
        >>> certified_threshold([0.9] * 149, [True] * 149, 0.98).threshold
        0.9
        >>> s = np.linspace(1.0, 0.5, 300)
        >>> ok = np.ones(300, bool); ok[160] = False  # one error just below the top 149
        >>> certified_threshold(s, ok, 0.98).n, certified_threshold(s, ok, 0.98, breakpoints=True).n
        (160, 300)
    """
    _check_levels(target, confidence)
    if breakpoints and step > 1:
        raise InputRejected("certified_threshold", "either step or breakpoints, not both", f"step={step}")
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(correct, dtype=bool).ravel()
    if s.shape != y.shape:
        raise InputRejected("certified_threshold", "scores and correct of equal length", f"{s.size} vs {y.size}")
    if s.size and not np.all(np.isfinite(s)):
        raise InputRejected("scores", "finite numbers", "NaN or infinity")
    cand = np.unique(s) if grid is None else np.unique(np.asarray(grid, dtype=np.float64))
    cand = cand[::-1]  # high to low
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    cum_k = np.concatenate([[0], np.cumsum(y_sorted)])
    # items with score >= t: the first n_t of the descending order
    n_t = np.searchsorted(-s_sorted, -cand, side="right")
    k_t = cum_k[n_t]
    n_min = min_clean_audits(target, confidence)
    testable = n_t >= n_min  # depends on scores only
    cand, n_t, k_t = cand[testable], n_t[testable], k_t[testable]
    if step > 1 and cand.size:
        bucket = (n_t - n_t[0]) // step  # keep the first candidate reaching each multiple of step
        keep = np.r_[True, bucket[1:] != bucket[:-1]]
        cand, n_t, k_t = cand[keep], n_t[keep], k_t[keep]
    if breakpoints and cand.size:
        marks = np.searchsorted(n_t, error_breakpoints(target, confidence, int(n_t[-1])), side="left")
        keep_idx = np.unique(np.r_[marks[marks < n_t.size], n_t.size - 1])
        cand, n_t, k_t = cand[keep_idx], n_t[keep_idx], k_t[keep_idx]
    lows = cp_lower(k_t, n_t, confidence)
    passed = lows >= target
    if cand.size == 0 or not passed[0]:
        k0, n0 = (int(k_t[0]), int(n_t[0])) if cand.size else (int(y.sum()), int(s.size))
        lo0 = float(lows[0]) if cand.size else float(cp_lower(k0, n0, confidence))
        return ThresholdResult(None, n0, k0, lo0, clean_items_needed(k0, n0, target, confidence), confidence)
    first_fail = int(np.argmin(passed)) if not passed.all() else passed.size
    j = first_fail - 1
    return ThresholdResult(float(cand[j]), int(n_t[j]), int(k_t[j]), float(lows[j]), 0, confidence)


def certified_thresholds_per_class(
    scores: ArrayLike,
    correct: ArrayLike,
    predicted: Sequence[Hashable] | ArrayLike,
    target: float,
    confidence: float = 0.95,
    *,
    classes: Sequence[Hashable] | None = None,
) -> dict[Hashable, ThresholdResult]:
    """One certified threshold per predicted class, Bonferroni over the classes.

    Each class is tested at ``1 - (1 - confidence) / n_classes`` so that all per-class claims
    hold together with probability ``confidence``. Classes with too little audited evidence
    get ``threshold=None`` and the number of clean audits that would unlock them.

    Example:
        >>> r = certified_thresholds_per_class([0.9] * 400, [True] * 400, ["a"] * 200 + ["b"] * 200, 0.98)
        >>> sorted((c, v.certified) for c, v in r.items())
        [('a', True), ('b', True)]
    """
    _check_levels(target, confidence)
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(correct, dtype=bool).ravel()
    p = np.asarray(predicted, dtype=object).ravel()
    if not s.size == y.size == p.size:
        raise InputRejected("certified_thresholds_per_class", "equal lengths", f"{s.size}, {y.size}, {p.size}")
    names: list[Hashable] = list(classes) if classes is not None else sorted(set(p.tolist()), key=str)
    if not names:
        return {}
    level = 1.0 - (1.0 - confidence) / len(names)
    return {c: certified_threshold(s[p == c], y[p == c], target, level) for c in names}
