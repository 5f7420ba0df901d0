"""Per-label-type skill and difficulty matching: outcomes, shrinkage, picking (pure functions)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelloop.assignment import (
    PRIOR_STRENGTH,
    Candidate,
    LabelEvidence,
    candidate_skills,
    label_counts,
    label_skill,
    outcomes,
    pick,
    pick_each,
    review_outcomes,
    skill,
    target_difficulty,
)


def cls(*labels: str, control: str = "c") -> dict[str, Any]:
    return {"id": "r", "control": control, "labels": list(labels)}


def box(label: str) -> dict[str, Any]:
    return {"id": label, "control": "b", "label": label, "xyxy": [0, 0, 1, 1]}


@pytest.mark.parametrize(
    ("value", "reference", "expected"),
    [
        ([cls("a")], [cls("a")], {("c", "a"): 1.0}),
        ([cls("a")], [cls("b")], {("c", "a"): 0.0, ("c", "b"): 0.0}),  # a wrong label and a miss
        ([cls("a", "b")], [cls("a")], {("c", "a"): 1.0, ("c", "b"): 0.0}),  # multi-label: b is extra
        ([], [cls("a")], {("c", "a"): 0.0}),
        ([], [], {}),
        ([box("car"), box("car")], [box("car")], {("b", "car"): 0.5}),  # two boxes where one belongs
        ([box("car"), box("bus")], [box("car"), box("car"), box("bus")], {("b", "car"): 0.5, ("b", "bus"): 1.0}),
        ([{"id": "t", "control": "note", "text": "free text"}], [], {}),  # free text is no label type
        ([cls("a", control="x")], [cls("a", control="y")], {("x", "a"): 0.0, ("y", "a"): 0.0}),
    ],
)
def test_outcomes_table(
    value: list[dict[str, Any]], reference: list[dict[str, Any]], expected: dict[Any, float]
) -> None:
    assert outcomes(value, reference) == expected


@pytest.mark.parametrize(
    ("verdict", "correction", "expected", "error"),
    [
        ("accept", None, {("c", "a"): 1.0, ("b", "car"): 1.0}, None),
        ("reject", None, {("c", "a"): 0.0, ("b", "car"): 0.0}, None),
        # kept a, changed the car box to a bus: car wrong, bus missed
        ("correct", [cls("a"), box("bus")], {("c", "a"): 1.0, ("b", "car"): 0.0, ("b", "bus"): 0.0}, None),
        ("correct", None, None, "needs the correction"),
        ("approve", None, None, "expected accept, reject or correct, got 'approve'"),
    ],
)
def test_review_outcomes_table(
    verdict: str, correction: list[dict[str, Any]] | None, expected: dict[Any, float] | None, error: str | None
) -> None:
    reviewed = [cls("a"), box("car")]
    if error is not None:
        with pytest.raises(ValueError, match=error):
            review_outcomes(reviewed, verdict, correction)
        return
    assert review_outcomes(reviewed, verdict, correction) == expected


def test_label_counts_ignore_junk_regions_and_repeated_labels() -> None:
    assert label_counts([{"control": "c", "labels": ["a", "a"]}, "junk", {"control": "l", "label": None}]) == {  # type: ignore[list-item]
        ("c", "a"): 1
    }


def test_label_skill_is_the_overall_skill_without_evidence_and_the_beta_posterior_with_it() -> None:
    assert label_skill(None, 0.62) == 0.62
    assert label_skill(LabelEvidence(0, 0.0), 0.62) == 0.62
    assert label_skill(LabelEvidence(6, 3.0), 0.75) == pytest.approx((3 + PRIOR_STRENGTH * 0.75) / (6 + PRIOR_STRENGTH))
    assert LabelEvidence(6, 3.0).accuracy == 0.5 and LabelEvidence(0, 0.0).accuracy is None


@given(
    seen=st.integers(0, 500),
    share=st.floats(0, 1),
    overall=st.floats(0, 1),
)
def test_label_skill_lies_between_the_overall_skill_and_the_labels_accuracy(
    seen: int, share: float, overall: float
) -> None:
    ev = LabelEvidence(seen, seen * share)
    s = label_skill(ev, overall)
    lo, hi = (min(overall, share), max(overall, share)) if seen else (overall, overall)
    assert lo - 1e-9 <= s <= hi + 1e-9
    more = label_skill(LabelEvidence(seen + 1, seen * share + 1), overall)  # one more right answer
    assert more >= s - 1e-9


candidates_st = st.lists(
    st.builds(
        Candidate,
        st.integers(1, 10**6),
        st.integers(1, 10**6),
        st.floats(0, 1),
        st.sampled_from([None, ("c", "a"), ("c", "b")]),
    ),
    min_size=1,
    max_size=12,
)


@given(candidates_st, st.floats(0, 1))
def test_pick_each_with_one_skill_is_pick(cands: list[Candidate], s: float) -> None:
    assert pick_each(cands, [s] * len(cands)) is pick(cands, s)


@given(candidates_st, st.data())
def test_pick_each_chooses_a_nearest_match_earliest_in_queue_order(cands: list[Candidate], data: st.DataObject) -> None:
    skills = data.draw(st.lists(st.floats(0, 1), min_size=len(cands), max_size=len(cands)))
    chosen = pick_each(cands, skills)
    dist = [abs(c.difficulty - target_difficulty(s)) for c, s in zip(cands, skills, strict=True)]
    i = next(k for k, c in enumerate(cands) if c is chosen)
    assert dist[i] <= min(dist) + 0.05 + 1e-12
    assert all(d > min(dist) + 0.05 for d in dist[:i])  # nothing earlier was as good


def test_pick_each_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one candidate"):
        pick_each([], [])
    with pytest.raises(ValueError, match="one skill per candidate"):
        pick_each([Candidate(1, 1, 0.5)], [0.5, 0.5])


def test_strong_on_a_weak_on_b_gets_hard_a_items_and_easy_b_items() -> None:
    a, b = ("c", "a"), ("c", "b")
    # queue order works against the expected choice each time
    queue = [Candidate(1, 1, 0.05, a), Candidate(2, 2, 0.9, b), Candidate(3, 3, 0.9, a), Candidate(4, 4, 0.05, b)]
    evidence = {a: LabelEvidence(20, 20.0), b: LabelEvidence(20, 4.0)}
    skills = candidate_skills(queue, skill(0, 0.0), evidence)
    assert skills[0] > 0.9 and skills[1] == 0.25 and skills[2:] == skills[:2]
    order = []
    left, ls = list(queue), list(skills)
    while left:
        c = pick_each(left, ls)
        order.append(c.item_id)
        i = left.index(c)
        del left[i], ls[i]
    assert order == [3, 4, 1, 2]  # hard a, easy b, then the rest
    # without evidence every label gets the overall skill: a newcomer gets the easy items first
    assert candidate_skills(queue, 0.5, {}) == [0.5] * 4
    assert pick_each(queue, [0.5] * 4).item_id == 1


def test_the_overall_skill_still_counts_where_a_label_has_little_evidence() -> None:
    a = ("c", "a")
    expert, novice = skill(40, 40.0), skill(0, 0.0)
    one_miss = {a: LabelEvidence(1, 0.0)}
    # one wrong answer barely dents a proven expert, and sinks a newcomer
    assert label_skill(one_miss[a], expert) > 0.75 > 0.5 > label_skill(one_miss[a], novice)
    assert math.isclose(
        candidate_skills([Candidate(1, 1, 0.5, a)], expert, one_miss)[0], label_skill(one_miss[a], expert)
    )


@pytest.mark.parametrize(
    "module",
    ["labelloop.assignment.evidence", "labelloop.assignment.policy", "labelloop.storage.skills_repo",
     "labelloop.services.tasks"],
)  # fmt: skip
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
