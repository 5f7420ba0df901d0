from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.errors import InputRejected
from labelloop.quality import (
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    VoteTable,
    aggregate_spans,
    box_consensus,
    simulate_crowd,
)

N_DIGITS = 1797  # scikit-learn's digits: 1797 items, 10 classes
ESTIMATORS = [MajorityVote, DawidSkene, OneCoinDawidSkene]


def _truth(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 10, N_DIGITS)


def honest_crowd(seed: int) -> tuple[VoteTable, np.ndarray]:
    y = _truth(seed)
    return simulate_crowd(y, np.linspace(0.55, 0.95, 5), n_classes=10, seed=seed), y


def spammer_crowd(seed: int, n_annotators: int = 20) -> tuple[VoteTable, np.ndarray]:
    y = _truth(seed)
    acc = np.random.default_rng(100 + seed).uniform(0.55, 0.95, n_annotators)
    acc[: n_annotators // 5] = 0.1  # 20% spammers answer uniformly at random
    return simulate_crowd(y, acc, n_classes=10, overlap=3, seed=seed), y


# --------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_honest_crowd(seed: int) -> None:
    t, y = honest_crowd(seed)
    mv = (MajorityVote("first").fit_predict(t) == y).mean()  # plain majority vote, ties to the first label
    assert (MajorityVote().fit_predict(t) == y).mean() >= mv  # ties broken by the voters' skill do better
    ds = (DawidSkene().fit_predict(t) == y).mean()
    oc = (OneCoinDawidSkene().fit_predict(t) == y).mean()
    assert mv >= 0.96
    assert oc >= 0.98 and oc >= mv
    assert ds >= mv


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spammer_crowd_ds_beats_majority(seed: int) -> None:
    t, y = spammer_crowd(seed)
    mv = (MajorityVote("first").fit_predict(t) == y).mean()
    mv_skill = (MajorityVote().fit_predict(t) == y).mean()
    assert mv_skill >= mv + 0.02  # a third of the items are three-way ties: skill breaks them better
    ds = (DawidSkene().fit_predict(t) == y).mean()
    oc = OneCoinDawidSkene().fit(t)
    acc_oc = (oc.labels_ == y).mean()
    assert 0.70 <= mv <= 0.86
    assert ds >= mv + 0.02
    assert acc_oc >= mv + 0.05 and acc_oc >= 0.84
    spammers = np.arange(4)
    assert oc.skills_[spammers].max() < oc.skills_[4:].min()  # EM finds the spammers
    assert oc.converged_ and oc.n_iter_ < 100


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("setup", [honest_crowd, spammer_crowd])
def test_matches_crowd_kit(setup: object) -> None:
    aggregation = pytest.importorskip("crowdkit.aggregation")
    pd = pytest.importorskip("pandas")
    t, y = setup(0)  # type: ignore[operator]
    df = pd.DataFrame({"task": t.items, "worker": t.annotators, "label": t.labels})
    for ours, theirs in [
        (MajorityVote(), aggregation.MajorityVote()),
        (OneCoinDawidSkene(), aggregation.OneCoinDawidSkene(n_iter=100)),
        (DawidSkene(), aggregation.DawidSkene(n_iter=100)),
    ]:
        acc_ours = (ours.fit_predict(t) == y).mean()
        acc_theirs = (theirs.fit_predict(df).sort_index().to_numpy() == y).mean()
        assert acc_ours >= acc_theirs - 0.005, type(ours).__name__


def test_dawid_skene_recovers_confusions() -> None:
    t, _ = honest_crowd(0)
    ds = DawidSkene().fit(t)
    assert ds.errors_.shape == (5, 10, 10)
    np.testing.assert_allclose(ds.errors_.sum(axis=2), 1.0)
    np.testing.assert_allclose(ds.skills_, np.linspace(0.55, 0.95, 5), atol=0.04)
    np.testing.assert_allclose(ds.priors_.sum(), 1.0)


def test_predict_on_new_table_reuses_learned_skills() -> None:
    t, _ = spammer_crowd(1)
    est = OneCoinDawidSkene().fit(t)
    half = t.items < N_DIGITS // 2
    sub = VoteTable(
        t.items[half],
        t.annotators[half],
        t.labels[half],
        item_names=range(N_DIGITS // 2),
        annotator_names=t.annotator_names,
        categories=t.categories,
    )
    np.testing.assert_array_equal(est.predict(sub), est.labels_[: N_DIGITS // 2])
    unknown = VoteTable.from_records([(0, "stranger", 3), (0, 5, 3), (0, 0, 1)])
    probas = est.predict_proba(unknown)
    assert probas.shape == (1, 10) and probas.argmax() == 3


def test_predict_rejects_unknown_category() -> None:
    est = DawidSkene().fit(VoteTable.from_records([(1, "a", "x"), (1, "b", "y")]))
    with pytest.raises(InputRejected, match="fitted categories"):
        est.predict(VoteTable.from_records([(1, "a", "z")]))


# --------------------------------------------------------------------------- edge cases
def test_majority_vote_ties_are_deterministic() -> None:
    t = VoteTable.from_records([(1, "a", "y"), (1, "b", "x"), (2, "a", "x"), (2, "b", "y")])
    mv = MajorityVote().fit(t)
    assert t.decode(mv.labels_) == ["x", "x"]  # the first category wins a tie
    np.testing.assert_allclose(mv.probas_, 0.5)
    r1, r2 = (
        MajorityVote("random", random_state=3).fit_predict(t),
        MajorityVote("random", random_state=3).fit_predict(t),
    )
    np.testing.assert_array_equal(r1, r2)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_single_annotator_and_single_class(cls: type) -> None:
    t = VoteTable.from_records([(1, "a", "x"), (2, "a", "y"), (3, "a", "x")])
    assert t.decode(cls().fit_predict(t)) == ["x", "y", "x"]
    one = VoteTable.from_records([(1, "a", "x"), (2, "b", "x")])
    est = cls().fit(one)
    assert est.labels_.tolist() == [0, 0]
    np.testing.assert_allclose(est.probas_, 1.0)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_empty_table_is_rejected(cls: type) -> None:
    with pytest.raises(InputRejected, match="empty vote table"):
        cls().fit(VoteTable.from_records([]))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_unfitted_predict_is_rejected(cls: type) -> None:
    with pytest.raises(InputRejected, match="call fit first"):
        cls().predict()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DawidSkene(max_iter=0), "max_iter >= 1"),
        (lambda: OneCoinDawidSkene(tol=-1), "tol >= 0"),
        (lambda: MajorityVote(tie_break="last"), "'first' or 'random'"),  # type: ignore[arg-type]
    ],
)
def test_bad_hyper_parameters(build: object, message: str) -> None:
    with pytest.raises(InputRejected, match=message):
        build()  # type: ignore[operator]


# --------------------------------------------------------------------------- properties
@st.composite
def vote_tables(draw: st.DrawFn) -> VoteTable:
    n_items, n_ann, k = draw(st.integers(1, 8)), draw(st.integers(1, 5)), draw(st.integers(2, 4))
    cells = draw(
        st.lists(st.one_of(st.none(), st.integers(0, k - 1)), min_size=n_items * n_ann, max_size=n_items * n_ann)
    )
    rows = [
        (i, a, cells[i * n_ann + a]) for i in range(n_items) for a in range(n_ann) if cells[i * n_ann + a] is not None
    ]
    if not rows:
        rows = [(0, 0, 0)]
    items, anns, labels = (np.array(c) for c in zip(*rows, strict=True))
    return VoteTable(items, anns, labels, item_names=range(n_items), annotator_names=range(n_ann), categories=range(k))


def _permuted(t: VoteTable, item_perm: np.ndarray, ann_perm: np.ndarray, row_perm: np.ndarray) -> VoteTable:
    return VoteTable(
        item_perm[t.items][row_perm],
        ann_perm[t.annotators][row_perm],
        t.labels[row_perm],
        item_names=range(t.n_items),
        annotator_names=range(t.n_annotators),
        categories=t.categories,
    )


@settings(max_examples=40, deadline=None)
@given(t=vote_tables(), data=st.data())
def test_results_do_not_depend_on_ids_or_row_order(t: VoteTable, data: st.DataObject) -> None:
    item_perm = np.array(data.draw(st.permutations(range(t.n_items))))
    ann_perm = np.array(data.draw(st.permutations(range(t.n_annotators))))
    row_perm = np.array(data.draw(st.permutations(range(t.n_votes))))
    shuffled = _permuted(t, item_perm, ann_perm, row_perm)
    for cls in ESTIMATORS:
        a, b = cls().fit(t), cls().fit(shuffled)
        np.testing.assert_allclose(a.probas_, b.probas_[item_perm], atol=1e-8)
        np.testing.assert_allclose(a.skills_, b.skills_[ann_perm], atol=1e-8, equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(t=vote_tables())
def test_probabilities_are_distributions(t: VoteTable) -> None:
    for cls in ESTIMATORS:
        p = cls().fit_predict_proba(t)
        assert p.shape == (t.n_items, t.n_categories)
        assert np.all(p >= 0) and np.all(np.isfinite(p))
        np.testing.assert_allclose(p.sum(axis=1), 1.0)


@settings(max_examples=40, deadline=None)
@given(n_items=st.integers(1, 10), n_ann=st.integers(1, 4), data=st.data())
def test_unanimous_votes_win(n_items: int, n_ann: int, data: st.DataObject) -> None:
    truth = data.draw(st.lists(st.integers(0, 2), min_size=n_items, max_size=n_items))
    rows = [(i, a, truth[i]) for i in range(n_items) for a in range(n_ann)]
    t = VoteTable.from_records(rows, categories=[0, 1, 2])
    assert MajorityVote().fit_predict(t).tolist() == truth
    for cls in (DawidSkene, OneCoinDawidSkene):
        assert cls().fit_predict(t).tolist() == truth


# --------------------------------------------------------------------------- geometry consensus
def test_box_consensus_clusters_with_quorum() -> None:
    boxes = [[0, 0, 10, 10], [1, 0, 11, 10], [0, 1, 10, 11], [100, 100, 110, 110], [0, 0, 10, 10]]
    anns = ["a", "b", "c", "a", "a"]
    c = box_consensus(boxes, anns, labels=["car", "car", "bus", "car", "car"], quorum=2)
    assert c.support.tolist() == [3]
    assert c.labels == ["car"]
    np.testing.assert_allclose(c.boxes[0], [0, 0, 10, 10])
    assert sorted(c.members[0].tolist()) in ([0, 1, 2], [1, 2, 4])  # one box per annotator
    assert box_consensus(boxes, anns, quorum=4).boxes.shape == (0, 4)


def test_box_consensus_is_order_invariant() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 200, (6, 2))
    boxes, anns = [], []
    for a in range(4):
        for x, y in base:
            j = rng.normal(0, 2, 4)
            boxes.append([x + j[0], y + j[1], x + 30 + j[2], y + 30 + j[3]])
            anns.append(a)
    c1 = box_consensus(boxes, anns, quorum=3)
    perm = rng.permutation(len(boxes))
    c2 = box_consensus(np.array(boxes)[perm], [anns[i] for i in perm], quorum=3)
    key = lambda c: sorted(map(tuple, np.round(c.boxes, 6)))  # noqa: E731
    assert key(c1) == key(c2)
    assert len(c1.boxes) == 6


def test_box_consensus_rejects_bad_input() -> None:
    with pytest.raises(InputRejected, match="one annotator"):
        box_consensus([[0, 0, 1, 1]], ["a", "b"])
    with pytest.raises(InputRejected, match="quorum"):
        box_consensus([[0, 0, 1, 1]], ["a"], quorum=0)


def test_aggregate_spans_by_character_voting() -> None:
    spans = [
        ("a", 0, 5, "PER"),
        ("b", 0, 4, "PER"),
        ("c", 1, 5, "PER"),
        ("a", 10, 14, "LOC"),
        ("b", 10, 14, "ORG"),
        ("a", 2, 3, "PER"),  # overlapping own span: still one vote
    ]
    assert aggregate_spans(spans) == [(0, 5, "PER")]
    assert aggregate_spans(spans, n_annotators=5) == [(1, 4, "PER")]  # quorum 3
    assert aggregate_spans(spans, quorum=1) == [(0, 5, "PER"), (10, 14, "LOC")]
    assert aggregate_spans([]) == []
    with pytest.raises(InputRejected, match="start < end"):
        aggregate_spans([("a", 3, 3, "X")])
