"""The correction-task screen in a browser, against the real server and a real QC run.

Boxes that leave their image are found by QC (run from the dashboard by a manager), who opens
the first task from the findings table, applies the suggested fix with F and saves it with
Enter, skips the next with N, dismisses the one after with D and a reason, and lands back on
the skipped one. A reviewer then finds nothing free (the manager holds the last task) and sees
that task read-only. Names and reasons with markup show as text. A reviewer opening a task
about their own label sees it read-only with the server's reason, and N moves on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import LabelSchema, NewAnnotation
from labelloop.services.ingest import import_source
from labelloop.services.projects import create_project
from labelloop.storage import Store
from labelloop.storage.quality_repo import QualityRepo
from labelloop.storage.tables_quality import correction_tasks
from tests.helpers import IMAGE_SCHEMA, png_bytes, write
from tests.ui.test_ui_server import Site, add_people, login, serve_app

uvicorn = pytest.importorskip("uvicorn")

BAD = "<img src=x onerror=alert(1)>"  # an annotator name with markup


def _box(x0: float, y0: float, x1: float, y1: float) -> list[dict[str, Any]]:
    return [{"id": "b1", "control": "objects", "label": "cat", "xyxy": [x0, y0, x1, y1]}]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data = tmp_path / "data"
    store = Store.open(None, data)
    pid = create_project(store, "streets", LabelSchema.model_validate(IMAGE_SCHEMA), "user:test").id
    for i in range(3):
        write(tmp_path / "img" / f"s{i}.png", png_bytes(200, 150, (60, 90 + 40 * i, 120)))
    import_source(store, pid, tmp_path / "img", actor="user:test")
    with store.read() as tx:
        items = [it.id for it in tx.items.page(pid, limit=10)]
    with store.transaction() as tx:  # imported labels are not validated: each box leaves its 200x150 image
        tx.labels.add_annotations(
            pid,
            [
                NewAnnotation(items[0], _box(100, 50, 260, 120), BAD),
                NewAnnotation(items[1], _box(-20, 10, 80, 90), "ann"),
                NewAnnotation(items[2], _box(120, 100, 180, 170), "ann"),
            ],
        )
    add_people(store, pid)
    with serve_app(store, data) as url:
        yield Site(url, store, {"streets": pid}, {"streets": items})


def _watch(page: Any, errors: list[str]) -> None:
    # script errors and CSP violations; HTTP answers the screen handles (409) are not bugs
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
    )


def _tasks(site: Site) -> dict[int, Any]:
    """item id → its correction task row."""
    with site.store.read() as tx:
        rows = tx.conn.execute(
            correction_tasks.select().where(correction_tasks.c.project_id == site.projects["streets"])
        )
        return {r.item_id: r for r in rows}


def _shows_task(page: Any, tid: int) -> None:
    page.wait_for_function("(t) => document.querySelector('#task-id')?.textContent === String(t)", arg=tid)


def test_fix_skip_dismiss_in_a_browser(site: Site, browser: Any, tmp_path: Path) -> None:
    errors: list[str] = []
    pid, items = site.projects["streets"], site.items["streets"]
    page = login(browser, site, "mgr", errors)
    _watch(page, errors)
    page.goto(f"{site.url}/#/p/{pid}/dashboard")
    page.click("#qc-run")
    page.wait_for_selector("#qc-findings")
    with site.store.read() as tx:
        stored = QualityRepo(tx.conn).findings(pid, status="open", after_id=0, limit=100)
    assert {r.finding.rule_id for r in stored} == {"box_bounds"} and len(stored) == 3
    tasks = _tasks(site)
    t0, t1, t2 = (tasks[i].id for i in items)
    assert page.locator("#qc-fix").get_attribute("href") == f"#/p/{pid}/fix"

    # from the findings table to the first task
    page.click(f"#qc-findings a.fix-link[data-task='{t0}']")
    _shows_task(page, t0)
    page.wait_for_selector("canvas.imagecanvas[data-loaded='1']")
    assert page.inner_text("#finding-rule") == "box_bounds"
    assert "leaves the 200x150 image" in page.inner_text("#finding-message")
    assert BAD in page.inner_text("#finding") and page.locator("#finding img").count() == 0
    assert "set xyxy to [100,50,200,120]" in page.inner_text("#finding-fix")
    # the finding's region is pre-filled from the current version and selected (highlighted)
    assert page.evaluate("() => window.__labelloop.doc.selected") == "b1"
    assert page.locator("#regions li.finding.sel[data-id='b1']").count() == 1
    assert page.evaluate("() => window.__labelloop.doc.value()") == _box(100, 50, 260, 120)
    assert "locked to mgr" in page.inner_text("#lock-line")
    keys = page.locator("dl.keys").inner_text()
    assert all(k in keys for k in ("Enter", "save the fix", "D", "dismiss", "N", "next task"))
    page.screenshot(path=str(tmp_path / "ui_fix.png"), full_page=True)

    page.keyboard.press("f")
    assert page.evaluate("() => window.__labelloop.doc.value()") == _box(100, 50, 200, 120)
    page.keyboard.press("Enter")
    _shows_task(page, t1)  # saved: the next task comes
    with site.store.read() as tx:
        old, new = tx.labels.for_items([items[0]])[1]
    assert (new.parent_id, new.annotator, new.value) == (old.id, "mgr", _box(100, 50, 200, 120))
    row = _tasks(site)[items[0]]
    assert (row.status, row.resolution, row.resolved_by) == ("resolved", "fixed", "user:mgr")

    # N skips the task, D dismisses the next one with a reason typed into the box
    page.keyboard.press("n")
    _shows_task(page, t2)
    page.keyboard.press("d")
    page.wait_for_function("() => document.activeElement?.id === 'dismiss-reason'")
    page.keyboard.type("<b>cropped</b> on purpose")
    page.keyboard.press("Enter")
    _shows_task(page, t1)  # round to the skipped one
    row = _tasks(site)[items[2]]
    assert (row.status, row.resolution, row.resolution_note) == ("resolved", "dismissed", "<b>cropped</b> on purpose")
    with site.store.read() as tx:
        assert len(tx.labels.for_items([items[2]])[1]) == 1  # a dismissal writes no label

    # a reviewer finds nothing free (the manager holds the last task) and sees that one read-only
    rex = login(browser, site, "rex", errors)
    _watch(rex, errors)
    rex.goto(f"{site.url}/#/p/{pid}")
    rex.click("#start-fix")
    rex.wait_for_selector("#no-task")
    rex.goto(f"{site.url}/#/p/{pid}/fix/{t1}")
    rex.wait_for_selector("#read-only")
    assert "being worked on by mgr" in rex.inner_text("#read-only")
    assert rex.locator("#fix-save").is_disabled()
    rex.keyboard.press("Enter")  # nothing happens on a read-only task
    assert _tasks(site)[items[1]].status == "open"
    assert not errors, errors


def test_own_label_opens_read_only_for_its_reviewer(site: Site, browser: Any) -> None:
    from labelloop.services.qc import run_qc

    errors: list[str] = []
    pid, items = site.projects["streets"], site.items["streets"]
    with site.store.transaction() as tx:  # rex labelled the second image too, also leaving it
        tx.labels.add_annotations(pid, [NewAnnotation(items[1], _box(-30, 10, 80, 90), "rex")])
    run_qc(site.store, pid)
    with site.store.read() as tx:
        stored = QualityRepo(tx.conn).findings(pid, status="open", after_id=0, limit=100)
    own = {r.task_id for r in stored if r.finding.annotator == "rex"}
    assert len(own) == 1 and len(stored) == 4
    (t_own,) = own

    rex = login(browser, site, "rex", errors)
    _watch(rex, errors)
    rex.goto(f"{site.url}/#/p/{pid}/fix/{t_own}")
    rex.wait_for_selector("#read-only")
    assert "your own annotation" in rex.inner_text("#read-only")
    assert rex.locator("#fix-save").is_disabled() and rex.locator("#fix-dismiss").is_disabled()
    rex.keyboard.press("n")  # the next task is someone else's
    rex.wait_for_function("(t) => document.querySelector('#task-id')?.textContent !== String(t)", arg=t_own)
    rex.wait_for_selector("#fix-save:not([disabled])")
    shown = int(rex.inner_text("#task-id"))
    assert shown != t_own and "locked to rex" in rex.inner_text("#lock-line")
    with site.store.read() as tx:
        rows = {r.id: r for r in tx.conn.execute(correction_tasks.select())}
    assert rows[shown].locked_by is not None and (rows[t_own].status, rows[t_own].locked_by) == ("open", None)
    assert not errors, errors


@pytest.fixture
def media_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """Text, audio and point-cloud projects, each with a label QC flags (QC already ran)."""
    from argon2 import PasswordHasher

    from labelloop.core.accounts import Role
    from labelloop.services import accounts
    from labelloop.services.accounts import add_member, create_user
    from labelloop.services.qc import run_qc
    from tests.helpers import pcd_ascii, wav_bytes
    from tests.ui.fakes import SCHEMAS, TEXT

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data = tmp_path / "data"
    store = Store.open(None, data)
    src = tmp_path / "src"
    write(src / "text.jsonl", json.dumps({"text": TEXT}) + "\n")
    write(src / "wav" / "talk.wav", wav_bytes(2.0))
    write(src / "pcd" / "scan.pcd", pcd_ascii(400))
    sources = {"text": src / "text.jsonl", "audio": src / "wav", "pointcloud": src / "pcd"}
    i = TEXT.index("Alice")
    values = {  # a span cut inside a word, a segment with no transcript, a car as big as a house
        "text": [{"id": "e1", "control": "entities", "label": "PER", "start": i, "end": i + 4, "text": "Alic"}],
        "audio": [{"id": "g1", "control": "speech", "label": "speech", "start_s": 0.2, "end_s": 0.9, "transcript": ""}],
        "pointcloud": [
            {"id": "q1", "control": "objects3d", "label": "car", "center": [0, 0, 0], "size": [20, 10, 8], "yaw": 0}
        ],
    }
    create_user(store, "rex", "a long test password")
    projects: dict[str, int] = {}
    items: dict[str, list[int]] = {}
    for kind, value in values.items():
        pid = create_project(store, f"{kind} fixes", LabelSchema.model_validate(SCHEMAS[kind]), "user:test").id
        import_source(store, pid, sources[kind], actor="user:test")
        add_member(store, pid, "rex", Role.REVIEWER)
        with store.transaction() as tx:
            (item,) = [it.id for it in tx.items.page(pid, limit=10)]
            tx.labels.add_annotations(pid, [NewAnnotation(item, value, "ann")])
        run_qc(store, pid)
        projects[kind], items[kind] = pid, [item]
    with serve_app(store, data) as url:
        yield Site(url, store, projects, items)


def test_each_medium_opens_in_its_editor(media_site: Site, browser: Any) -> None:
    site = media_site
    errors: list[str] = []
    page = login(browser, site, "rex", errors)
    _watch(page, errors)
    highlight = {"text": "mark.sel", "audio": "tr.sel[data-id='g1']", "pointcloud": "li.sel[data-id='q1']"}
    medium = {"text": "text", "audio": "audio", "pointcloud": "pointcloud"}
    for kind, pid in site.projects.items():
        page.goto(f"{site.url}/#/p/{pid}/fix")
        page.wait_for_selector("#task-id")
        assert page.locator(f"section.medium[data-medium='{medium[kind]}']").count() == 1, kind
        page.wait_for_selector(highlight[kind])  # the finding's region, selected in its own editor
        (old,) = _versions(site, kind)
        assert page.evaluate("() => window.__labelloop.doc.value()") == old.value, kind
        if kind == "audio":  # no computed fix: type the transcript, leave the box (Esc), save
            assert page.locator("#fix-apply").count() == 0
            page.fill("tr[data-id='g1'] input.transcript", "hello there")
            page.keyboard.press("Escape")
        else:
            page.keyboard.press("f")
        page.keyboard.press("Enter")
        page.wait_for_selector("#no-task")
        _old, new = _versions(site, kind)
        assert new.parent_id == old.id and new.annotator == "rex", kind
        (region,) = new.value
        if kind == "text":
            assert (region["start"], region["end"], region["text"]) == (
                old.value[0]["start"],
                old.value[0]["end"] + 1,
                "Alice",
            )
        elif kind == "audio":
            assert region["transcript"] == "hello there"
        else:
            assert region["size"] != [20, 10, 8] and region["center"] == [0, 0, 0]
        with site.store.read() as tx:
            (task,) = tx.conn.execute(correction_tasks.select().where(correction_tasks.c.project_id == pid)).all()
        assert (task.status, task.resolution) == ("resolved", "fixed"), kind
    assert not errors, errors


def _versions(site: Site, kind: str) -> list[Any]:
    with site.store.read() as tx:
        return tx.labels.for_items(site.items[kind])[1]
