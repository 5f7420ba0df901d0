"""The QC section of the dashboard in a browser, against the real server and a real QC run.

A manager opens the dashboard of a project QC has not checked yet, runs QC from the page and
sees the charts drawn from the report: the gold confusion matrix, annotator accuracy, agreement
per control, the error distribution, and the open findings linking to their correction tasks.
A reviewer reads the same report without the run button; a viewer gets no QC section.
Annotator names carry markup, which must show as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import LabelSchema, NewAnnotation, NewSuggestion
from labelloop.services.ingest import import_source
from labelloop.services.projects import create_project
from labelloop.services.qc import set_gold
from labelloop.storage import Store
from labelloop.storage.quality_repo import QualityRepo
from tests.helpers import TEXT_SCHEMA, write
from tests.ui.test_ui_server import Site, add_people, login, serve_app

uvicorn = pytest.importorskip("uvicorn")

BAD = "<img src=x onerror=alert(1)>"  # an annotator name with markup


def _cls(label: str) -> list[dict[str, Any]]:
    return [{"id": "c", "control": "sentiment", "labels": [label]}]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data = tmp_path / "data"
    store = Store.open(None, data)
    pid = create_project(store, "reviews", LabelSchema.model_validate(TEXT_SCHEMA), "user:test").id
    write(tmp_path / "t.jsonl", "".join(f'{{"text": "review number {i}"}}\n' for i in range(5)))
    import_source(store, pid, tmp_path / "t.jsonl", actor="user:test")
    with store.read() as tx:
        items = [it.id for it in tx.items.page(pid, limit=10)]
    rows = [(items[0], "neg", "ann"), (items[0], "pos", BAD), (items[1], "pos", "ann"), (items[1], "pos", BAD)]
    rows += [(items[2], "neu", "ann"), (items[2], "neg", BAD), (items[3], "pos", "ann"), (items[3], "pos", BAD)]
    with store.transaction() as tx:
        tx.labels.add_annotations(pid, [NewAnnotation(i, _cls(lab), who) for i, lab, who in rows])
        tx.labels.add_suggestions(pid, [NewSuggestion(items[2], _cls("neu"), "text.classify", "1", 0.97)])
    set_gold(store, pid, items[0], _cls("pos"), "user:test")
    set_gold(store, pid, items[1], _cls("pos"), "user:test")
    add_people(store, pid)
    with serve_app(store, data) as url:
        yield Site(url, store, {"reviews": pid}, {"reviews": items})


def _watch(page: Any, errors: list[str]) -> None:
    # CSP violations and script errors show up as console errors
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)


def _bars(page: Any, card: str) -> dict[str, str]:
    """data-label → the value text of each bar in a card."""
    got: dict[str, str] = page.evaluate(
        """(card) => Object.fromEntries([...document.querySelectorAll(`#${card} svg g.bar`)].map(
             (g) => [g.dataset.label, g.querySelector('text.chart-value').textContent]))""",
        card,
    )
    return got


def test_manager_runs_qc_and_sees_the_charts(site: Site, browser: Any, tmp_path: Path) -> None:
    errors: list[str] = []
    pid, items = site.projects["reviews"], site.items["reviews"]
    page = login(browser, site, "mgr", errors)
    _watch(page, errors)
    page.goto(f"{site.url}/#/p/{pid}/dashboard")
    page.wait_for_selector("#qc-last-run")
    assert "has not run" in page.inner_text("#qc-last-run")
    assert page.inner_text("#qc-open") == "0"
    page.click("#qc-run")
    page.wait_for_selector("#qc-findings")
    assert "Last QC run #" in page.inner_text("#qc-last-run")

    # the confusion matrix: gold rows × human columns, one cell per pair, counts as text
    cells = page.evaluate(
        """() => [...document.querySelectorAll('#qc-confusion svg[data-control=sentiment] g.cell')].map(
             (g) => [g.dataset.ref, g.dataset.label, g.querySelector('text').textContent])"""
    )
    assert len(cells) == 9
    assert {(r, lab): n for r, lab, n in cells}[("pos", "pos")] == "3"  # 2 of BAD's, 1 of ann's
    assert {(r, lab): n for r, lab, n in cells}[("pos", "neg")] == "1"  # ann said neg on gold pos
    labels = page.locator("#qc-confusion svg text.row-label").all_text_contents()
    assert labels == ["pos", "neg", "neu"]

    # annotator accuracy against gold: ann 1 of 2, BAD 2 of 2; the markup name is text
    assert _bars(page, "qc-annotators") == {"ann": "50%", BAD: "100%"}
    assert page.locator("#qc-annotators img").count() == 0
    # agreement per control: the two agree on items 1 and 3 of the four they both labelled
    assert _bars(page, "qc-agreement")["sentiment"] == "50%"
    # error distribution by rule and the findings table
    rules = _bars(page, "qc-errors")
    assert rules["gold.mismatch"] == "1" and rules["model.class_disagreement"] == "1"
    with site.store.read() as tx:
        stored = QualityRepo(tx.conn).findings(pid, status="open", after_id=0, limit=100)
    assert page.inner_text("#qc-open") == str(len(stored))
    links = page.evaluate(
        "() => [...document.querySelectorAll('#qc-findings a.task-link')].map((a) => [+a.dataset.task, a.pathname])"
    )
    assert sorted(links) == sorted([r.task_id, f"/api/projects/{pid}/items/{r.finding.item_id}"] for r in stored)
    gold_row = page.locator("#qc-findings tr[data-rule='gold.mismatch'] td")
    assert gold_row.nth(1).inner_text() == "error" and gold_row.nth(2).inner_text() == "1"
    assert items[0] in [r.finding.item_id for r in stored if r.finding.rule_id == "gold.mismatch"]
    page.screenshot(path=str(tmp_path / "ui_qc_dashboard.png"), full_page=True)
    assert not errors, errors


def test_reviewer_reads_and_viewer_gets_no_qc(site: Site, browser: Any) -> None:
    from labelloop.services.qc import run_qc

    errors: list[str] = []
    pid = site.projects["reviews"]
    run_qc(site.store, pid)
    page = login(browser, site, "rex", errors)
    _watch(page, errors)
    page.goto(f"{site.url}/#/p/{pid}/dashboard")
    page.wait_for_selector("#qc-findings")
    assert page.locator("#qc-run").count() == 0
    assert page.locator("#qc-confusion svg g.cell").count() == 9
    assert set(_bars(page, "qc-annotators")) == {"ann", BAD}

    viewer = login(browser, site, "vic", errors)
    _watch(viewer, errors)
    viewer.goto(f"{site.url}/#/p/{pid}/dashboard")
    viewer.wait_for_selector("#chart-progress")
    assert viewer.locator("#qc").count() == 0
    assert viewer.request.get(f"{site.url}/api/projects/{pid}/qc").status == 403
    assert not errors, errors
