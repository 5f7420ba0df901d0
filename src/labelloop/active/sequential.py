"""A two-look (group-sequential) audit for the certified auto-accept threshold.

A fixed audit has to be large enough for the unlucky case: with 98% at 95% confidence, one
audit error among the 149 most confident audited items ends the fixed-sequence scan of
:func:`~labelloop.active.bounds.certified_threshold`, and tolerating one error takes 236 items.
A two-look audit draws the audit in a uniform random order of the candidates, looks once after
``first_look`` items and goes on only when that look did not certify enough:

* **first look**: threshold ``t`` passes when the first-look items scored >= ``t`` (at least
  ``a`` of them) hold no error; ``a`` is the fewest clean items whose bound reaches the target at
  the share ``spend`` of the error rate (``a = 160`` for 98%, ``alpha = 0.05``, ``spend = 0.8``);
* **second look** (all items): ``t`` passes when the items scored >= ``t`` hold at most
  ``c(m1, m2)`` errors, where ``m1`` and ``m2`` are the first-look and all audited items above
  ``t`` and ``c`` is the largest count for which the probability of passing the combined test
  "no first-look error, or at most ``c`` errors in all", at an accuracy of exactly the target,
  stays <= ``alpha`` (computed exactly from the binomial distribution; Armitage, McPherson &
  Rowe, 1969, on why repeated looks on accumulating data need this).

Thresholds are scanned from the highest score down and the scan stops at the first failure
(fixed-sequence testing, as in :mod:`labelloop.active.bounds`); only thresholds with ``m1 >= a``
are in the sequence, a rule on counts, never on correctness. Why this is valid: take the scan
whose test at each threshold is the combined one. Each combined test has level ``alpha``, so that
scan certifies a population whose accuracy is below the target with probability at most
``alpha``. Whatever the first-look scan certifies, that scan certifies too (a threshold with no
first-look error passes the combined test), and whatever the second-look scan certifies, it
certifies too (its test is one half of the combined one). So the claim made after either look is
wrong with probability at most ``alpha``, and whether to take the second look may depend on
anything, the first look's errors included.

Like :func:`~labelloop.active.bounds.certified_threshold`, the bound treats the audited items as
draws from the population above the threshold (binomial), and the audit must be a uniform random
sample of the items the threshold is applied to.

References:
    Armitage, P., McPherson, C. K., & Rowe, B. C. (1969). Repeated significance tests on
    accumulating data. *J. Royal Statistical Society A* 132(2), 235-244.
    Pocock, S. J. (1977). Group sequential methods in the design and analysis of clinical
    trials. *Biometrika* 64(2), 191-199.

Example:
    >>> s = np.linspace(1.0, 0.5, 300)
    >>> order = np.random.default_rng(0).permutation(300)
    >>> ok = np.ones(300, bool); ok[order[5]] = False  # one error among the first 170 audited
    >>> one = sequential_threshold(s[order[:170]], ok[order[:170]], 170, 0.98)
    >>> both = sequential_threshold(s[order], ok[order], 170, 0.98)
    >>> one.n < 170, both.certified and both.n == 300 and both.k == 299
    (True, True)
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike

from labelloop.active.bounds import ThresholdResult, clean_items_needed, cp_lower, min_clean_audits
from labelloop.errors import InputRejected

__all__ = ["first_look_minimum", "second_look_errors", "sequential_threshold", "two_look_size"]


def first_look_minimum(target: float, confidence: float = 0.95, spend: float = 0.8) -> int:
    """Fewest clean first-look items above a threshold (``a``): spends ``spend`` of the error rate.

    Example:
        >>> first_look_minimum(0.98), first_look_minimum(0.98, spend=1.0)
        (160, 149)
    """
    if not 0.0 < spend <= 1.0:
        raise InputRejected("spend", "a share of the error rate in (0, 1]", str(spend))
    return min_clean_audits(target, 1.0 - spend * (1.0 - confidence))


def two_look_size(m1: int, m2: int, errors: int, target: float, a: int) -> float:
    """Probability that one threshold's two-look test passes at an accuracy of exactly ``target``.

    Passing: no error among the ``m1`` first-look items (when ``m1 >= a``), or at most ``errors``
    errors among all ``m2`` items.

    Example:
        >>> round(two_look_size(160, 290, 1, 0.98, 160), 4)
        0.0488
    """
    from scipy.stats import binom

    p = 1.0 - target
    first = target**m1 if m1 >= a else 0.0
    if errors < 0:
        return first
    e1 = np.arange(1 if m1 >= a else 0, errors + 1)
    second = float(np.sum(binom.pmf(e1, m1, p) * binom.cdf(errors - e1, m2 - m1, p)))
    return first + second


@functools.lru_cache(maxsize=65536)
def second_look_errors(m1: int, m2: int, target: float, confidence: float = 0.95, a: int = 160) -> int:
    """Most errors among ``m2`` audited items that still certify at the second look (-1: none).

    Example:
        >>> second_look_errors(160, 290, 0.98), second_look_errors(160, 200, 0.98), second_look_errors(170, 300, 0.98)
        (1, 0, 1)
    """
    if not 0 <= m1 <= m2:
        raise InputRejected("second_look_errors", "0 <= m1 <= m2", f"m1={m1}, m2={m2}")
    alpha = 1.0 - confidence
    best = -1
    for errors in range(m2 + 1):
        if two_look_size(m1, m2, errors, target, a) > alpha:
            break
        best = errors
    return best


def sequential_threshold(
    scores: ArrayLike,
    correct: ArrayLike,
    first_look: int,
    target: float,
    confidence: float = 0.95,
    *,
    spend: float = 0.8,
) -> ThresholdResult:
    """Lowest threshold certified by a two-look audit (see the module docstring).

    Args:
        scores: Ranking score of each audited item, in the order the audit drew them (a uniform
            random order of the candidates).
        correct: Whether the audit found each machine label right.
        first_look: How many of the items form the first look; with no more items than that,
            only the first-look test applies.
        target: Required accuracy among items at or above the threshold.
        confidence: Confidence of the claim (both looks together).
        spend: Share of ``1 - confidence`` spent on the first look.

    Returns:
        A :class:`~labelloop.active.bounds.ThresholdResult` (``n``/``k`` over all audited items
        above the threshold, ``lower`` their Clopper-Pearson bound for information,
        ``confidence`` the level of the whole procedure).

    Example:
        >>> r = sequential_threshold([0.9] * 160, [True] * 160, 160, 0.98)
        >>> r.threshold, r.n
        (0.9, 160)
        >>> sequential_threshold([0.9] * 159, [True] * 159, 159, 0.98).needed
        1
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(correct, dtype=bool).ravel()
    if s.shape != y.shape:
        raise InputRejected("sequential_threshold", "scores and correct of equal length", f"{s.size} vs {y.size}")
    if s.size and not np.all(np.isfinite(s)):
        raise InputRejected("scores", "finite numbers", "NaN or infinity")
    if first_look < 0:
        raise InputRejected("first_look", "a non-negative count", str(first_look))
    a = first_look_minimum(target, confidence, spend)
    f = min(first_look, s.size)
    second = s.size > f
    cand = np.unique(s)[::-1]  # high to low
    m1 = np.searchsorted(-np.sort(s[:f])[::-1], -cand, side="right")
    m2 = np.searchsorted(-np.sort(s)[::-1], -cand, side="right")
    keep = m1 >= a  # a rule on counts only
    cand, m1, m2 = cand[keep], m1[keep], m2[keep]
    err2 = np.array([int(np.sum(~y & (s >= t))) for t in cand], dtype=np.int64)
    if second:
        allowed = [second_look_errors(int(i), int(j), target, confidence, a) for i, j in zip(m1, m2, strict=True)]
        passed = err2 <= np.asarray(allowed, dtype=np.int64)
    else:
        passed = err2 == 0  # only first-look items: m2 = m1
    if cand.size == 0 or not passed[0]:
        k0, n0 = (int(m2[0] - err2[0]), int(m2[0])) if cand.size else (int(y[:f].sum()), f)
        needed = max(1, a - n0) if k0 == n0 else clean_items_needed(k0, n0, target, confidence)
        return ThresholdResult(None, n0, k0, float(cp_lower(k0, n0, confidence)), needed, confidence)
    j = (int(np.argmin(passed)) if not passed.all() else passed.size) - 1
    n, k = int(m2[j]), int(m2[j] - err2[j])
    return ThresholdResult(float(cand[j]), n, k, float(cp_lower(k, n, confidence)), 0, confidence)
