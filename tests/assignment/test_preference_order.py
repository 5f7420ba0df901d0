"""preference_order: the order repeated pick_each calls give when each pick is taken away."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelloop.assignment import Candidate, pick_each, preference_order


def _picks(cands: list[Candidate], skills: list[float]) -> list[Candidate]:
    left, left_skills, out = list(cands), list(skills), []
    while left:
        chosen = pick_each(left, left_skills)
        i = left.index(chosen)
        out.append(chosen)
        del left[i], left_skills[i]
    return out


# difficulties and skills drawn from a few values (ties and near-ties within the tolerance) and anywhere
_value = st.one_of(st.sampled_from([0.0, 0.1, 0.5, 0.52, 0.54, 0.9, 1.0]), st.floats(0.0, 1.0))


@given(st.lists(st.tuples(_value, _value), min_size=1, max_size=40))
def test_the_order_is_that_of_repeated_picks(pairs: list[tuple[float, float]]) -> None:
    cands = [Candidate(i, 100 + i, d) for i, (d, _s) in enumerate(pairs)]
    skills = [s for _d, s in pairs]
    assert preference_order(cands, skills) == _picks(cands, skills)


def test_equal_candidates_come_in_queue_order_and_a_skill_is_needed_for_each() -> None:
    cands = [Candidate(i, i, 0.5) for i in range(5)]
    assert [c.slot_id for c in preference_order(cands, [0.5] * 5)] == [0, 1, 2, 3, 4]
    assert preference_order([], []) == []
    with pytest.raises(ValueError, match="one skill per candidate"):
        preference_order(cands, [0.5])
