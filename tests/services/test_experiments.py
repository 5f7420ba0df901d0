"""A/B experiments on a live project, on SQLite and PostgreSQL: the split, the task payload per arm,
the readout on simulated people, too few items, and bad input that writes nothing."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from labelloop.active import split_arms
from labelloop.core import LabelSchema, MediaRef, NewItem, NewSuggestion, content_hash
from labelloop.core.accounts import Role, User
from labelloop.errors import Conflict, InputRejected, NotFound
from labelloop.services.accounts import add_member, create_user
from labelloop.services.experiment_readout import experiment_readout
from labelloop.services.experiments import create_experiment, get_experiment, list_experiments, stop_experiment
from labelloop.services.live_routing import RoutePolicy, route_project
from labelloop.services.qc import set_gold
from labelloop.services.tasks import next_review, next_task, review, set_settings, submit
from labelloop.storage import Store, now
from labelloop.storage import tables_experiments as te
from labelloop.storage.experiments_repo import AuditRow, ExperimentRepo
from labelloop.storage.routing_repo import ItemRoute, RoutingRepo
from tests.helpers import TEXT_SCHEMA

LABELS = ("pos", "neg", "neu")


def value(label: str) -> list[dict[str, Any]]:
    return [{"id": "r", "control": "sentiment", "labels": [label]}]


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _project(store: Store, name: str, n: int, *, backends: tuple[str, ...] = ("m",)) -> tuple[int, list[int]]:
    """A text project of ``n`` items; each backend suggests ``pos`` on every item."""
    with store.transaction() as tx:
        pid = tx.projects.create(name, LabelSchema.model_validate(TEXT_SCHEMA), "user:test").id
        refs = [MediaRef.from_text(f"{name} item {i}") for i in range(n)]
        got = tx.items.add_many(pid, [NewItem({"text": r}, content_hash({"text": r.sha256})) for r in refs],
                                created_by="user:t")  # fmt: skip
        ids = [i for i in got if i is not None]
        for b in backends:
            tx.labels.add_suggestions(pid, [NewSuggestion(i, value("pos"), b, "1", 0.8) for i in ids])
    return pid, ids


def _split(store: Store, eid: int) -> dict[int, str]:
    with store.read() as tx:
        return dict(ExperimentRepo(tx.conn).items_page(eid, 0, 10_000))


def _rows(store: Store) -> tuple[int, int]:
    with store.read() as tx:
        e = tx.conn.execute(select(func.count()).select_from(te.experiments)).scalar_one()
        x = tx.conn.execute(select(func.count()).select_from(te.experiment_items)).scalar_one()
    return int(e), int(x)


def _user(store: Store, pid: int, name: str, role: Role = Role.ANNOTATOR) -> User:
    u = create_user(store, name, "long enough password")
    add_member(store, pid, name, role)
    return u


# --------------------------------------------------------------------------- the split
def test_split_is_seeded_random_half_and_half_and_stored(store: Store) -> None:
    pid, ids = _project(store, "p", 40)
    e = create_experiment(store, "p", "e1", {"prefill": "on"}, {"prefill": "off"}, seed=7)
    assert e.items == {"a": 20, "b": 20} and e.seed == 7 and e.status == "running"
    split = _split(store, e.id)
    expected = split_arms(len(ids), 7)
    assert [split[i] for i in sorted(ids)] == ["b" if f else "a" for f in expected.tolist()]
    # random: neither the first nor the second half, and another seed splits otherwise
    b_items = sorted(i for i, arm in split.items() if arm == "b")
    assert b_items not in (sorted(ids)[:20], sorted(ids)[20:])
    assert expected.tolist() != split_arms(len(ids), 8).tolist()
    # stable: items added later change nothing, and reading again gives the same split
    with store.transaction() as tx:
        ref = MediaRef.from_text("a later item")
        tx.items.add_many(pid, [NewItem({"text": ref}, content_hash({"text": ref.sha256}))], created_by="user:t")
    assert _split(store, e.id) == split
    assert get_experiment(store, "p", "e1").items == {"a": 20, "b": 20}
    # the same seed on the same number of items splits the same way in another project
    _p2, ids2 = _project(store, "q", 40)
    e2 = create_experiment(store, "q", "e1", {"prefill": "on"}, {"prefill": "off"}, seed=7)
    split2 = _split(store, e2.id)
    assert [split2[i] for i in sorted(ids2)] == [split[i] for i in sorted(ids)]
    # no seed given: a random one is drawn and stored, and it reproduces the split
    _p3, ids3 = _project(store, "r", 30)
    e3 = create_experiment(store, "r", "e1", {"prefill": "on"}, {"prefill": "off"})
    split3 = _split(store, e3.id)
    assert [split3[i] for i in sorted(ids3)] == ["b" if f else "a" for f in split_arms(30, e3.seed).tolist()]


def test_unlabelled_scope_leaves_labelled_items_out(store: Store) -> None:
    pid, _ids = _project(store, "p", 10)
    ann = _user(store, pid, "ann")
    task = next_task(store, pid, ann, "annotator")
    assert task is not None
    submit(store, pid, task["item"]["id"], ann, "annotator", value("neg"), base_version=None, idempotency_key="k")
    e = create_experiment(store, "p", "e", {"prefill": "on"}, {"prefill": "off"}, seed=1, scope="unlabelled")
    assert sum(e.items.values()) == 9 and task["item"]["id"] not in _split(store, e.id)


# --------------------------------------------------------------------------- the task payload
def _take_all(store: Store, pid: int, user: User, limit: int = 1000) -> list[dict[str, Any]]:
    """``next`` until the queue is empty (or ``limit`` tasks), submitting each task; the payloads seen."""
    seen: list[dict[str, Any]] = []
    while len(seen) < limit:
        task = next_task(store, pid, user, "annotator")
        if task is None:
            return seen
        seen.append(task)
        iid = task["item"]["id"]
        key = f"{user.id}-{iid}"
        submit(store, pid, iid, user, "annotator", value("pos"), base_version=None, idempotency_key=key)
    return seen


def test_next_prefills_arm_a_and_hides_the_suggestion_from_arm_b(store: Store) -> None:
    pid, _ids = _project(store, "p", 12)
    e = create_experiment(
        store, "p", "prefill", {"prefill": "on"}, {"prefill": "off", "guideline": "v2: label the overall tone."}, seed=3
    )
    split = _split(store, e.id)
    ann = _user(store, pid, "ann")
    seen = _take_all(store, pid, ann, limit=8)
    assert len(seen) == 8 and {split[t["item"]["id"]] for t in seen} == {"a", "b"}
    for task in seen:
        arm = split[task["item"]["id"]]
        if arm == "a":
            assert task["blind"] is False and [s["backend"] for s in task["suggestions"]] == ["m"]
            assert task["guidelines"] is None
        else:
            assert task["blind"] is True and task["suggestions"] == []
            assert task["guidelines"] == "v2: label the overall tone."
    # stopped: the arms no longer apply to the tasks left
    stop_experiment(store, "p", "prefill", actor="user:boss")
    rest = _take_all(store, pid, ann)
    assert len(rest) == 4
    assert all(t["blind"] is False and t["suggestions"] and t["guidelines"] is None for t in rest)


def test_backend_arms_show_only_their_backend_and_a_blind_tier_stays_blind(store: Store) -> None:
    pid, ids = _project(store, "p", 10, backends=("m1", "m2"))
    with store.transaction() as tx:  # the first item was routed to the blind manual tier
        repo = RoutingRepo(tx.conn)
        run = repo.add_run(pid, "m1", "1", {}, "user:test")
        sugg = {s.item_id: s.id for s in tx.labels.for_items([ids[0]])[0] if s.backend == "m1"}
        repo.save_routes(pid, [ItemRoute(ids[0], run, "manual", "m1", "1", sugg[ids[0]], 0.8, None, now())])
    e = create_experiment(store, "p", "backends", {"backend": "m1"}, {"backend": "m2@1"}, seed=5)
    split = _split(store, e.id)
    for task in _take_all(store, pid, _user(store, pid, "ann")):
        iid = task["item"]["id"]
        if iid == ids[0]:
            assert task["blind"] is True and task["suggestions"] == []  # the arm never reveals what routing hides
            continue
        want = "m1" if split[iid] == "a" else "m2"
        assert [s["backend"] for s in task["suggestions"]] == [want] and task["blind"] is False


def test_labels_made_blind_to_the_backend_in_an_arm_are_clean_routing_evidence(store: Store) -> None:
    pid, _ids = _project(store, "p", 10, backends=("m", "other"))
    e = create_experiment(store, "p", "e", {"prefill": "on"}, {"backend": "other"}, seed=3)
    split = _split(store, e.id)
    assert len(_take_all(store, pid, _user(store, pid, "ann"))) == 10
    r = route_project(store, "p", "m", trainable=False, policy=RoutePolicy(audit_rate=0.0))
    evidence = r.certificate["evidence"]
    # arm b showed only the other backend's suggestion: its labels never saw m's
    assert evidence["clean"] == sum(1 for arm in split.values() if arm == "b") == 5
    assert evidence["prefilled"] == 5


# --------------------------------------------------------------------------- the readout
def test_readout_finds_the_faster_arm_with_every_reference(store: Store) -> None:
    """Two annotators label every item (overlap 2): arm b is truly 4 s faster, both are ~85% right.

    Gold answers on some items, a reviewer's verdicts on others, consensus on the rest.
    """
    rng = np.random.default_rng(11)
    pid, ids = _project(store, "p", 48)
    truth = {i: LABELS[int(rng.integers(3))] for i in ids}
    for i in sorted(ids)[:8]:
        set_gold(store, "p", i, value(truth[i]), "user:boss")
    set_settings(store, pid, overlap=2)
    e = create_experiment(store, "p", "speed", {"prefill": "on"}, {"prefill": "off"}, seed=2)
    split = _split(store, e.id)
    people = [_user(store, pid, n) for n in ("ann", "bea")]
    missing = 0
    for who in people:
        for n in range(100):
            task = next_task(store, pid, who, "annotator")
            if task is None:
                break
            iid = task["item"]["id"]
            right = rng.random() < 0.85
            label = truth[iid] if right else LABELS[(LABELS.index(truth[iid]) + 1) % 3]
            secs = rng.normal(9.0 if split[iid] == "a" else 5.0, 1.5)
            lead = None if n % 10 == 9 else max(0.5, float(secs))  # every tenth submit carries no time
            missing += lead is None
            submit(store, pid, iid, who, "annotator", value(label), base_version=None, idempotency_key=f"k{n}",
                   lead_time_s=lead)  # fmt: skip
    rev = _user(store, pid, "rev", Role.REVIEWER)
    reviewed = 0
    while reviewed < 30:
        got = next_review(store, pid, rev, "reviewer")
        assert got is not None
        ann = got["annotation"]
        ok = ann["value"] == value(truth[got["item"]["id"]])
        review(store, pid, got["item"]["id"], rev, "reviewer", annotation_id=ann["id"],
               verdict="accept" if ok else ("reject" if reviewed % 2 else "correct"),
               value=None if ok or reviewed % 2 else value(truth[got["item"]["id"]]))  # fmt: skip
        reviewed += 1
    r = experiment_readout(store, "p", "speed")
    a, b = r.arms["a"], r.arms["b"]
    assert a.items == b.items == 24 and a.items_done == b.items_done == 24 and a.tasks == b.tasks == 48
    for o in (a, b):
        assert o.reference["gold"] > 0 and o.reference["review"] > 0 and o.reference["consensus"] > 0
        assert sum(o.reference.values()) == o.tasks and o.reference["none"] == 0
        assert len(o.agreed) == 24  # every item has two tasks
    # the time difference: b faster, significant; missing times left out and counted
    assert r.time.diff < -2.5 and r.time.welch_p < 0.001 and r.time.reason is None
    assert missing == 8 and r.time.a.missing + r.time.b.missing == 8 and r.time.a.n + r.time.b.n == 96 - 8
    assert r.time.b.ci[1] < r.time.a.ci[0]
    # accuracy: no real difference was built in; estimates sit inside their intervals
    for est in (r.accuracy.a, r.accuracy.b):
        assert est.ci[0] <= est.value <= est.ci[1] and 0.6 < est.value < 1.0
    assert 0.0 <= r.accuracy.fisher_p <= 1.0 and r.agreement.reason is None
    doc = r.to_json()
    json.dumps(doc, allow_nan=False)
    assert doc["tests"]["seconds"]["significant"] is True and doc["arms"]["b"]["strategy"] == "prefill off"
    assert doc["arms"]["a"]["accuracy"]["reference"] == dict(a.reference) | {"none": 0}


def test_work_begun_before_the_experiment_or_after_its_stop_is_not_counted(store: Store) -> None:
    pid, _ids = _project(store, "p", 6)
    ann = _user(store, pid, "ann")
    first = next_task(store, pid, ann, "annotator")
    assert first is not None
    submit(store, pid, first["item"]["id"], ann, "annotator", value("pos"), base_version=None, idempotency_key="0",
           lead_time_s=3.0)  # fmt: skip
    create_experiment(store, "p", "e", {"prefill": "on"}, {"prefill": "off"}, seed=4)
    second = next_task(store, pid, ann, "annotator")
    assert second is not None
    submit(store, pid, second["item"]["id"], ann, "annotator", value("pos"), base_version=None, idempotency_key="1",
           lead_time_s=4.0)  # fmt: skip
    stop_experiment(store, "p", "e")
    third = next_task(store, pid, ann, "annotator")
    assert third is not None
    submit(store, pid, third["item"]["id"], ann, "annotator", value("pos"), base_version=None, idempotency_key="2",
           lead_time_s=5.0)  # fmt: skip
    r = experiment_readout(store, "p", "e")
    assert r.arms["a"].tasks + r.arms["b"].tasks == 1
    assert sorted(s for o in r.arms.values() for s in o.seconds) == [4.0]


def test_too_few_items_give_nan_with_a_reason(store: Store) -> None:
    pid, _ids = _project(store, "p", 3)
    e = create_experiment(store, "p", "tiny", {"prefill": "on"}, {"prefill": "off"}, seed=0)
    empty = experiment_readout(store, "p", e.id)
    for c in (empty.accuracy, empty.agreement):
        assert math.isnan(c.fisher_p) and math.isnan(c.a.value) and c.reason and "no observations" in c.reason
    assert math.isnan(empty.time.welch_p) and empty.time.reason == (
        "seconds per task: arms a and b have fewer than 2 observations"
    )
    ann = _user(store, pid, "ann")
    task = next_task(store, pid, ann, "annotator")
    assert task is not None
    submit(store, pid, task["item"]["id"], ann, "annotator", value("pos"), base_version=None, idempotency_key="k",
           lead_time_s=2.0)  # fmt: skip
    one = experiment_readout(store, "p", "tiny")
    done = "a" if one.arms["a"].tasks else "b"
    est = getattr(one.time, done)
    assert est.n == 1 and est.value == 2.0 and math.isnan(est.ci[0]) and est.reason == "one observation: no interval"
    assert one.accuracy.reason and "no observations" in one.accuracy.reason  # no gold, review or second person
    doc = one.to_json()
    text = json.dumps(doc, allow_nan=False)  # NaN goes out as null, beside its reason
    assert doc["tests"]["seconds"]["welch_p"] is None and doc["tests"]["seconds"]["reason"]
    assert doc["arms"][done]["seconds"]["ci"] == [None, None] and "NaN" not in text


# --------------------------------------------------------------------------- bad input
BAD = [
    ("unknown key", "e2", {"prefil": "on"}, {"prefill": "off"}, {}, InputRejected,
     r"arm a: expected settings among .*'prefil'"),
    ("same arm twice", "e2", {"prefill": "on"}, {"prefill": "yes"}, {}, InputRejected, "the same one twice"),
    ("bad flag", "e2", {"prefill": "maybe"}, {}, {}, InputRejected, "arm a: prefill: expected on or off"),
    ("threshold zero", "e2", {"accept_threshold": 0}, {"accept_threshold": 0.95}, {}, InputRejected,
     r"arm a: accept_threshold: expected a number in \(0, 1\].*, got 0"),
    ("threshold above one", "e2", {}, {"accept_threshold": "1.5"}, {}, InputRejected,
     r"arm b: accept_threshold: expected a number in \(0, 1\].*, got '1.5'"),
    ("threshold text", "e2", {"accept_threshold": "high"}, {}, {}, InputRejected, "arm a: accept_threshold"),
    ("threshold nan", "e2", {"accept_threshold": float("nan")}, {}, {}, InputRejected, "arm a: accept_threshold"),
    ("threshold bool", "e2", {"accept_threshold": True}, {}, {}, InputRejected, "got True"),
    ("threshold twice the same", "e2", {"accept_threshold": 0.9}, {"accept_threshold": "0.90"}, {}, InputRejected,
     "the same one twice"),
    ("backend blind", "e2", {"prefill": "off", "backend": "m"}, {}, {}, InputRejected,
     "arm a: backend: expected prefill on"),
    ("no such backend", "e2", {"backend": "nope"}, {}, {}, InputRejected, "'nope', which has none"),
    ("empty guideline", "e2", {"guideline": ""}, {}, {}, InputRejected, "arm a: guideline"),
    ("bad name", "no spaces please", {"prefill": "on"}, {"prefill": "off"}, {}, InputRejected, "experiment name"),
    ("digits name", "123", {"prefill": "on"}, {"prefill": "off"}, {}, InputRejected, "not all digits"),
    ("bad scope", "e2", {"prefill": "on"}, {"prefill": "off"}, {"scope": "some"}, InputRejected, "scope: expected all"),
    ("bad seed", "e2", {"prefill": "on"}, {"prefill": "off"}, {"seed": -1}, InputRejected, "seed"),
    ("name taken", "e1", {"prefill": "on"}, {"prefill": "off"}, {}, Conflict, "'e1' already exists"),
    ("items busy", "e2", {"prefill": "on"}, {"prefill": "off"}, {}, Conflict,
     r"already in a running experiment: 'e1' \(6 items\)"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "name", "a", "b", "kw", "error", "match"), BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_refused_clearly_and_writes_nothing(
    store: Store, case: str, name: str, a: dict[str, Any], b: dict[str, Any], kw: dict[str, Any],
    error: type[Exception], match: str,
) -> None:  # fmt: skip
    _project(store, "p", 6)
    create_experiment(store, "p", "e1", {"prefill": "on"}, {"prefill": "off"}, seed=1)
    before = _rows(store)
    with pytest.raises(error, match=match):
        create_experiment(store, "p", name, a, b, **kw)
    assert _rows(store) == before


def test_stop_frees_the_items_and_errors_name_the_experiment(store: Store) -> None:
    _project(store, "p", 6)
    create_experiment(store, "p", "e1", {"prefill": "on"}, {"prefill": "off"}, seed=1)
    stopped = stop_experiment(store, "p", "e1", actor="user:boss")
    assert stopped.status == "stopped" and stopped.stopped_by == "user:boss" and stopped.stopped_at is not None
    with pytest.raises(Conflict, match="'e1' was already stopped"):
        stop_experiment(store, "p", "e1")
    with pytest.raises(NotFound, match="experiment 'nope'"):
        stop_experiment(store, "p", "nope")
    with pytest.raises(NotFound, match="experiment 'nope'"):
        experiment_readout(store, "p", "nope")
    again = create_experiment(store, "p", "e2", {"prefill": "on"}, {"guideline": "v2"}, seed=1)  # the items are free
    assert sum(again.items.values()) == 6
    assert [x.name for x in list_experiments(store, "p")] == ["e1", "e2"]
    assert experiment_readout(store, "p", "e1").experiment.status == "stopped"


def test_the_database_keeps_an_item_in_one_running_experiment(store: Store) -> None:
    """What a concurrent start would hit: the unique live item, and the unique name, as Conflict."""
    pid, ids = _project(store, "p", 2)
    arms = {"a": {"prefill": True}, "b": {"prefill": False}}
    with pytest.raises(Conflict, match="started meanwhile"), store.transaction() as tx:
        repo = ExperimentRepo(tx.conn)
        e1, e2 = repo.add(pid, "e1", arms, 1, "all", "u"), repo.add(pid, "e2", arms, 1, "all", "u")
        repo.add_items(e1, pid, [(ids[0], "a")])
        repo.add_items(e2, pid, [(ids[0], "b")])
    with pytest.raises(Conflict, match="'e1' already exists"), store.transaction() as tx:
        ExperimentRepo(tx.conn).add(pid, "e1", arms, 1, "all", "u")
        ExperimentRepo(tx.conn).add(pid, "e1", arms, 1, "all", "u")
    assert _rows(store) == (0, 0)
    with store.transaction() as tx:  # a stopped experiment's items are free for the next one
        repo = ExperimentRepo(tx.conn)
        e1 = repo.add(pid, "e1", arms, 1, "all", "u")
        repo.add_items(e1, pid, [(ids[0], "a")])
        assert repo.stop(e1, "u") and not repo.stop(e1, "u")
        e2 = repo.add(pid, "e2", arms, 1, "all", "u")
        repo.add_items(e2, pid, [(ids[0], "b")])
        assert repo.task_rules(ids[0]).experiment_id == e2 and repo.task_rules(ids[1]).experiment_id is None


def test_audited_items_of_an_arm_are_stored_once(store: Store) -> None:
    """The readout's record of audited would-be-auto items: a repeated item keeps its first row."""
    pid, ids = _project(store, "p", 3)
    with store.transaction() as tx:
        sugg = {s.item_id: s.id for s in tx.labels.for_items(ids)[0]}
        run = RoutingRepo(tx.conn).add_run(pid, "m", "1", {}, "user:test")
        repo = ExperimentRepo(tx.conn)
        eid = repo.add(pid, "e", {"a": {"accept_threshold": 0.5}, "b": {"accept_threshold": 0.9}}, 1, "all", "u")
        repo.add_audits(eid, [AuditRow(ids[0], "a", run, sugg[ids[0]]), AuditRow(ids[1], "b", run, sugg[ids[1]])])
        repo.add_audits(eid, [AuditRow(ids[0], "b", run, sugg[ids[0]]), AuditRow(ids[2], "a", run, sugg[ids[2]])])
        got = repo.audits(eid)
    assert [(a.item_id, a.arm) for a in got] == [(ids[0], "a"), (ids[1], "b"), (ids[2], "a")]
