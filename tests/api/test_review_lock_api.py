"""Through the API: review/next locks an annotation to its reviewer; stats show skill per label."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.conftest import World

POS = [{"id": "r1", "control": "sentiment", "labels": ["pos"]}]
NEG = [{"id": "r1", "control": "sentiment", "labels": ["neg"]}]


def _annotate(w: World, who: str, value: Any) -> dict[str, Any]:
    c = w.client(who)
    task = c.post(f"/api/projects/{w.pa}/next").json()["task"]
    r = c.post(
        f"/api/projects/{w.pa}/items/{task['item']['id']}/annotations",
        json={"value": value, "base_version": None},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    return dict(r.json()["annotation"])


def test_two_reviewers_get_different_annotations_and_cannot_review_each_others(world: World) -> None:
    w = world
    a1, a2 = _annotate(w, "annotator", POS), _annotate(w, "annotator2", NEG)
    rev, mgr = w.client("reviewer"), w.client("manager")
    t1 = rev.post(f"/api/projects/{w.pa}/review/next").json()["task"]
    t2 = mgr.post(f"/api/projects/{w.pa}/review/next").json()["task"]
    assert {t1["annotation"]["id"], t2["annotation"]["id"]} == {a1["id"], a2["id"]}
    assert t1["lock_expires_at"] and t2["lock_expires_at"]
    assert rev.post(f"/api/projects/{w.pa}/review/next").json()["task"]["annotation"]["id"] == t1["annotation"]["id"]
    # the manager may not review the annotation the reviewer holds: 409 naming it, nothing written
    held = t1["annotation"]
    r = mgr.post(
        f"/api/projects/{w.pa}/items/{held['item_id']}/reviews", json={"annotation_id": held["id"], "verdict": "reject"}
    )
    assert r.status_code == 409 and f"annotation {held['id']} is locked for review" in r.text
    ok = rev.post(
        f"/api/projects/{w.pa}/items/{held['item_id']}/reviews", json={"annotation_id": held["id"], "verdict": "accept"}
    )
    assert ok.status_code == 201, ok.text
    assert rev.post(f"/api/projects/{w.pa}/review/next").status_code == 204  # the other one is the manager's


def test_stats_show_skill_by_label_from_reviews(world: World) -> None:
    w = world
    a = _annotate(w, "annotator", POS)
    rev = w.client("reviewer")
    assert rev.post(f"/api/projects/{w.pa}/review/next").json()["task"]["annotation"]["id"] == a["id"]
    r = rev.post(
        f"/api/projects/{w.pa}/items/{a['item_id']}/reviews",
        json={"annotation_id": a["id"], "verdict": "correct", "value": NEG},
    )
    assert r.status_code == 201, r.text
    stats = w.client("manager").get(f"/api/projects/{w.pa}/stats").json()
    me = next(x for x in stats["annotators"] if x["username"] == "annotator")
    assert me["skill_by_label"] == {
        "sentiment": {
            "pos": {"seen": 1, "accuracy": 0.0, "skill": 0.4},
            "neg": {"seen": 1, "accuracy": 0.0, "skill": 0.4},
        }
    }
    assert all(
        x["skill_by_label"] == {} for x in stats["annotators"] if x["username"] == "reviewer"
    )  # not the reviewer's
