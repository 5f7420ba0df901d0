"""Models the human-effort simulation refits as labels arrive: CPU-cheap, no pretrained weights.

* ``spreading`` (default): label spreading (Zhou et al., 2004) over the 10-nearest-neighbour
  graph of every item given to :func:`fit_learner` — labelled and unlabelled — with scikit-learn's
  ``LabelSpreading`` (``alpha = 0.9``: each step takes 90% of an item's distribution from its
  neighbours). The unlabelled items shape the graph, so a few labels spread along the dense
  regions of the data; a refit is one propagation (a fraction of a second for 1,797 digits).
  On digits with 100 margin-sampled labels (seeds 100-105, noise-free labels) it is right on
  99.05% of the rest, and its most confident 96% hold at most 0.3% errors, against 98.4% and 87%
  for the earlier ``k = 7, alpha = 0.2`` (still reachable through the keyword arguments).
* ``logreg``: multinomial logistic regression (``C = 1``) on the labelled items only — the
  earlier baseline, kept for comparison.

:func:`routing_score` is the log-ratio of the two most probable classes. It orders items like the
margin, but stays apart where label spreading drives the top probability to 1.0 in floating
point, so a threshold can still be placed among the most confident items.

References:
    Zhou, D., Bousquet, O., Lal, T. N., Weston, J., & Schölkopf, B. (2004). Learning with local
    and global consistency. *NeurIPS*.

Example:
    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.normal(0, 0.3, (40, 2)), rng.normal(3, 0.3, (40, 2))]
    >>> fit = fit_learner("spreading", x, np.array([0, 40]), np.array([0, 1]))
    >>> float((fit.predicted() == np.r_[np.zeros(40), np.ones(40)]).mean())
    1.0
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelloop.errors import InputRejected

__all__ = ["LEARNERS", "SPREAD_ALPHA", "SPREAD_NEIGHBOURS", "Fitted", "fit_learner", "routing_score"]

LEARNERS = ("spreading", "logreg")
SPREAD_NEIGHBOURS = 10
SPREAD_ALPHA = 0.9
Arr = NDArray[Any]
_TINY = 1e-300


@dataclass(frozen=True, slots=True)
class Fitted:
    """A fitted learner.

    Attributes:
        proba: Class probabilities of every item it was fitted on, ``(n_items, n_classes)``.
        classes: The class of each column.
        model: The scikit-learn estimator (``predict`` works on new items too).
    """

    proba: NDArray[np.float64]
    classes: Arr
    model: Any

    def predicted(self) -> Arr:
        """Most probable class of every item."""
        out: Arr = np.asarray(self.classes)[self.proba.argmax(axis=1)]
        return out

    def predict_new(self, x_new: Arr) -> Arr:
        """Most probable class of items the learner was not fitted on (inductive prediction)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 0/0 rows whose neighbours the graph never reached
            p = np.nan_to_num(np.asarray(self.model.predict_proba(x_new), dtype=np.float64), nan=0.0)
        out: Arr = np.asarray(self.classes)[p.argmax(axis=1)]
        return out


def fit_learner(
    kind: str,
    x: Arr,
    labelled: Arr,
    labels: Arr,
    *,
    neighbours: int = SPREAD_NEIGHBOURS,
    alpha: float = SPREAD_ALPHA,
) -> Fitted:
    """Fit ``kind`` on the ``labelled`` positions of ``x`` and score every row of ``x``.

    Args:
        kind: ``spreading`` or ``logreg``.
        x: Features of every item, ``(n, d)``.
        labelled: Positions with a human label.
        labels: Those labels (non-negative integers).
        neighbours: Graph degree of ``spreading``.
        alpha: Clamping factor of ``spreading`` (the share of each item's distribution taken from
            its neighbours at every step; the rest is its initial label).

    Returns:
        A :class:`Fitted`; rows the graph cannot reach get uniform probabilities.
    """
    lab = np.asarray(labelled, dtype=np.int64).ravel()
    y = np.asarray(labels, dtype=np.int64).ravel()
    if lab.size != y.size or lab.size == 0:
        raise InputRejected("fit_learner", "one label per labelled position, at least one", f"{lab.size} vs {y.size}")
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression

        if np.unique(y).size < 2:
            raise InputRejected("fit_learner", "labels of at least two classes for logreg", str(np.unique(y)))
        m: Any = LogisticRegression(C=1.0, max_iter=1000).fit(x[lab], y)
        proba = np.asarray(m.predict_proba(x), dtype=np.float64)
    elif kind == "spreading":
        from sklearn.semi_supervised import LabelSpreading

        target = np.full(x.shape[0], -1, dtype=np.int64)
        target[lab] = y
        m = LabelSpreading(kernel="knn", n_neighbors=min(neighbours, x.shape[0] - 1), alpha=alpha, max_iter=200)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence and 0/0 rows of unreachable items
            m.fit(x, target)
        proba = np.nan_to_num(np.asarray(m.label_distributions_, dtype=np.float64), nan=0.0)
    else:
        raise InputRejected("learner", f"one of {list(LEARNERS)}", kind)
    dead = proba.sum(axis=1) <= 0
    proba[dead] = 1.0 / proba.shape[1]
    return Fitted(proba, np.asarray(m.classes_), m)


def routing_score(proba: Arr) -> NDArray[np.float64]:
    """``log p_(1) - log p_(2)`` per item (0 for a single class or a tie).

    Example:
        >>> routing_score(np.array([[0.9, 0.1], [0.5, 0.5], [1.0, 0.0]])).round(2).tolist()
        [2.2, 0.0, 690.78]
    """
    p = np.clip(np.asarray(proba, dtype=np.float64), _TINY, None)
    if p.ndim != 2:
        raise InputRejected("proba", "a 2-D array (items x classes)", f"shape {p.shape}")
    if p.shape[1] < 2:
        return np.zeros(p.shape[0])
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    out: NDArray[np.float64] = np.log(top2[:, 0]) - np.log(top2[:, 1])
    return out
