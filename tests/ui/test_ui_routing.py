"""Routing, learning and the jobs list in a browser, against the real server and a real model.

The project holds scikit-learn's handwritten 0s and 1s as PNGs with six labels per class and
``image.classify``'s suggestions (tests/services/live_world.py). A manager opens the routing page
from the project page, is refused a target of 1.5 (the field is named and marked), starts a
routing run and sees the certificate ask for 149 more clean audited items, is refused a batch of
0, starts an active-learning round and waits for its result (trained on 12 labels, a batch of
4), and sees a round on a backend that cannot train fail with its reason shown as text. On the
project page the jobs list shows those jobs, cancels a live one and links a finished export's
download. A viewer and a reviewer read the same certificate and get no forms; a certified
project (per-class thresholds, a model's audited accuracy) shows the numbers its run wrote.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import Actor
from labelloop.services.learning import sampler_choices
from labelloop.storage import Store
from labelloop.storage.routing_repo import RoutingRepo
from tests.services.live_world import digits_project, label
from tests.ui.test_ui_server import Site, add_people, login, serve_app

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("sklearn")

BAD = "<img src=x onerror=alert(1)>"


@dataclass
class AppSite(Site):
    app: Any = None  # the running app (its job runner)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppSite]:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data = tmp_path / "data"
    store = Store.open(None, data)
    w = digits_project(store, per_class=6)
    add_people(store, w.pid)
    apps: list[Any] = []
    with serve_app(store, data, on_app=apps.append) as url:
        yield AppSite(url, store, {"digits": w.pid}, app=apps[0])


def _watch(page: Any, errors: list[str]) -> None:
    # script errors and CSP violations; HTTP answers the page handles (422, 409) are not bugs
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
    )


def test_certificate_routing_run_and_learning_round(site: Site, browser: Any) -> None:
    pid = site.projects["digits"]
    errors: list[str] = []
    page = login(browser, site, "mgr", errors)
    _watch(page, errors)
    page.goto(f"{site.url}/#/p/{pid}")
    page.click("#open-routing")
    page.wait_for_selector("#cert-none")  # never routed: the certificate says so
    assert "never routed" in page.inner_text("#cert-none")

    # a target out of range is refused by the server; the message names the field, which is marked
    page.fill("#route-backend", "image.classify")
    page.fill("#route-target", "1.5")
    page.click("#route-submit")
    page.wait_for_selector("#route-error:not([hidden])")
    assert "target" in page.inner_text("#route-error")
    assert page.get_attribute("#route-target", "aria-invalid") == "true"
    assert page.evaluate("() => document.activeElement.id") == "route-target"

    # keyboard: correct the field and submit with Enter
    page.fill("#route-target", "0.98")
    page.press("#route-target", "Enter")
    page.wait_for_selector("#route-status[data-status=done]", timeout=60_000)
    assert page.locator("#route-error").is_hidden()
    assert page.get_attribute("#route-target", "aria-invalid") is None
    run = page.inner_text("#route-run")
    assert "nothing auto-accepted" in run and "149 more" in run, run
    run_tiers = {r[0]: int(r[1]) for r in _rows(page, "#route-run-tiers")}
    assert run_tiers["auto"] == 0 and run_tiers["audit"] > 0 and sum(run_tiers.values()) > 0, run_tiers
    page.wait_for_selector("#cert-unlock")
    assert "149 more clean audited items would unlock auto-accept" in page.inner_text("#cert-unlock")
    tiers = {r[0]: r[1:] for r in _rows(page, "#cert-tiers")}
    assert set(tiers) == {"auto", "review", "manual", "audit"}
    with site.store.read() as tx:
        counts = RoutingRepo(tx.conn).tier_counts(pid)
    assert {t: int(v[0]) for t, v in tiers.items()} == {t: counts.get(t, 0) for t in tiers}
    assert int(tiers["audit"][0]) > 0 and tiers["auto"][0] == "0"
    assert "Clopper–Pearson" in page.inner_text("#cert-accuracy") or "No audited evidence" in page.inner_text(
        "#cert-accuracy"
    )
    assert page.locator("#cert-thresholds").inner_text().count("not certified") == 1
    assert page.locator("#cert-caveats li").count() >= 1
    page.screenshot(path="/tmp/ui_routing_certificate.png", full_page=True)

    # a learning round: a batch of 0 is refused and named; then a real round runs
    assert page.input_value("#learn-backend") == "image.classify"  # the last run's backend
    page.fill("#learn-batch", "0")
    page.click("#learn-submit")
    page.wait_for_selector("#learn-error:not([hidden])")
    assert "batch" in page.inner_text("#learn-error")
    assert page.get_attribute("#learn-batch", "aria-invalid") == "true"
    page.fill("#learn-batch", "4")
    page.fill("#learn-audit_rate", "0")
    options = page.eval_on_selector_all("#learn-sampler option", "os => os.map(o => [o.value, o.textContent])")
    assert options == [[c["name"], c["description"]] for c in sampler_choices()]  # the server's list, not a copy
    page.select_option("#learn-sampler", "entropy")
    page.click("#learn-submit")
    page.wait_for_selector("#learn-status[data-status=done]", timeout=120_000)
    facts = dict(_pairs(page, "#learn-facts"))
    assert facts["Trained on"] == "12 labels" and facts["Batch size"] == "4 items", facts
    assert facts["Kappa with the previous round"].startswith("—")  # the first round
    with site.store.read() as tx:
        rounds = RoutingRepo(tx.conn).rounds(pid, "image.classify")
    assert len(rounds) == 1 and facts["Round"] == f"#{rounds[0].id}" and len(rounds[0].batch) == 4
    assert "4 items picked by entropy" in page.inner_text("#learn-round")
    assert page.locator("#learn-route-tiers").count() == 1  # the re-routing run's tiers
    page.screenshot(path="/tmp/ui_learning_round.png", full_page=True)

    # a backend that cannot train: the job fails and says why, markup shown as text
    page.fill("#learn-backend", BAD)
    page.click("#learn-submit")
    page.wait_for_selector("#learn-status[data-status=failed]", timeout=60_000)
    failed = page.inner_text("#learn-error")
    assert "failed" in failed and BAD in failed, failed
    assert page.locator("#learn-error img").count() == 0
    page.fill("#learn-backend", "image.faces")
    page.click("#learn-submit")
    page.wait_for_selector("#learn-error >> text=train", timeout=60_000)

    # the jobs list of the project page: the jobs above, newest first, with who asked
    page.goto(f"{site.url}/#/p/{pid}")
    page.wait_for_selector("#jobs tbody tr")
    jobs = _rows(page, "#jobs")
    assert [r[1] for r in jobs] == ["learn", "learn", "learn", "route"], jobs
    assert [r[2] for r in jobs] == ["failed", "failed", "done", "done"], jobs
    assert all(r[4] == "mgr" for r in jobs)
    assert page.locator("#jobs .job-cancel").count() == 0
    assert not errors, errors


def test_jobs_list_cancel_and_download(site: AppSite, browser: Any) -> None:
    pid = site.projects["digits"]
    app = site.app
    errors: list[str] = []
    page = login(browser, site, "mgr", errors)
    _watch(page, errors)
    page.goto(f"{site.url}/#/p/{pid}")
    page.wait_for_selector("#jobs-panel")
    assert page.is_visible("#jobs-empty")

    # a live job (work that waits until it is cancelled) appears through Refresh and is cancelled
    started = threading.Event()

    def wait_for_cancel(progress: Any, cancel: Any) -> dict[str, Any]:
        progress(1, 3, "waiting")
        started.set()
        for _ in range(600):
            cancel.raise_if_set()
            threading.Event().wait(0.05)
        return {"gave_up": True}

    job = app.state.jobs.submit(pid, "probe", Actor.user("mgr"), wait_for_cancel)
    assert started.wait(10)
    page.click("#jobs-refresh")
    row = f"#jobs tr[data-job='{job.id}']"
    page.wait_for_selector(f"{row}[data-status=running]")
    assert "1 / 3 · waiting" in page.inner_text(row)
    page.focus(f"{row} .job-cancel")
    page.keyboard.press("Enter")  # keyboard-usable
    page.wait_for_selector(f"{row}[data-status=cancelled]", timeout=20_000)  # the list polls while live
    assert page.locator(f"{row} .job-cancel").count() == 0

    # an export started from the panel shows up in the list (no reload) with its download link
    page.select_option("#export-format", "native")
    page.click("#export-submit")
    page.wait_for_selector("#jobs tr[data-status=done] a.job-download", timeout=60_000)
    href = page.get_attribute("#jobs a.job-download", "href")
    assert href and href.startswith(f"/api/projects/{pid}/exports/")
    assert href == page.get_attribute("#export-download", "href")
    got = page.request.get(site.url + href)
    assert got.status == 200 and got.body()[:2] == b"PK"
    kinds = [r[1] for r in _rows(page, "#jobs")]
    assert kinds == ["export", "probe"], kinds
    page.screenshot(path="/tmp/ui_jobs_list.png", full_page=True)
    assert not errors, errors


@pytest.mark.parametrize("who", ["vic", "rex"])
def test_viewers_and_reviewers_read_the_certificate_without_forms(site: Site, browser: Any, who: str) -> None:
    from labelloop.services.live_routing import RoutePolicy, route_project

    pid = site.projects["digits"]
    route_project(site.store, pid, "image.classify", policy=RoutePolicy(), actor="user:mgr")
    errors: list[str] = []
    page = login(browser, site, who, errors)
    _watch(page, errors)
    page.goto(f"{site.url}/#/p/{pid}")
    page.wait_for_selector("#project-name")
    assert page.locator("#jobs-panel").count() == 0  # the jobs list is for managers
    page.click("#open-routing")
    page.wait_for_selector("#cert-unlock")
    assert "149 more" in page.inner_text("#cert-unlock")
    assert page.locator("#cert-tiers tbody tr").count() == 4
    assert page.is_visible("#routing-readonly")
    assert page.locator("#route-form, #learn-form, #routing-forms").count() == 0
    # the dashboard links the same page
    page.goto(f"{site.url}/#/p/{pid}/dashboard")
    page.click("#open-routing")
    page.wait_for_selector("#cert-unlock")
    assert not errors, errors


def test_a_certified_project_shows_its_thresholds_and_bounds(
    tmp_path: Path, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher

    from labelloop.services import accounts
    from labelloop.services.live_routing import RoutePolicy, route_project

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data = tmp_path / "data"
    store = Store.open(None, data)
    w = digits_project(store, per_class=20)
    add_people(store, w.pid)
    route_project(store, w.pid, "image.classify", policy=RoutePolicy(audit_rate=0.0))
    label(store, w.pid, w.unlabelled[:250], w.truth, who="bob")
    policy = RoutePolicy(audit_rate=0.0, evidence="all", target=0.95)
    report = route_project(store, w.pid, "image.classify", policy=policy, actor="user:mgr")
    cert = report.certificate
    assert cert["certified"] and cert["mode"] == "per-class" and report.auto_new > 0, report.message
    with serve_app(store, data) as url:
        site = Site(url, store, {"digits": w.pid})
        errors: list[str] = []
        page = login(browser, site, "vic", errors)
        _watch(page, errors)
        page.goto(f"{url}/#/p/{w.pid}/routing")
        page.wait_for_selector("#cert-unlock")
        assert page.inner_text("#cert-unlock") == "Auto-accept is certified at 95% accuracy at 95% confidence."
        shown = {r[0]: r[1] for r in _rows(page, "#cert-thresholds")}
        assert shown == {k: f"{v:.4f}" for k, v in cert["thresholds"].items()}, shown
        classes = {r[0]: r[1:] for r in _rows(page, "#cert-classes")}
        for k, c in cert["per_class"].items():
            assert classes[k][:5] == [f"{c['threshold']:.4f}", str(c["auto"]), str(c["audited"]), str(c["correct"]),
                                      f"{100 * c['accuracy']:.1f}%"], classes  # fmt: skip
            assert classes[k][5] == f"{100 * c['ci'][0]:.1f}% – {100 * c['ci'][1]:.1f}%"
        models = _rows(page, "#cert-models")
        assert len(models) == 1 and models[0][0] == "image.classify" and models[0][2] == str(report.auto_new)
        assert models[0][-1] == "yes"
        accuracy = page.inner_text("#cert-accuracy")
        assert f"{cert['audited_correct']} of {cert['audited']} audited items correct" in accuracy
        assert "The claim holds." in accuracy
        assert f"{report.auto_new} auto-accepted labels" in page.inner_text("#cert-summary")
        assert "pre-filled" in page.inner_text("#cert-caveats")  # evidence "all" says what it assumes
        tiers = {r[0]: r[1] for r in _rows(page, "#cert-tiers")}
        assert tiers["auto"] == str(report.auto_new)
        page.screenshot(path="/tmp/ui_certified.png", full_page=True)
        assert not errors, errors


def _rows(page: Any, table: str) -> list[list[str]]:
    return page.evaluate(  # type: ignore[no-any-return]
        """(sel) => [...document.querySelectorAll(sel + ' tbody tr')].map((tr) =>
            [...tr.children].map((c) => c.textContent.trim()))""",
        table,
    )


def _pairs(page: Any, dl: str) -> list[tuple[str, str]]:
    got = page.evaluate(
        """(sel) => [...document.querySelectorAll(sel + ' dt')].map((dt) =>
            [dt.textContent, dt.nextElementSibling.textContent])""",
        dl,
    )
    return [(k, v) for k, v in got]
