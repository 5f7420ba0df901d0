"""Active-learning samplers and a stopping rule (Settles, 2009).

Uncertainty scores (higher = more informative) from class probabilities ``proba`` of shape
``(n_items, n_classes)``:

* least confidence: ``1 - max_c p_c``;
* margin: ``-(p_(1) - p_(2))`` (the smallest gap between the top two classes first);
* entropy: ``-sum_c p_c log p_c``.

:func:`select` takes the ``k`` highest-scoring items (ties broken by a seeded shuffle);
:func:`random_batch` is the baseline; :func:`k_center_greedy` is the core-set batch of Sener &
Savarese (2018): it repeatedly adds the point farthest from everything already chosen or
labelled; :func:`diverse_batch` runs it over the most uncertain candidates;
:func:`representative_batch` is a diversity-aware first batch before any model exists: the item
nearest each centre of a k-means clustering (k-means++ seeding, Arthur & Vassilvitskii, 2007;
Lloyd iterations), so every dense region is labelled once (k-center greedy would favour
outliers). The
:class:`StoppingRule` stops when predictions on a fixed stop set stabilise (Cohen's kappa
between rounds above a level for a few rounds; Bloodgood & Vijay-Shanker, 2009) or the largest
uncertainty in the pool falls below a level. All functions are deterministic given ``seed``.

References:
    Settles, B. (2009). Active learning literature survey. Computer Sciences Technical Report
    1648, University of Wisconsin-Madison.
    Sener, O., & Savarese, S. (2018). Active learning for convolutional neural networks: a
    core-set approach. *ICLR*.
    Arthur, D., & Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding. *SODA*.
    Bloodgood, M., & Vijay-Shanker, K. (2009). A method for stopping active learning based on
    stabilizing predictions and the need for user-adjustable stopping. *CoNLL*.

Example:
    >>> proba = np.array([[0.9, 0.1], [0.55, 0.45], [0.7, 0.3]])
    >>> select(proba, 1, "margin").tolist()
    [1]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelloop.errors import InputRejected

__all__ = [
    "STRATEGIES",
    "StoppingRule",
    "Strategy",
    "diverse_batch",
    "entropy",
    "k_center_greedy",
    "least_confidence",
    "margin",
    "random_batch",
    "representative_batch",
    "select",
]

Strategy = Literal["least_confidence", "margin", "entropy", "random"]


def _proba(proba: ArrayLike) -> NDArray[np.float64]:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise InputRejected("proba", "a 2-D array (items x classes)", f"shape {p.shape}")
    return p


def least_confidence(proba: ArrayLike) -> NDArray[np.float64]:
    """``1 - max probability`` per item.

    Example:
        >>> least_confidence([[0.9, 0.1], [0.6, 0.4]]).round(2).tolist()
        [0.1, 0.4]
    """
    out: NDArray[np.float64] = 1.0 - _proba(proba).max(axis=1)
    return out


def margin(proba: ArrayLike) -> NDArray[np.float64]:
    """Negative gap between the two most probable classes (higher = more uncertain).

    Example:
        >>> margin([[0.9, 0.1], [0.6, 0.4]]).round(2).tolist()
        [-0.8, -0.2]
    """
    p = _proba(proba)
    if p.shape[1] < 2:
        return np.zeros(p.shape[0])
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    out: NDArray[np.float64] = -(top2[:, 0] - top2[:, 1])
    return out


def entropy(proba: ArrayLike) -> NDArray[np.float64]:
    """Shannon entropy (nats) per item.

    Example:
        >>> entropy([[1.0, 0.0], [0.5, 0.5]]).round(3).tolist()
        [0.0, 0.693]
    """
    p = np.clip(_proba(proba), 1e-12, 1.0)
    out: NDArray[np.float64] = -(p * np.log(p)).sum(axis=1)
    return out


STRATEGIES: dict[str, Callable[[ArrayLike], NDArray[np.float64]]] = {
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
}


def random_batch(n: int, k: int, seed: int = 0) -> NDArray[np.int64]:
    """``k`` distinct positions out of ``n``, uniformly at random.

    Example:
        >>> random_batch(10, 3, seed=0).size
        3
    """
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(k, n), replace=False)).astype(np.int64)


def select(proba: ArrayLike, k: int, strategy: str = "margin", seed: int = 0) -> NDArray[np.int64]:
    """Positions of the ``k`` most informative items by ``strategy`` (or ``"random"``).

    Example:
        >>> select([[0.5, 0.5], [0.99, 0.01], [0.6, 0.4]], 2, "entropy").tolist()
        [0, 2]
    """
    p = _proba(proba)
    if k < 0:
        raise InputRejected("k", "a non-negative batch size", str(k))
    if strategy == "random":
        return random_batch(p.shape[0], k, seed)
    if strategy not in STRATEGIES:
        raise InputRejected("strategy", f"one of {sorted([*STRATEGIES, 'random'])}", strategy)
    score = STRATEGIES[strategy](p)
    tie = np.random.default_rng(seed).random(p.shape[0])
    order: NDArray[np.int64] = np.lexsort((tie, -score)).astype(np.int64)  # score desc, ties seeded
    return order[: min(k, p.shape[0])]


def k_center_greedy(features: ArrayLike, k: int, labelled: ArrayLike | None = None, seed: int = 0) -> NDArray[np.int64]:
    """Greedy k-center core set (Sener & Savarese, 2018): a 2-approximation of the minimax cover.

    Args:
        features: ``(n, d)`` embeddings.
        k: Points to add.
        labelled: Positions already covered; without any, the first centre is seeded at random.
        seed: Seed for that first centre.

    Returns:
        Positions of the new centres, in the order chosen.

    Example:
        >>> x = np.array([[0.0], [0.1], [10.0], [10.1], [5.0]])
        >>> sorted(k_center_greedy(x, 2, labelled=[0]).tolist())
        [3, 4]
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise InputRejected("features", "a 2-D array (items x dims)", f"shape {x.shape}")
    n = x.shape[0]
    lab = np.asarray([] if labelled is None else labelled, dtype=np.int64).ravel()
    k = min(k, n - np.unique(lab).size)
    chosen: list[int] = []
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    sq = (x * x).sum(axis=1)

    def dist_to(j: int) -> NDArray[np.float64]:
        d: NDArray[np.float64] = np.sqrt(np.maximum(sq - 2.0 * x @ x[j] + sq[j], 0.0))
        return d

    if lab.size:
        xl = x[lab]
        d2 = sq[:, None] - 2.0 * x @ xl.T + (xl * xl).sum(axis=1)[None, :]
        mind = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
        mind[lab] = -1.0
    else:
        first = int(np.random.default_rng(seed).integers(n))
        chosen.append(first)
        mind = dist_to(first)
        mind[first] = -1.0
    while len(chosen) < k:
        j = int(np.argmax(mind))
        chosen.append(j)
        mind = np.minimum(mind, dist_to(j))
        mind[j] = -1.0
    return np.asarray(chosen, dtype=np.int64)


def diverse_batch(
    proba: ArrayLike,
    features: ArrayLike,
    k: int,
    *,
    strategy: str = "margin",
    pool_factor: int = 5,
    seed: int = 0,
) -> NDArray[np.int64]:
    """Uncertainty first, then diversity: k-center greedy over the ``pool_factor * k`` most uncertain.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> p = rng.dirichlet(np.ones(3), size=50)
        >>> diverse_batch(p, rng.normal(size=(50, 4)), 5).size
        5
    """
    cand = select(proba, pool_factor * k, strategy, seed)
    x = np.asarray(features, dtype=np.float64)
    picks = k_center_greedy(x[cand], k, seed=seed)
    return cand[picks]


def _sq_dist(x: NDArray[np.float64], c: NDArray[np.float64]) -> NDArray[np.float64]:
    d: NDArray[np.float64] = np.maximum((x * x).sum(1)[:, None] - 2.0 * x @ c.T + (c * c).sum(1)[None, :], 0.0)
    return d


def representative_batch(features: ArrayLike, k: int, seed: int = 0, *, iterations: int = 25) -> NDArray[np.int64]:
    """``k`` distinct items nearest the centres of a k-means clustering of ``features``.

    Args:
        features: ``(n, d)`` embeddings.
        k: Items wanted (at most ``n``).
        seed: Seed of the k-means++ seeding.
        iterations: Most Lloyd iterations.

    Returns:
        Sorted positions of the chosen items.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
        >>> x = np.vstack([c + rng.normal(0, 0.5, (30, 2)) for c in centres])
        >>> sorted({int(i) // 30 for i in representative_batch(x, 3, seed=1)})
        [0, 1, 2]
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise InputRejected("features", "a 2-D array (items x dims)", f"shape {x.shape}")
    if k < 0:
        raise InputRejected("k", "a non-negative batch size", str(k))
    n = x.shape[0]
    k = min(k, n)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    centres = [int(rng.integers(n))]
    d2 = _sq_dist(x, x[centres])[:, 0]
    while len(centres) < k:  # k-means++: next centre with probability proportional to d^2
        total = float(d2.sum())
        j = int(rng.choice(n, p=d2 / total)) if total > 0 else int(rng.integers(n))
        centres.append(j)
        d2 = np.minimum(d2, _sq_dist(x, x[[j]])[:, 0])
    c = x[centres].copy()
    assign = np.full(n, -1)
    for _ in range(iterations):
        new = _sq_dist(x, c).argmin(axis=1)
        if np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            members = assign == j
            if members.any():
                c[j] = x[members].mean(axis=0)
    d = _sq_dist(x, c)
    chosen: list[int] = []
    for j in range(k):  # nearest unused item to each centre
        order = np.argsort(d[:, j], kind="stable")
        pick = next(int(i) for i in order if int(i) not in chosen)
        chosen.append(pick)
    return np.sort(np.asarray(chosen, dtype=np.int64))


def _kappa(a: NDArray[np.int64], b: NDArray[np.int64]) -> float:
    if a.size == 0:
        return 1.0
    po = float(np.mean(a == b))
    cats = np.union1d(a, b)
    pe = float(sum(np.mean(a == c) * np.mean(b == c) for c in cats))
    return 1.0 if pe >= 1.0 else (po - pe) / (1.0 - pe)


@dataclass(slots=True)
class StoppingRule:
    """Stop when predictions stabilise or the pool holds nothing uncertain.

    Attributes:
        kappa: Agreement (Cohen's kappa) between consecutive rounds' predictions on the stop set
            that counts as stable.
        window: Consecutive stable rounds required.
        max_uncertainty: Stop once the pool's largest least-confidence score is below this.
        history: Kappa of each round after the first.

    Example:
        >>> rule = StoppingRule(kappa=0.99, window=2)
        >>> [rule.update(np.array([0, 1, 1, 2])) for _ in range(3)]
        [False, False, True]
    """

    kappa: float = 0.99
    window: int = 3
    max_uncertainty: float | None = None
    history: list[float] = field(default_factory=list)
    _last: NDArray[np.int64] | None = None

    def update(self, stop_set_predictions: ArrayLike, pool_proba: ArrayLike | None = None) -> bool:
        """Record one round; return whether to stop."""
        cur = np.asarray(stop_set_predictions, dtype=np.int64).ravel()
        if self.max_uncertainty is not None and pool_proba is not None:
            p = _proba(pool_proba)
            if p.shape[0] == 0 or float(least_confidence(p).max()) < self.max_uncertainty:
                self._last = cur
                return True
        if self._last is not None:
            self.history.append(_kappa(self._last, cur))
        self._last = cur
        recent = self.history[-self.window :]
        return len(recent) == self.window and min(recent) >= self.kappa
