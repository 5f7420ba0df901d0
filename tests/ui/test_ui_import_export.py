"""In a browser, through a real server: an admin creates a project (a bad config first), a
manager imports a small COCO dataset and sees the refused image listed, exports the project
as COCO with progress, downloads the zip and reads it with pycocotools; a viewer gets no
import or export panel."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pycocotools.coco import COCO

from labelloop.services.accounts import create_user
from labelloop.storage import Store
from tests.helpers import png_bytes
from tests.ui.test_ui_server import PASSWORD, Site, add_people, login, serve_app

CONFIG = """media:
  - {name: image, kind: image}
controls:
  - {name: objects, kind: boxes, target: image, labels: [cat, dog]}
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data = tmp_path / "data"
    store = Store.open(None, data)
    create_user(store, "boss", PASSWORD, is_admin=True)
    with serve_app(store, data) as url:
        yield Site(url, store, {})


def _coco_zip(path: Path) -> Path:
    images = [{"id": i, "file_name": f"street{i}.png", "width": 64, "height": 48} for i in (1, 2, 3)]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 5, 20, 10]},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [30, 8, 12, 12]},
        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [1, 1, 10, 10]},
        {"id": 4, "image_id": 3, "category_id": 3, "bbox": [2, 2, 5, 5]},  # a horse: not a label of the project
    ]
    categories = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "horse"}]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "annotations.json", json.dumps({"images": images, "annotations": annotations, "categories": categories})
        )
        for i in (1, 2, 3):
            zf.writestr(f"images/street{i}.png", png_bytes(64, 48, (40 * i, 90, 120)))
    return path


def test_create_import_export_in_a_browser(site: Site, browser: Any, tmp_path: Path) -> None:
    errors: list[str] = []
    boss = login(browser, site, "boss", errors)
    boss.click("#new-project-panel summary")
    boss.fill("#new-project-name", "streets")
    boss.fill("#new-project-config", CONFIG.replace("kind: boxes", "kind: bxoes"))
    boss.click("#new-project-submit")
    boss.wait_for_selector("#new-project-errors li")
    shown = boss.inner_text("#new-project-errors")
    assert "controls.0.kind" in shown, shown  # the problem, by its place in the config
    boss.screenshot(path="/tmp/ui_new_project_errors.png", full_page=True)
    with site.store.read() as tx:
        assert tx.projects.list() == []
    boss.fill("#new-project-config", CONFIG)
    boss.click("#new-project-submit")
    boss.wait_for_selector("#project-name")
    assert boss.inner_text("#project-name") == "streets"
    pid = int(re.search(r"#/p/(\d+)", boss.url).group(1))  # type: ignore[union-attr]
    boss.screenshot(path="/tmp/ui_new_project.png", full_page=True)

    add_people(site.store, pid)
    page = login(browser, site, "mgr", errors)
    page.goto(f"{site.url}/#/p/{pid}")
    page.wait_for_selector("#import-panel")
    page.set_input_files("#import-file", str(_coco_zip(tmp_path / "streets.zip")))
    page.select_option("#import-format", "coco")
    page.click("#import-submit")
    page.wait_for_selector("#import-status[data-status=done]", timeout=30_000)
    assert "2 items imported" in page.inner_text("#import-summary")
    refused = page.inner_text("#import-errors")
    assert "horse" in refused and "images[2]" in refused, refused  # the refused image and why
    page.click("#refresh-items")
    page.wait_for_selector("#items tbody tr >> nth=1")
    assert page.locator("#items tbody tr").count() == 2
    page.screenshot(path="/tmp/ui_import.png", full_page=True)

    # export as COCO: record every state the panel shows while the job runs
    page.evaluate("""() => {
        window.__seen = [];
        const status = document.querySelector('#export-status');
        new MutationObserver(() => window.__seen.push([status.dataset.status || '',
            document.querySelector('#export-counts').textContent]))
          .observe(status, { attributes: true, childList: true, subtree: true, characterData: true });
    }""")
    page.select_option("#export-format", "coco")
    page.click("#export-submit")
    page.wait_for_selector("#export-download", timeout=30_000)
    seen = page.evaluate("() => window.__seen")
    assert seen[0][0] in ("queued", "running") and seen[-1][0] == "done", seen
    assert re.match(r"^(\d+) / \1 · packing files$", seen[-1][1]), seen
    assert page.evaluate("() => document.querySelector('#export-progress').value") == page.evaluate(
        "() => document.querySelector('#export-progress').max"
    )
    page.screenshot(path="/tmp/ui_export.png", full_page=True)
    with page.expect_download() as got:
        page.click("#export-download")
    saved = tmp_path / "export.zip"
    got.value.save_as(saved)
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as zf:
        ann = next(n for n in zf.namelist() if n.endswith(".json"))
        (tmp_path / "coco.json").write_bytes(zf.read(ann))
        assert sum(n.endswith(".png") for n in zf.namelist()) == 2
    coco = COCO(str(tmp_path / "coco.json"))
    assert len(coco.getImgIds()) == 2
    cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    boxes = sorted((cats[a["category_id"]], [round(v) for v in a["bbox"]]) for a in coco.loadAnns(coco.getAnnIds()))
    assert boxes == [("cat", [1, 1, 10, 10]), ("cat", [4, 5, 20, 10]), ("dog", [30, 8, 12, 12])]

    viewer = login(browser, site, "vic", errors)
    assert viewer.locator("#new-project-panel").count() == 0  # for instance admins only
    viewer.goto(f"{site.url}/#/p/{pid}")
    viewer.wait_for_selector("#project-name")
    assert viewer.locator("#import-panel").count() == 0 and viewer.locator("#export-panel").count() == 0
    assert not errors, errors
