"""Find mislabelled examples with confident learning (Northcutt, Jiang & Chuang 2021).

Input is each example's given label and *out-of-sample* predicted class probabilities
(from cross-validation: see :func:`out_of_fold_pred_probs`). Confident learning

1. sets a per-class threshold ``t_j``: the mean predicted probability of class ``j`` over
   the examples labelled ``j`` (the model's average self-confidence on that class);
2. counts the *confident joint* ``C[i, j]``: examples labelled ``i`` whose probability for
   ``j`` reaches ``t_j`` (the largest such ``j`` when several do);
3. calibrates ``C`` so that row ``i`` sums to the number of examples labelled ``i`` and
   normalises it into the joint distribution ``Q[given, true]`` of noisy and true labels;
4. prunes ``n · Q[i, j]`` examples per off-diagonal cell (``"prune_by_noise_rate"``: those
   labelled ``i`` with the largest margin ``p_j - p_i``) or ``n · Σ_{j≠i} Q[i, j]`` per
   class (``"prune_by_class"``: those labelled ``i`` with the lowest ``p_i``), or both.

Examples the model itself predicts as their given label are never flagged by the pruning
methods. This is an independent implementation written from the paper.

References:
    Northcutt, C., Jiang, L., & Chuang, I. (2021). Confident learning: estimating
    uncertainty in dataset labels. *Journal of Artificial Intelligence Research*, 70,
    1373-1411.

Example:
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.85, 0.15]])
    >>> issues = find_label_issues([0, 0, 0, 1, 1, 1], probs)
    >>> issues.mask.tolist(), issues.ranked.tolist()
    ([False, False, False, False, False, True], [5])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt

from labelloop.errors import BackendUnavailable, InputRejected
from labelloop.quality.votes import FloatArray, IntArray

__all__ = [
    "ConfidentLearning",
    "LabelIssues",
    "confident_joint",
    "estimate_joint",
    "find_label_issues",
    "label_quality_scores",
    "out_of_fold_pred_probs",
    "per_class_thresholds",
]

FilterBy = Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"]
RankBy = Literal["self_confidence", "normalized_margin"]


def _check(labels: npt.ArrayLike, pred_probs: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
    y = np.asarray(labels)
    p = np.asarray(pred_probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise InputRejected("pred_probs", "an (n, K) matrix with n >= 1 and K >= 2", f"shape {p.shape}")
    if y.ndim != 1 or y.size != p.shape[0]:
        raise InputRejected("labels", f"{p.shape[0]} labels, one per row of pred_probs", f"shape {y.shape}")
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= p.shape[1]:
        raise InputRejected(
            "labels", f"integer class codes in [0, {p.shape[1]})", f"{y.dtype} in [{y.min()}, {y.max()}]"
        )
    if not np.all(np.isfinite(p)) or p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise InputRejected("pred_probs", "finite non-negative rows summing to 1", "other values")
    return y.astype(np.int64), p


def per_class_thresholds(labels: npt.ArrayLike, pred_probs: npt.ArrayLike) -> FloatArray:
    """Mean predicted probability of each class over the examples labelled with it.

    A class nobody was labelled with gets ``inf`` (no example can be confidently in it).

    Example:
        >>> per_class_thresholds([0, 0, 1], [[0.8, 0.2], [0.6, 0.4], [0.3, 0.7]]).tolist()
        [0.7, 0.7]
    """
    y, p = _check(labels, pred_probs)
    k = p.shape[1]
    n = np.bincount(y, minlength=k).astype(np.float64)
    s = np.bincount(y, weights=p[np.arange(y.size), y], minlength=k)
    out: FloatArray = np.divide(s, n, out=np.full(k, np.inf), where=n > 0)
    return out


def confident_joint(
    labels: npt.ArrayLike, pred_probs: npt.ArrayLike, thresholds: npt.ArrayLike | None = None
) -> IntArray:
    """Counts ``C[given, true]`` of examples confidently in each true class.

    Example:
        >>> confident_joint([0, 0, 1, 1], [[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.4, 0.6]]).tolist()
        [[1, 1], [0, 1]]
    """
    y, p = _check(labels, pred_probs)
    k = p.shape[1]
    t = per_class_thresholds(y, p) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    above = p >= t[None, :] - 1e-12
    best = np.where(above, p, -np.inf).argmax(axis=1)
    has = above.any(axis=1)
    return np.bincount(y[has] * k + best[has], minlength=k * k).reshape(k, k).astype(np.int64)


def estimate_joint(labels: npt.ArrayLike, pred_probs: npt.ArrayLike, cj: npt.ArrayLike | None = None) -> FloatArray:
    """Calibrated joint distribution ``Q[given, true]`` of given and true labels (sums to 1).

    Each row of the confident joint is rescaled to the number of examples with that given
    label; a row with no confident example puts its mass on the diagonal.

    Example:
        >>> estimate_joint([0, 0, 1, 1], [[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.4, 0.6]]).tolist()
        [[0.25, 0.25], [0.0, 0.5]]
    """
    y, p = _check(labels, pred_probs)
    k = p.shape[1]
    c = (confident_joint(y, p) if cj is None else np.asarray(cj)).astype(np.float64)
    n_given = np.bincount(y, minlength=k).astype(np.float64)
    rows = c.sum(axis=1, keepdims=True)
    cal = np.where(rows > 0, c / np.where(rows > 0, rows, 1.0), np.eye(k)) * n_given[:, None]
    out: FloatArray = cal / cal.sum()
    return out


def label_quality_scores(
    labels: npt.ArrayLike, pred_probs: npt.ArrayLike, method: RankBy = "self_confidence"
) -> FloatArray:
    """Per-example label quality in ``[0, 1]``; low means likely mislabelled.

    ``"self_confidence"`` is the predicted probability of the given label;
    ``"normalized_margin"`` is ``(p_given - max_{j≠given} p_j + 1) / 2``.

    Example:
        >>> label_quality_scores([0, 1], [[0.9, 0.1], [0.8, 0.2]], "normalized_margin").round(2).tolist()
        [0.9, 0.2]
    """
    y, p = _check(labels, pred_probs)
    own: FloatArray = np.asarray(p[np.arange(y.size), y], dtype=np.float64)
    if method == "self_confidence":
        return own
    if method == "normalized_margin":
        other = p.copy()
        other[np.arange(y.size), y] = -np.inf
        out: FloatArray = (own - other.max(axis=1) + 1.0) / 2.0
        return out
    raise InputRejected("method", "'self_confidence' or 'normalized_margin'", repr(method))


@dataclass(frozen=True, slots=True)
class LabelIssues:
    """Result of :func:`find_label_issues`.

    Attributes:
        mask: Boolean mask of examples flagged as mislabelled.
        ranked: Indices of flagged examples, most likely mislabelled first.
        scores: Label quality score of every example (low = suspicious).
        thresholds: Per-class thresholds ``t_j``.
        confident_joint: ``C[given, true]`` counts.
        joint: Calibrated ``Q[given, true]``.

    Example:
        >>> r = find_label_issues([0, 1], [[0.9, 0.1], [0.8, 0.2]], filter_by="predicted_neq_given")
        >>> r.mask.tolist(), r.confident_joint.tolist()
        ([False, True], [[1, 0], [0, 1]])
    """

    mask: npt.NDArray[np.bool_]
    ranked: IntArray
    scores: FloatArray
    thresholds: FloatArray
    confident_joint: IntArray
    joint: FloatArray


def _prune_by_class(y: IntArray, p: FloatArray, remove: IntArray) -> npt.NDArray[np.bool_]:
    mask = np.zeros(y.size, dtype=bool)
    for i in np.flatnonzero(remove):
        idx = np.flatnonzero(y == i)
        worst = idx[np.argsort(p[idx, i], kind="stable")[: remove[i]]]
        mask[worst] = True
    return mask


def _prune_by_noise_rate(y: IntArray, p: FloatArray, remove: IntArray) -> npt.NDArray[np.bool_]:
    mask = np.zeros(y.size, dtype=bool)
    for i in np.flatnonzero(remove.sum(axis=1)):
        idx = np.flatnonzero(y == i)
        margin = p[idx] - p[idx, i][:, None]  # (n_i, K): how much more the model believes j
        order = np.argsort(-margin, axis=0, kind="stable")
        take = np.arange(idx.size)[:, None] < remove[i][None, :]
        mask[idx[order[take]]] = True
    return mask


def _find(
    y: IntArray,
    p: FloatArray,
    thresholds: FloatArray,
    joint: FloatArray,
    filter_by: FilterBy,
    rank_by: RankBy,
    min_examples_per_class: int,
) -> LabelIssues:
    n, k = p.shape
    cj = confident_joint(y, p, thresholds)
    pred = p.argmax(axis=1)
    n_given = np.bincount(y, minlength=k)
    room = np.maximum(n_given - min_examples_per_class, 0)
    if filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
        off = np.rint(n * joint).astype(np.int64)
        np.fill_diagonal(off, 0)
        by_class = _prune_by_class(y, p, np.minimum(off.sum(axis=1), room))
        if filter_by == "prune_by_class":
            mask = by_class
        else:
            scale = np.minimum(1.0, room / np.maximum(off.sum(axis=1), 1))
            by_rate = _prune_by_noise_rate(y, p, np.floor(off * scale[:, None]).astype(np.int64))
            mask = by_rate & by_class if filter_by == "both" else by_rate
        mask &= pred != y
    elif filter_by == "confident_learning":
        above = p >= thresholds[None, :] - 1e-12
        best = np.where(above, p, -np.inf).argmax(axis=1)
        mask = above.any(axis=1) & (best != y)
    elif filter_by == "predicted_neq_given":
        mask = pred != y
    else:
        raise InputRejected("filter_by", f"one of {FilterBy.__args__}", repr(filter_by))  # type: ignore[attr-defined]
    scores = label_quality_scores(y, p, rank_by)
    flagged = np.flatnonzero(mask)
    ranked = flagged[np.argsort(scores[flagged], kind="stable")]
    return LabelIssues(mask, ranked.astype(np.int64), scores, thresholds, cj, joint)


def find_label_issues(
    labels: npt.ArrayLike,
    pred_probs: npt.ArrayLike,
    *,
    filter_by: FilterBy = "prune_by_noise_rate",
    rank_by: RankBy = "self_confidence",
    min_examples_per_class: int = 1,
) -> LabelIssues:
    """Flag examples whose given label is probably wrong, ranked by label quality.

    Args:
        labels: Given class code of each example, ``0 .. K-1``.
        pred_probs: ``(n, K)`` out-of-sample predicted probabilities.
        filter_by: ``"prune_by_noise_rate"`` (default), ``"prune_by_class"``, ``"both"``
            (flagged by both), ``"confident_learning"`` (the off-diagonal of the confident
            joint) or ``"predicted_neq_given"`` (the baseline: argmax differs).
        rank_by: Score that orders the flagged examples: ``"self_confidence"`` or
            ``"normalized_margin"``.
        min_examples_per_class: Never prune a class below this many examples.

    Returns:
        A :class:`LabelIssues` with the mask, the ranked indices and the estimates.

    Raises:
        InputRejected: Shapes disagree, labels are out of range, or rows of
            ``pred_probs`` are not probability distributions.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8], [0.95, 0.05]])
        >>> r = find_label_issues([0, 1, 1, 1, 1], probs, rank_by="normalized_margin")
        >>> r.ranked.tolist(), r.scores.round(3).tolist()
        ([4], [0.9, 0.4, 0.7, 0.8, 0.05])
    """
    y, p = _check(labels, pred_probs)
    thresholds = per_class_thresholds(y, p)
    joint = estimate_joint(y, p, confident_joint(y, p, thresholds))
    return _find(y, p, thresholds, joint, filter_by, rank_by, min_examples_per_class)


class ConfidentLearning:
    """Confident learning as an estimator: ``fit(labels, pred_probs)`` learns the noise.

    ``fit`` stores ``thresholds_``, ``confident_joint_``, ``joint_`` (``Q[given, true]``),
    ``noise_matrix_`` (``P(given | true)``, columns sum to 1), ``label_issues_``,
    ``ranked_issues_`` and ``quality_scores_``. ``predict(labels, pred_probs)`` flags a
    new batch with the learned thresholds and noise rates.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.85, 0.15]])
        >>> ConfidentLearning().fit_predict([0, 0, 1, 1], probs).tolist()
        [False, False, False, True]
    """

    thresholds_: FloatArray
    confident_joint_: IntArray
    joint_: FloatArray
    noise_matrix_: FloatArray
    label_issues_: npt.NDArray[np.bool_]
    ranked_issues_: IntArray
    quality_scores_: FloatArray

    def __init__(
        self,
        filter_by: FilterBy = "prune_by_noise_rate",
        rank_by: RankBy = "self_confidence",
        min_examples_per_class: int = 1,
    ) -> None:
        self.filter_by: FilterBy = filter_by
        self.rank_by: RankBy = rank_by
        self.min_examples_per_class = min_examples_per_class

    def fit(self, labels: npt.ArrayLike, pred_probs: npt.ArrayLike) -> Self:
        """Estimate thresholds and the noise joint, and flag the training examples."""
        r = find_label_issues(
            labels,
            pred_probs,
            filter_by=self.filter_by,
            rank_by=self.rank_by,
            min_examples_per_class=self.min_examples_per_class,
        )
        self.thresholds_, self.confident_joint_, self.joint_ = r.thresholds, r.confident_joint, r.joint
        true_mass = self.joint_.sum(axis=0, keepdims=True)
        self.noise_matrix_ = np.divide(self.joint_, true_mass, out=np.zeros_like(self.joint_), where=true_mass > 0)
        self.label_issues_, self.ranked_issues_, self.quality_scores_ = r.mask, r.ranked, r.scores
        return self

    def predict(self, labels: npt.ArrayLike, pred_probs: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Flag a new batch using the fitted thresholds and noise joint."""
        if not hasattr(self, "joint_"):
            raise InputRejected("ConfidentLearning", "a fitted estimator (call fit first)", "an unfitted one")
        y, p = _check(labels, pred_probs)
        if p.shape[1] != self.joint_.shape[0]:
            raise InputRejected("pred_probs", f"{self.joint_.shape[0]} classes", f"{p.shape[1]}")
        r = _find(y, p, self.thresholds_, self.joint_, self.filter_by, self.rank_by, self.min_examples_per_class)
        return r.mask

    def fit_predict(self, labels: npt.ArrayLike, pred_probs: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """``fit`` then return ``label_issues_``."""
        return self.fit(labels, pred_probs).label_issues_


def out_of_fold_pred_probs(
    features: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    estimator: Any = None,
    cv: int = 5,
    seed: int = 0,
) -> FloatArray:
    """Out-of-fold predicted probabilities with scikit-learn's ``cross_val_predict``.

    Needs scikit-learn (``pip install labelloop[demo]``); it is imported only here.

    Args:
        features: ``(n, d)`` feature matrix.
        labels: Given class codes.
        estimator: A scikit-learn classifier with ``predict_proba``; by default
            standardisation and a logistic regression with ``C=0.1`` (regularised models
            give better-calibrated probabilities, which confident learning relies on).
        cv: Number of stratified folds.
        seed: Seed of the fold shuffling.

    Raises:
        BackendUnavailable: scikit-learn is not installed.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = np.concatenate([rng.normal(0, 1, (20, 2)), rng.normal(4, 1, (20, 2))])
        >>> out_of_fold_pred_probs(x, np.repeat([0, 1], 20), cv=4).shape
        (40, 2)
    """
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise BackendUnavailable("out_of_fold_pred_probs needs scikit-learn: pip install 'labelloop[demo]'") from None
    model = (
        estimator
        if estimator is not None
        else make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))
    )
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    probs = cross_val_predict(model, np.asarray(features), np.asarray(labels), cv=folds, method="predict_proba")
    return np.asarray(probs, dtype=np.float64)
