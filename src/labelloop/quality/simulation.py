"""Simulated crowds for testing and benchmarking aggregation and agreement.

Example:
    >>> truth = np.arange(100) % 10
    >>> t = simulate_crowd(truth, accuracies=[0.9, 0.8, 0.7], seed=0)
    >>> t.n_votes, t.n_annotators
    (300, 3)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from labelloop.errors import InputRejected
from labelloop.quality.votes import VoteTable

__all__ = ["simulate_crowd"]


def simulate_crowd(
    truth: npt.ArrayLike,
    accuracies: Sequence[float] | npt.ArrayLike,
    *,
    n_classes: int | None = None,
    overlap: int | None = None,
    seed: int = 0,
) -> VoteTable:
    """Votes of simulated annotators on items with known true classes.

    Annotator ``a`` answers the true class with probability ``accuracies[a]`` and a
    uniformly drawn *other* class otherwise; an accuracy of ``1 / n_classes`` or less with
    uniform answers is a spammer (use ``accuracy = 1 / n_classes``). With ``overlap`` each
    item is labelled by that many distinct annotators drawn uniformly; without it every
    annotator labels every item.

    Args:
        truth: True class code (``0 .. n_classes - 1``) of each item.
        accuracies: One accuracy per annotator.
        n_classes: Number of classes; by default ``max(truth) + 1``.
        overlap: Annotators per item, or ``None`` for all of them.
        seed: Seed of the random generator.

    Returns:
        A :class:`VoteTable` whose item codes are the positions in ``truth`` and whose
        categories are ``0 .. n_classes - 1``.

    Example:
        >>> t = simulate_crowd([0, 1, 2, 1], accuracies=[1.0, 1.0, 0.1], n_classes=3, overlap=2)
        >>> t.n_votes, t.counts().sum(axis=1).tolist()
        (8, [2, 2, 2, 2])
    """
    y = np.asarray(truth, dtype=np.int64)
    acc = np.asarray(accuracies, dtype=np.float64)
    k = int(y.max()) + 1 if n_classes is None else n_classes
    n_ann = acc.size
    if y.ndim != 1 or y.size == 0 or y.min() < 0 or y.max() >= k or n_ann == 0:
        raise InputRejected("simulate_crowd", "non-empty truth codes in [0, n_classes) and accuracies", f"{y.shape}")
    if overlap is not None and not 1 <= overlap <= n_ann:
        raise InputRejected("overlap", f"between 1 and {n_ann}", str(overlap))
    rng = np.random.default_rng(seed)
    if overlap is None:
        items = np.repeat(np.arange(y.size), n_ann)
        annotators = np.tile(np.arange(n_ann), y.size)
    else:
        picks = np.argsort(rng.random((y.size, n_ann)), axis=1)[:, :overlap]
        items = np.repeat(np.arange(y.size), overlap)
        annotators = picks.ravel()
    correct = rng.random(items.size) < acc[annotators]
    wrong = (y[items] + rng.integers(1, max(k, 2), size=items.size)) % k
    labels = np.where(correct, y[items], wrong)
    return VoteTable(
        items,
        annotators,
        labels,
        item_names=range(y.size),
        annotator_names=range(n_ann),
        categories=tuple(range(k)),
    )
