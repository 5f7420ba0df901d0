"""Correction tasks over the API, per role (200 / 403 / 404), with bad inputs and held items.

Project ``a`` of the web world gets labels the schema refuses (a class it does not have); a
real QC run opens their correction tasks. Every answer is checked against the store. A
reviewer may not take, lock or resolve a task about their own annotation; a manager may.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from labelloop.core import NewAnnotation, NewSuggestion
from labelloop.core.accounts import Role
from labelloop.services.accounts import add_member, create_token, create_user
from labelloop.services.desensitise import configure
from labelloop.services.qc import run_qc
from labelloop.storage import Store, now
from labelloop.storage.tables_quality import correction_tasks
from tests.api.conftest import PASSWORD, World, build_world

BAD = [{"id": "c", "control": "sentiment", "labels": ["bogus"]}]
GOOD = [{"id": "c", "control": "sentiment", "labels": ["pos"]}]


@pytest.fixture
def cw(store: Store, tmp_path: Path) -> Iterator[World]:
    w = build_world(store, tmp_path)
    with store.transaction() as tx:
        tx.labels.add_annotations(w.pa, [NewAnnotation(i, BAD, "annotator") for i in w.items_a[1:4]])
    run_qc(store, w.pa)
    with TestClient(w.app):  # type: ignore[arg-type]
        yield w


def _versions(w: World, item: int) -> list[Any]:
    with w.store.read() as tx:
        return tx.labels.for_items([item])[1]


def _row(w: World, tid: int) -> Any:
    with w.store.read() as tx:
        return tx.conn.execute(correction_tasks.select().where(correction_tasks.c.id == tid)).one()


def test_who_may_read_and_resolve(cw: World) -> None:
    w = cw
    base = f"/api/projects/{w.pa}/corrections"
    listed = w.client("reviewer").get(base)
    assert listed.status_code == 200, listed.text
    tasks = listed.json()["tasks"]
    assert [t["item_id"] for t in tasks] == w.items_a[1:4]
    assert {t["finding"]["rule_id"] for t in tasks} == {"schema_valid"}
    tid = tasks[0]["id"]
    for who in ("reviewer", "manager", "admin"):
        assert w.client(who).get(base).status_code == 200, who
        assert w.client(who).get(f"{base}/{tid}").status_code == 200, who
    for who in ("viewer", "annotator"):
        for method, url in (("GET", base), ("GET", f"{base}/{tid}"), ("POST", f"{base}/next"),
                            ("POST", f"{base}/{tid}/lock"), ("POST", f"{base}/{tid}/resolve")):  # fmt: skip
            r = w.client(who).request(method, url, json={"resolution": "dismissed", "reason": "x"})
            assert r.status_code == 403, (who, method, url, r.text)
            assert r.json()["error"]["code"] == "LL-DENIED"
    for who in ("outsider", "b_annotator"):
        assert w.client(who).get(f"{base}/{tid}").status_code == 404
        assert (
            w.client(who).post(f"{base}/{tid}/resolve", json={"resolution": "dismissed", "reason": "x"}).status_code
            == 404
        )
    # a task of project a is not there under project b (the admin sees both projects)
    assert w.client("admin").get(f"/api/projects/{w.pb}/corrections/{tid}").status_code == 404
    assert w.client("reviewer").get(f"{base}/999999").status_code == 404
    assert _row(w, tid).status == "open"


def test_next_fix_and_its_errors(cw: World) -> None:
    w = cw
    base = f"/api/projects/{w.pa}/corrections"
    rev, mgr = w.client("reviewer"), w.client("manager")
    r = rev.post(f"{base}/next")
    assert r.status_code == 200, r.text
    got = r.json()
    tid, item, basev = got["task"]["id"], got["item"]["id"], got["base_version"]
    assert got["task"]["lock"]["user"] == "reviewer" and got["region"] == BAD[0]
    assert got["item"]["text"].startswith("text number 1")  # the labelling view's payload
    assert got["prefill"] == {"source": "annotation", "value": BAD}
    # the manager may not take it from the reviewer, nor resolve it
    assert mgr.post(f"{base}/{tid}/lock").status_code == 409
    held = mgr.post(f"{base}/{tid}/resolve", json={"resolution": "dismissed", "reason": "fine"})
    assert held.status_code == 409 and "being worked on by reviewer" in held.json()["error"]["message"]
    assert mgr.post(f"{base}/next").json()["task"]["id"] != tid

    url = f"{base}/{tid}/resolve"
    # bad inputs: nothing is written, the task stays open
    bad_value = rev.post(url, json={"resolution": "fixed", "value": BAD, "base_version": basev})
    assert bad_value.status_code == 422 and bad_value.json()["error"]["code"] == "LL-ANNOTATION"
    assert bad_value.json()["errors"] == ["regions[0].labels.0: Input should be 'pos', 'neg' or 'neu'"]
    assert rev.post(url, json={"resolution": "fixed", "base_version": basev}).status_code == 422  # no value
    assert rev.post(url, json={"resolution": "gone"}).status_code == 422
    assert rev.post(url, json={"resolution": "fixed", "value": GOOD, "extra": 1}).status_code == 422
    assert rev.post(url, json={"resolution": "dismissed", "reason": ""}).status_code == 422
    stale = rev.post(url, json={"resolution": "fixed", "value": GOOD, "base_version": basev + 1000})
    assert stale.status_code == 409 and stale.json()["current"]["id"] == basev
    assert len(_versions(w, item)) == 1 and _row(w, tid).status == "open"

    ok = rev.post(url, json={"resolution": "fixed", "value": GOOD, "base_version": basev, "reason": "typo"})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["task"]["resolution"] == "fixed" and body["task"]["resolved_by"] == "user:reviewer"
    old, new = _versions(w, item)
    assert (new.id, new.parent_id, new.annotator, new.value) == (body["annotation"]["id"], old.id, "reviewer", GOOD)
    row = _row(w, tid)
    assert (row.status, row.resolution, row.resolution_note, row.locked_by) == ("resolved", "fixed", "typo", None)
    again = rev.post(url, json={"resolution": "dismissed", "reason": "again"})
    assert again.status_code == 409 and "already resolved" in again.json()["error"]["message"]
    assert tid not in [t["id"] for t in rev.get(base).json()["tasks"]]
    assert rev.get(f"{base}?severity=fatal").status_code == 422
    assert rev.get(f"{base}?rule=schema_valid&severity=error&limit=1").json()["next"] is not None


def test_dismiss_and_held_items(cw: World) -> None:
    w = cw
    base = f"/api/projects/{w.pa}/corrections"
    rev = w.client("reviewer")
    tid = rev.get(base).json()["tasks"][0]["id"]
    ok = rev.post(f"{base}/{tid}/resolve", json={"resolution": "dismissed", "reason": "<i>fine</i> as is"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["annotation"] is None and ok.json()["task"]["note"] == "<i>fine</i> as is"
    assert len(_versions(w, w.items_a[1])) == 1

    other = rev.get(base).json()["tasks"][0]["id"]
    configure(w.store, "a", {"pii": {"mode": "tag", "chinese_ner": False}}, actor="user:boss")
    assert rev.get(base).json() == {"tasks": [], "next": None, "rules": []}
    assert rev.post(f"{base}/next").status_code == 204
    for method, url in (("GET", f"{base}/{other}"), ("POST", f"{base}/{other}/lock")):
        assert rev.request(method, url).status_code == 404, url
    fix = rev.post(f"{base}/{other}/resolve", json={"resolution": "fixed", "value": GOOD, "base_version": None})
    assert fix.status_code == 404
    assert _row(w, other).status == "open"


@pytest.fixture
def own(store: Store, tmp_path: Path) -> Iterator[World]:
    """Bad labels by the reviewer, the annotator and the manager; a bad suggestion of a backend
    that happens to be called ``reviewer`` (a machine label: nobody's own); a second reviewer."""
    w = build_world(store, tmp_path)
    items = w.items_a
    with store.transaction() as tx:
        tx.labels.add_annotations(
            w.pa,
            [NewAnnotation(items[1], BAD, "reviewer"), NewAnnotation(items[2], BAD, "annotator"),
             NewAnnotation(items[3], BAD, "manager")],
        )  # fmt: skip
        tx.labels.add_suggestions(w.pa, [NewSuggestion(items[4], BAD, "reviewer", "1", 0.9)])
    run_qc(store, w.pa)
    w.users["reviewer2"] = create_user(store, "reviewer2", PASSWORD)
    w.tokens["reviewer2"] = create_token(store, w.users["reviewer2"], "tests")[1]
    add_member(store, w.pa, "reviewer2", Role.REVIEWER)
    with TestClient(w.app):  # type: ignore[arg-type]
        yield w


def test_own_annotations_are_closed_to_their_reviewer(own: World) -> None:
    w = own
    base = f"/api/projects/{w.pa}/corrections"
    rev, rev2, mgr = w.client("reviewer"), w.client("reviewer2"), w.client("manager")
    tasks = {t["item_id"]: t for t in rev.get(base).json()["tasks"]}  # reading stays open to reviewers
    t_own, t_ann, t_mgr, t_sugg = (tasks[i]["id"] for i in w.items_a[1:5])
    who = {i: (tasks[i]["finding"]["annotator"], tasks[i]["finding"]["label_source"]) for i in tasks}
    assert who[w.items_a[1]] == ("reviewer", "human") and who[w.items_a[4]] == ("reviewer", "model")
    assert rev.get(f"{base}/{t_own}").status_code == 200

    # the manager fixes a finding on their own label
    got = mgr.post(f"{base}/{t_mgr}/lock")
    assert got.status_code == 200, got.text
    fix = {"resolution": "fixed", "value": GOOD, "base_version": got.json()["base_version"]}
    fixed = mgr.post(f"{base}/{t_mgr}/resolve", json=fix)
    assert fixed.status_code == 200, fixed.text
    assert _row(w, t_mgr).resolved_by == "user:manager"

    # the reviewer may not lock nor resolve the task about their own label: 403, nothing written
    before = _versions(w, w.items_a[1])
    for url, body in (
        (f"{base}/{t_own}/lock", None),
        (f"{base}/{t_own}/resolve", {"resolution": "dismissed", "reason": "looks fine to me"}),
        (f"{base}/{t_own}/resolve", {"resolution": "fixed", "value": GOOD, "base_version": before[0].id}),
    ):
        r = rev.post(url, json=body)
        assert r.status_code == 403, (url, r.text)
        err = r.json()["error"]
        assert err["code"] == "LL-DENIED" and f"about your own annotation {before[0].id}" in err["message"], err
    row = _row(w, t_own)
    assert (row.status, row.locked_by) == ("open", None) and _versions(w, w.items_a[1]) == before

    # a lock on it from before (say, taken before the rule) is not handed back by next, and is let go
    with w.store.transaction() as tx:
        tx.conn.execute(
            update(correction_tasks)
            .where(correction_tasks.c.id == t_own)
            .values(locked_by=w.users["reviewer"].id, lock_expires_at=now() + timedelta(minutes=5))
        )
    handed: list[int] = []
    while (r := rev.post(f"{base}/next", json={"after": handed[-1] if handed else None})).status_code == 200:
        tid = r.json()["task"]["id"]
        assert tid not in handed, handed  # (each is dismissed below: never handed out twice)
        handed.append(tid)
        done = rev.post(f"{base}/{tid}/resolve", json={"resolution": "dismissed", "reason": "seen"})
        assert done.status_code == 200, done.text
    assert r.status_code == 204, r.text  # only their own task is left open
    assert handed == [t_ann, t_sugg]  # the annotator's label, then the backend's (nobody's own)
    assert rev.post(f"{base}/next", json={"rule": "schema_valid"}).status_code == 204
    row = _row(w, t_own)
    assert (row.status, row.locked_by) == ("open", None)

    # another reviewer is handed it, and resolves it
    r = rev2.post(f"{base}/next")
    assert r.status_code == 200 and r.json()["task"]["id"] == t_own, r.text
    done = rev2.post(f"{base}/{t_own}/resolve", json={"resolution": "dismissed", "reason": "fine"})
    assert done.status_code == 200, done.text
    assert (_row(w, t_own).status, _row(w, t_own).resolved_by) == ("resolved", "user:reviewer2")
