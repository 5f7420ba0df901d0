"""End to end through a real server: log in, label one item of each medium, accept a
suggestion, correct a box, review it, and find it in the export.

The server is the real app (uvicorn on a free loopback port, SQLite in a temp data dir); the
browser is Debian's chromium driven by Playwright.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import LabelSchema, NewSuggestion
from labelloop.core.accounts import Role
from labelloop.services.accounts import add_member, create_user
from labelloop.services.ingest import import_source
from labelloop.services.projects import create_project
from labelloop.storage import Store
from tests.helpers import pcd_ascii, png_bytes, wav_bytes, write
from tests.ui.fakes import SCHEMAS, TEXT

uvicorn = pytest.importorskip("uvicorn")

PASSWORD = "a long test password"


@dataclass
class Site:
    url: str
    store: Store
    projects: dict[str, int]
    items: dict[str, list[int]] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_app(store: Store, data: Path, on_app: Callable[[Any], None] | None = None) -> Iterator[str]:
    """Run the app over ``store`` with uvicorn on a free loopback port; yield its base URL.

    ``on_app`` is handed the running app (its ``state.jobs`` runner, say). The server stops and
    the store closes when the block ends.
    """
    from labelloop.api import create_app
    from labelloop.config import Settings

    port = _free_port()
    app = create_app(Settings(data_dir=data), store=store)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    if on_app is not None:
        on_app(app)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


def add_people(store: Store, pid: int) -> None:
    """A manager ``mgr``, a viewer ``vic`` and a reviewer ``rex`` of project ``pid``."""
    for name, role in (("mgr", Role.MANAGER), ("vic", Role.VIEWER), ("rex", Role.REVIEWER)):
        create_user(store, name, PASSWORD)
        add_member(store, pid, name, role)


def _populate(store: Store, tmp: Path) -> Site:
    projects: dict[str, int] = {}
    for kind, schema in SCHEMAS.items():
        projects[kind] = create_project(store, f"{kind} demo", LabelSchema.model_validate(schema), "user:test").id
    src = tmp / "src"
    write(src / "text.jsonl", json.dumps({"text": TEXT}) + "\n")
    import_source(store, projects["text"], src / "text.jsonl", actor="user:test")
    for i in range(2):
        write(src / "img" / f"street{i}.png", png_bytes(400, 300, (90, 120 + 40 * i, 90)))
    import_source(store, projects["image"], src / "img", actor="user:test")
    write(src / "wav" / "talk.wav", wav_bytes(2.0))
    import_source(store, projects["audio"], src / "wav", actor="user:test")
    write(src / "pcd" / "scan.pcd", pcd_ascii(400))
    import_source(store, projects["pointcloud"], src / "pcd", actor="user:test")
    write(src / "cap" / "cat.png", png_bytes(200, 150, (200, 200, 180)))
    write(src / "cap" / "manifest.jsonl", json.dumps({"image": "cat.png", "caption": "a cat on a mat"}) + "\n")
    import_source(store, projects["caption"], src / "cap", actor="user:test")
    items: dict[str, list[int]] = {}
    with store.read() as tx:
        for kind, pid in projects.items():
            items[kind] = [it.id for it in tx.items.page(pid, limit=100)]
    img = projects["image"]
    with store.transaction() as tx:
        tx.labels.add_suggestions(
            img,
            [
                NewSuggestion(
                    item,
                    [{"id": "s1", "control": "objects", "label": "cat", "xyxy": [50, 40, 150, 120]}],
                    "image.onnx",
                    "y1",
                    0.87,
                )
                for item in items["image"]
            ],
        )
    create_user(store, "boss", PASSWORD, is_admin=True)
    create_user(store, "ann", PASSWORD)
    create_user(store, "rev", PASSWORD)
    for pid in projects.values():
        add_member(store, pid, "ann", Role.ANNOTATOR)
        add_member(store, pid, "rev", Role.REVIEWER)
    return Site("", store, projects, items)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    # test-strength password hashing (the real parameters cost about a second per hash)
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data = tmp_path / "data"
    store = Store.open(None, data)
    s = _populate(store, tmp_path)
    with serve_app(store, data) as url:
        s.url = url
        yield s


def login(browser: Any, site: Site, user: str, errors: list[str]) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site.url + "/")
    page.wait_for_selector("#username")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#projects")
    return page


def drag(page: Any, a: tuple[float, float], b: tuple[float, float]) -> None:
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move(*b, steps=8)
    page.mouse.up()


def img_pt(page: Any, x: float, y: float) -> tuple[float, float]:
    p = page.evaluate("([x, y]) => window.__labelloop.editors.find((e) => e.toClient).toClient(x, y)", [x, y])
    return p[0], p[1]


def value(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("() => window.__labelloop.doc.value()")  # type: ignore[no-any-return]


def open_label(page: Any, site: Site, kind: str) -> None:
    page.goto(f"{site.url}/#/p/{site.projects[kind]}/label")
    page.wait_for_selector("#item-id")


def annotations(site: Site, kind: str) -> list[Any]:
    with site.store.read() as tx:
        _s, anns, _r = tx.labels.for_items(site.items[kind])
    return [a for a in anns if a.status.value == "submitted"]


def test_label_review_export_in_a_browser(site: Site, browser: Any) -> None:
    from tests.ui.test_ui_editors import select_text

    errors: list[str] = []
    # a wrong password is refused with a message, no session
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    bad = ctx.new_page()
    bad.goto(site.url + "/#/projects")  # the app asks for a login first
    bad.wait_for_selector("#username")
    bad.fill("#username", "ann")
    bad.fill("#password", "not the password")
    bad.click("#login-submit")
    bad.wait_for_selector("#login-error >> text=Wrong user name or password.")
    bad.screenshot(path="/tmp/ui_login.png")
    ctx.close()
    page = login(browser, site, "ann", errors)
    page.screenshot(path="/tmp/ui_projects.png", full_page=True)
    assert page.locator("a.project-link").count() == len(SCHEMAS)

    # text: a class, two spans (after an emoji: code-point offsets) and a relation
    open_label(page, site, "text")
    page.keyboard.press("1")
    page.select_option(".control-pick", "entities")
    select_text(page, "Alice")
    page.keyboard.press("Escape")
    page.keyboard.press("2")
    select_text(page, "ACME")
    page.click("mark[data-id] >> text=Alice")
    page.click("mark[data-id] >> text=ACME", modifiers=["Shift"])
    page.keyboard.press("Enter")
    page.wait_for_selector("#no-task")
    (ann,) = annotations(site, "text")
    spans = {r["text"]: r for r in ann.value if r["control"] == "entities"}
    assert (spans["Alice"]["start"], spans["Alice"]["end"]) == (TEXT.index("Alice"), TEXT.index("Alice") + 5)
    assert TEXT[spans["ACME"]["start"] : spans["ACME"]["end"]] == "ACME"
    assert any(r["control"] == "rels" for r in ann.value)

    # image, first item: accept the suggestion with A
    open_label(page, site, "image")
    first = int(page.inner_text("#item-id"))
    assert page.inner_text("#confidence") == "87%"
    page.keyboard.press("a")
    page.wait_for_function(
        f"() => document.querySelector('#item-id') && document.querySelector('#item-id').textContent !== '{first}'"
    )
    # second item: correct the suggested box (drag its corner) and submit
    page.wait_for_selector("canvas.imagecanvas[data-loaded]")
    second = int(page.inner_text("#item-id"))
    page.click("#regions li[data-id=s1]")
    drag(page, img_pt(page, 150, 120), img_pt(page, 200, 160))
    page.screenshot(path="/tmp/ui_server_image.png", full_page=True)
    page.keyboard.press("Enter")
    page.wait_for_selector("#no-task")
    by_item = {a.item_id: a for a in annotations(site, "image")}
    assert by_item[first].value[0]["xyxy"] == [50, 40, 150, 120] and by_item[first].suggestion_id is not None
    assert [round(v) for v in by_item[second].value[0]["xyxy"]] == [50, 40, 200, 160]

    # audio: a segment with a transcript
    open_label(page, site, "audio")
    page.wait_for_selector("canvas.wave[data-loaded]")
    x = lambda t: page.evaluate("(t) => window.__labelloop.editors[0].timeToClientX(t)", t)  # noqa: E731
    y = page.locator("canvas.wave").bounding_box()["y"] + 80
    drag(page, (x(0.4), y), (x(1.1), y))
    page.fill("input.transcript", "hello world")
    page.keyboard.press("Escape")
    page.screenshot(path="/tmp/ui_server_audio.png", full_page=True)
    page.keyboard.press("Enter")
    page.wait_for_selector("#no-task")
    (ann,) = annotations(site, "audio")
    assert ann.value[0]["transcript"] == "hello world" and 0.35 < ann.value[0]["start_s"] < 0.45

    # point cloud: a cuboid drawn in the top view
    open_label(page, site, "pointcloud")
    page.wait_for_selector("canvas.topview[data-loaded]")
    assert page.get_attribute("canvas.topview", "data-source") == "server"  # GET /api/media/{sha}/points
    page.wait_for_selector(".view3d[data-webgl]")
    top = lambda a, b: tuple(page.evaluate("([x, y]) => window.__labelloop.editors[0].topToClient(x, y)", [a, b]))  # noqa: E731
    drag(page, top(-1, -0.5), top(1, 0.5))
    page.keyboard.press("q")
    page.screenshot(path="/tmp/ui_server_pointcloud.png", full_page=True)
    page.keyboard.press("Enter")
    page.wait_for_selector("#no-task")
    (ann,) = annotations(site, "pointcloud")
    assert ann.value[0]["control"] == "objects3d" and abs(ann.value[0]["yaw"] - 0.087) < 0.01

    # image + caption: a box, a span, and the link between them
    open_label(page, site, "caption")
    page.wait_for_selector("canvas.imagecanvas[data-loaded]")
    drag(page, img_pt(page, 20, 20), img_pt(page, 90, 80))
    page.select_option(".control-pick", "phrases")
    select_text(page, "cat")
    page.keyboard.press("k")
    page.screenshot(path="/tmp/ui_server_caption.png", full_page=True)
    page.keyboard.press("Enter")
    page.wait_for_selector("#no-task")
    (ann,) = annotations(site, "caption")
    assert {r["control"] for r in ann.value} == {"objects", "phrases", "grounding"}

    # review: the reviewer accepts the accepted suggestion and corrects the corrected box further
    # a link straight to the review view: log in, then land there
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    rpage = ctx.new_page()
    rpage.on("pageerror", lambda e: errors.append(str(e)))
    rpage.goto(f"{site.url}/#/p/{site.projects['image']}/review")
    rpage.wait_for_selector("#username")
    rpage.fill("#username", "rev")
    rpage.fill("#password", PASSWORD)
    rpage.click("#login-submit")
    verdicts = {}
    for _ in range(2):
        rpage.wait_for_selector("canvas.imagecanvas[data-loaded]")
        item = int(rpage.inner_text("#item-id"))
        if item == second:
            rpage.click("#regions li[data-id=s1]")
            drag(rpage, img_pt(rpage, 200, 160), img_pt(rpage, 220, 170))
            rpage.screenshot(path="/tmp/ui_server_review.png", full_page=True)
            rpage.keyboard.press("c")
            verdicts[item] = "correct"
        else:
            rpage.keyboard.press("a")
            verdicts[item] = "accept"
        rpage.wait_for_function(
            f"() => !document.querySelector('#item-id') || document.querySelector('#item-id').textContent !== '{item}'"
        )
    rpage.wait_for_selector("#no-task")
    with site.store.read() as tx:
        _s, _anns, revs = tx.labels.for_items(site.items["image"])
    assert sorted(r.verdict.value for r in revs) == ["accept", "correct"]

    # the dashboard and the project page render for the reviewer
    rpage.goto(f"{site.url}/#/p/{site.projects['image']}/dashboard")
    rpage.wait_for_selector("#chart-progress svg")
    rpage.screenshot(path="/tmp/ui_dashboard.png", full_page=True)
    rpage.goto(f"{site.url}/#/p/{site.projects['image']}")
    rpage.wait_for_selector("#items tbody tr")
    rpage.screenshot(path="/tmp/ui_project.png", full_page=True)

    # the export holds the reviewer's corrected box
    boss = login(browser, site, "boss", errors)
    csrf = boss.evaluate("async () => (await (await fetch('/api/me')).json()).csrf_token")
    res = boss.request.post(
        f"{site.url}/api/projects/{site.projects['image']}/exports",
        data=json.dumps({"format": "coco"}),
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf, "Origin": site.url},
    )
    assert res.status == 202, res.text()  # the export runs as a job: wait for it to name the file
    job_url = f"{site.url}/api/projects/{site.projects['image']}/jobs/{res.json()['job']['id']}"
    deadline = time.monotonic() + 60
    while (job := boss.request.get(job_url).json()["job"])["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["status"] == "done", job
    blob = boss.request.get(site.url + job["download"]).body()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        coco = json.loads(zf.read(next(n for n in zf.namelist() if n.endswith(".json"))))
    boxes = sorted([round(v) for v in a["bbox"]] for a in coco["annotations"])
    assert [50, 40, 170, 130] in boxes  # x, y, w, h of the reviewer's correction [50, 40, 220, 170]
    assert [50, 40, 100, 80] in boxes  # the accepted suggestion
    assert not errors, errors


def test_a_session_that_ends_mid_task_is_renewed_in_place_and_the_work_saved(site: Site, browser: Any) -> None:
    """security-tests 36: the session ends while labelling; the submit's 401 opens a log-in over the
    page, and once the same user is back the submit goes through with what was on the page."""
    from labelloop.services.accounts import change_password, user_id_by_name

    errors: list[str] = []
    page = login(browser, site, "ann", errors)
    open_label(page, site, "text")
    page.keyboard.press("1")  # a class picked: work that exists only on the page
    change_password(site.store, user_id_by_name(site.store, "ann"), PASSWORD)  # every session revoked
    page.keyboard.press("Enter")
    page.wait_for_selector("dialog#relogin[open]")
    assert "ann" in page.inner_text("#relogin") and annotations(site, "text") == []
    page.fill("#relogin-password", "not the password")
    page.click("#relogin-submit")
    page.wait_for_selector("#relogin-error >> text=Wrong password.")
    page.fill("#relogin-password", PASSWORD)
    page.click("#relogin-submit")
    page.wait_for_selector("#no-task")  # the submit was sent again and went through
    assert page.locator("dialog#relogin").count() == 0
    (ann,) = annotations(site, "text")
    assert [r["labels"] for r in ann.value if r["control"] == "sentiment"] == [["pos"]]
    assert not errors, errors
