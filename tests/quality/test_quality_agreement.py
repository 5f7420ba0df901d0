from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.errors import InputRejected
from labelloop.quality import (
    VoteTable,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_agreement,
    per_label_agreement,
    percent_agreement,
)

# Fleiss (1971), Table 1: 30 patients, 6 psychiatrists each, counts per diagnosis
# (depression, personality disorder, schizophrenia, neurosis, other).
FLEISS_1971 = np.array(
    [
        [0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0],
        [2, 0, 4, 0, 0], [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6],
        [1, 0, 0, 5, 0], [1, 1, 0, 4, 0], [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1],
        [0, 0, 5, 0, 1], [3, 0, 0, 1, 2], [5, 1, 0, 0, 0], [0, 2, 0, 4, 0], [1, 0, 2, 0, 3],
        [0, 0, 0, 0, 6], [0, 1, 0, 5, 0], [0, 2, 0, 1, 3], [2, 0, 0, 4, 0], [1, 0, 0, 4, 1],
        [0, 5, 0, 1, 0], [4, 0, 0, 0, 2], [0, 2, 0, 4, 0], [1, 0, 5, 0, 0], [0, 0, 0, 0, 6],
    ]
)  # fmt: skip
DIAGNOSES = ("depression", "personality disorder", "schizophrenia", "neurosis", "other")


def _raw_from_counts(counts: np.ndarray) -> np.ndarray:
    return np.array([np.repeat(np.arange(counts.shape[1]), row) for row in counts])


def _random_reliability(seed: int, raters: int, units: int, k: int, missing: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, k + 1, size=units)
    noise = rng.integers(-1, 2, size=(raters, units)) * (rng.random((raters, units)) < 0.4)
    d = np.clip(truth[None, :] + noise, 1, k).astype(float)
    d[rng.random(d.shape) < missing] = np.nan
    return d


# --------------------------------------------------------------------------- Fleiss
def test_fleiss_1971_published_values() -> None:
    t = VoteTable.from_counts(FLEISS_1971, categories=DIAGNOSES)
    r = fleiss_kappa(t)
    # Fleiss (1971) prints P̄ = .556, P̄e = .220 and κ = .430; 0.43024 is the same value to 5
    # decimals, as irrCAC and R's irr::kappam.fleiss(diagnoses) also report it.
    assert round(r.value, 5) == 0.43024
    assert round(r.value, 3) == 0.430
    assert round(r.observed, 3) == 0.556
    assert round(r.expected, 3) == 0.220
    assert (r.n_items, r.n_values) == (30, 180)
    # Category-specific kappas printed in Fleiss (1971), p. 381.
    per = per_label_agreement(t)
    assert [round(per[c].value, 3) for c in DIAGNOSES] == [0.245, 0.245, 0.520, 0.471, 0.566]


@pytest.mark.filterwarnings("ignore")
def test_fleiss_matches_irrcac_dataset() -> None:
    irr_datasets = pytest.importorskip("irrCAC.datasets")
    irr_raw = pytest.importorskip("irrCAC.raw")
    pd = pytest.importorskip("pandas")
    counts = irr_datasets.distrib_6raters().to_numpy()
    # irrCAC ships the first 15 patients of Fleiss' table (Gwet's handbook example).
    np.testing.assert_array_equal(counts, FLEISS_1971[:15])
    ours = fleiss_kappa(VoteTable.from_counts(counts)).value
    theirs = irr_raw.CAC(pd.DataFrame(_raw_from_counts(counts))).fleiss()["est"]["coefficient_value"]
    assert round(ours, 5) == pytest.approx(theirs, abs=1e-12)
    full = irr_raw.CAC(pd.DataFrame(_raw_from_counts(FLEISS_1971))).fleiss()["est"]["coefficient_value"]
    assert round(fleiss_kappa(VoteTable.from_counts(FLEISS_1971)).value, 5) == pytest.approx(full, abs=1e-12)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fleiss_with_missing_matches_irrcac(seed: int) -> None:
    irr_raw = pytest.importorskip("irrCAC.raw")
    pd = pytest.importorskip("pandas")
    d = _random_reliability(seed, raters=5, units=40, k=4, missing=0.3).T
    theirs = irr_raw.CAC(pd.DataFrame(d)).fleiss()["est"]["coefficient_value"]
    assert round(fleiss_kappa(VoteTable.from_matrix(d)).value, 5) == pytest.approx(theirs, abs=1e-12)


# --------------------------------------------------------------------------- Krippendorff
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
@pytest.mark.parametrize("seed", range(4))
def test_krippendorff_matches_package(level: str, seed: int) -> None:
    krippendorff = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(seed)
    d = _random_reliability(seed, raters=int(rng.integers(2, 9)), units=int(rng.integers(5, 200)), k=5, missing=0.35)
    expected = krippendorff.alpha(d, level_of_measurement=level)
    got = krippendorff_alpha(VoteTable.from_matrix(d, rows="annotators"), level)  # type: ignore[arg-type]
    assert got.value == pytest.approx(expected, abs=1e-9)
    assert round(got.value, 5) == round(expected, 5)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_krippendorff_matches_package_non_integer_values(level: str) -> None:
    krippendorff = pytest.importorskip("krippendorff")
    d = _random_reliability(7, raters=4, units=60, k=6, missing=0.2) * 0.7 - 3.1
    expected = krippendorff.alpha(d, level_of_measurement=level)
    assert krippendorff_alpha(VoteTable.from_matrix(d, rows="annotators"), level).value == pytest.approx(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_krippendorff_continuous_values_take_the_sparse_path(level: str, monkeypatch: pytest.MonkeyPatch) -> None:
    krippendorff = pytest.importorskip("krippendorff")
    monkeypatch.setattr("labelloop.quality.agreement._DENSE_FLOOR", 0)  # as for big tables
    rng = np.random.default_rng(11)
    truth = np.round(rng.normal(0, 1, 60), 1)
    d = truth[None, :] + np.round(rng.normal(0, 0.5, (4, 60)), 1)
    d[rng.random(d.shape) < 0.25] = np.nan
    t = VoteTable.from_matrix(d, rows="annotators")
    assert t.n_items * t.n_categories > 4 * t.n_votes  # many distinct values: sparse cells
    expected = krippendorff.alpha(d, level_of_measurement=level)
    assert krippendorff_alpha(t, level).value == pytest.approx(expected, abs=1e-9)  # type: ignore[arg-type]


def test_krippendorff_published_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the example with
    # missing data: 4 coders x 12 units; nominal alpha = 0.743, interval alpha = 0.849.
    nan = float("nan")
    d = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
    t = VoteTable.from_matrix(d, rows="annotators")
    assert round(krippendorff_alpha(t, "nominal").value, 3) == 0.743
    assert round(krippendorff_alpha(t, "interval").value, 3) == 0.849
    assert round(krippendorff_alpha(t, "ordinal").value, 3) == 0.815


# --------------------------------------------------------------------------- Cohen
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", range(3))
def test_cohen_matches_sklearn(weights: str | None, seed: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, 200)
    b = np.where(rng.random(200) < 0.6, a, rng.integers(0, 4, 200))
    expected = metrics.cohen_kappa_score(a, b, weights=weights)
    assert round(cohen_kappa(a, b, weights=weights).value, 5) == round(expected, 5)  # type: ignore[arg-type]


def test_cohen_string_labels_and_missing() -> None:
    a = ["y", "y", "n", None, "n", "y"]
    b = ["y", "n", "n", "y", "n", "y"]
    r = cohen_kappa(a, b)
    assert r.n_items == 5
    assert r.value == pytest.approx(cohen_kappa(["y", "y", "n", "n", "y"], ["y", "n", "n", "n", "y"]).value)


def test_pairwise_cohen_matches_two_rater_kappa() -> None:
    d = _random_reliability(3, raters=4, units=80, k=3, missing=0.25).T
    pw = pairwise_agreement(VoteTable.from_matrix(d))
    for i in range(4):
        for j in range(i + 1, 4):
            both = ~np.isnan(d[:, i]) & ~np.isnan(d[:, j])
            expected = cohen_kappa(d[both, i], d[both, j])
            assert pw.values[i, j] == pytest.approx(expected.value)
            assert pw.values[j, i] == pw.values[i, j]
            assert pw.n_shared[i, j] == both.sum()
    assert math.isnan(pw.values[0, 0])
    assert -1.0 <= pw.mean() <= 1.0


def test_pairwise_percent() -> None:
    t = VoteTable.from_records([(1, "a", 0), (1, "b", 0), (2, "a", 1), (2, "b", 0), (3, "c", 1)])
    pw = pairwise_agreement(t, metric="percent")
    assert pw.values[0, 1] == 0.5
    assert pw.n_shared[0, 2] == 0 and math.isnan(pw.values[0, 2])


def test_per_label_alpha_equals_binarised_alpha() -> None:
    d = _random_reliability(5, raters=3, units=50, k=3, missing=0.2).T
    t = VoteTable.from_matrix(d)
    per = per_label_agreement(t, method="alpha")
    for c in t.categories:
        binary = np.where(np.isnan(d), np.nan, (d == c).astype(float))
        assert per[c].value == pytest.approx(krippendorff_alpha(VoteTable.from_matrix(binary)).value)


# --------------------------------------------------------------------------- undefined cases
NAN_CASES = [
    ("empty", VoteTable.from_records([]), "no votes"),
    ("one annotator", VoteTable.from_records([(1, "a", "x"), (2, "a", "y")]), "only one annotator"),
    ("no overlap", VoteTable.from_records([(1, "a", "x"), (2, "b", "y")]), "two or more votes"),
    ("identical", VoteTable.from_matrix(np.ones((5, 3))), "no variation"),
]


@pytest.mark.parametrize(("name", "table", "reason"), NAN_CASES, ids=[c[0] for c in NAN_CASES])
@pytest.mark.parametrize("fn", [fleiss_kappa, krippendorff_alpha])
def test_undefined_agreement_is_nan_with_reason(name: str, table: VoteTable, reason: str, fn: object) -> None:
    r = fn(table)  # type: ignore[operator]
    assert math.isnan(r.value) and not r.is_defined
    assert r.reason is not None and reason in r.reason


def test_identical_labels_percent_agreement_is_one() -> None:
    assert percent_agreement(VoteTable.from_matrix(np.ones((5, 3)))).value == 1.0
    assert "no variation" in (cohen_kappa([1, 1, 1], [1, 1, 1]).reason or "")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: krippendorff_alpha(VoteTable.from_records([(1, "a", "x")]), "ratio"), "level"),  # type: ignore[arg-type]
        (lambda: krippendorff_alpha(VoteTable.from_records([(1, "a", "x"), (1, "b", "y")]), "interval"), "numeric"),
        (lambda: cohen_kappa([1, 2], [1]), "equal length"),
        (lambda: cohen_kappa([1, 2], [1, 3], categories=[1, 2]), "unknown labels 3"),
        (lambda: fleiss_kappa(np.zeros((3, 2))), "(n, 3) array"),
        (lambda: pairwise_agreement(VoteTable.from_records([]), metric="alpha"), "metric"),  # type: ignore[arg-type]
    ],
)
def test_bad_agreement_input_is_rejected(call: object, error: str) -> None:
    with pytest.raises(InputRejected, match=error.replace("(", r"\(").replace(")", r"\)")):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------------- properties
@st.composite
def reliability(draw: st.DrawFn) -> np.ndarray:
    items = draw(st.integers(2, 12))
    raters = draw(st.integers(2, 5))
    cells = draw(st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=items * raters, max_size=items * raters))
    return np.array([np.nan if c is None else c for c in cells], dtype=float).reshape(items, raters)


@settings(max_examples=60, deadline=None)
@given(d=reliability(), data=st.data())
def test_alpha_and_kappa_invariant_to_permutations(d: np.ndarray, data: st.DataObject) -> None:
    item_perm = data.draw(st.permutations(range(d.shape[0])))
    rater_perm = data.draw(st.permutations(range(d.shape[1])))
    shuffled = d[np.ix_(item_perm, rater_perm)]
    for level in ("nominal", "ordinal", "interval"):
        a = krippendorff_alpha(VoteTable.from_matrix(d), level).value  # type: ignore[arg-type]
        b = krippendorff_alpha(VoteTable.from_matrix(shuffled), level).value  # type: ignore[arg-type]
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)
        assert math.isnan(a) or a <= 1.0 + 1e-12
    f1, f2 = fleiss_kappa(VoteTable.from_matrix(d)).value, fleiss_kappa(VoteTable.from_matrix(shuffled)).value
    assert (math.isnan(f1) and math.isnan(f2)) or f1 == pytest.approx(f2)


@settings(max_examples=60, deadline=None)
@given(d=reliability())
def test_nominal_alpha_invariant_to_renaming_categories(d: np.ndarray) -> None:
    renamed = np.where(np.isnan(d), np.nan, 10.0 - 3.0 * d)  # a bijection that reverses the order
    a = krippendorff_alpha(VoteTable.from_matrix(d)).value
    b = krippendorff_alpha(VoteTable.from_matrix(renamed)).value
    assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)
    # ordinal alpha only depends on the order, so reversing it changes nothing either
    a = krippendorff_alpha(VoteTable.from_matrix(d), "ordinal").value
    b = krippendorff_alpha(VoteTable.from_matrix(renamed), "ordinal").value
    assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


@settings(max_examples=40, deadline=None)
@given(a=st.lists(st.integers(0, 3), min_size=1, max_size=30), data=st.data())
def test_cohen_is_symmetric_and_perfect_on_identical(a: list[int], data: st.DataObject) -> None:
    b = data.draw(st.lists(st.integers(0, 3), min_size=len(a), max_size=len(a)))
    x, y = cohen_kappa(a, b).value, cohen_kappa(b, a).value
    assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y)
    same = cohen_kappa(a, a)
    assert same.value == 1.0 or (len(set(a)) == 1 and math.isnan(same.value))
