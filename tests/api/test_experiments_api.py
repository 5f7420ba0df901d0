"""A/B experiments through the API, per role: start, list, read out, stop; the task payload per arm."""

from __future__ import annotations

import json
import uuid

from labelloop.active import split_arms
from labelloop.storage.experiments_repo import ExperimentRepo
from tests.api.conftest import World

ARMS = {"a": {"prefill": True}, "b": {"prefill": "off", "guideline": "v2: name the overall tone."}}


def _seed(first_in_b: bool) -> int:
    """A seed whose split of 6 items puts the first one in arm b (or a)."""
    return next(s for s in range(100) if bool(split_arms(6, s)[0]) is first_in_b)


def test_roles_start_list_read_and_stop(world: World) -> None:
    w = world
    url = f"/api/projects/{w.pa}/experiments"
    body = {"name": "prefill", **ARMS, "seed": 3}
    for role in ("viewer", "annotator", "reviewer"):
        r = w.client(role).post(url, json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "LL-DENIED", (role, r.text)
    assert w.client("outsider").post(url, json=body).status_code == 404
    r = w.client("manager").post(url, json=body)
    assert r.status_code == 201, r.text
    e = r.json()["experiment"]
    assert e["items"] == {"a": 3, "b": 3} and e["seed"] == 3 and e["status"] == "running"
    assert e["created_by"] == "user:manager" and e["described"]["b"].startswith("prefill off, guideline")
    for role in ("viewer", "reviewer", "manager", "admin"):
        listed = w.client(role).get(url)
        assert listed.status_code == 200 and [x["name"] for x in listed.json()["experiments"]] == ["prefill"]
        out = w.client(role).get(f"{url}/{e['id']}")
        assert out.status_code == 200, (role, out.text)
    assert w.client("annotator").get(url).status_code == 403  # annotators never learn their arm
    assert w.client("annotator").get(f"{url}/{e['id']}").status_code == 403
    assert w.client("b_annotator").get(f"{url}/{e['id']}").status_code == 404
    doc = w.client("viewer").get(f"{url}/{e['id']}", params={"confidence": 0.9}).json()
    assert doc["confidence"] == 0.9 and doc["arms"]["a"]["items"] == 3 and "gold answer" in doc["reference_rule"]
    assert doc["tests"]["seconds"]["welch_p"] is None and "fewer than 2" in doc["tests"]["seconds"]["reason"]
    assert w.client("viewer").get(f"{url}/{e['id']}", params={"confidence": 1.5}).status_code == 422
    assert w.client("viewer").get(f"{url}/999").status_code == 404
    for role in ("viewer", "annotator", "reviewer"):
        assert w.client(role).post(f"{url}/{e['id']}/stop").status_code == 403
    stopped = w.client("manager").post(f"{url}/{e['id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["experiment"]["status"] == "stopped"
    again = w.client("manager").post(f"{url}/{e['id']}/stop")
    assert again.status_code == 409 and "already stopped" in again.json()["error"]["message"]


def test_bad_input_is_refused_and_writes_nothing(world: World) -> None:
    w = world
    c = w.client("manager")
    url = f"/api/projects/{w.pa}/experiments"
    cases = [
        ({"name": "x", "a": {"prefil": True}, "b": {}}, 422, "arm a: expected settings among"),
        ({"name": "x", "a": {"prefill": True}, "b": {"prefill": "on"}}, 422, "the same one twice"),
        (
            {"name": "x", "a": {"accept_threshold": 0.9}, "b": {"accept_threshold": -0.1}},
            422,
            "arm b: accept_threshold: expected a number in (0, 1]",
        ),
        ({"name": "x", "a": {"backend": "nope"}, "b": {}}, 422, "which has none"),
        ({"name": "x", "a": {}, "b": {"prefill": False}, "extra": 1}, 422, "extra"),
        ({"name": "x", "a": {}, "b": {"prefill": False}, "scope": "some"}, 422, "scope"),
    ]
    for body, status, words in cases:
        r = c.post(url, json=body)
        assert r.status_code == status and words in r.json()["error"]["message"], (body, r.text)
    assert c.get(url).json()["experiments"] == []
    assert c.post(url, json={"name": "first", **ARMS}).status_code == 201
    taken = c.post(url, json={"name": "first", "a": {}, "b": {"guideline": "v3"}})
    assert taken.status_code == 409 and "already exists" in taken.json()["error"]["message"]
    busy = c.post(url, json={"name": "second", "a": {}, "b": {"guideline": "v3"}})
    assert busy.status_code == 409 and "'first' (6 items)" in busy.json()["error"]["message"]
    assert [x["name"] for x in c.get(url).json()["experiments"]] == ["first"]


def test_next_applies_the_items_arm(world: World) -> None:
    """The first queued item has the world's one suggestion: shown in arm a, hidden in arm b."""
    w = world
    mgr, ann = w.client("manager"), w.client("annotator")
    url = f"/api/projects/{w.pa}/experiments"
    first = w.items_a[0]
    for n, in_b in enumerate((True, False)):
        e = mgr.post(url, json={"name": f"e{n}", **ARMS, "seed": _seed(in_b)}).json()["experiment"]
        with w.store.read() as tx:
            assert dict(ExperimentRepo(tx.conn).items_page(e["id"]))[first] == ("b" if in_b else "a")
        task = ann.post(f"/api/projects/{w.pa}/next").json()["task"]  # (the same held task both times)
        assert task["item"]["id"] == first
        if in_b:
            assert task["suggestions"] == [] and task["blind"] is True
            assert task["guidelines"] == "v2: name the overall tone."
        else:
            assert [s["backend"] for s in task["suggestions"]] == ["test"] and task["blind"] is False
            assert task["guidelines"] is None
        assert mgr.post(f"{url}/{e['id']}/stop").status_code == 200
    # the annotator's work comes back in the readout of the experiment it ran under
    e = mgr.post(url, json={"name": "timed", **ARMS, "seed": 1}).json()["experiment"]
    r = ann.post(
        f"/api/projects/{w.pa}/items/{first}/annotations",
        json={"value": [{"id": "r1", "control": "sentiment", "labels": ["pos"]}], "base_version": None,
              "lead_time_s": 4.25},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    doc = mgr.get(f"{url}/{e['id']}").json()
    arm = "b" if split_arms(6, 1)[0] else "a"
    assert doc["arms"][arm]["tasks"] == 1 and doc["arms"][arm]["seconds"]["value"] == 4.25
    assert doc["arms"][arm]["accuracy"]["reference"]["none"] == 1
    json.dumps(doc, allow_nan=False)


def test_threshold_arms_are_created_and_read_out(world: World) -> None:
    w = world
    url = f"/api/projects/{w.pa}/experiments"
    body = {"name": "floors", "a": {"accept_threshold": 0.5}, "b": {"accept_threshold": "0.99"}, "seed": 1}
    r = w.client("manager").post(url, json=body)
    assert r.status_code == 201, r.text
    e = r.json()["experiment"]
    assert e["arms"] == {
        "a": {"prefill": True, "accept_threshold": 0.5},
        "b": {"prefill": True, "accept_threshold": 0.99},
    }
    assert e["described"]["b"] == "prefill on, accept threshold 0.99 (floor on the certified one)"
    doc = w.client("viewer").get(f"{url}/{e['id']}").json()
    a, b = doc["arms"]["a"]["auto_accept"], doc["arms"]["b"]["auto_accept"]
    assert (a["accept_threshold"], b["accept_threshold"]) == (0.5, 0.99) and a["effective"] is None
    assert a["share"]["n"] == 0 and a["share"]["value"] is None
    assert a["share"]["reason"] == "no auto-accepted share observations"
    assert doc["tests"]["auto_share"]["fisher_p"] is None and doc["auto_accept"]["runs"] == []
    assert "no routing run (labelloop route)" in doc["auto_accept"]["notes"][0]
    json.dumps(doc, allow_nan=False)
    plain = w.client("manager").post(url, json={"name": "x", "a": {}, "b": {"prefill": False}})
    assert plain.status_code == 409  # the items are taken by the running threshold experiment
