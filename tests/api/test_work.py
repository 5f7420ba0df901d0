"""Labelling through the API: next, drafts, idempotent and versioned submits, reviews, gold."""

from __future__ import annotations

import uuid
from typing import Any

from labelloop.core.accounts import Role
from labelloop.services.accounts import add_member
from tests.api.conftest import World

POS = [{"id": "r1", "control": "sentiment", "labels": ["pos"]}]
NEG = [{"id": "r1", "control": "sentiment", "labels": ["neg"]}]


def _submit(c: Any, w: World, iid: int, value: Any, base: int | None, key: str | None = None) -> Any:
    return c.post(
        f"/api/projects/{w.pa}/items/{iid}/annotations",
        json={"value": value, "base_version": base, "lead_time_s": 3.5},
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


def test_next_draft_submit_review_round(world: World) -> None:
    w = world
    ann = w.client("annotator")
    r = ann.post(f"/api/projects/{w.pa}/next")
    assert r.status_code == 200, r.text
    task = r.json()["task"]
    iid = task["item"]["id"]
    assert task["base_version"] is None and task["is_gold"] is False and task["lock_expires_at"]
    assert task["item"]["text"].startswith("text number")
    # asking again resumes the same task
    assert ann.post(f"/api/projects/{w.pa}/next").json()["task"]["item"]["id"] == iid
    # autosave, then the draft comes back with the item
    assert ann.put(f"/api/projects/{w.pa}/items/{iid}/draft", json={"value": NEG}).status_code == 204
    assert ann.get(f"/api/projects/{w.pa}/items/{iid}").json()["draft"]["value"] == NEG
    # an invalid value: 422 with one line per problem, nothing stored
    bad = _submit(ann, w, iid, [{"id": "r1", "control": "sentiment", "labels": ["nope"]}], None)
    assert bad.status_code == 422 and bad.json()["errors"]
    # submit twice with the same key: one annotation, the same body
    key = str(uuid.uuid4())
    first = _submit(ann, w, iid, POS, None, key)
    again = _submit(ann, w, iid, POS, None, key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    a1 = first.json()["annotation"]
    assert a1["annotator"] == "annotator" and a1["value"] == POS
    with w.store.read() as tx:
        _s, anns, _r = tx.labels.for_items([iid])
    assert len(anns) == 1
    # the draft is gone after submit; a stale base_version gets 409 with the server copy
    assert ann.get(f"/api/projects/{w.pa}/items/{iid}").json()["draft"] is None
    stale = _submit(ann, w, iid, NEG, None)
    assert stale.status_code == 409 and stale.json()["current"]["id"] == a1["id"]
    edited = _submit(ann, w, iid, NEG, a1["id"])
    assert edited.status_code == 201 and edited.json()["annotation"]["parent_id"] == a1["id"]
    a2 = edited.json()["annotation"]["id"]
    # the reviewer gets the newest version and corrects it
    rev = w.client("reviewer")
    rtask = rev.post(f"/api/projects/{w.pa}/review/next").json()["task"]
    assert rtask["annotation"]["id"] == a2
    bad_review = rev.post(
        f"/api/projects/{w.pa}/items/{iid}/reviews", json={"annotation_id": a2, "verdict": "accept", "value": POS}
    )
    assert bad_review.status_code == 422
    done = rev.post(
        f"/api/projects/{w.pa}/items/{iid}/reviews",
        json={"annotation_id": a2, "verdict": "correct", "value": POS, "comment": "<b>it is positive</b>"},
    )
    assert done.status_code == 201, done.text
    assert done.json()["correction"]["parent_id"] == a2 and done.json()["review"]["comment"] == "<b>it is positive</b>"
    twice = rev.post(f"/api/projects/{w.pa}/items/{iid}/reviews", json={"annotation_id": a2, "verdict": "accept"})
    assert twice.status_code == 409
    # once reviewed, the annotator's work on this item is closed
    closed = _submit(ann, w, iid, NEG, a2)
    assert closed.status_code == 403
    assert ann.put(f"/api/projects/{w.pa}/items/{iid}/draft", json={"value": NEG}).status_code == 403


def test_annotators_see_only_their_tasks_and_reviewers_not_their_own(world: World) -> None:
    w = world
    ann = w.client("annotator")
    iid = ann.post(f"/api/projects/{w.pa}/next").json()["task"]["item"]["id"]
    other = next(i for i in w.items_a if i != iid)
    assert ann.get(f"/api/projects/{w.pa}/items/{other}").status_code == 403
    assert ann.put(f"/api/projects/{w.pa}/items/{other}/draft", json={"value": POS}).status_code == 403
    assert _submit(ann, w, other, POS, None).status_code == 403
    assert ann.get(f"/api/projects/{w.pa}/items").status_code == 403
    # a reviewer may not review their own annotation
    rev = w.client("reviewer")
    rid = rev.post(f"/api/projects/{w.pa}/next").json()["task"]["item"]["id"]
    aid = _submit(rev, w, rid, POS, None).json()["annotation"]["id"]
    own = rev.post(f"/api/projects/{w.pa}/items/{rid}/reviews", json={"annotation_id": aid, "verdict": "accept"})
    assert own.status_code == 403
    assert rev.post(f"/api/projects/{w.pa}/review/next").status_code == 204


def test_idor_across_projects_answers_404(world: World) -> None:
    w = world
    b = w.client("b_annotator")
    foreign_item = w.items_a[0]
    for method, url in (
        ("GET", f"/api/projects/{w.pa}/items/{foreign_item}"),
        ("GET", f"/api/projects/{w.pb}/items/{foreign_item}"),  # own project, foreign item id
        ("PUT", f"/api/projects/{w.pb}/items/{foreign_item}/draft"),
        ("POST", f"/api/projects/{w.pb}/suggestions/1/accept"),
    ):
        r = b.request(method, url, json={"value": POS})
        assert r.status_code in (403, 404), (method, url, r.status_code)
        assert r.status_code == 404 or ("items" in url and method != "GET")
    # annotation ids of project a cannot be reviewed through project b's URL
    mgr = w.client("manager")
    iid = mgr.post(f"/api/projects/{w.pa}/next").json()["task"]["item"]["id"]
    aid = _submit(mgr, w, iid, POS, None).json()["annotation"]["id"]
    add_member(w.store, w.pb, "reviewer", Role.REVIEWER)
    r = w.client("reviewer").post(
        f"/api/projects/{w.pb}/items/{w.items_b[0]}/reviews", json={"annotation_id": aid, "verdict": "reject"}
    )
    assert r.status_code == 404
    with w.store.read() as tx:
        assert tx.labels.for_items([iid])[2] == []  # no review was written


def test_two_annotators_overlap_and_locks(world: World) -> None:
    w = world
    a, b = w.client("annotator"), w.client("annotator2")
    ta = a.post(f"/api/projects/{w.pa}/next").json()["task"]["item"]["id"]
    tb = b.post(f"/api/projects/{w.pa}/next").json()["task"]["item"]["id"]
    assert ta != tb  # overlap 1: the locked slot is not given twice
    mgr = w.client("manager")
    assert mgr.put(f"/api/projects/{w.pa}/settings", json={"overlap": 3}).json()["overlap"] == 3
    assert mgr.put(f"/api/projects/{w.pa}/settings", json={"overlap": 99}).status_code == 422
    assert mgr.put(f"/api/projects/{w.pa}/settings", json={"owner": "me"}).status_code == 422  # unknown field


def test_quota_and_gold(world: World) -> None:
    w = world
    mgr = w.client("manager")
    gold_item = w.items_a[5]
    assert mgr.post(f"/api/projects/{w.pa}/gold", json={"item_id": gold_item, "value": NEG}).status_code == 201
    assert mgr.put(f"/api/projects/{w.pa}/settings", json={"gold_rate": 0.5}).status_code == 200
    mgr.post(f"/api/projects/{w.pa}/members", json={"username": "annotator", "role": "annotator", "quota": 3})
    ann = w.client("annotator")
    seen = []
    while (r := ann.post(f"/api/projects/{w.pa}/next")).status_code == 200:
        task = r.json()["task"]
        assert task["is_gold"] is False  # never revealed
        seen.append(task["item"]["id"])
        assert _submit(ann, w, task["item"]["id"], NEG, task["base_version"]).status_code == 201
    assert r.status_code == 204
    assert gold_item in seen and seen.index(gold_item) == 1  # one ordinary task, then gold (rate 1/2)
    assert len(seen) == 4  # 3 ordinary (the quota) + 1 gold
    stats = mgr.get(f"/api/projects/{w.pa}/stats").json()
    me = next(a for a in stats["annotators"] if a["username"] == "annotator")
    assert me["submitted"] == 3 and me["gold_seen"] == 1 and me["skill"] > 0.5


def test_accept_a_suggestion(world: World) -> None:
    w = world
    rev = w.client("reviewer")
    item = rev.get(f"/api/projects/{w.pa}/items/{w.items_a[0]}").json()
    sid = item["suggestions"][0]["id"]
    r = rev.post(f"/api/projects/{w.pa}/suggestions/{sid}/accept")
    assert r.status_code == 201, r.text
    assert r.json()["annotation"]["suggestion_id"] == sid and r.json()["annotation"]["value"] == POS
    assert rev.post(f"/api/projects/{w.pa}/suggestions/{sid}/accept").json() == r.json()  # idempotent
    # an annotator may accept only on their own task
    ann = w.client("annotator")
    assert ann.post(f"/api/projects/{w.pa}/suggestions/{sid}/accept").status_code == 403
    assert ann.post(f"/api/projects/{w.pa}/suggestions/99999/accept").status_code == 404


def test_members_and_export(world: World) -> None:
    w = world
    mgr = w.client("manager")
    members = mgr.get(f"/api/projects/{w.pa}/members").json()["members"]
    assert {m["username"]: m["role"] for m in members}["viewer"] == "viewer"
    assert mgr.post(f"/api/projects/{w.pa}/members", json={"username": "ghost", "role": "viewer"}).status_code == 404
    uid = w.users["viewer"].id
    assert mgr.delete(f"/api/projects/{w.pa}/members/{uid}").status_code == 204
    assert w.client("viewer").get(f"/api/projects/{w.pa}").status_code == 404  # removal is immediate
    iid = mgr.post(f"/api/projects/{w.pa}/next").json()["task"]["item"]["id"]
    _submit(mgr, w, iid, POS, None)
    r = mgr.post(f"/api/projects/{w.pa}/exports", json={"format": "csv"})
    assert r.status_code == 202, r.text  # a job: poll it, then download what it names
    job = w.app.state.jobs.wait(w.pa, r.json()["job"]["id"], timeout=60)  # type: ignore[attr-defined]
    assert job.status.value == "done", job
    dl = mgr.get(mgr.get(f"/api/projects/{w.pa}/jobs/{job.id}").json()["job"]["download"])
    assert dl.status_code == 200 and dl.content[:2] == b"PK"
    assert mgr.get(f"/api/projects/{w.pa}/exports/..%2f..%2fsecret.key").status_code == 404
    bad = mgr.post(f"/api/projects/{w.pa}/exports", json={"format": "pickle"})
    assert bad.status_code == 422 and "coco" in bad.json()["error"]["message"], bad.text
    with w.store.read() as tx:  # the export is the manager's event, not the system's
        events = [e for e in tx.provenance.events(w.pa) if e.kind == "export"]
    assert events and events[-1].actor == "user:manager", events
