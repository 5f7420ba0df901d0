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
from labelloop.services.simulate import (
    COST_PROFILES,
    CostModel,
    SimConfig,
    _check_labels,
    _Crowd,
    load_dataset,
    simulate,
)


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


def test_phases_add_up_to_the_human_time() -> None:
    r = simulate("digits", "active", config=SimConfig(budget=60, audit_size=150), n_items=600, seed=2)
    phases = r.phase_fractions()
    assert {"seed", "active", "audit", "review"} <= set(phases)
    assert sum(phases.values()) == pytest.approx(r.time_fraction, abs=1e-9)
    assert sum(r.phase_seconds.values()) == pytest.approx(r.human_seconds)


def test_label_check_catches_a_wrong_training_label_and_spares_the_right_ones() -> None:
    """One wrong label in a clean cluster: the cross-fitted model doubts it; a second person fixes it."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 0.3, (60, 2)), rng.normal(4, 0.3, (60, 2)), rng.normal((0, 4), 0.3, (60, 2))]
    truth = np.repeat([0, 1, 2], 60)
    labelled = np.r_[np.arange(0, 60, 6), np.arange(60, 120, 6), np.arange(120, 180, 6)]
    final = np.full(180, -1)
    final[labelled] = truth[labelled]
    final[66] = 2  # a person mislabelled one item of the second cluster
    crowd = _Crowd(truth, CostModel(human_accuracy=1.0), seed=0)
    _check_labels(x, crowd, final, labelled, SimConfig(), seed=0)
    assert np.array_equal(final[labelled], truth[labelled])
    assert crowd.actions["label"] == 1 and crowd.actions["adjudicate"] == 1  # only the doubtful label
    assert crowd.by_phase["check"] == pytest.approx(4.0 + 5.0)


@pytest.mark.parametrize("audit_more", [0, 150])
def test_no_auto_accept_beyond_alpha_when_no_model_can_reach_the_target(audit_more: int) -> None:
    """Gold labels flipped at random on 2.1% of the items (independent of the features), so every
    auto-accepted set is ~97.9% right, below the 98% target: across 200 seeded runs of the whole
    active strategy (loop, label check, audit, routing, re-audit) something is auto-accepted in at
    most ~alpha of them."""
    rng = np.random.default_rng(0)
    n = 700
    x = np.r_[rng.normal(0, 1, (n // 2, 4)), rng.normal(6, 1, (n // 2, 4))]
    clean = np.repeat([0, 1], n // 2)
    cfg = SimConfig(model="logreg", budget=40, initial=10, batch=10, audit_more=audit_more)
    hits = 0
    for s in range(200):
        y = np.where(np.random.default_rng(1000 + s).random(n) < 0.021, 1 - clean, clean)
        hits += simulate(strategy="active", config=cfg, seed=s, data=(x, y)).auto_accepted > 0
    assert hits / 200 <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200)
