"""``GET /api/projects/{pid}/certificate`` and the tiers in ``/stats``, per role."""

from __future__ import annotations

from labelloop.services.live_routing import RoutePolicy, route_project
from tests.api.conftest import World


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
