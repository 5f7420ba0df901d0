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

import math
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


@pytest.fixture
def two_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Site, Any]]:
    """A threshold experiment (floors 0.5 / 0.99) during which two model versions were routed."""
    from argon2 import PasswordHasher

    from labelloop.services import accounts
    from labelloop.services.experiments import create_experiment
    from labelloop.services.live_routing import RoutePolicy, route_project
    from labelloop.services.preannotate import preannotate
    from tests.services.live_world import in_tier, label

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data = tmp_path / "data"
    store = Store.open(None, data)
    w = digits_project(store)
    route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.7))
    label(store, w.pid, in_tier(store, w.pid, "audit"), w.truth)  # enough audits to certify a threshold
    create_experiment(store, "digits", "floors", {"accept_threshold": 0.5}, {"accept_threshold": 0.99}, seed=4,
                      scope="unlabelled")  # fmt: skip
    first = route_project(store, "digits", "image.classify", policy=RoutePolicy(audit_rate=0.1))
    label(store, w.pid, in_tier(store, w.pid, "audit"), w.truth)  # more labels: the model refits
    newer = preannotate(store, "digits", "image.classify")
    second = route_project(store, "digits", "image.classify", model_version=newer.model_version,
                           policy=RoutePolicy(audit_rate=0.1))  # fmt: skip
    assert first.model_version != newer.model_version
    add_people(store, w.pid)
    with serve_app(store, data) as url:
        yield Site(url, store, {"digits": w.pid}), (first, second)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def test_the_readout_shows_each_models_latest_run_apart(two_models: tuple[Site, Any], browser: Any) -> None:
    """Two model versions routed during one threshold experiment: a row per model, as the API says."""
    s, (first, second) = two_models
    pid = s.projects["digits"]
    api = experiment_readout(s.store, pid, "floors").to_json()
    by_model = api["auto_accept"]["by_model"]
    assert len(by_model) == 2
    errors: list[str] = []
    page = login(browser, s, "vic", errors)  # a viewer reads the readout too
    page.goto(f"{s.url}/#/p/{pid}/experiments")
    page.wait_for_selector("#exp-list")
    page.click(".exp-link")
    page.wait_for_selector("#exp-auto-models")
    rows = _rows(page, "#exp-auto-models")
    assert [r[0] for r in rows] == list(by_model)  # oldest first
    assert [r[1] for r in rows] == [f"#{first.run_id}", f"#{second.run_id}"]
    for row, x in zip(rows, by_model.values(), strict=True):
        for cell, arm in ((row[2], x["a"]), (row[3], x["b"])):
            assert cell.startswith(_pct(arm["value"])) and f"(n={arm['n']})" in cell, (cell, arm)
        p = x["test"]["fisher_p"]
        if p is None:
            assert row[4] == "—"
        else:  # three decimals, or one significant digit below 0.001 (JavaScript's 1.2e-5)
            assert row[4] == f"{p:.3f}" if p >= 0.001 else math.isclose(float(row[4]), p, rel_tol=0.05)
    notes = page.inner_text("#exp-auto")
    assert f"latest run ({second.run_id}" in notes  # which run the headline share comes from
    headline = _rows(page, "#exp-auto-table")
    assert headline[0][1].startswith(_pct(api["arms"]["a"]["auto_accept"]["share"]["value"]))
    page.screenshot(path="/tmp/ui_experiment_by_model.png", full_page=True)
    assert not errors, errors
