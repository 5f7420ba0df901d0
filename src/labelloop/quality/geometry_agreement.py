"""Agreement between two sets of regions: boxes, text spans, audio segments and 3D cuboids.

Every ``*_agreement`` function matches the two sets one-to-one with the Hungarian
algorithm (``scipy.optimize.linear_sum_assignment``; Kuhn 1955), first maximising the
number of pairs whose overlap reaches the threshold and then their total IoU, and returns a
:class:`MatchResult` with precision, recall and F1 of the matching. Coordinate conventions
follow the label schema: boxes ``xyxy`` in pixels, spans ``[start, end)`` in code points,
segments ``[start_s, end_s]`` in seconds, cuboids ``(x, y, z, l, w, h, yaw)`` with the
centre, the size along the box's own x/y/z axes, and yaw about +z in radians.

Example:
    >>> a = [[0, 0, 10, 10], [20, 20, 30, 30]]
    >>> b = [[1, 1, 10, 10], [50, 50, 60, 60]]
    >>> r = box_agreement(a, b, iou_threshold=0.5)
    >>> r.tp, r.fp, r.fn, r.f1
    (1, 1, 1, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelloop.errors import InputRejected
from labelloop.quality.votes import FloatArray, IntArray

__all__ = [
    "MatchResult",
    "box_agreement",
    "box_iou_matrix",
    "cuboid_agreement",
    "cuboid_iou",
    "cuboid_iou_matrix",
    "match_by_iou",
    "segment_agreement",
    "segment_iou_matrix",
    "span_f1",
]


def _array(x: npt.ArrayLike, width: int, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return np.zeros((0, width))
    if a.ndim == 1 and a.size == width:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != width:
        raise InputRejected(name, f"an (n, {width}) array", f"shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputRejected(name, "finite coordinates", "NaN or infinity")
    return a


@dataclass(frozen=True, slots=True)
class MatchResult:
    """A one-to-one matching of predicted (``a``) to reference (``b``) regions.

    Attributes:
        pairs: ``(k, 2)`` indices ``(i_a, i_b)`` of matched regions.
        ious: IoU of each matched pair.
        tp: Matched pairs.
        fp: Regions of ``a`` left unmatched.
        fn: Regions of ``b`` left unmatched.

    Two empty sets agree perfectly: precision, recall and F1 are 1.0.

    Example:
        >>> r = match_by_iou([[0.8, 0.0], [0.0, 0.3]], 0.5)
        >>> r.pairs.tolist(), (r.tp, r.fp, r.fn), round(r.f1, 3)
        ([[0, 0]], (1, 1, 1), 0.5)
    """

    pairs: IntArray
    ious: FloatArray
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """``tp / (tp + fp)``; 1.0 when ``a`` is empty."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """``tp / (tp + fn)``; 1.0 when ``b`` is empty."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """``2 tp / (2 tp + fp + fn)``; 1.0 when both sets are empty."""
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 1.0

    @property
    def mean_iou(self) -> float:
        """Mean IoU of the matched pairs (NaN without pairs)."""
        return float(self.ious.mean()) if self.ious.size else math.nan


def match_by_iou(iou: npt.ArrayLike, threshold: float, allowed: npt.ArrayLike | None = None) -> MatchResult:
    """Match rows to columns of an IoU matrix one-to-one (Hungarian algorithm).

    A pair is eligible when its IoU is at least ``threshold`` (and strictly positive) and
    ``allowed`` (if given) is true. Among eligible pairs the matching maximises first the
    number of pairs, then their total IoU.

    Example:
        >>> match_by_iou([[0.9, 0.6], [0.6, 0.0]], 0.5).pairs.tolist()
        [[0, 1], [1, 0]]
    """
    from scipy.optimize import linear_sum_assignment

    m = np.asarray(iou, dtype=np.float64)
    if m.ndim != 2:
        raise InputRejected("iou", "a 2-D matrix", f"shape {m.shape}")
    ok = (m >= threshold) & (m > 0.0)
    if allowed is not None:
        ok &= np.asarray(allowed, dtype=bool)
    n_a, n_b = m.shape
    if not ok.any():
        return MatchResult(np.zeros((0, 2), dtype=np.int64), np.zeros(0), 0, n_a, n_b)
    big = float(min(n_a, n_b) + 1)  # one more pair always beats any IoU gain
    weight = np.where(ok, big + m, 0.0)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    keep = ok[rows, cols]
    rows, cols = rows[keep], cols[keep]
    pairs = np.stack([rows, cols], axis=1).astype(np.int64)
    tp = int(keep.sum())
    return MatchResult(pairs, m[rows, cols], tp, n_a - tp, n_b - tp)


def _label_mask(
    la: Sequence[Hashable] | None, lb: Sequence[Hashable] | None, n_a: int, n_b: int
) -> npt.NDArray[np.bool_] | None:
    if la is None and lb is None:
        return None
    if la is None or lb is None or len(la) != n_a or len(lb) != n_b:
        raise InputRejected("labels", "labels for both sets, one per region", "missing or mismatched labels")
    return np.array([[x == y for y in lb] for x in la], dtype=bool).reshape(n_a, n_b)


# ---------------------------------------------------------------------- boxes
def box_iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """IoU of every pair of axis-aligned boxes ``xyxy``; ``(n, 4) × (m, 4) -> (n, m)``.

    Example:
        >>> box_iou_matrix([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]]).round(3).tolist()
        [[0.333, 0.0]]
    """
    ba, bb = _array(a, 4, "boxes a"), _array(b, 4, "boxes b")
    area_a = np.clip(ba[:, 2] - ba[:, 0], 0, None) * np.clip(ba[:, 3] - ba[:, 1], 0, None)
    area_b = np.clip(bb[:, 2] - bb[:, 0], 0, None) * np.clip(bb[:, 3] - bb[:, 1], 0, None)
    w = np.clip(np.minimum(ba[:, None, 2], bb[None, :, 2]) - np.maximum(ba[:, None, 0], bb[None, :, 0]), 0, None)
    h = np.clip(np.minimum(ba[:, None, 3], bb[None, :, 3]) - np.maximum(ba[:, None, 1], bb[None, :, 1]), 0, None)
    inter = w * h
    union = area_a[:, None] + area_b[None, :] - inter
    out: FloatArray = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out


def box_agreement(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    labels_a: Sequence[Hashable] | None = None,
    labels_b: Sequence[Hashable] | None = None,
    iou_threshold: float = 0.5,
) -> MatchResult:
    """Matched F1 of two box sets: Hungarian matching on IoU at ``iou_threshold``.

    With labels, only boxes of the same label can match.

    Example:
        >>> box_agreement([[0, 0, 4, 4]], [[0, 0, 4, 4]], labels_a=["cat"], labels_b=["dog"]).f1
        0.0
    """
    iou = box_iou_matrix(a, b)
    return match_by_iou(iou, iou_threshold, _label_mask(labels_a, labels_b, *iou.shape))


# ---------------------------------------------------------------------- 1-D ranges
def segment_iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """IoU of every pair of time ranges ``[start, end]``; ``(n, 2) × (m, 2) -> (n, m)``.

    Example:
        >>> segment_iou_matrix([[0.0, 2.0]], [[1.0, 3.0]]).round(3).tolist()
        [[0.333]]
    """
    sa, sb = _array(a, 2, "segments a"), _array(b, 2, "segments b")
    if np.any(sa[:, 1] < sa[:, 0]) or np.any(sb[:, 1] < sb[:, 0]):
        raise InputRejected("segments", "start <= end", "a segment ending before it starts")
    inter = np.clip(np.minimum(sa[:, None, 1], sb[None, :, 1]) - np.maximum(sa[:, None, 0], sb[None, :, 0]), 0, None)
    union = (sa[:, 1] - sa[:, 0])[:, None] + (sb[:, 1] - sb[:, 0])[None, :] - inter
    out: FloatArray = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out


def segment_agreement(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    labels_a: Sequence[Hashable] | None = None,
    labels_b: Sequence[Hashable] | None = None,
    iou_threshold: float = 0.5,
) -> MatchResult:
    """Matched F1 of two sets of audio segments (time ranges) at an IoU threshold.

    Example:
        >>> segment_agreement([[0.0, 1.0], [2.0, 3.0]], [[0.1, 1.0]]).f1
        0.6666666666666666
    """
    iou = segment_iou_matrix(a, b)
    return match_by_iou(iou, iou_threshold, _label_mask(labels_a, labels_b, *iou.shape))


Span = tuple[int, int, Hashable]


def span_f1(
    predicted: Sequence[Span], reference: Sequence[Span], mode: Literal["exact", "overlap"] = "exact"
) -> MatchResult:
    """Span-level F1 between two annotations of one text; spans are ``(start, end, label)``.

    ``"exact"`` counts a pair only if start, end and label are all equal (the CoNLL
    measure); ``"overlap"`` counts any two spans of the same label that share at least
    one position, matched one-to-one to maximise the number of pairs.

    Example:
        >>> span_f1([(0, 5, "PER"), (10, 14, "LOC")], [(0, 5, "PER"), (9, 14, "LOC")]).f1
        0.5
        >>> span_f1([(0, 5, "PER"), (10, 14, "LOC")], [(0, 5, "PER"), (9, 14, "LOC")], mode="overlap").f1
        1.0
    """
    if mode not in ("exact", "overlap"):
        raise InputRejected("mode", "'exact' or 'overlap'", repr(mode))
    pa = _array([(s, e) for s, e, _ in predicted], 2, "predicted spans")
    pb = _array([(s, e) for s, e, _ in reference], 2, "reference spans")
    iou = segment_iou_matrix(pa, pb)
    allowed = _label_mask([x[2] for x in predicted], [x[2] for x in reference], len(predicted), len(reference))
    if mode == "exact":
        same = (pa[:, None, 0] == pb[None, :, 0]) & (pa[:, None, 1] == pb[None, :, 1])
        return match_by_iou(same.astype(np.float64), 1.0, allowed)
    return match_by_iou(iou, 0.0, allowed)


# ---------------------------------------------------------------------- 3-D cuboids
def _bev_corners(c: FloatArray) -> FloatArray:
    """Counter-clockwise bird's-eye corners ``(n, 4, 2)`` of cuboids ``(n, 7)``."""
    hl, hw = c[:, 3] / 2.0, c[:, 4] / 2.0
    local = np.stack(
        [np.stack([hl, -hw], 1), np.stack([hl, hw], 1), np.stack([-hl, hw], 1), np.stack([-hl, -hw], 1)], axis=1
    )
    cos, sin = np.cos(c[:, 6])[:, None], np.sin(c[:, 6])[:, None]
    x = local[..., 0] * cos - local[..., 1] * sin + c[:, None, 0]
    y = local[..., 0] * sin + local[..., 1] * cos + c[:, None, 1]
    return np.stack([x, y], axis=-1)


def _clip_convex(subject: list[tuple[float, float]], clip: FloatArray) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: the part of convex ``subject`` inside convex CCW ``clip``."""
    out = subject
    n = len(clip)
    for i in range(n):
        if not out:
            break
        ax, ay = float(clip[i, 0]), float(clip[i, 1])
        bx, by = float(clip[(i + 1) % n, 0]), float(clip[(i + 1) % n, 1])
        ex, ey = bx - ax, by - ay
        inp, out = out, []
        prev = inp[-1]
        prev_side = ex * (prev[1] - ay) - ey * (prev[0] - ax)
        for cur in inp:
            side = ex * (cur[1] - ay) - ey * (cur[0] - ax)
            if (side >= 0.0) != (prev_side >= 0.0):
                t = prev_side / (prev_side - side)
                out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if side >= 0.0:
                out.append(cur)
            prev, prev_side = cur, side
    return out


def _area(poly: list[tuple[float, float]]) -> float:
    if len(poly) < 3:
        return 0.0
    p = np.asarray(poly)
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def cuboid_iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike, *, bev: bool = False) -> FloatArray:
    """3-D IoU of every pair of yaw-rotated cuboids ``(x, y, z, l, w, h, yaw)``.

    The intersection is the bird's-eye-view overlap (convex polygon clipping, exact for
    rotated rectangles) times the overlap of the vertical extents. Pairs whose bounding
    circles or heights do not overlap are skipped without clipping. ``bev=True`` returns
    the 2-D bird's-eye IoU instead.

    Example:
        >>> round(float(cuboid_iou_matrix([[0, 0, 0, 2, 2, 2, 0]], [[0, 0, 0, 2, 2, 2, math.pi / 4]])[0, 0]), 4)
        0.7071
    """
    ca, cb = _array(a, 7, "cuboids a"), _array(b, 7, "cuboids b")
    if np.any(ca[:, 3:6] < 0) or np.any(cb[:, 3:6] < 0):
        raise InputRejected("cuboids", "non-negative sizes", "a negative length, width or height")
    out = np.zeros((ca.shape[0], cb.shape[0]))
    if out.size == 0:
        return out
    ra, rb = np.hypot(ca[:, 3], ca[:, 4]) / 2.0, np.hypot(cb[:, 3], cb[:, 4]) / 2.0
    dist = np.hypot(ca[:, None, 0] - cb[None, :, 0], ca[:, None, 1] - cb[None, :, 1])
    z_overlap = np.clip(
        np.minimum(ca[:, None, 2] + ca[:, None, 5] / 2, cb[None, :, 2] + cb[None, :, 5] / 2)
        - np.maximum(ca[:, None, 2] - ca[:, None, 5] / 2, cb[None, :, 2] - cb[None, :, 5] / 2),
        0.0,
        None,
    )
    candidates = dist < ra[:, None] + rb[None, :]
    if not bev:
        candidates &= z_overlap > 0
    corners_a, corners_b = _bev_corners(ca), _bev_corners(cb)
    area_a, area_b = ca[:, 3] * ca[:, 4], cb[:, 3] * cb[:, 4]
    for i, j in zip(*np.nonzero(candidates), strict=True):
        subject = [(float(x), float(y)) for x, y in corners_a[i]]
        inter = _area(_clip_convex(subject, corners_b[j]))
        if bev:
            union = area_a[i] + area_b[j] - inter
        else:
            inter *= z_overlap[i, j]
            union = area_a[i] * ca[i, 5] + area_b[j] * cb[j, 5] - inter
        out[i, j] = inter / union if union > 0 else 0.0
    return out


def cuboid_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """3-D IoU of two cuboids ``(x, y, z, l, w, h, yaw)``.

    Example:
        >>> cuboid_iou([0, 0, 0, 2, 2, 2, 0], [1, 0, 0, 2, 2, 2, 0])
        0.3333333333333333
    """
    return float(cuboid_iou_matrix(a, b)[0, 0])


def cuboid_agreement(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    labels_a: Sequence[Hashable] | None = None,
    labels_b: Sequence[Hashable] | None = None,
    iou_threshold: float = 0.5,
) -> MatchResult:
    """Matched F1 of two cuboid sets at a 3-D IoU threshold.

    Example:
        >>> cuboid_agreement([[0, 0, 0, 4, 2, 2, 0]], [[0, 0, 0, 4, 2, 2, 0.05]]).tp
        1
    """
    iou = cuboid_iou_matrix(a, b)
    return match_by_iou(iou, iou_threshold, _label_mask(labels_a, labels_b, *iou.shape))
