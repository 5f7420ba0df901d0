"""``accept_threshold`` arms of A/B experiments on a live, routed project (SQLite and PostgreSQL).

The project is image.classify on handwritten 0s and 1s (tests/services/live_world.py): people
audit 70% of it blind, so the next run certifies a threshold well below 0.99 (the scores of this
model stay below 0.9). Arms 0.5 and 0.99 then differ: arm a auto-accepts on the certified
threshold, arm b on its floor. Every routed item is checked against the rule — auto-accepted only
at or above the certified threshold *and* its arm's floor, never below either — and the readout
against the database.
"""

from __future__ import annotations

import json
import math
from typing import Any

from labelloop.core import Actor
from labelloop.services.calibrate import calibrated_scores, fit_calibration
from labelloop.services.experiment_readout import experiment_readout
from labelloop.services.experiments import create_experiment, stop_experiment
from labelloop.services.live_routing import RoutePolicy, RouteReport, route_project
from labelloop.storage import Store
from labelloop.storage.experiments_repo import ExperimentRepo
from tests.services.live_world import Digits, digits_project, in_tier, label, routes

TARGET, CONFIDENCE = 0.98, 0.95


def _certified(store: Store) -> Digits:
    w = digits_project(store)
    first = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.7))
    assert first.auto_new == 0 and not first.certificate["certified"]
    label(store, w.pid, in_tier(store, w.pid, "audit"), w.truth)
    return w


def _split(store: Store, eid: int) -> dict[int, str]:
    with store.read() as tx:
        return dict(ExperimentRepo(tx.conn).items_page(eid, 0, 100_000))


def _audits(store: Store, eid: int, arm: str) -> list[tuple[int, int]]:
    """The experiment's audited would-be-auto ``(item, suggestion)`` of one arm, as stored for the readout."""
    with store.read() as tx:
        return [(a.item_id, a.suggestion_id) for a in ExperimentRepo(tx.conn).audits(eid) if a.arm == arm]


def _auto_labelled(store: Store, ids: list[int]) -> set[int]:
    with store.read() as tx:
        _s, anns, revs = tx.labels.for_items(ids)
    rejected = {r.annotation_id for r in revs if r.verdict.value == "reject"}
    return {a.item_id for a in anns if Actor.is_machine(a.annotator) and a.id not in rejected}


def _check_every_item(store: Store, w: Digits, r: RouteReport, floors: dict[int, float | None]) -> None:
    """The rule over every routed item: auto only at or above both thresholds; passing items are auto unless audited.

    ``floors`` is each item's arm floor (items in no running threshold arm are absent).
    """
    certified = r.certificate["thresholds"]["*"]
    assert certified is not None and certified < 0.99
    all_routes = routes(store, w.pid)
    auto = {i for i, x in all_routes.items() if x.tier == "auto"}
    assert auto == _auto_labelled(store, sorted(all_routes))  # the tier and the live auto labels agree
    for i, x in all_routes.items():
        floor = floors.get(i)
        if x.tier == "auto":  # no calibration here: the calibrated score is the raw score
            assert x.score >= certified, (i, x.score, certified)
            assert floor is None or x.score >= floor, (i, x.score, floor)
        elif x.run_id == r.run_id and x.tier == "review":  # routed by this run, left to people: it did not pass
            assert x.score < certified or (floor is not None and x.score < floor), (i, x.score)


def test_threshold_arms_floor_the_certified_threshold_and_the_readout_shows_it(store: Store) -> None:
    w = _certified(store)
    e = create_experiment(store, "digits", "thr", {"accept_threshold": 0.5}, {"accept_threshold": "0.99"}, seed=4,
                          scope="unlabelled")  # fmt: skip
    assert e.arms == {"a": {"prefill": True, "accept_threshold": 0.5}, "b": {"prefill": True, "accept_threshold": 0.99}}
    split = _split(store, e.id)
    floors: dict[int, float | None] = {i: 0.5 if arm == "a" else 0.99 for i, arm in split.items()}
    r = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.1))
    cert = r.certificate
    assert cert["certified"] and cert["holds"]
    t = cert["thresholds"]["*"]
    assert 0.5 < t < 0.99
    _check_every_item(store, w, r, floors)
    (section,) = cert["experiments"]
    arms = section["arms"]
    tiers = {i: x.tier for i, x in routes(store, w.pid).items()}
    for arm in ("a", "b"):
        mine = [i for i, a in split.items() if a == arm]
        assert arms[arm]["routed"] == len(mine) and arms[arm]["auto"] == sum(tiers[i] == "auto" for i in mine)
    # arm b's floor (0.99) is above every score: it auto-accepts nothing; arm a does on the certified threshold
    assert arms["a"]["auto"] > 10 and arms["b"]["auto"] == 0
    assert arms["a"]["effective"] == {"*": t} and arms["b"]["effective"] == {"*": 0.99}
    assert section["same"] is False and section["note"] is None
    assert "experiment 'thr': arm a" in r.message and any("audited per arm" in c for c in cert["caveats"])
    # audits per arm and per stratum: each arm's would-be-auto and other items, at the rate, at least one
    scores = {i: x.score for i, x in routes(store, w.pid).items()}
    for arm in ("a", "b"):
        mine = [i for i, a in split.items() if a == arm]
        audited = [i for i in mine if tiers[i] == "audit"]
        passing = [i for i in mine if scores[i] >= max(t, floors[i] or 0.0)]
        others = [i for i in mine if i not in passing]
        n_pass = sum(i in passing for i in audited)
        assert n_pass == (math.ceil(0.1 * len(passing)) if passing else 0)
        assert len(audited) == n_pass and others  # routed before and still not passing: not routed anew
        stored = _audits(store, e.id, arm)
        assert sorted(i for i, _s in stored) == sorted(i for i in audited if i in passing)
        assert arms[arm]["audited_would_auto"] == len(stored) and arms[arm]["audit_new"] == len(audited)
    assert _audits(store, e.id, "a") and not _audits(store, e.id, "b")
    # the certificate carries counts and thresholds, never which items were audited
    assert all(isinstance(v, (int, float, dict, type(None))) for x in arms.values() for v in x.values())

    # people label the audits blind; the readout judges arm a's auto-accepted labels by them
    audits = [i for i in split if tiers[i] == "audit"]
    label(store, w.pid, audits, w.truth)
    out = experiment_readout(store, "digits", "thr")
    th = out.thresholds
    assert th is not None and th.floors == {"a": 0.5, "b": 0.99} and [x.run_id for x in th.runs] == [r.run_id]
    assert (th.share.a.k, th.share.a.n) == (arms["a"]["auto"], arms["a"]["routed"])
    assert (th.share.b.k, th.share.b.n) == (0, arms["b"]["routed"])
    assert th.share.diff < 0 and th.share.fisher_p < 0.05  # b auto-accepts significantly less
    with store.read() as tx:
        sugg, _a, _r = tx.labels.for_items([i for i, _s in _audits(store, e.id, "a")])
    by_id = {s.id: s for s in sugg}
    right = [by_id[s].value[0]["labels"] == [w.truth[i]] for i, s in _audits(store, e.id, "a")]
    assert (th.accuracy.a.k, th.accuracy.a.n) == (sum(right), len(right)) and th.accuracy.b.n == 0
    assert th.accuracy.a.ci[0] <= th.accuracy.a.value <= th.accuracy.a.ci[1] and th.pending == {"a": 0, "b": 0}
    assert th.notes == [] and th.runs[0].same is False
    doc = out.to_json()
    json.dumps(doc, allow_nan=False)
    auto_a, auto_b = doc["arms"]["a"]["auto_accept"], doc["arms"]["b"]["auto_accept"]
    assert auto_a["accept_threshold"] == 0.5 and auto_a["effective"] == {"*": t} and auto_b["effective"] == {"*": 0.99}
    assert auto_a["share"]["auto"] == arms["a"]["auto"] and auto_b["audited_accuracy"]["value"] is None
    assert doc["tests"]["auto_share"]["significant"] is True and doc["auto_accept"]["runs"][0]["run_id"] == r.run_id
    assert "accept threshold 0.99" in doc["arms"]["b"]["strategy"]

    # stopped: the floor no longer applies, and the readout keeps to the runs made while it ran
    stop_experiment(store, "digits", "thr")
    after = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.1))
    assert "experiments" not in after.certificate
    _check_every_item(store, w, after, {})
    assert after.auto_new > 0 and any(tiers[i] != "auto" and routes(store, w.pid)[i].tier == "auto"
                                      for i, a in split.items() if a == "b")  # fmt: skip
    again = experiment_readout(store, "digits", "thr").thresholds
    assert again is not None and [x.run_id for x in again.runs] == [r.run_id] and again.share.b.k == 0


def test_floors_below_the_certified_threshold_behave_the_same_and_the_readout_says_so(store: Store) -> None:
    w = _certified(store)
    e = create_experiment(store, "digits", "low", {"accept_threshold": 0.5}, {"accept_threshold": 0.6}, seed=9,
                          scope="unlabelled")  # fmt: skip
    split = _split(store, e.id)
    r = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.1))
    t = r.certificate["thresholds"]["*"]
    assert t > 0.6
    _check_every_item(store, w, r, {i: 0.5 if a == "a" else 0.6 for i, a in split.items()})
    (section,) = r.certificate["experiments"]
    assert section["same"] is True and "behaved the same" in section["note"]
    assert section["arms"]["a"]["effective"] == section["arms"]["b"]["effective"] == {"*": t}
    assert "the arms behaved the same" in r.message
    th = experiment_readout(store, "digits", "low").thresholds
    assert th is not None and th.runs[0].same
    assert "the arms behaved the same" in th.notes[0] and "at or above both arms' accept_threshold" in th.notes[1]
    # both arms audited their would-be-auto items, so both accuracies are measured once people label them
    assert all(section["arms"][a]["audited_would_auto"] == len(_audits(store, e.id, a)) > 0 for a in ("a", "b"))
    label(store, w.pid, [i for i, _s in _audits(store, e.id, "a")], w.truth)
    th = experiment_readout(store, "digits", "low").thresholds
    assert th is not None and th.accuracy.a.n > 0 and th.pending["a"] == 0
    assert th.pending["b"] == len(_audits(store, e.id, "b"))


def test_a_floor_reroutes_an_earlier_auto_label_of_its_arm(store: Store) -> None:
    """Scope ``all`` takes in items auto-accepted before: a floor above their score sends them back to people."""
    w = _certified(store)
    before = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.0))
    auto_before = in_tier(store, w.pid, "auto")
    assert before.auto_new == len(auto_before) > 10
    e = create_experiment(store, "digits", "all", {}, {"accept_threshold": 1.0}, seed=2)
    split = _split(store, e.id)
    r = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.0))
    back = [i for i in auto_before if split[i] == "b"]
    kept = [i for i in auto_before if split[i] == "a"]
    assert back and kept and r.rerouted == len(back) and r.auto_kept == len(kept)
    now_routes = routes(store, w.pid)
    assert all(now_routes[i].tier != "auto" for i in back) and all(now_routes[i].tier == "auto" for i in kept)
    floors: dict[int, Any] = {i: (None if a == "a" else 1.0) for i, a in split.items()}
    _check_every_item(store, w, r, floors)
    (section,) = r.certificate["experiments"]
    assert section["arms"]["a"]["accept_threshold"] is None and section["arms"]["b"]["effective"] == {"*": 1.0}


def test_with_a_calibration_the_floor_reads_the_calibrated_score(store: Store) -> None:
    """Isotonic calibration of this model maps the certified raw threshold to the top step (1.0): a floor of 0.9
    then adds nothing, and the run says the arms behaved the same; no auto label is below either threshold."""
    w = _certified(store)
    fit_calibration(store, "digits", "image.classify", method="isotonic")
    e = create_experiment(store, "digits", "cal", {}, {"accept_threshold": 0.9}, seed=4, scope="unlabelled")
    split = _split(store, e.id)
    r = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.1))
    t = r.certificate["thresholds"]["*"]
    (cal_t,) = calibrated_scores(store, "digits", "image.classify", [t]).tolist()
    (section,) = r.certificate["experiments"]
    assert section["certified"] == {"*": t} and section["certified_calibrated"] == {"*": cal_t} and cal_t >= 0.9
    assert section["arms"]["a"]["effective"] == section["arms"]["b"]["effective"] == {"*": cal_t}
    assert section["same"] is True and "calibrated score" in section["note"]
    all_routes = routes(store, w.pid)
    auto_b = [i for i, a in split.items() if a == "b" and all_routes[i].tier == "auto"]
    assert auto_b and r.certificate["calibration"] == "IsotonicCalibrator"
    raw = [all_routes[i].score for i in auto_b]
    assert min(raw) >= t and calibrated_scores(store, "digits", "image.classify", raw).min() >= 0.9


def test_runs_of_two_models_are_read_out_apart(store: Store) -> None:
    """Routing a second model version during the experiment: the headline is the latest run's, named; each apart."""
    from labelloop.services.preannotate import preannotate

    w = _certified(store)
    create_experiment(store, "digits", "two", {"accept_threshold": 0.5}, {"accept_threshold": 0.99}, seed=4,
                      scope="unlabelled")  # fmt: skip
    first = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.1))
    label(store, w.pid, in_tier(store, w.pid, "audit"), w.truth)  # more labels: the model refits to a new version
    newer = preannotate(store, "digits", "image.classify")
    assert newer.model_version != first.model_version
    second = route_project(store, "digits", "image.classify", model_version=newer.model_version,
                           policy=RoutePolicy(audit_rate=0.1))  # fmt: skip
    r = experiment_readout(store, "digits", "two")
    th = r.thresholds
    assert th is not None and [x.run_id for x in th.runs] == [first.run_id, second.run_id]
    models = [f"image.classify@{first.model_version}", f"image.classify@{newer.model_version}"]
    assert list(th.by_model) == models
    for (run_id, c), run in zip(th.by_model.values(), th.runs, strict=True):
        assert run_id == run.run_id and (c.a.k, c.a.n, c.b.k, c.b.n) == (
            run.auto["a"],
            run.routed["a"],
            run.auto["b"],
            run.routed["b"],
        )
    assert (th.share.a.k, th.share.a.n) == (th.runs[-1].auto["a"], th.runs[-1].routed["a"])  # the headline: latest
    assert any(f"latest run ({second.run_id}, {models[1]})" in n and models[0] in n for n in th.notes), th.notes
    wire = r.to_json()["auto_accept"]["by_model"]
    assert list(wire) == models and wire[models[0]]["run_id"] == first.run_id
    assert wire[models[1]]["a"]["auto"] == th.runs[-1].auto["a"]
