"""The account page in a browser, against the real server: change one's password (a wrong
current one, a mismatch, a too short and an unchanged new one first, each with its message),
log out and in with the new one; API tokens created (the secret shown once), used over HTTP,
revoked by a password change or from the list, and refused afterwards; too many wrong current
passwords are rate limited with the wait shown."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import LabelSchema
from labelloop.services.accounts import create_token, list_tokens
from labelloop.services.projects import create_project
from labelloop.storage import Store
from tests.helpers import IMAGE_SCHEMA
from tests.ui.test_ui_server import PASSWORD, Site, add_people, login, serve_app

uvicorn = pytest.importorskip("uvicorn")

NEW_PASSWORD = "a brand new passphrase"
BAD = "<b>bold</b> & <img src=x onerror=alert(1)>"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data = tmp_path / "data"
    store = Store.open(None, data)
    pid = create_project(store, "streets", LabelSchema.model_validate(IMAGE_SCHEMA), "user:test").id
    add_people(store, pid)
    with serve_app(store, data) as url:
        yield Site(url, store, {"streets": pid})


def _me(site: Site, token: str) -> int:
    """GET /api/me with a bearer token: the HTTP status."""
    req = urllib.request.Request(site.url + "/api/me", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            assert json.loads(res.read())["user"]["username"] == "mgr"
            return int(res.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def _watch(page: Any, errors: list[str]) -> None:
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
    )


def _change(page: Any, current: str, new: str, again: str | None = None) -> str:
    page.fill("#current-password", current)
    page.fill("#new-password", new)
    page.fill("#confirm-password", new if again is None else again)
    answers = page.get_attribute("#password-message", "data-answers")
    page.press("#confirm-password", "Enter")  # keyboard: Enter submits
    page.wait_for_function(
        "(n) => (document.querySelector('#password-message').dataset.answers || '') !== n", arg=answers or ""
    )
    return str(page.inner_text("#password-message"))


def test_change_password_and_tokens(site: Site, browser: Any) -> None:
    errors: list[str] = []
    page = login(browser, site, "mgr", errors)
    _watch(page, errors)
    page.click("#account-link")
    page.wait_for_selector("#password-form")
    assert page.inner_text("#account-name") == "mgr"
    assert page.evaluate("() => document.activeElement.id") == "current-password"

    # a token made before the change works over HTTP, and the change revokes it
    _tid, early = create_token(site.store, _user(site, "mgr"), "ci")
    assert _me(site, early) == 200

    msg = _change(page, "not my password", NEW_PASSWORD)
    assert msg == "The current password is wrong.", msg
    assert page.get_attribute("#current-password", "aria-invalid") == "true"
    msg = _change(page, PASSWORD, NEW_PASSWORD, "a different passphrase")
    assert "differ" in msg and page.get_attribute("#confirm-password", "aria-invalid") == "true"
    msg = _change(page, PASSWORD, "short", "short")
    assert msg.startswith("The new password was refused") and "at least 10 characters" in msg, msg
    assert page.get_attribute("#new-password", "aria-invalid") == "true"
    msg = _change(page, PASSWORD, PASSWORD)
    assert "different from the current one" in msg, msg
    page.reload()  # the page is still usable after refusals; the token is listed
    page.wait_for_selector("#tokens tbody tr")
    assert page.locator("#tokens tr[data-revoked='0']").count() == 1
    msg = _change(page, PASSWORD, NEW_PASSWORD)
    assert msg.startswith("Password changed"), msg
    assert page.get_attribute("#password-message", "class") == "ok"
    page.wait_for_selector("#tokens tr[data-revoked='1']")
    assert _me(site, early) == 401
    page.screenshot(path="/tmp/ui_account_password.png", full_page=True)

    # log out, the old password fails, the new one works
    page.click("#logout")
    page.wait_for_selector("#username")
    page.fill("#username", "mgr")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#login-error >> text=Wrong user name or password.")
    page.fill("#password", NEW_PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#projects")

    # a token: its secret is shown once, works, then is revoked from the list
    page.goto(f"{site.url}/#/account")
    page.wait_for_selector("#token-form")
    page.fill("#token-name", BAD)
    page.press("#token-name", "Enter")
    page.wait_for_selector("#token-secret")
    secret = page.input_value("#token-secret")
    assert secret.startswith("ll_") and page.evaluate("() => document.activeElement.id") == "token-secret"
    assert "shown only this once" in page.inner_text("#token-secret-box")
    row = page.locator("#tokens tr[data-revoked='0']")
    assert row.count() == 1 and BAD in row.inner_text()
    assert page.locator("#tokens img, #tokens b").count() == 0  # the name is text
    page.click("#token-copy")
    page.wait_for_function("() => document.querySelector('#token-copy-hint').textContent !== ''")
    assert _me(site, secret) == 200
    page.screenshot(path="/tmp/ui_account_token.png", full_page=True)
    page.reload()
    page.wait_for_selector("#tokens tr[data-revoked='0']")
    assert page.locator("#token-secret").count() == 0  # never shown again
    assert secret not in page.content()
    revoke = page.locator("#tokens tr[data-revoked='0'] .token-revoke")
    revoke.focus()
    page.keyboard.press("Enter")  # the first press asks
    assert revoke.inner_text() == "Press again to revoke" and _me(site, secret) == 200
    page.keyboard.press("Enter")
    page.wait_for_selector("#tokens tr[data-revoked='0']", state="detached")
    assert _me(site, secret) == 401
    assert all(t["revoked"] for t in list_tokens(site.store, _user(site, "mgr")))
    assert not errors, errors


def test_wrong_current_passwords_are_rate_limited(site: Site, browser: Any) -> None:
    errors: list[str] = []
    page = login(browser, site, "rex", errors)
    _watch(page, errors)
    page.goto(f"{site.url}/#/account")
    page.wait_for_selector("#password-form")
    # five attempts a minute per user and address: the login was one, four wrong guesses follow
    for i in range(4):
        assert _change(page, f"guess number {i}", NEW_PASSWORD) == "The current password is wrong."
    msg = _change(page, PASSWORD, NEW_PASSWORD)  # even the right one waits now
    assert msg.startswith("Too many wrong attempts. Try again in ") and msg.endswith(" s."), msg
    seconds = int(msg.removeprefix("Too many wrong attempts. Try again in ").removesuffix(" s."))
    assert 1 <= seconds <= 61
    assert not errors, errors


def _user(site: Site, name: str) -> Any:
    from labelloop.storage.accounts_repo import AccountRepo

    with site.store.read() as tx:
        found = AccountRepo(tx.conn).user_by_name(name)
    assert found is not None
    return found[0]
