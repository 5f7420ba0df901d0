"""Live routing on a real project (image.classify on handwritten 0s and 1s), SQLite and PostgreSQL.

The certified-bound property (with true accuracy below target, auto-accept happens no more often
than the stated error rate) is tested on the maths in tests/active/test_active_bounds.py; these
tests check that the live service feeds it the right evidence and acts on the answer.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from labelloop.active import clean_items_needed, min_clean_audits
from labelloop.core import Actor, ReviewVerdict
from labelloop.core.accounts import User
from labelloop.errors import InputRejected
from labelloop.services.accounts import create_user
from labelloop.services.exports import export_dataset
from labelloop.services.live_routing import RoutePolicy, current_certificate, route_project
from labelloop.services.releases import create_release
from labelloop.services.tasks import next_task, project_stats, submit
from labelloop.storage import Store
from labelloop.storage.quality_repo import QualityRepo
from labelloop.storage.routing_repo import RoutingRepo
from labelloop.storage.tasks_repo import QUEUED
from tests.services.live_world import Digits, digits_project, in_tier, label, region, routes


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _labels(store: Store, item_ids: list[int]) -> tuple[list, list, list]:  # type: ignore[type-arg]
    with store.read() as tx:
        return tx.labels.for_items(item_ids)


def _certified(store: Store) -> Digits:
    """Audit 70% blind, people label the audits truly, route again: the bound is met."""
    w = digits_project(store)
    first = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.7))
    assert first.auto_new == 0 and first.audit_new > 200
    label(store, w.pid, in_tier(store, w.pid, "audit"), w.truth)
    return w


def test_too_little_evidence_auto_accepts_nothing_and_says_what_unlocks_it(store: Store) -> None:
    w = digits_project(store)
    r = route_project(store, "digits", "image.classify")
    assert min_clean_audits(0.98, 0.95) == 149
    assert not r.certificate["certified"] and r.certificate["needed"] == 149 and r.auto_new == 0
    assert "149 more clean audited items would unlock" in r.message
    # the teacher's labels trained the model: in-sample, never evidence
    assert r.certificate["evidence"] == {"in_sample": len(w.trained), "used": 0}
    audits = in_tier(store, w.pid, "audit")
    assert len(audits) == r.audit_new == -(-len(w.unlabelled) * 5 // 100)  # ceil(5%)
    assert r.tiers == {"auto": 0, "review": len(w.unlabelled) - len(audits), "manual": 0, "audit": len(audits)}
    # people label the audits blind: clean evidence; a few reviews of pre-filled items are not
    label(store, w.pid, audits, w.truth)
    review = in_tier(store, w.pid, "review")[:5]
    label(store, w.pid, review, w.truth, who="bob")
    with store.transaction() as tx:  # gold copied from the teacher's labels: the model learnt those
        for i in w.trained[:3]:
            QualityRepo(tx.conn).set_gold(w.pid, i, region(w.truth[i]), "user:qc")
    again = route_project(store, "digits", "image.classify")
    sugg, _, _ = _labels(store, audits)
    right = sum(s.value[0]["labels"] == [w.truth[s.item_id]] for s in sugg if s.backend == "image.classify")
    ev = again.certificate["evidence"]
    assert ev["clean"] == len(audits) and ev["prefilled"] == 5 and ev["in_sample"] == len(w.trained)
    assert again.certificate["needed"] == clean_items_needed(right, len(audits), 0.98, 0.95)
    assert again.auto_new == 0 and not any(a.annotator.startswith("auto:") for a in _labels(store, w.unlabelled)[1])
    # counting reviews of pre-filled suggestions must be asked for, and the certificate says what it costs
    lax = route_project(store, "digits", "image.classify", policy=RoutePolicy(evidence="all"))
    assert lax.certificate["evidence"]["used"] == len(audits) + 5
    assert any("pre-filled" in c for c in lax.certificate["caveats"])


def test_clean_evidence_certifies_and_auto_labels_carry_provenance(store: Store) -> None:
    w = _certified(store)
    r = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.1))
    c = r.certificate
    assert c["certified"] and c["holds"] and c["lower"] >= 0.98 and r.auto_new > 0
    assert c["audited"] >= 149 and c["ci"][0] <= c["accuracy"] <= c["ci"][1]
    auto = in_tier(store, w.pid, "auto")
    assert len(auto) == r.auto_new and r.audit_new > 0
    sugg, anns, revs = _labels(store, auto)
    by_item = {s.item_id: s for s in sugg if s.backend == "image.classify"}
    version = r.model_version
    for a in anns:
        if a.item_id not in by_item or a.annotator == "teacher":
            continue
        assert a.annotator == Actor.auto("image.classify", version) == a.created_by
        assert a.suggestion_id == by_item[a.item_id].id and a.value == by_item[a.item_id].value
    assert {(rv.verdict, rv.reviewer) for rv in revs} == {(ReviewVerdict.ACCEPT, "system:route")}
    with store.read() as tx:
        slots = RoutingRepo(tx.conn).slots(auto)
        events = [e for e in tx.provenance.events(w.pid) if e.kind in ("route", "annotation")]
    assert all(not s for s in slots.values())  # no queued slot: no person sees them
    assert events[-1].kind == "route" and events[-1].payload["changes"]["auto_new"] == r.auto_new
    assert any(e.kind == "annotation" and e.actor == Actor.auto("image.classify", version) for e in events)
    stats = project_stats(store, w.pid)["tiers"]
    assert stats["auto"] == r.auto_new and stats["audit"] >= r.audit_new
    cur = current_certificate(store, "digits")
    assert cur["run"]["run_id"] == r.run_id and cur["project"]["auto_labels"] == r.auto_new
    assert cur["project"]["models"][0]["holds"] is True
    # nothing changed: a re-run keeps every auto label
    same = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.1))
    assert same.auto_kept == r.auto_new and same.rerouted == 0 and same.auto_new == 0


def test_audit_that_breaks_the_bound_reroutes_auto_labels(store: Store, tmp_path: Path) -> None:
    w = _certified(store)
    r = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.2))
    auto, audits = in_tier(store, w.pid, "auto"), in_tier(store, w.pid, "audit")
    fresh = [i for i in audits if routes(store, w.pid)[i].run_id == r.run_id]
    assert r.auto_new == len(auto) > 0 and len(fresh) == r.audit_new >= 10
    label(store, w.pid, fresh, w.truth, wrong=True)  # the blind audit finds the machine wrong
    broken = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.2))
    before = r.certificate["thresholds"]["*"]
    after = broken.certificate["thresholds"]["*"]
    assert after is None or after > before  # tightened
    assert broken.rerouted > 0 and broken.auto_kept == len(auto) - broken.rerouted
    back = [i for i in auto if routes(store, w.pid)[i].tier != "auto"]
    assert len(back) == broken.rerouted
    _, anns, revs = _labels(store, back)
    assert all(any(a.annotator.startswith("auto:") for a in anns if a.item_id == i) for i in back)  # history kept
    rejected = {rv.annotation_id for rv in revs if rv.verdict == ReviewVerdict.REJECT}
    assert len(rejected) == len(back)
    with store.read() as tx:
        slots = RoutingRepo(tx.conn).slots(back)
    assert all(len(s) == 1 and s[0].state == QUEUED for s in slots.values())  # queued for people again
    # exports and releases no longer carry the withdrawn auto labels; kept ones they do
    kept = [i for i in auto if i not in back]
    out = export_dataset(store, "digits", "csv", tmp_path / "csv")
    with (out.path / "annotations.csv").open(encoding="utf-8") as f:
        labelled = {int(r["item_id"]) for r in csv.DictReader(f) if r["origin"] == "annotation" and r["label"]}
    assert not labelled & set(back) and set(kept) <= labelled
    rel = create_release(store, "digits", "after-reroute", actor="user:test")
    with store.read() as tx:
        page = tx.releases.frozen_page(rel.id, limit=10_000)
    frozen = {f.item.id: f.annotation for f in page}
    assert all(frozen[i] is None for i in back) and all(frozen[i] is not None for i in kept)


def _next_routed(store: Store, w: Digits, user: User) -> dict[str, Any]:
    """The user's next task on a routed item (the teacher's items come first in the queue: done here)."""
    for n in range(len(w.trained) + 1):
        task = next_task(store, w.pid, user, "annotator")
        assert task is not None
        item = task["item"]["id"]
        if item in w.unlabelled:
            return task
        submit(store, w.pid, item, user, "annotator", region(w.truth[item]), base_version=None, idempotency_key=f"{n}")
    raise AssertionError("no routed item in the queue")


def test_blind_tasks_hide_the_suggestion_and_their_labels_are_clean(store: Store) -> None:
    w = digits_project(store)
    route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.0))  # all review
    bob = create_user(store, "bob", "long enough password")
    task = _next_routed(store, w, bob)
    assert task["blind"] is False and task["suggestions"]  # pre-filled, as before
    r = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.0, manual_below=1.0))
    assert r.tiers["manual"] == len(w.unlabelled)  # every calibrated score is below 1.0 here
    ann = create_user(store, "ann", "long enough password")
    task = _next_routed(store, w, ann)
    assert task["blind"] is True and task["suggestions"] == []
    item = task["item"]["id"]
    submit(store, w.pid, item, ann, "annotator", region(w.truth[item]), base_version=None, idempotency_key="k")
    again = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.0, manual_below=1.0))
    assert again.certificate["evidence"]["clean"] == 1


def test_bad_input_is_refused_with_its_name(store: Store) -> None:
    digits_project(store)
    with pytest.raises(InputRejected, match="target"):
        route_project(store, "digits", "image.classify", policy=RoutePolicy(target=1.0))
    with pytest.raises(InputRejected, match="audit_rate"):
        route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=1.5))
    with pytest.raises(InputRejected, match=r"suggestions from 'text\.rules'"):
        route_project(store, "digits", "text.rules")
