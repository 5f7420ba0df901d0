from __future__ import annotations

import doctest

import numpy as np
import pytest

import labelloop.services.routing as routing_mod
import labelloop.services.sim_learners as learners_mod
import labelloop.services.simulate as simulate_mod
from labelloop.cli.main import main
from labelloop.errors import InputRejected
from labelloop.services.sim_learners import fit_learner, routing_score
from labelloop.services.simulate import COST_PROFILES, SimConfig, load_dataset, simulate


def test_docstring_examples_run() -> None:
    for m in (routing_mod, simulate_mod, learners_mod):
        assert doctest.testmod(m, optionflags=doctest.ELLIPSIS).failed == 0


def test_active_loop_on_a_digits_subset() -> None:
    cfg = SimConfig(budget=80, initial=20, batch=20, audit_size=150, candidate_share=0.9)
    r = simulate("digits", "active", config=cfg, n_items=500, seed=1)
    assert r.rounds >= 1 and 0 < r.time_fraction < 1.0 and r.trained_on == 80
    assert r.accuracy > 0.95 and r.certificate is not None
    assert sum(r.certificate.tiers.values()) == 500 - 80
    assert r.certificate.tiers["auto"] == r.auto_accepted


def test_full_digits_run_auto_accepts_most_items_within_the_bound() -> None:
    """The default routing on all 1,797 digits: a large certified tier whose real accuracy meets the target."""
    r = simulate("digits", "active", seed=0)
    assert r.certified and r.certificate is not None and r.certificate.holds
    assert r.auto_share > 0.5 and r.auto_accuracy is not None and r.auto_accuracy >= 0.98 and r.bound_held
    assert r.accuracy >= 0.98 and r.time_fraction < 0.35
    assert r.time_under(COST_PROFILES["fast-review"]) < r.time_fraction


def test_label_spreading_ranks_better_than_the_old_logistic_regression() -> None:
    """The routing model: at 100 random labels, the share of the pool that is >= 99.5% accurate by score rank."""
    x, y = load_dataset("digits")
    lab = np.random.default_rng(0).choice(y.size, 100, replace=False)
    pool = np.setdiff1d(np.arange(y.size), lab)
    shares = {}
    for kind in ("spreading", "logreg"):
        fit = fit_learner(kind, x, lab, y[lab])
        ok = fit.predicted()[pool] == y[pool]
        order = np.argsort(-routing_score(fit.proba[pool]), kind="stable")
        cum = np.cumsum(ok[order]) / np.arange(1, pool.size + 1)
        shares[kind] = (np.flatnonzero(cum >= 0.995).max() + 1) / pool.size
    assert shares["spreading"] > shares["logreg"] + 0.1


def test_bad_knobs_and_data_are_rejected_by_name() -> None:
    with pytest.raises(InputRejected, match="model"):
        simulate("digits", "active", config=SimConfig(model="cnn"))
    with pytest.raises(InputRejected, match="candidate_share"):
        simulate("digits", "tiered", config=SimConfig(candidate_share=0.0))
    with pytest.raises(InputRejected, match="data"):
        simulate(strategy="manual", data=(np.zeros((3, 2)), np.array([0.5, 1.0, 0.0])))
    with pytest.raises(InputRejected, match="learner"):
        fit_learner("svm", np.zeros((4, 2)), np.array([0, 1]), np.array([0, 1]))


def test_other_labelled_data_runs_through_the_same_strategies() -> None:
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, (300, 5)), rng.normal(4, 1, (300, 5))]
    y = np.r_[np.zeros(300, int), np.ones(300, int)]
    cfg = SimConfig(model="logreg", budget=40, audit_size=200, candidate_share=0.9)
    r = simulate(strategy="active", config=cfg, seed=0, data=(x, y))
    assert r.n_items == 600 and r.certified and r.auto_accuracy is not None and r.auto_accuracy >= 0.98


def test_cli_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--strategy", "manual"]) == 0
    assert "human time 1.000" in capsys.readouterr().out
