"""Releases in a browser, against the real server: a manager creates releases, compares two and
downloads a signed export; a viewer sees the list without the manager's controls.

The server is the real app (uvicorn on a free loopback port, SQLite in a temp data dir); the
browser is Debian's chromium driven by Playwright.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import LabelSchema, NewAnnotation
from labelloop.services.ingest import import_source
from labelloop.services.projects import create_project
from labelloop.storage import Store
from tests.helpers import IMAGE_SCHEMA, png_bytes, write
from tests.ui.test_ui_server import Site, add_people, login, serve_app

uvicorn = pytest.importorskip("uvicorn")

PROJECT = "street <i>scenes</i>"  # markup in a name must show as text


def _box(label: str, xyxy: list[float]) -> list[dict[str, Any]]:
    return [{"id": "b1", "control": "objects", "label": label, "xyxy": xyxy}]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data = tmp_path / "data"
    store = Store.open(None, data)
    pid = create_project(store, PROJECT, LabelSchema.model_validate(IMAGE_SCHEMA), "user:test").id
    for i in range(3):
        write(tmp_path / "img" / f"street{i}.png", png_bytes(64, 48, (90, 100 + 40 * i, 90)))
    import_source(store, pid, tmp_path / "img", actor="user:test")
    with store.read() as tx:
        items = [it.id for it in tx.items.page(pid, limit=10)]
    with store.transaction() as tx:
        tx.labels.add_annotations(pid, [NewAnnotation(items[0], _box("cat", [4, 4, 30, 20]), "ann")])
    add_people(store, pid)
    with serve_app(store, data) as url:
        yield Site(url, store, {"street": pid}, {"street": items})


def test_manager_creates_compares_and_downloads_a_release(site: Site, browser: Any, tmp_path: Path) -> None:
    errors: list[str] = []
    pid, items = site.projects["street"], site.items["street"]
    page = login(browser, site, "mgr", errors)
    page.goto(f"{site.url}/#/p/{pid}")
    page.click("#open-releases")
    page.wait_for_selector("#release-form")
    assert page.inner_text(".crumbs") == f"Projects / {PROJECT} /"  # the name's markup is text
    assert page.locator("#no-releases").is_visible()

    # create v1 from the keyboard: type the name, Enter submits
    page.fill("#release-name", "v1")
    page.press("#release-name", "Enter")
    page.wait_for_selector("#releases tr[data-release='v1']")
    page.wait_for_selector("#details-name >> text=v1")
    assert "valid" in page.inner_text("#details-signature")
    row = page.locator("#releases tr[data-release='v1'] td")
    assert [row.nth(i).inner_text() for i in (2, 3, 4)] == ["3", "1", "1"]
    with site.store.read() as tx:
        v1 = tx.releases.get(pid, "v1")
    assert page.inner_text("#details-root") == v1.merkle_root and v1.created_by == "user:mgr"

    # a name the browser refuses never reaches the server; a taken one gets the server's answer
    page.fill("#release-name", "bad name!")
    page.press("#release-name", "Enter")
    assert page.evaluate("() => document.querySelector('#release-name').validity.patternMismatch")
    page.fill("#release-name", "v1")
    page.click("#release-create")
    page.wait_for_selector("#toast.error >> text=LL-CONFLICT")
    with site.store.read() as tx:
        assert [r.name for r in tx.releases.all(pid)] == ["v1"]

    # a relabel and a new label later, v2; compare the two
    with site.store.transaction() as tx:
        _s, anns, _r = tx.labels.for_items([items[0]])
        tx.labels.add_annotations(
            pid,
            [
                NewAnnotation(items[0], _box("dog", [4, 4, 30, 20]), "rev", parent_id=anns[-1].id),
                NewAnnotation(items[1], _box("cat", [1, 1, 9, 9]), "ann"),
            ],
        )
    page.fill("#release-name", "v2")
    page.click("#release-create")
    page.wait_for_selector("#releases tr[data-release='v2']")
    assert page.locator("#releases tr[data-release='v2'] td").nth(5).inner_text() == "v1"  # the parent
    assert page.input_value("#diff-a") == "v1" and page.input_value("#diff-b") == "v2"
    page.click("#diff-submit")
    page.wait_for_selector("#diff-counts")
    counts = {k: page.inner_text(f"#diff-counts dd[data-change={k}]") for k in ("added", "changed", "unchanged")}
    assert counts == {"added": "1", "changed": "1", "unchanged": "1"}
    assert page.locator("#diff-classes tr[data-class='cat'] td").nth(2).inner_text() == "0"  # none removed
    page.screenshot(path=str(tmp_path / "ui_releases.png"), full_page=True)

    # download v1 as COCO: the file is a zip named after project, release and format
    page.select_option("#export-release", "v1")
    page.select_option("#export-format", "coco")
    with page.expect_download() as info:
        page.click("#export-link")
    download = info.value
    assert download.suggested_filename == "street_i_scenes_i-v1-coco.zip"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert zipfile.is_zipfile(saved)
    with zipfile.ZipFile(saved) as zf:
        manifest = json.loads(zf.read("release.json"))["manifest"]
        coco = json.loads(zf.read("data/annotations.json"))
    assert manifest["release"] == "v1" and manifest["merkle_root"] == v1.merkle_root
    assert [c["name"] for c in coco["categories"] if c["id"] == coco["annotations"][0]["category_id"]] == ["cat"]
    assert len(coco["annotations"]) == 1 and len(coco["images"]) == 3  # v1, not the later labels
    with site.store.read() as tx:
        (event,) = [e for e in tx.provenance.events(pid) if e.kind == "export"]
    assert event.actor == "user:mgr" and event.subject["release"] == "v1"
    assert not errors, errors


def test_viewer_sees_releases_without_manager_controls(site: Site, browser: Any) -> None:
    from labelloop.services.releases import create_release

    errors: list[str] = []
    pid = site.projects["street"]
    create_release(site.store, pid, "v1", "user:mgr")
    page = login(browser, site, "vic", errors)
    page.goto(f"{site.url}/#/p/{pid}/releases")
    page.wait_for_selector("#releases tr[data-release='v1']")
    assert page.locator("#release-form").count() == 0
    assert page.locator("#export-link").count() == 0 and page.locator("#lineage-link").count() == 0
    page.click("#releases tr[data-release='v1'] button.release-name")  # details open for anyone who may read
    page.wait_for_selector("#details-name >> text=v1")
    assert "valid" in page.inner_text("#details-signature")
    # the API refuses what the page does not offer
    refused = page.request.get(f"{site.url}/api/projects/{pid}/releases/v1/export?format=coco")
    assert refused.status == 403
    assert not errors, errors


def test_reviewer_downloads_the_lineage(site: Site, browser: Any, tmp_path: Path) -> None:
    from labelloop.services.releases import create_release

    errors: list[str] = []
    pid = site.projects["street"]
    create_release(site.store, pid, "v1", "user:mgr")
    page = login(browser, site, "rex", errors)
    page.goto(f"{site.url}/#/p/{pid}/releases")
    page.wait_for_selector("#lineage-link")
    assert page.locator("#release-form").count() == 0 and page.locator("#export-link").count() == 0
    page.focus("#lineage-link")
    with page.expect_download() as info:
        page.keyboard.press("Enter")  # a link: the keyboard is enough
    assert info.value.suggested_filename == "street_i_scenes_i-v1-lineage.jsonl"  # named as the export zips are
    saved = tmp_path / "lineage.jsonl"
    info.value.save_as(saved)
    rows = [json.loads(line) for line in saved.read_text().splitlines()]
    assert [r["item_id"] for r in rows] == site.items["street"]
    assert rows[0]["label"]["annotator"] == "ann" and rows[1]["label"] is None
    assert not errors, errors
