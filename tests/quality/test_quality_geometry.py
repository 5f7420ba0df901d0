from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.errors import InputRejected
from labelloop.quality import (
    box_agreement,
    box_iou_matrix,
    cuboid_agreement,
    cuboid_iou,
    cuboid_iou_matrix,
    match_by_iou,
    segment_agreement,
    segment_iou_matrix,
    span_f1,
)


# --------------------------------------------------------------------------- boxes
def test_box_iou_matrix_known_values() -> None:
    a = [[0, 0, 2, 2], [0, 0, 1, 1]]
    b = [[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 5, 5]]
    np.testing.assert_allclose(box_iou_matrix(a, b), [[1 / 7, 1.0, 0.0], [0.0, 0.25, 0.0]])
    assert box_iou_matrix([], b).shape == (0, 3)


def test_hungarian_maximises_matches_then_iou() -> None:
    # Greedy would take the 0.9 pair and leave one match; the optimum has two.
    r = match_by_iou([[0.9, 0.6], [0.6, 0.0]], 0.5)
    assert r.tp == 2 and r.f1 == 1.0
    assert sorted(map(tuple, r.pairs.tolist())) == [(0, 1), (1, 0)]


def test_box_agreement_counts() -> None:
    a = [[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]]
    b = [[1, 1, 10, 10], [21, 21, 31, 31], [100, 100, 110, 110], [60, 60, 70, 70]]
    r = box_agreement(a, b, iou_threshold=0.5)
    assert (r.tp, r.fp, r.fn) == (2, 1, 2)
    assert r.precision == pytest.approx(2 / 3) and r.recall == 0.5
    assert r.f1 == pytest.approx(4 / 7)
    strict = box_agreement(a, b, iou_threshold=0.9)
    assert strict.tp == 0
    labelled = box_agreement(a[:1], b[:1], labels_a=["car"], labels_b=["car"])
    assert labelled.tp == 1 and 0.8 < labelled.mean_iou < 0.82


def test_empty_sets_agree() -> None:
    r = box_agreement([], [])
    assert (r.tp, r.fp, r.fn, r.f1) == (0, 0, 0, 1.0)
    assert math.isnan(r.mean_iou)
    assert box_agreement([[0, 0, 1, 1]], []).f1 == 0.0


# --------------------------------------------------------------------------- spans & segments
def test_span_f1_exact_and_overlap() -> None:
    ref = [(0, 5, "PER"), (10, 14, "LOC"), (20, 25, "ORG")]
    pred = [(0, 5, "PER"), (9, 14, "LOC"), (20, 25, "PER"), (30, 31, "LOC")]
    exact = span_f1(pred, ref)
    assert (exact.tp, exact.fp, exact.fn) == (1, 3, 2)
    overlap = span_f1(pred, ref, mode="overlap")
    assert (overlap.tp, overlap.fp, overlap.fn) == (2, 2, 1)
    # one predicted span covering two reference spans counts once
    assert span_f1([(0, 20, "X")], [(0, 5, "X"), (6, 20, "X")], mode="overlap").tp == 1
    assert span_f1([], []).f1 == 1.0


def test_segments() -> None:
    np.testing.assert_allclose(segment_iou_matrix([[0.0, 2.0]], [[1.0, 3.0], [2.0, 4.0]]), [[1 / 3, 0.0]])
    r = segment_agreement([[0.0, 1.0], [1.5, 3.0]], [[0.05, 1.0], [1.6, 3.1], [5, 6]], iou_threshold=0.7)
    assert (r.tp, r.fp, r.fn) == (2, 0, 1)
    with pytest.raises(InputRejected, match="start <= end"):
        segment_iou_matrix([[2.0, 1.0]], [[0.0, 1.0]])


# --------------------------------------------------------------------------- cuboids
def test_cuboid_axis_aligned_equals_box_iou_times_height() -> None:
    a = [0, 0, 0, 4, 2, 2, 0]
    b = [1, 0.5, 0.5, 4, 2, 2, 0]
    inter = 3 * 1.5 * 1.5
    assert cuboid_iou(a, b) == pytest.approx(inter / (16 + 16 - inter))


def test_cuboid_rotated_45_degrees() -> None:
    # Two 2x2 squares, one turned by 45°: the overlap is a regular octagon of area 8(√2 - 1).
    inter = 8 * (math.sqrt(2) - 1)
    expected = inter / (8 - inter)
    assert cuboid_iou([0, 0, 0, 2, 2, 2, 0], [0, 0, 0, 2, 2, 2, math.pi / 4]) == pytest.approx(expected)
    bev = cuboid_iou_matrix([[0, 0, 5, 2, 2, 1, 0]], [[0, 0, 0, 2, 2, 2, math.pi / 4]], bev=True)
    assert bev[0, 0] == pytest.approx(inter / (8 - inter))


def test_cuboid_symmetries() -> None:
    box = [1, 2, 0, 4, 2, 1, 0.3]
    assert cuboid_iou(box, box) == pytest.approx(1.0)
    assert cuboid_iou(box, [1, 2, 0, 4, 2, 1, 0.3 + math.pi]) == pytest.approx(1.0)
    assert cuboid_iou(box, [1, 2, 0, 2, 4, 1, 0.3 + math.pi / 2]) == pytest.approx(1.0)
    assert cuboid_iou(box, [1, 2, 5, 4, 2, 1, 0.3]) == 0.0  # stacked, no height overlap
    assert cuboid_iou(box, [20, 2, 0, 4, 2, 1, 0.3]) == 0.0


def _monte_carlo_iou(a: np.ndarray, b: np.ndarray, n: int = 400_000) -> float:
    rng = np.random.default_rng(0)
    lo = np.minimum(a[:3] - a[3:6], b[:3] - b[3:6])
    hi = np.maximum(a[:3] + a[3:6], b[:3] + b[3:6])
    p = rng.uniform(lo, hi, (n, 3))

    def inside(c: np.ndarray) -> np.ndarray:
        d = p - c[:3]
        cos, sin = math.cos(c[6]), math.sin(c[6])
        x, y = d[:, 0] * cos + d[:, 1] * sin, -d[:, 0] * sin + d[:, 1] * cos
        return (np.abs(x) <= c[3] / 2) & (np.abs(y) <= c[4] / 2) & (np.abs(d[:, 2]) <= c[5] / 2)

    ia, ib = inside(a), inside(b)
    return float((ia & ib).sum() / (ia | ib).sum())


@pytest.mark.parametrize("seed", range(4))
def test_cuboid_iou_matches_monte_carlo(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.array([0, 0, 0, *rng.uniform(1, 4, 3), rng.uniform(-3, 3)])
    b = np.array([*rng.uniform(-1, 1, 3), *rng.uniform(1, 4, 3), rng.uniform(-3, 3)])
    assert cuboid_iou(a, b) == pytest.approx(_monte_carlo_iou(a, b), abs=0.01)


cuboids = st.tuples(
    st.floats(-5, 5), st.floats(-5, 5), st.floats(-2, 2),
    st.floats(0.5, 5), st.floats(0.5, 5), st.floats(0.5, 3), st.floats(-math.pi, math.pi),
)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(a=cuboids, b=cuboids, shift=st.tuples(st.floats(-10, 10), st.floats(-10, 10)), turn=st.floats(-math.pi, math.pi))
def test_cuboid_iou_properties(
    a: tuple[float, ...], b: tuple[float, ...], shift: tuple[float, float], turn: float
) -> None:
    iou = cuboid_iou(a, b)
    assert 0.0 <= iou <= 1.0 + 1e-9
    assert iou == pytest.approx(cuboid_iou(b, a), abs=1e-9)

    def move(c: tuple[float, ...]) -> list[float]:  # the same rigid motion of the scene
        cos, sin = math.cos(turn), math.sin(turn)
        return [
            c[0] * cos - c[1] * sin + shift[0],
            c[0] * sin + c[1] * cos + shift[1],
            c[2],
            c[3],
            c[4],
            c[5],
            c[6] + turn,
        ]

    assert cuboid_iou(move(a), move(b)) == pytest.approx(iou, abs=1e-7)


def test_cuboid_agreement_and_matrix_shape() -> None:
    a = [[0, 0, 0, 4, 2, 2, 0], [10, 0, 0, 4, 2, 2, 0]]
    b = [[0.2, 0, 0, 4, 2, 2, 0.05]]
    assert cuboid_iou_matrix(a, b).shape == (2, 1)
    r = cuboid_agreement(a, b, labels_a=["car", "car"], labels_b=["car"])
    assert (r.tp, r.fp, r.fn) == (1, 1, 0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: box_iou_matrix([[0, 0, 1]], [[0, 0, 1, 1]]), "(n, 4)"),
        (lambda: box_iou_matrix([[0, 0, np.nan, 1]], [[0, 0, 1, 1]]), "finite"),
        (lambda: cuboid_iou([0, 0, 0, -1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 0]), "non-negative sizes"),
        (lambda: box_agreement([[0, 0, 1, 1]], [[0, 0, 1, 1]], labels_a=["a"]), "labels for both"),
        (lambda: span_f1([(0, 1, "a")], [(0, 1, "a")], mode="fuzzy"), "'exact' or 'overlap'"),  # type: ignore[arg-type]
        (lambda: match_by_iou([1.0, 0.5], 0.5), "2-D"),
    ],
)
def test_bad_geometry_input(call: object, message: str) -> None:
    with pytest.raises(InputRejected) as info:
        call()  # type: ignore[operator]
    assert message in str(info.value)
