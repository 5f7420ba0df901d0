"""Confidence calibration of backend scores from (score, correct) pairs.

* :class:`TemperatureScaling` divides the score's logit by one learned temperature ``T`` chosen
  to minimise the negative log-likelihood (Guo et al., 2017). It keeps the ranking of scores.
* :class:`IsotonicCalibrator` fits the best non-decreasing step function by the
  pool-adjacent-violators algorithm (Ayer et al., 1955; Zadrozny & Elkan, 2002), own numpy code.
* :func:`expected_calibration_error` (ECE): the bin-size-weighted mean of
  ``|accuracy - mean score|`` over equal-width score bins (Naeini et al., 2015).

Both calibrators are estimators: hyper-parameters in the constructor, ``fit`` returns ``self``,
learned state in trailing-underscore attributes.

References:
    Guo, C., Pleiss, G., Sun, Y., & Weinberger, K. Q. (2017). On calibration of modern neural
    networks. *ICML*.
    Ayer, M., Brunk, H. D., Ewing, G. M., Reid, W. T., & Silverman, E. (1955). An empirical
    distribution function for sampling with incomplete information. *Ann. Math. Stat.* 26(4).
    Zadrozny, B., & Elkan, C. (2002). Transforming classifier scores into accurate multiclass
    probability estimates. *KDD*.
    Naeini, M. P., Cooper, G., & Hauskrecht, M. (2015). Obtaining well calibrated probabilities
    using Bayesian binning. *AAAI*.

Example:
    >>> rng = np.random.default_rng(0)
    >>> true_p = rng.uniform(0.5, 1.0, 4000)
    >>> correct = rng.random(4000) < true_p
    >>> scores = true_p ** 0.3  # over-confident
    >>> iso = IsotonicCalibrator().fit(scores, correct)
    >>> before, after = calibration_gain(iso, scores, correct)
    >>> bool(after < before)
    True
"""

from __future__ import annotations

from typing import Any, Protocol, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Calibrator",
    "IsotonicCalibrator",
    "TemperatureScaling",
    "calibration_gain",
    "expected_calibration_error",
    "pav",
]

_EPS = 1e-6


def _pairs(scores: ArrayLike, correct: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(correct, dtype=np.float64).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores and correct differ in length: {s.size} vs {y.size}")
    if s.size == 0:
        raise ValueError("at least one (score, correct) pair is needed")
    if not np.all(np.isfinite(s)) or np.any((s < 0) | (s > 1)):
        raise ValueError("scores must be finite and within [0, 1]")
    if np.any((y != 0) & (y != 1)):
        raise ValueError("correct must be 0/1 or booleans")
    return s, y


def expected_calibration_error(scores: ArrayLike, correct: ArrayLike, n_bins: int = 15) -> float:
    """Expected calibration error over ``n_bins`` equal-width bins of [0, 1].

    Returns:
        A value in [0, 1]; 0 means every bin's accuracy equals its mean score.

    Example:
        >>> expected_calibration_error([0.9, 0.9, 0.1, 0.1], [1, 1, 0, 0])
        0.1
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    s, y = _pairs(scores, correct)
    idx = np.minimum((s * n_bins).astype(np.int64), n_bins - 1)
    conf = np.bincount(idx, weights=s, minlength=n_bins)
    acc = np.bincount(idx, weights=y, minlength=n_bins)
    ece = float(np.sum(np.abs(acc - conf)) / s.size)  # sum_b n_b/N * |acc_b - conf_b|
    return round(min(max(ece, 0.0), 1.0), 12)


def pav(y: ArrayLike, weights: ArrayLike | None = None) -> NDArray[np.float64]:
    """Pool adjacent violators: the non-decreasing sequence closest to ``y`` in weighted L2.

    Example:
        >>> pav([1.0, 3.0, 2.0, 4.0]).tolist()
        [1.0, 2.5, 2.5, 4.0]
    """
    yv = np.asarray(y, dtype=np.float64).ravel()
    w = np.ones_like(yv) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    n = yv.size
    mean = np.empty(n)
    weight = np.empty(n)
    size = np.empty(n, dtype=np.int64)
    top = -1
    for i in range(n):  # a stack of blocks; merge while the last two violate monotonicity
        top += 1
        mean[top], weight[top], size[top] = yv[i], w[i], 1
        while top > 0 and mean[top - 1] > mean[top]:
            wt = weight[top - 1] + weight[top]
            mean[top - 1] = (mean[top - 1] * weight[top - 1] + mean[top] * weight[top]) / wt
            weight[top - 1] = wt
            size[top - 1] += size[top]
            top -= 1
    return np.repeat(mean[: top + 1], size[: top + 1])


class Calibrator(Protocol):
    """Maps raw scores to calibrated probabilities."""

    def fit(self, scores: ArrayLike, correct: ArrayLike) -> Self:
        """Learn from (score, correct) pairs."""
        ...

    def predict(self, scores: ArrayLike) -> NDArray[np.float64]:
        """Return calibrated scores in [0, 1]."""
        ...


class IsotonicCalibrator:
    """Isotonic regression of correctness on score (PAV), interpolated between fitted points.

    Attributes:
        x_: Distinct training scores, ascending (after ``fit``).
        y_: The fitted non-decreasing accuracy at each of them.
    """

    def __init__(self) -> None:
        self.x_: NDArray[np.float64] | None = None
        self.y_: NDArray[np.float64] | None = None

    def fit(self, scores: ArrayLike, correct: ArrayLike) -> Self:
        """Fit on (score, correct) pairs; ties in score are pooled first."""
        s, y = _pairs(scores, correct)
        xs, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
        means = np.bincount(inverse, weights=y) / counts
        self.x_, self.y_ = xs, pav(means, counts)
        return self

    def predict(self, scores: ArrayLike) -> NDArray[np.float64]:
        """Calibrated scores (monotone non-decreasing in the input)."""
        if self.x_ is None or self.y_ is None:
            raise ValueError("IsotonicCalibrator is not fitted")
        s = np.asarray(scores, dtype=np.float64)
        out: NDArray[np.float64] = np.clip(np.interp(s, self.x_, self.y_), 0.0, 1.0)
        return out


class TemperatureScaling:
    """One temperature on the logit of the score: ``sigmoid(logit(s) / T)``.

    Args:
        bounds: The search range for ``T``.

    Attributes:
        temperature_: The fitted ``T`` (> 1 softens over-confident scores).
    """

    def __init__(self, bounds: tuple[float, float] = (0.05, 20.0)) -> None:
        self.bounds = bounds
        self.temperature_: float | None = None

    @staticmethod
    def _logit(s: NDArray[np.float64]) -> NDArray[np.float64]:
        c = np.clip(s, _EPS, 1 - _EPS)
        out: NDArray[np.float64] = np.log(c) - np.log1p(-c)
        return out

    def fit(self, scores: ArrayLike, correct: ArrayLike) -> Self:
        """Minimise the NLL over log T by golden-section search (the NLL is unimodal in 1/T)."""
        s, y = _pairs(scores, correct)
        z = self._logit(s)

        def nll(log_t: float) -> float:
            q = z / np.exp(log_t)
            return float(np.sum(np.logaddexp(0.0, q) - y * q))  # -log-likelihood of a logistic

        lo, hi = np.log(self.bounds[0]), np.log(self.bounds[1])
        g = (np.sqrt(5.0) - 1.0) / 2.0
        a, b = lo + (1 - g) * (hi - lo), lo + g * (hi - lo)
        fa, fb = nll(a), nll(b)
        for _ in range(80):
            if fa < fb:
                hi, b, fb = b, a, fa
                a = lo + (1 - g) * (hi - lo)
                fa = nll(a)
            else:
                lo, a, fa = a, b, fb
                b = lo + g * (hi - lo)
                fb = nll(b)
        self.temperature_ = float(np.exp((lo + hi) / 2.0))
        return self

    def predict(self, scores: ArrayLike) -> NDArray[np.float64]:
        """Calibrated scores."""
        if self.temperature_ is None:
            raise ValueError("TemperatureScaling is not fitted")
        z = self._logit(np.asarray(scores, dtype=np.float64))
        out: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z / self.temperature_))
        return out


def calibration_gain(calibrator: Any, scores: ArrayLike, correct: ArrayLike, n_bins: int = 15) -> tuple[float, float]:
    """Return the ECE of ``scores`` before and after a fitted ``calibrator``."""
    before = expected_calibration_error(scores, correct, n_bins)
    after = expected_calibration_error(calibrator.predict(scores), correct, n_bins)
    return before, after
