"""A/B experiments in a browser, against the real server: start, read out, stop; read-only roles.

The project holds scikit-learn's handwritten 0s and 1s (tests/services/live_world.py) with gold
answers on some items. A manager opens *Experiments* from the project page, is refused an
experiment without a name (the server's message shown), starts *pre-fill on vs off* with a seed,
and lands on its readout. An annotator then labels twenty items (the arms apply to their tasks)
and the readout shows per arm the tasks, accuracy against the gold answers with its interval,
seconds per task and the tests between the arms, the same numbers the API gives. The manager
stops it. A viewer reads the list and the readout but gets no form and no Stop button; a name
with markup stays text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelloop.core.accounts import Role
from labelloop.services.accounts import add_member, create_user
from labelloop.services.experiment_readout import experiment_readout
from labelloop.services.qc import set_gold
from labelloop.services.tasks import next_task, submit
from labelloop.storage import Store
from tests.services.live_world import Digits, digits_project, region
from tests.ui.test_ui_server import PASSWORD, Site, add_people, login, serve_app

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("sklearn")

BAD = "<img src=x onerror=alert(1)>"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Site, Digits]]:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data = tmp_path / "data"
    store = Store.open(None, data)
    w = digits_project(store, per_class=6)
    add_people(store, w.pid)
    create_user(store, "ann", PASSWORD)
    add_member(store, w.pid, "ann", Role.ANNOTATOR)
    unlabelled = sorted(set(w.truth) - set(w.trained))
    for i in unlabelled[:40]:  # gold answers: the reference the readout judges tasks against
        set_gold(store, w.pid, i, region(w.truth[i]), "user:boss")
    with serve_app(store, data) as url:
        yield Site(url, store, {"digits": w.pid}), w


def _rows(page: Any, sel: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"{sel} tbody tr", "rows => rows.map(r => [...r.children].map(c => c.innerText.trim()))"
    )  # type: ignore[no-any-return]


def _label(store: Store, w: Digits, n: int) -> None:
    """The annotator takes and submits ``n`` tasks (right answers, 4 s each)."""
    from labelloop.storage.accounts_repo import AccountRepo

    with store.read() as tx:
        found = AccountRepo(tx.conn).user_by_name("ann")
    assert found is not None
    user = found[0]
    for k in range(n):
        task = next_task(store, w.pid, user, "annotator")
        assert task is not None
        iid = task["item"]["id"]
        submit(store, w.pid, iid, user, "annotator", region(w.truth[iid]), base_version=None,
               idempotency_key=f"exp-{k}", lead_time_s=4.0)  # fmt: skip


def test_start_read_and_stop_an_experiment(site: tuple[Site, Digits], browser: Any) -> None:
    s, w = site
    pid = s.projects["digits"]
    errors: list[str] = []
    page = login(browser, s, "mgr", errors)
    page.on("dialog", lambda d: d.accept())  # the Stop confirmation
    page.goto(f"{s.url}/#/p/{pid}")
    page.click("#open-experiments")
    page.wait_for_selector("#exp-none")

    # no name: the server refuses, its message is shown, nothing is created
    page.click("#exp-submit")
    page.wait_for_selector("#exp-error:not([hidden])")
    assert "name" in page.inner_text("#exp-error").lower()
    with s.store.read() as tx:
        assert not tx.conn.exec_driver_sql("SELECT count(*) FROM experiments").scalar()

    page.fill("#exp-name", "prefill-ab")
    assert page.input_value("#exp-a") == "on" and page.input_value("#exp-b") == "off"
    page.fill("#exp-seed", "7")
    page.click("#exp-submit")
    page.wait_for_selector("#exp-title")
    assert page.inner_text("#exp-title") == "prefill-ab" and page.inner_text("#exp-status") == "running"
    arms = _rows(page, "#exp-arms")
    assert [r[0] for r in arms] == ["Arm A", "Arm B"] and arms[0][1] == "prefill on" and arms[1][1] == "prefill off"
    assert all(r[3] == "0" for r in arms)  # no task yet
    assert "—" in arms[0][4]  # no accuracy yet: the reason is shown instead

    _label(s.store, w, 20)
    page.reload()
    page.wait_for_selector("#exp-arms")
    arms = _rows(page, "#exp-arms")
    api = experiment_readout(s.store, pid, "prefill-ab").to_json()
    for row, name in zip(arms, ("a", "b"), strict=True):
        arm = api["arms"][name]
        assert row[3] == str(arm["tasks"]) and arm["tasks"] > 0
        assert row[2] == f"{arm['items_done']} of {arm['items']}"
        if arm["accuracy"]["value"] is not None:  # judged against the gold answers
            assert row[4].startswith("100.0% [") and f"n={arm['accuracy']['n']}" in row[4] and "gold" in row[5]
        assert row[6].startswith("4.0 s")
    assert sum(int(r[3]) for r in arms) == 20
    tests = {r[0]: r[1:] for r in _rows(page, "#exp-tests")}
    assert set(tests) == {"Accuracy (B − A)", "Seconds per task (B − A)", "Agreement (B − A)"}
    assert "gold answer" in page.inner_text("#exp-reference")
    page.screenshot(path="/tmp/ui_experiment_readout.png", full_page=True)

    page.click("#exp-stop")
    page.wait_for_function("() => document.querySelector('#exp-status')?.textContent === 'stopped'")
    assert page.locator("#exp-stop").count() == 0
    page.click("text=Experiments")
    page.wait_for_selector("#exp-list")
    listed = _rows(page, "#exp-list")
    assert listed[0][:2] == ["prefill-ab", "stopped"]
    assert not errors, errors


def test_a_viewer_reads_but_cannot_start_or_stop(site: tuple[Site, Digits], browser: Any) -> None:
    from labelloop.services.experiments import create_experiment

    s, _w = site
    pid = s.projects["digits"]
    create_experiment(s.store, pid, "guide-v2", {"guideline": BAD}, {"guideline": "v2: zoom in first"}, seed=3)
    errors: list[str] = []
    page = login(browser, s, "vic", errors)
    page.goto(f"{s.url}/#/p/{pid}/experiments")
    page.wait_for_selector("#exp-list")
    assert page.locator("#exp-form").count() == 0 and page.locator("#exp-readonly").count() == 1
    page.click(".exp-link")
    page.wait_for_selector("#exp-arms")
    assert page.locator("#exp-stop").count() == 0
    assert BAD in page.inner_text("#exp-arms")  # markup in an arm's guideline is text, not HTML
    assert page.locator("#exp-arms img").count() == 0
    assert not errors, errors
