"""A/B experiments in the simulator: random halves, per-item outcomes, the readout, bad arms."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from labelloop.cli.main import app
from labelloop.errors import InputRejected
from labelloop.services.sim_ab import parse_arm, simulate_ab
from labelloop.services.simulate import simulate


def test_per_item_seconds_and_correctness_add_up_to_the_totals() -> None:
    for strategy in ("manual", "review", "active"):
        r = simulate("digits", strategy, n_items=300, seed=1)
        assert r.item_seconds.size == r.item_correct.size == 300
        assert r.item_seconds.sum() == pytest.approx(r.human_seconds)
        assert r.item_correct.mean() == pytest.approx(r.accuracy)


def test_pre_annotation_on_vs_off_is_faster_and_the_readout_says_so() -> None:
    r = simulate_ab("digits", parse_arm("strategy=review"), parse_arm("strategy=manual"), n_items=600, seed=3)
    ro = r.readout
    assert r.a.n_items + r.b.n_items == 600 and abs(r.a.n_items - r.b.n_items) <= 1
    assert ro.a.mean_seconds < ro.b.mean_seconds == pytest.approx(4.0)  # manual: 4 s per item, every item
    assert ro.time_diff > 0 and ro.time_p < 1e-6
    assert 0.9 < ro.a.accuracy <= 1.0 and ro.a.accuracy_ci[0] <= ro.a.accuracy <= ro.a.accuracy_ci[1] + 1e-9
    assert ro.a.agreement is not None and ro.a.agreement_ci is not None


def test_the_split_is_seeded_and_both_arms_the_same_gives_no_difference() -> None:
    arm = parse_arm("strategy=manual")
    one = simulate_ab("digits", arm, arm, n_items=300, seed=5)
    two = simulate_ab("digits", arm, arm, n_items=300, seed=5)
    assert np.array_equal(one.a.item_correct, two.a.item_correct)
    assert one.readout.time_diff == 0.0 and one.readout.time_p == 1.0


@pytest.mark.parametrize(
    ("spec", "what"),
    [("strategy=psychic", "strategy"), ("color=red", "key"), ("target", "key=value"), ("target=high", "target"),
     ("target=1.5", "target")],
)  # fmt: skip
def test_bad_arms_are_refused_naming_the_input(spec: str, what: str) -> None:
    with pytest.raises(InputRejected) as e:
        parse_arm(spec)
    assert what in str(e.value)


def test_the_cli_prints_the_readout() -> None:
    r = CliRunner().invoke(app, ["simulate", "--arm-a", "strategy=review", "--arm-b", "strategy=manual", "--seed", "2"])
    assert r.exit_code == 0, r.output
    assert "B - A: accuracy" in r.output and "Welch p=" in r.output
    r = CliRunner().invoke(app, ["simulate", "--arm-a", "strategy=review"])
    assert r.exit_code != 0
