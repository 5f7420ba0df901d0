"""``GET /api/projects/{pid}/certificate`` and the tiers in ``/stats``, per role."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from labelloop.core.accounts import Role
from labelloop.services.accounts import add_member
from labelloop.services.live_routing import RoutePolicy, route_project
from tests.api.conftest import World
from tests.services.live_world import digits_project


def test_certificate_and_stats_tiers(world: World) -> None:
    viewer = world.client("viewer")
    before = viewer.get(f"/api/projects/{world.pa}/certificate")
    assert before.status_code == 200 and before.json()["run"] is None and "never routed" in before.json()["message"]
    assert viewer.get(f"/api/projects/{world.pa}/stats").json()["tiers"] == {}
    r = route_project(world.store, world.pa, "test", policy=RoutePolicy(audit_rate=0.0), trainable=False)
    body = viewer.get(f"/api/projects/{world.pa}/certificate").json()
    assert body["run"]["run_id"] == r.run_id and body["run"]["needed"] == 149 and not body["run"]["certified"]
    assert body["project"]["tiers"] == {"review": 1} and body["project"]["auto_labels"] == 0
    assert world.client("manager").get(f"/api/projects/{world.pa}/stats").json()["tiers"] == {"review": 1}
    assert world.client("annotator").get(f"/api/projects/{world.pa}/certificate").status_code == 403
    assert world.client("b_annotator").get(f"/api/projects/{world.pa}/certificate").status_code == 404


def _wait(c: TestClient, pid: int, job: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = c.get(f"/api/projects/{pid}/jobs/{job['id']}").json()["job"]
    return job


def test_a_routing_run_is_a_background_job_of_the_server(world: World) -> None:
    mgr = world.client("manager")
    url = f"/api/projects/{world.pa}/routing/runs"
    for who in ("viewer", "annotator", "reviewer"):
        assert world.client(who).post(url, json={}).status_code == 403
    assert world.client("b_annotator").post(url, json={}).status_code == 404
    for bad in ({"target": 1.5}, {"audit_rate": -0.1}, {"evidence": "some"}, {"nope": 1}):
        assert mgr.post(url, json=bad).status_code == 422, bad
    r = mgr.post(url, json={"backend": "test", "audit_rate": 0.0})
    assert r.status_code == 202, r.text
    job = _wait(mgr, world.pa, r.json()["job"])
    assert job["status"] == "done" and job["kind"] == "route", job
    assert {k: v for k, v in job["result"]["tiers"].items() if v} == {"review": 1}
    assert job["result"]["certificate"]["needed"] == 149
    assert mgr.get(f"/api/projects/{world.pa}/certificate").json()["run"]["run_id"] == job["result"]["run_id"]


def test_a_learning_round_is_a_background_job_with_progress(world: World) -> None:
    w = digits_project(world.store, per_class=6)
    add_member(world.store, w.pid, "manager", Role.MANAGER)
    add_member(world.store, w.pid, "viewer", Role.VIEWER)
    mgr, url = world.client("manager"), f"/api/projects/{w.pid}/learning/rounds"
    assert world.client("viewer").post(url, json={"backend": "image.classify"}).status_code == 403
    for bad in ({"backend": "image.classify", "sampler": "psychic"}, {"backend": "image.classify", "batch": 0}, {}):
        r = mgr.post(url, json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert "psychic" in mgr.post(url, json={"backend": "image.classify", "sampler": "psychic"}).text
    r = mgr.post(url, json={"backend": "image.classify", "batch": 4, "audit_rate": 0.0})
    assert r.status_code == 202, r.text
    job = _wait(mgr, w.pid, r.json()["job"])
    assert job["status"] == "done" and job["kind"] == "learn", job
    result = job["result"]
    assert result["round_id"] is not None and len(result["batch"]) == 4 and result["trained_on"] == 12
    assert job["progress"]["done"] == job["progress"]["total"] == result["predicted"] + result["failed"]
    assert result["route"]["model_version"] == result["model_version"]
    # a backend that does not train fails the job with its reason, not the server
    r = mgr.post(url, json={"backend": "image.faces", "batch": 4})
    failed = _wait(mgr, w.pid, r.json()["job"])
    assert failed["status"] == "failed" and "train" in failed["error"], failed


def test_the_samplers_a_round_accepts_are_listed_for_any_user(world: World) -> None:
    from labelloop.services.learning import SAMPLERS

    got = world.client("viewer").get("/api/samplers")
    assert got.status_code == 200, got.text
    listed = got.json()["samplers"]
    assert [s["name"] for s in listed] == list(SAMPLERS)  # every name a round accepts, in the menu's order
    assert all(s["description"].strip() for s in listed)
    assert world.client().get("/api/samplers").status_code == 401
