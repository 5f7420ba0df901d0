"""Log-in, sessions, CSRF, rate limits, API tokens, password changes, the secret key."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from labelloop.errors import InputRejected
from labelloop.services import accounts
from labelloop.services.accounts import change_password, load_secret, remove_member
from labelloop.storage import now
from labelloop.storage import tables_accounts as ta
from tests.api.conftest import PASSWORD, World


def _login(c, name: str = "annotator", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return c.post("/api/auth/login", json={"username": name, "password": password})


def test_login_sets_a_strict_httponly_cookie_and_me_works(world: World) -> None:
    c = world.client()
    r = _login(c)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == {"id": world.users["annotator"].id, "username": "annotator", "is_admin": False}
    cookie = r.headers["set-cookie"]
    assert "ll_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    me = c.get("/api/me").json()
    assert me["user"]["username"] == "annotator" and me["csrf_token"] == body["csrf_token"]
    assert [p["name"] for p in c.get("/api/projects").json()["projects"]] == ["a"]


def test_bad_credentials_look_the_same_and_are_rate_limited(world: World) -> None:
    c = world.client()
    wrong = _login(c, "annotator", "not the password")
    unknown = _login(c, "nobody-at-all", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    statuses = [_login(c, "viewer", "wrong password!").status_code for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    limited = _login(c, "viewer", PASSWORD)  # even the right password waits out the window
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert _login(c, "reviewer").status_code == 200  # another account from the same address is fine


def test_session_fixation_a_planted_cookie_is_replaced_and_revoked(world: World) -> None:
    first = world.client()
    _login(first)
    planted = first.cookies["ll_session"]
    victim = world.client()
    victim.cookies.set("ll_session", planted, domain="testserver.local")
    assert _login(victim, "annotator").status_code == 200
    assert victim.cookies["ll_session"] != planted
    attacker = world.client()
    attacker.cookies.set("ll_session", planted, domain="testserver.local")
    assert attacker.get("/api/me").status_code == 401


def test_csrf_missing_wrong_or_cross_origin_is_refused(world: World) -> None:
    c = world.client()
    csrf = _login(c, "manager").json()["csrf_token"]
    url = f"/api/projects/{world.pa}/settings"
    assert c.put(url, json={"overlap": 2}).status_code == 403
    assert c.put(url, json={"overlap": 2}, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    foreign = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    assert c.put(url, json={"overlap": 2}, headers=foreign).status_code == 403
    assert c.get(url).json()["overlap"] == 1  # nothing changed
    ok = c.put(url, json={"overlap": 2}, headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"})
    assert ok.status_code == 200 and ok.json()["overlap"] == 2
    assert c.post("/api/tokens", json={"name": "x"}).status_code == 403  # token endpoints too


def test_cors_is_not_granted(world: World) -> None:
    r = world.client("manager").get("/api/projects", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_logout_revokes_the_session(world: World) -> None:
    c = world.client()
    csrf = _login(c).json()["csrf_token"]
    cookie = c.cookies["ll_session"]
    assert c.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    again = world.client()
    again.cookies.set("ll_session", cookie, domain="testserver.local")
    assert again.get("/api/me").status_code == 401


def test_api_tokens_are_shown_once_and_revocable(world: World) -> None:
    c = world.client("viewer")
    made = c.post("/api/tokens", json={"name": "script"})
    assert made.status_code == 201
    token = made.json()["token"]
    listed = c.get("/api/tokens").json()["tokens"]
    assert token not in str(listed) and any(t["name"] == "script" for t in listed)
    other = world.client()
    other.headers["Authorization"] = f"Bearer {token}"
    assert other.get("/api/me").status_code == 200
    assert world.client("annotator").delete(f"/api/tokens/{made.json()['id']}").status_code == 404  # not theirs
    assert c.delete(f"/api/tokens/{made.json()['id']}").status_code == 204
    assert other.get("/api/me").status_code == 401


def test_password_change_revokes_other_sessions_and_tokens(world: World) -> None:
    keep, other = world.client(), world.client()
    _login(keep, "reviewer")
    _login(other, "reviewer")
    uid = world.users["reviewer"].id
    change_password(world.store, uid, "a brand new password", keep_session=keep.cookies["ll_session"])
    assert keep.get("/api/me").status_code == 200
    assert other.get("/api/me").status_code == 401
    assert world.client("reviewer").get("/api/me").status_code == 401  # its API token too
    assert _login(world.client(), "reviewer", "a brand new password").status_code == 200


def test_secret_key_is_generated_private_and_kept(tmp_path: Path) -> None:
    first = load_secret(tmp_path)
    path = tmp_path / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(tmp_path) == first and len(first) == 64
    assert load_secret(tmp_path, "configured") == b"configured"
    os.chmod(path, 0o644)
    with pytest.raises(InputRejected, match="chmod 600"):
        load_secret(tmp_path)


def test_no_open_sign_up(world: World) -> None:
    c = world.client()
    for path in ("/api/auth/register", "/api/auth/signup", "/api/users"):
        assert c.post(path, json={"username": "x", "password": "y" * 12}).status_code in (404, 405)


def test_revocations_through_the_server_apply_on_the_next_request(world: World) -> None:
    # authenticated callers are kept in memory for a moment (services.accounts.cached_caller):
    # a revocation made through this process must still take effect at once
    items = f"/api/projects/{world.pa}/items"
    c = world.client("viewer")
    made = c.post("/api/tokens", json={"name": "script"}).json()
    script = world.client()
    script.headers["Authorization"] = f"Bearer {made['token']}"
    assert script.get(items).status_code == script.get(items).status_code == 200  # the second from memory
    assert c.delete(f"/api/tokens/{made['id']}").status_code == 204
    assert script.get(items).status_code == 401

    browser = world.client()
    csrf = _login(browser, "reviewer").json()["csrf_token"]
    assert browser.get(items).status_code == browser.get(items).status_code == 200
    assert browser.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert browser.get(items).status_code == 401

    assert c.get(items).status_code == c.get(items).status_code == 200  # the viewer's own token
    remove_member(world.store, world.pa, world.users["viewer"].id)
    assert c.get(items).status_code == 404  # no longer a member: the project is invisible


def test_a_revocation_made_elsewhere_applies_within_the_stated_bound(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # another worker or the CLI changes the database without this process knowing: the caller
    # answer in memory is trusted for at most CALLER_TTL_S (1 s; shortened here)
    monkeypatch.setattr(accounts, "CALLER_TTL_S", 0.3)
    items = f"/api/projects/{world.pa}/items"
    c = world.client("manager")
    assert c.get(items).status_code == 200
    with world.store.transaction() as tx:  # as another process would: plain SQL, no notice
        tx.conn.execute(
            update(ta.api_tokens).where(ta.api_tokens.c.user_id == world.users["manager"].id).values(revoked_at=now())
        )
    time.sleep(0.35)
    assert c.get(items).status_code == 401
