"""Consensus of several annotators' regions: boxes by IoU clustering, spans by voting.

Example:
    >>> boxes = [[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]]
    >>> c = box_consensus(boxes, annotators=["ann", "bob", "ann"], quorum=2)
    >>> c.boxes.tolist(), c.support.tolist()
    ([[0.5, 0.5, 10.0, 10.0]], [2])
    >>> aggregate_spans([("ann", 0, 5, "PER"), ("bob", 0, 4, "PER"), ("cy", 9, 12, "LOC")], n_annotators=3)
    [(0, 4, 'PER')]
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelloop.errors import InputRejected
from labelloop.quality.geometry_agreement import _array, box_iou_matrix
from labelloop.quality.votes import FloatArray, IntArray

__all__ = ["BoxConsensus", "aggregate_spans", "box_consensus"]


@dataclass(frozen=True, slots=True)
class BoxConsensus:
    """Consensus boxes of one image.

    Attributes:
        boxes: ``(m, 4)`` consensus boxes ``xyxy``.
        labels: Majority label of each cluster (``None`` when no labels were given).
        support: Number of annotators in each cluster.
        mean_iou: Mean IoU of the cluster's boxes with the consensus box.
        members: Indices (into the input) of each cluster's boxes.

    Example:
        >>> box_consensus([[0, 0, 2, 2], [0, 0, 2, 2]], ["a", "b"]).members[0].tolist()
        [0, 1]
    """

    boxes: FloatArray
    labels: list[Hashable] | None
    support: IntArray
    mean_iou: FloatArray
    members: list[IntArray]


def _majority(values: Sequence[Hashable]) -> Hashable:
    counts = Counter(values)
    top = max(counts.values())
    return sorted((v for v, c in counts.items() if c == top), key=repr)[0]


def box_consensus(
    boxes: npt.ArrayLike,
    annotators: Sequence[Hashable],
    labels: Sequence[Hashable] | None = None,
    *,
    iou_threshold: float = 0.5,
    quorum: int = 2,
    match_labels: bool = False,
    reduce: Literal["median", "mean"] = "median",
) -> BoxConsensus:
    """Cluster several annotators' boxes on one image and keep clusters with a quorum.

    Complete-linkage agglomerative clustering on IoU: pairs are merged in order of
    decreasing IoU as long as every pair of boxes in the merged cluster overlaps by at
    least ``iou_threshold`` and no annotator appears twice. Clusters backed by at least
    ``quorum`` annotators become consensus boxes (the coordinate-wise median or mean),
    labelled by majority vote (ties go to the label whose ``repr`` sorts first). The
    result does not depend on the input order (except for exact IoU ties).

    Args:
        boxes: ``(n, 4)`` boxes ``xyxy`` in pixels.
        annotators: Who drew each box.
        labels: Class of each box, optional.
        iou_threshold: Minimum IoU between any two boxes of a cluster.
        quorum: Minimum number of annotators behind a consensus box.
        match_labels: Only cluster boxes of the same label.
        reduce: ``"median"`` or ``"mean"`` of the member coordinates.

    Raises:
        InputRejected: Lengths disagree, or an argument is out of range.

    Example:
        >>> c = box_consensus([[0, 0, 4, 4], [0, 0, 4, 5], [9, 9, 12, 12]], ["a", "b", "c"], ["cat", "cat", "dog"])
        >>> c.boxes.tolist(), c.labels, c.support.tolist()
        ([[0.0, 0.0, 4.0, 4.5]], ['cat'], [2])
    """
    b = _array(boxes, 4, "boxes")
    n = b.shape[0]
    if len(annotators) != n or (labels is not None and len(labels) != n):
        raise InputRejected("box_consensus", f"one annotator (and label) per box, {n} boxes", "mismatched lengths")
    if quorum < 1 or not 0.0 < iou_threshold <= 1.0 or reduce not in ("median", "mean"):
        got = f"quorum={quorum}, iou_threshold={iou_threshold}, reduce={reduce!r}"
        raise InputRejected("box_consensus", "quorum >= 1, 0 < iou_threshold <= 1, 'median' or 'mean'", got)
    index: dict[Hashable, int] = {}
    ann = np.array([index.setdefault(a, len(index)) for a in annotators], dtype=np.int64)
    iou = box_iou_matrix(b, b)
    ok = (iou >= iou_threshold) & (ann[:, None] != ann[None, :])
    if match_labels and labels is not None:
        ok &= np.array([[x == y for y in labels] for x in labels], dtype=bool).reshape(n, n)
    ii, jj = np.nonzero(np.triu(ok, k=1))
    order = np.lexsort((jj, ii, -iou[ii, jj]))
    cluster = list(range(n))
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    for i, j in zip(ii[order].tolist(), jj[order].tolist(), strict=True):
        ci, cj = cluster[i], cluster[j]
        if ci == cj:
            continue
        ma, mb = members[ci], members[cj]
        if not ok[np.ix_(ma, mb)].all():  # complete linkage and one box per annotator
            continue
        ma.extend(mb)
        for m in mb:
            cluster[m] = ci
        del members[cj]
    kept = sorted((sorted(m) for m in members.values() if len(m) >= quorum), key=lambda m: (-len(m), m[0]))
    reducer = np.median if reduce == "median" else np.mean
    out = np.array([reducer(b[m], axis=0) for m in kept]).reshape(-1, 4)
    mean_iou = np.array([box_iou_matrix(out[c : c + 1], b[m]).mean() for c, m in enumerate(kept)])
    return BoxConsensus(
        boxes=out,
        labels=None if labels is None else [_majority([labels[i] for i in m]) for m in kept],
        support=np.array([len(m) for m in kept], dtype=np.int64),
        mean_iou=mean_iou.astype(np.float64),
        members=[np.array(m, dtype=np.int64) for m in kept],
    )


def aggregate_spans(
    spans: Sequence[tuple[Hashable, int, int, Hashable]],
    *,
    n_annotators: int | None = None,
    quorum: int | None = None,
) -> list[tuple[int, int, Hashable]]:
    """Consensus spans of one text by per-position voting.

    Every position (character or token — whatever unit the offsets use) collects one vote
    per annotator and label whose span covers it. A position takes the label with most
    votes if that reaches ``quorum`` (ties go to the label whose ``repr`` sorts first);
    maximal runs of positions with the same label become the consensus spans.

    Args:
        spans: ``(annotator, start, end, label)`` with ``end`` exclusive.
        n_annotators: How many annotators saw the text (including those who marked
            nothing); by default those who appear in ``spans``.
        quorum: Votes a position needs; by default a strict majority of ``n_annotators``.

    Returns:
        Sorted ``(start, end, label)`` spans.

    Raises:
        InputRejected: A span has ``start < 0`` or ``end <= start``, or quorum < 1.

    Example:
        >>> aggregate_spans([("a", 0, 4, "X"), ("b", 1, 5, "X"), ("c", 7, 9, "Y")], n_annotators=3)
        [(1, 4, 'X')]
    """
    if not spans:
        return []
    for s in spans:
        if len(s) != 4 or not 0 <= s[1] < s[2]:
            raise InputRejected("span", "(annotator, start, end, label) with 0 <= start < end", repr(s))
    anns = sorted({s[0] for s in spans}, key=repr)
    labels = sorted({s[3] for s in spans}, key=repr)
    a_n = len(anns) if n_annotators is None else n_annotators
    need = a_n // 2 + 1 if quorum is None else quorum
    if need < 1:
        raise InputRejected("quorum", "at least 1", str(need))
    a_idx, l_idx = {a: i for i, a in enumerate(anns)}, {x: i for i, x in enumerate(labels)}
    starts = np.array([s[1] for s in spans], dtype=np.int64)
    ends = np.array([s[2] for s in spans], dtype=np.int64)
    group = np.array([l_idx[s[3]] * len(anns) + a_idx[s[0]] for s in spans], dtype=np.int64)
    groups, g = np.unique(group, return_inverse=True)
    length = int(ends.max())
    diff = np.zeros((groups.size, length + 1), dtype=np.int64)
    np.add.at(diff, (g, starts), 1)
    np.add.at(diff, (g, ends), -1)
    covered = (np.cumsum(diff, axis=1)[:, :length] > 0).astype(np.int64)  # an annotator votes once per label
    votes = np.zeros((len(labels), length), dtype=np.int64)
    np.add.at(votes, groups // len(anns), covered)
    best = votes.argmax(axis=0)
    code = np.where(votes.max(axis=0) >= need, best, -1)
    change = np.flatnonzero(np.diff(code)) + 1
    bounds = np.concatenate([[0], change, [length]])
    return [(int(s), int(e), labels[int(code[s])]) for s, e in itertools.pairwise(bounds) if code[s] >= 0]
