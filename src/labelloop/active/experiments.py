"""A/B read-out of two labelling strategies on randomly split items.

Per arm: accuracy and agreement (proportions, with Wilson (1927) score intervals) and mean
human seconds per item (Student t interval). Between arms: a two-proportion z test and
Fisher's exact test for accuracy, Fisher's exact test for agreement, and Welch's (1947)
unequal-variance t test for time.

References:
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. *JASA* 22(158).
    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. *Biometrika* 34(1-2).
    Fisher, R. A. (1922). On the interpretation of chi-squared from contingency tables, and the
    calculation of P. *J. Royal Statistical Society* 85(1).

Example:
    >>> rng = np.random.default_rng(0)
    >>> a = ArmData(rng.random(2000) < 0.90, rng.normal(4.0, 1.0, 2000))
    >>> b = ArmData(rng.random(2000) < 0.95, rng.normal(2.0, 1.0, 2000))
    >>> r = ab_readout(a, b)
    >>> r.accuracy_p < 0.01, r.time_p < 0.01
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelloop.errors import InputRejected

__all__ = [
    "ABReadout",
    "ArmData",
    "ArmSummary",
    "Estimate",
    "MeanComparison",
    "ProportionComparison",
    "ab_readout",
    "compare_means",
    "compare_proportions",
    "split_arms",
    "wilson_interval",
]


def split_arms(n_items: int, seed: int = 0) -> NDArray[np.bool_]:
    """Random half/half assignment: ``True`` for arm B.

    Example:
        >>> int(split_arms(10, seed=3).sum())
        5
    """
    rng = np.random.default_rng(seed)
    b = np.zeros(n_items, dtype=bool)
    b[rng.permutation(n_items)[: n_items // 2]] = True
    return b


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``k / n``.

    Example:
        >>> [round(v, 3) for v in wilson_interval(9, 10)]
        [0.596, 0.982]
    """
    from scipy.stats import norm

    if not 0 <= k <= n:
        raise InputRejected("wilson_interval", "0 <= k <= n", f"k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    z = float(norm.ppf(0.5 + confidence / 2.0))
    p = k / n
    den = 1.0 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


@dataclass(frozen=True, slots=True)
class ArmData:
    """Raw outcomes of one arm.

    Attributes:
        correct: Final label equals gold, per item.
        seconds: Human seconds spent per item.
        agreed: Optional: two annotators (or annotator and model) agreed, per item.
    """

    correct: ArrayLike
    seconds: ArrayLike
    agreed: ArrayLike | None = None


@dataclass(frozen=True, slots=True)
class ArmSummary:
    """Per-arm estimates with ``confidence`` intervals."""

    n: int
    accuracy: float
    accuracy_ci: tuple[float, float]
    mean_seconds: float
    seconds_ci: tuple[float, float]
    agreement: float | None
    agreement_ci: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class ABReadout:
    """Both arms and the tests between them (p-values are two-sided)."""

    a: ArmSummary
    b: ArmSummary
    accuracy_diff: float
    accuracy_p: float
    accuracy_fisher_p: float
    time_diff: float
    time_p: float
    agreement_p: float | None


def _summary(arm: ArmData, confidence: float) -> tuple[ArmSummary, NDArray[np.bool_], NDArray[np.float64]]:
    from scipy.stats import t as student_t

    y = np.asarray(arm.correct, dtype=bool).ravel()
    s = np.asarray(arm.seconds, dtype=np.float64).ravel()
    if y.size == 0 or y.size != s.size:
        raise InputRejected("ArmData", "non-empty correct and seconds of equal length", f"{y.size} vs {s.size}")
    n = y.size
    mean = float(s.mean())
    if n > 1:
        half = float(student_t.ppf(0.5 + confidence / 2.0, n - 1)) * float(s.std(ddof=1)) / math.sqrt(n)
    else:
        half = math.inf
    agr, agr_ci = None, None
    if arm.agreed is not None:
        g = np.asarray(arm.agreed, dtype=bool).ravel()
        agr, agr_ci = float(g.mean()), wilson_interval(int(g.sum()), g.size, confidence)
    k = int(y.sum())
    summary = ArmSummary(n, k / n, wilson_interval(k, n, confidence), mean, (mean - half, mean + half), agr, agr_ci)
    return summary, y, s


def _two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    from scipy.stats import norm

    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0.0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / se
    return float(2.0 * norm.sf(abs(z)))


def _fisher_p(k1: int, n1: int, k2: int, n2: int) -> float:
    from scipy.stats import fisher_exact

    return float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)


def ab_readout(a: ArmData, b: ArmData, confidence: float = 0.95) -> ABReadout:
    """Compare two arms; differences are ``b - a``.

    Example:
        >>> a = ArmData([True] * 50 + [False] * 50, [3.0, 5.0] * 50)
        >>> r = ab_readout(a, a)
        >>> r.accuracy_diff, round(r.accuracy_p, 3), r.time_p
        (0.0, 1.0, 1.0)
    """
    from scipy.stats import ttest_ind

    sa, ya, ta = _summary(a, confidence)
    sb, yb, tb = _summary(b, confidence)
    ka, kb = int(ya.sum()), int(yb.sum())
    if ta.size > 1 and tb.size > 1 and (ta.std() > 0 or tb.std() > 0):
        time_p = float(ttest_ind(tb, ta, equal_var=False).pvalue)
    else:
        time_p = 1.0 if ta.mean() == tb.mean() else 0.0
    agreement_p = None
    if a.agreed is not None and b.agreed is not None:
        ga, gb = np.asarray(a.agreed, dtype=bool), np.asarray(b.agreed, dtype=bool)
        agreement_p = _fisher_p(int(ga.sum()), ga.size, int(gb.sum()), gb.size)
    return ABReadout(
        a=sa,
        b=sb,
        accuracy_diff=sb.accuracy - sa.accuracy,
        accuracy_p=_two_proportion_p(ka, ya.size, kb, yb.size),
        accuracy_fisher_p=_fisher_p(ka, ya.size, kb, yb.size),
        time_diff=sb.mean_seconds - sa.mean_seconds,
        time_p=time_p,
        agreement_p=agreement_p,
    )


# --------------------------------------------------------------------------- one metric at a time
# A live experiment measures each metric on its own population (items with a reference answer,
# tasks with a recorded time, items with two annotators or more), and may have too few of them:
# these compare one metric and answer NaN with a reason instead of raising.
_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class Estimate:
    """One arm's estimate of one metric.

    Attributes:
        n: Observations used.
        value: The proportion or mean (NaN without observations).
        ci: Its ``confidence`` interval (NaN bounds when it cannot be given).
        reason: Why ``value`` or ``ci`` is NaN, else None.
        k: Successes, for a proportion.
        missing: Observations left out as missing (a mean's NaN inputs).
    """

    n: int
    value: float
    ci: tuple[float, float]
    reason: str | None = None
    k: int | None = None
    missing: int = 0


@dataclass(frozen=True, slots=True)
class ProportionComparison:
    """Both arms' proportions and the tests between them (``diff`` is ``b - a``; p two-sided)."""

    a: Estimate
    b: Estimate
    diff: float
    z_p: float
    fisher_p: float
    reason: str | None


@dataclass(frozen=True, slots=True)
class MeanComparison:
    """Both arms' means and Welch's t test between them (``diff`` is ``b - a``; p two-sided)."""

    a: Estimate
    b: Estimate
    diff: float
    welch_p: float
    reason: str | None


def _arms(names: list[str]) -> str:
    return f"arm {names[0]} has" if len(names) == 1 else f"arms {' and '.join(names)} have"


def _proportion(k: int, n: int, confidence: float, what: str) -> Estimate:
    if not 0 <= k <= n:
        raise InputRejected(what, "0 <= successes <= observations", f"{k} of {n}")
    if n == 0:
        return Estimate(0, _NAN, (_NAN, _NAN), f"no {what} observations", k=0)
    return Estimate(n, k / n, wilson_interval(k, n, confidence), k=k)


def compare_proportions(
    k_a: int, n_a: int, k_b: int, n_b: int, confidence: float = 0.95, *, what: str = "proportion"
) -> ProportionComparison:
    """Wilson intervals per arm, a two-proportion z test and Fisher's exact test between them.

    Too few observations give NaN with a reason, never an error.

    Example:
        >>> r = compare_proportions(45, 50, 30, 50, what="accuracy")
        >>> round(r.diff, 2), r.fisher_p < 0.01, [round(v, 3) for v in r.a.ci]
        (-0.3, True, [0.786, 0.957])
        >>> r = compare_proportions(3, 4, 0, 0, what="accuracy")
        >>> r.b.reason, r.reason
        ('no accuracy observations', 'accuracy: arm b has no observations')
    """
    a, b = _proportion(k_a, n_a, confidence, what), _proportion(k_b, n_b, confidence, what)
    empty = [name for name, n in (("a", n_a), ("b", n_b)) if n == 0]
    if empty:
        return ProportionComparison(a, b, _NAN, _NAN, _NAN, f"{what}: {_arms(empty)} no observations")
    return ProportionComparison(
        a, b, b.value - a.value, _two_proportion_p(k_a, n_a, k_b, n_b), _fisher_p(k_a, n_a, k_b, n_b), None
    )


def _mean(x: NDArray[np.float64], missing: int, confidence: float, what: str) -> Estimate:
    from scipy.stats import t as student_t

    n = int(x.size)
    if n == 0:
        return Estimate(0, _NAN, (_NAN, _NAN), f"no {what} observations", missing=missing)
    mean = float(x.mean())
    if n == 1:
        return Estimate(1, mean, (_NAN, _NAN), "one observation: no interval", missing=missing)
    half = float(student_t.ppf(0.5 + confidence / 2.0, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return Estimate(n, mean, (mean - half, mean + half), missing=missing)


def compare_means(a: ArrayLike, b: ArrayLike, confidence: float = 0.95, *, what: str = "mean") -> MeanComparison:
    """Student t intervals per arm and Welch's unequal-variance t test between them.

    NaN inputs are missing observations: left out and counted. Fewer than two observations in
    an arm, or no spread in either, give NaN with a reason, never an error.

    Example:
        >>> r = compare_means([9.0, 11.0, 10.0, float("nan")], [5.0, 6.0, 4.0], what="seconds")
        >>> r.diff, r.a.missing, r.welch_p < 0.01
        (-5.0, 1, True)
        >>> compare_means([3.0], [2.0, 4.0], what="seconds").reason
        'seconds: arm a has fewer than 2 observations'
    """
    from scipy.stats import ttest_ind

    xa, xb = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    fa, fb = xa[np.isfinite(xa)], xb[np.isfinite(xb)]
    ea = _mean(fa, int(xa.size - fa.size), confidence, what)
    eb = _mean(fb, int(xb.size - fb.size), confidence, what)
    diff = eb.value - ea.value if ea.n and eb.n else _NAN
    few = [name for name, e in (("a", ea), ("b", eb)) if e.n < 2]
    if few:
        return MeanComparison(ea, eb, diff, _NAN, f"{what}: {_arms(few)} fewer than 2 observations")
    if fa.std() == 0 and fb.std() == 0:
        if diff == 0:
            return MeanComparison(ea, eb, diff, 1.0, None)
        return MeanComparison(ea, eb, diff, _NAN, f"{what}: no spread in either arm, Welch's t is undefined")
    return MeanComparison(ea, eb, diff, float(ttest_ind(fb, fa, equal_var=False).pvalue), None)
