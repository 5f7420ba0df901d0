from __future__ import annotations

import numpy as np
import pytest

from labelloop.errors import InputRejected
from labelloop.quality import VoteTable, as_table


def test_from_records_encodes_in_first_seen_order_and_sorted_categories() -> None:
    t = VoteTable.from_records([("q2", "bob", "dog"), ("q1", "ann", "cat"), ("q1", "bob", None)])
    assert t.item_names == ("q2", "q1")
    assert t.annotator_names == ("bob", "ann")
    assert t.categories == ("cat", "dog")
    assert t.n_votes == 2  # the None label is a missing vote
    assert t.counts().tolist() == [[0, 1], [1, 0]]
    assert t.decode(t.labels) == ["dog", "cat"]


def test_explicit_categories_fix_the_order() -> None:
    t = VoteTable.from_records([(1, "a", "hi"), (1, "b", "lo")], categories=["lo", "mid", "hi"])
    assert t.labels.tolist() == [2, 0]
    assert t.counts().tolist() == [[1, 0, 1]]


def test_from_matrix_both_layouts_agree() -> None:
    m = np.array([[1.0, 2.0, np.nan], [3.0, np.nan, 3.0]])
    a = VoteTable.from_matrix(m)
    b = VoteTable.from_matrix(m.T, rows="annotators")
    assert (a.n_items, a.n_annotators, a.n_votes) == (2, 3, 4)
    assert a.counts().tolist() == b.counts().tolist() == [[1, 1, 0], [0, 0, 2]]
    assert a.categories == (1, 2, 3)


def test_from_matrix_non_contiguous_and_float_values() -> None:
    m = np.array([[0.5, 0.25], [0.25, np.nan]])
    t = VoteTable.from_matrix(m)
    assert t.categories == (0.25, 0.5)
    assert t.category_values().tolist() == [0.25, 0.5]


def test_from_matrix_object_with_none() -> None:
    t = VoteTable.from_matrix(np.array([["a", None], ["b", "a"]], dtype=object))
    assert t.n_votes == 3 and t.categories == ("a", "b")


def test_from_counts_round_trips() -> None:
    c = np.array([[2, 0, 1], [0, 0, 3], [1, 1, 1]])
    t = VoteTable.from_counts(c, categories=["x", "y", "z"])
    assert t.counts().tolist() == c.tolist()
    assert t.votes_per_item().tolist() == [3, 3, 3]


def test_from_arrays_drops_nan_and_sorts_names() -> None:
    t = VoteTable.from_arrays(["b", "a", "a"], [1, 1, 2], [1.0, np.nan, 0.0])
    assert t.item_names == ("a", "b") and t.n_votes == 2


def test_as_table_accepts_long_arrays() -> None:
    t = as_table(np.array([[0, 0, 1], [0, 1, 0], [1, 0, 1]]))
    assert (t.n_items, t.n_annotators, t.n_categories) == (2, 2, 2)
    assert as_table(t) is t


def _names(items: int, annotators: int, categories: int) -> dict[str, range]:
    return {"item_names": range(items), "annotator_names": range(annotators), "categories": range(categories)}


BAD_TABLES = [
    ("mismatched lengths", lambda: VoteTable([0, 1], [0], [0, 1], **_names(2, 1, 2)), "equal length"),
    ("item code out of range", lambda: VoteTable([0, 5], [0, 0], [0, 0], **_names(1, 1, 1)), "codes in"),
    ("label code out of range", lambda: VoteTable([0], [0], [3], **_names(1, 1, 2)), "label column"),
    ("duplicate vote", lambda: VoteTable.from_records([(1, "a", "x"), (1, "a", "y")]), "one vote per"),
    (
        "unknown class",
        lambda: VoteTable.from_records([(1, "a", "x"), (2, "a", "w")], categories=["x", "y"]),
        "unknown labels 'w'",
    ),
    (
        "repeated categories",
        lambda: VoteTable.from_records([(1, "a", "x")], categories=["x", "x"]),
        "distinct category",
    ),
    ("not a triple", lambda: VoteTable.from_records([(1, "a")]), "vote row 0"),
    ("mixed label types", lambda: VoteTable.from_records([(1, "a", "x"), (2, "a", 3)]), "comparable type"),
    ("arrays of unequal length", lambda: VoteTable.from_arrays([1, 2], [1], [0, 1]), "equal length"),
    ("3-D matrix", lambda: VoteTable.from_matrix(np.zeros((2, 2, 2))), "2-D matrix"),
    ("bad rows", lambda: VoteTable.from_matrix(np.zeros((2, 2)), rows="cols"), "'items' or 'annotators'"),  # type: ignore[arg-type]
    ("negative counts", lambda: VoteTable.from_counts([[1, -1]]), "non-negative"),
    ("fractional counts", lambda: VoteTable.from_counts([[1.5, 1]]), "integer counts"),
    ("wrong category count", lambda: VoteTable.from_counts([[1, 1]], categories=["a"]), "2 names"),
    ("wide array", lambda: as_table(np.zeros((3, 4))), "(n, 3)"),
]


@pytest.mark.parametrize(("name", "build", "message"), BAD_TABLES, ids=[c[0] for c in BAD_TABLES])
def test_malformed_tables_are_rejected(name: str, build: object, message: str) -> None:
    with pytest.raises(InputRejected) as info:
        build()  # type: ignore[operator]
    assert message in str(info.value)
    assert info.value.code == "LL-INPUT"
