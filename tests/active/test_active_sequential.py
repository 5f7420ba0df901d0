from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labelloop.active.sequential as seq_mod
from labelloop.active import (
    first_look_minimum,
    second_look_errors,
    sequential_threshold,
    two_look_size,
)
from labelloop.errors import InputRejected

BOUND = 0.05 + 3 * np.sqrt(0.05 * 0.95 / 400)  # alpha plus three standard errors of a 400-run rate


def test_docstring_examples_run() -> None:
    result = doctest.testmod(seq_mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_two_look_size_matches_a_simulation_at_the_target() -> None:
    """The exact size of one threshold's combined test against 200,000 simulated audits at 98%."""
    rng = np.random.default_rng(0)
    wrong = rng.random((200_000, 290)) < 0.02
    e1 = wrong[:, :160].sum(axis=1)
    e2 = wrong.sum(axis=1)
    simulated = float(np.mean((e1 == 0) | (e2 <= 1)))
    assert two_look_size(160, 290, 1, 0.98, 160) == pytest.approx(simulated, abs=0.002)


def test_second_look_allowance_is_the_largest_within_alpha() -> None:
    assert first_look_minimum(0.98) == 160 and first_look_minimum(0.98, spend=1.0) == 149
    for m1, m2 in [(160, 200), (160, 290), (170, 320), (200, 500)]:
        c = second_look_errors(m1, m2, 0.98)
        assert two_look_size(m1, m2, c, 0.98, 160) <= 0.05 < two_look_size(m1, m2, c + 1, 0.98, 160)
    assert second_look_errors(160, 290, 0.98) == 1
    with pytest.raises(InputRejected):
        second_look_errors(10, 5, 0.98)
    with pytest.raises(InputRejected):
        first_look_minimum(0.98, spend=0.0)


def test_first_look_needs_a_clean_items_and_second_look_tolerates_an_error() -> None:
    s = np.linspace(1.0, 0.5, 300)
    order = np.random.default_rng(0).permutation(300)
    ok = np.ones(300, bool)
    assert sequential_threshold(s[order[:159]], ok[order[:159]], 159, 0.98).needed == 1
    clean = sequential_threshold(s[order[:170]], ok[order[:170]], 170, 0.98)
    assert clean.certified and clean.n == 170 and clean.threshold == s[order[:170]].min()
    ok[order[3]] = False
    first = sequential_threshold(s[order[:170]], ok[order[:170]], 170, 0.98)
    assert first.n < 170  # stops above the error (or certifies nothing)
    both = sequential_threshold(s[order], ok[order], 170, 0.98)
    assert both.certified and both.n == 300 and both.k == 299 and both.lower >= 0.98
    with pytest.raises(InputRejected):
        sequential_threshold([0.5, np.nan], [True, True], 1, 0.98)


def _two_look_claims(scores: np.ndarray, correct: np.ndarray, rng: np.random.Generator, always: bool) -> float | None:
    """The simulator's procedure: 170 audited in a random order, 150 more when the first look was not enough."""
    order = rng.permutation(scores.size)
    first = sequential_threshold(scores[order[:170]], correct[order[:170]], 170, 0.98)
    low = scores[order[:170]].min()
    if not always and first.certified and first.threshold is not None and first.threshold <= low:
        return first.threshold
    return sequential_threshold(scores[order[:320]], correct[order[:320]], 170, 0.98).threshold


@settings(max_examples=6, deadline=None)
@given(acc=st.floats(0.95, 0.979), n=st.integers(400, 1500), always=st.booleans(), seed=st.integers(0, 10_000))
def test_two_look_audit_no_false_certification_beyond_alpha(acc: float, n: int, always: bool, seed: int) -> None:
    """True accuracy below 98% at every threshold: across 400 audits, a claim is made in <= ~alpha of them,
    whether the second look is always taken or only after a first look that did not certify everything."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(400):
        scores = rng.random(n)
        correct = rng.random(n) < acc
        hits += _two_look_claims(scores, correct, rng, always) is not None
    assert hits / 400 <= BOUND


@settings(max_examples=4, deadline=None)
@given(n=st.integers(600, 1500), seed=st.integers(0, 10_000))
def test_two_look_clean_head_dirty_tail_is_false_at_most_alpha(n: int, seed: int) -> None:
    """99.9% right above score 0.6, 90% below: a threshold under ~0.505 is a false claim (<= ~alpha)."""
    rng = np.random.default_rng(seed)

    def true_accuracy_above(t: float) -> float:
        return 0.999 if t >= 0.6 else (0.4 * 0.999 + (0.6 - t) * 0.90) / (1.0 - t)

    false = 0
    for _ in range(400):
        scores = rng.random(n)
        correct = rng.random(n) < np.where(scores > 0.6, 0.999, 0.90)
        t = _two_look_claims(scores, correct, rng, always=False)
        false += t is not None and true_accuracy_above(t) < 0.98
    assert false / 400 <= BOUND
