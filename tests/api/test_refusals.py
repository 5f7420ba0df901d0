"""The security audit log: refused requests are kept (who, what, why), floods are summarised,
only instance admins read it; and a user changes their own password over the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelloop.cli.main import app as cli_app
from labelloop.services import refusals
from labelloop.services.refusals import RefusalLog
from labelloop.storage import Store
from tests.api.conftest import PASSWORD, World


def _login(c, name: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return c.post("/api/auth/login", json={"username": name, "password": password})


def _newest(w: World) -> dict[str, object]:
    return refusals.latest(w.store, 1)[0]


def test_another_projects_item_is_404_and_the_denial_is_logged(world: World) -> None:
    # security-tests.md #3: an annotator of project b reaches for project a's item
    c = world.client("b_annotator")
    r = c.get(f"/api/projects/{world.pa}/items/{world.items_a[0]}")
    assert r.status_code == 404
    row = _newest(world)
    assert row["username"] == "b_annotator" and row["user_id"] == world.users["b_annotator"].id
    assert row["status"] == 404 and row["method"] == "GET"
    assert row["path"] == f"/api/projects/{world.pa}/items/{world.items_a[0]}"
    # ... and through their own project, an item of another project is not found either (logged too)
    r = c.get(f"/api/projects/{world.pb}/items/{world.items_a[0]}")
    assert r.status_code == 404 and _newest(world)["path"] == f"/api/projects/{world.pb}/items/{world.items_a[0]}"


def test_role_denials_bad_logins_and_missing_credentials_are_logged(world: World) -> None:
    assert world.client("viewer").put(f"/api/projects/{world.pa}/settings", json={"overlap": 2}).status_code == 403
    row = _newest(world)
    assert (row["username"], row["status"], row["code"]) == ("viewer", 403, "LL-DENIED")
    assert "viewer" in str(row["reason"])
    assert _login(world.client(), "manager", "not the password").status_code == 401
    row = _newest(world)
    assert (row["username"], row["user_id"], row["status"]) == ("manager", None, 401)  # the name tried
    assert "not the password" not in str(row)  # never a credential
    assert world.client().get("/api/me").status_code == 401
    assert _newest(world)["username"] is None


def test_allowed_requests_and_unknown_routes_are_not_logged(world: World) -> None:
    before = len(refusals.latest(world.store, 1000))
    assert world.client("manager").get(f"/api/projects/{world.pa}").status_code == 200
    assert world.client("manager").get("/api/no/such/route").status_code == 404
    assert len(refusals.latest(world.store, 1000)) == before


def test_a_flood_is_summarised_not_stored_row_by_row(sqlite_store: Store) -> None:
    log = RefusalLog(burst=3)
    kept = [
        log.record(sqlite_store, ip="10.1.1.1", method="GET", path="/api/me", status=401, code="LL-AUTH", reason="x")
        for _ in range(10)
    ]
    assert kept == [True] * 3 + [False] * 7
    log.record(sqlite_store, ip="10.2.2.2", method="GET", path="/api/me", status=401, code="LL-AUTH", reason="y")
    assert len(refusals.latest(sqlite_store, 100)) == 4  # another address is not held back
    # a new window writes the first refusal with the count it summarises
    log._windows["10.1.1.1"].start -= 61
    assert log.record(sqlite_store, ip="10.1.1.1", method="GET", path="/api/me", status=401, code="LL-AUTH", reason="z")
    assert refusals.latest(sqlite_store, 1)[0]["suppressed"] == 7


def test_long_fields_are_cut_to_their_columns(world: World) -> None:
    c = world.client()
    r = c.get("/api/projects/1/items/1", headers={"Authorization": "Bearer " + "x" * 50})
    assert r.status_code == 401
    long_name = "n" * 100
    assert _login(c, long_name, "wrong password").status_code == 401
    assert _newest(world)["username"] == long_name


def test_only_instance_admins_read_the_log_and_it_pages(world: World) -> None:
    for _ in range(3):
        world.client().get("/api/me")
    assert world.client("manager").get("/api/admin/refusals").status_code == 403
    assert world.client().get("/api/admin/refusals").status_code == 401
    admin = world.client("admin")
    first = admin.get("/api/admin/refusals", params={"limit": 2}).json()
    assert len(first["refusals"]) == 2 and first["next_before_id"] == first["refusals"][-1]["id"]
    more = admin.get("/api/admin/refusals", params={"limit": 2, "before_id": first["next_before_id"]}).json()
    assert all(r["id"] < first["next_before_id"] for r in more["refusals"])
    only = admin.get("/api/admin/refusals", params={"username": "manager"}).json()["refusals"]
    assert only and {r["username"] for r in only} == {"manager"}  # its own 403 above
    assert admin.get("/api/admin/refusals", params={"limit": 0}).status_code == 422


def test_refusals_on_postgresql(store: Store) -> None:
    log = RefusalLog()
    log.record(store, ip="::1", method="POST", path="/api/x", status=403, code="LL-DENIED", reason="r" * 400)
    (row,) = refusals.latest(store, 10)
    assert row["reason"] == "r" * 300 and row["ip"] == "::1"


def test_cli_lists_refusals_without_rendering_markup(world: World, tmp_path: Path) -> None:
    assert _login(world.client(), "[b]x[/b]", "wrong password").status_code == 401
    data_dir = tmp_path / "data"
    r = CliRunner().invoke(cli_app, ["--data-dir", str(data_dir), "audit", "refusals", "--limit", "5"])
    assert r.exit_code == 0, r.output
    assert "[b]x[/b]" in r.output  # shown as typed, not as bold markup
    r = CliRunner().invoke(cli_app, ["--data-dir", str(data_dir), "audit", "refusals", "--json", "--user", "[b]x[/b]"])
    assert r.exit_code == 0 and '"status": 401' in r.output


def test_password_change_over_the_api(world: World) -> None:
    keep, other = world.client(), world.client()
    _login(keep, "reviewer")
    _login(other, "reviewer")
    csrf = keep.get("/api/me").json()["csrf_token"]
    keep.headers["X-CSRF-Token"] = csrf
    wrong = keep.post("/api/auth/password", json={"current_password": "nope nope nope", "new_password": "x" * 12})
    assert wrong.status_code == 403 and keep.get("/api/me").status_code == 200  # still logged in
    short = keep.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422
    same = keep.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": PASSWORD})
    assert same.status_code == 422
    assert _login(world.client(), "reviewer").status_code == 200  # nothing changed so far
    ok = keep.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": "a brand new password"})
    assert ok.status_code == 204, ok.text
    assert keep.get("/api/me").status_code == 200  # the session that asked stays
    assert other.get("/api/me").status_code == 401
    assert world.client("reviewer").get("/api/me").status_code == 401  # API token revoked
    world.app.state.login_limiter.clear()  # (this test logs in often)
    assert _login(world.client(), "reviewer", "a brand new password").status_code == 200
    assert _login(world.client(), "reviewer").status_code == 401


def test_password_guessing_through_the_change_route_is_rate_limited(world: World) -> None:
    c = world.client("annotator")
    codes = [
        c.post("/api/auth/password", json={"current_password": f"guess {i}", "new_password": "x" * 12}).status_code
        for i in range(7)
    ]
    assert codes[:5] == [403] * 5 and codes[5:] == [429, 429]


@pytest.mark.parametrize("body", [{}, {"current_password": PASSWORD}, {"new_password": "x" * 2000}])
def test_password_change_bad_bodies(world: World, body: dict[str, str]) -> None:
    assert world.client("annotator").post("/api/auth/password", json=body).status_code == 422
