"""Server hardening: headers, errors without traces, body limits, media rules, escaping, the UI page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labelloop.api.limits import MAX_BODY
from labelloop.services.ingest import import_source
from tests.api.conftest import World
from tests.helpers import write

HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


def test_security_headers_on_success_and_error(world: World) -> None:
    c = world.client("viewer")
    for r in (c.get("/api/health"), c.get(f"/api/projects/{world.pb}"), world.client().get("/api/me")):
        for h in HEADERS:
            assert h in r.headers, (r.request.url, h)
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "unsafe-inline" not in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"


def test_internal_errors_are_logged_not_leaked(world: World, monkeypatch: pytest.MonkeyPatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from labelloop.services import web

    def boom(*_a: object) -> None:
        raise RuntimeError("secret detail /etc/labelloop SELECT * FROM users")

    monkeypatch.setattr(web, "projects_for", boom)
    r = world.client("viewer").get("/api/projects")
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "LL-INTERNAL", "message": "internal error"}}
    assert "secret" not in r.text and "Traceback" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert any("secret detail" in str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)


def test_oversized_and_deeply_nested_bodies(world: World) -> None:
    c = world.client("manager")
    url = f"/api/projects/{world.pa}/settings"
    big = c.put(url, content=b"{" + b" " * (MAX_BODY + 10) + b"}", headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "LL-TOOLARGE"

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(MAX_BODY // 65536 + 2):
            yield b" " * 65536

    streamed = c.put(url, content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    deep = c.put(url, content=b"[" * 100_000 + b"]" * 100_000, headers={"content-type": "application/json"})
    assert deep.status_code in (400, 422) and "Traceback" not in deep.text
    many = c.put(f"/api/projects/{world.pa}/items/{world.items_a[0]}/draft", json={"value": [{}] * 20_000})
    assert many.status_code in (403, 422)
    assert c.get("/api/health").status_code == 200  # the worker goes on


def test_page_size_and_ids_are_clamped(world: World) -> None:
    c = world.client("viewer")
    assert c.get(f"/api/projects/{world.pa}/items?limit=1000000000").status_code == 422
    assert c.get(f"/api/projects/{world.pa}/items?after=-5").status_code == 422
    page = c.get(f"/api/projects/{world.pa}/items?limit=2").json()
    assert len(page["items"]) == 2 and page["next"] == page["items"][-1]["id"]
    assert c.get(f"/api/projects/{world.pa}/items?after={page['next']}&limit=200").json()["next"] is None


def test_media_needs_a_right_to_the_item(world: World, tmp_path: Path) -> None:
    b_ann = world.client("b_annotator")
    # not shown yet: not fetchable; path tricks never reach the file system
    item = world.items_b[0]
    with world.store.read() as tx:
        sha = tx.items.get(world.pb, item).data["image"].sha256
    assert b_ann.get(f"/api/media/{sha}").status_code == 404
    task = b_ann.post(f"/api/projects/{world.pb}/next").json()["task"]
    assert task["item"]["media"]["image"]["sha256"] == sha
    m = b_ann.get(f"/api/media/{sha}")
    assert m.status_code == 200 and m.headers["content-type"] == "image/png"
    assert m.headers["x-content-type-options"] == "nosniff" and "sandbox" in m.headers["content-security-policy"]
    assert world.client("annotator").get(f"/api/media/{sha}").status_code == 404  # member of a only
    assert world.client().get(f"/api/media/{sha}").status_code == 401
    for bad in ("../../etc/passwd", "..%2f..%2fetc%2fpasswd", "%2e%2e%2f" * 3 + "etc", sha.upper(), "0" * 64):
        assert b_ann.get(f"/api/media/{bad}").status_code in (404, 422), bad


def test_user_text_comes_back_as_data_not_markup(world: World, tmp_path: Path) -> None:
    payload = "<img src=x onerror=alert(1)></script><svg onload=alert(2)>javascript:alert(3)"
    write(tmp_path / "x.jsonl", '{"text": "' + payload.replace('"', '\\"') + '"}\n')
    import_source(world.store, "a", tmp_path / "x.jsonl", actor="user:test")
    c = world.client("viewer")
    items = c.get(f"/api/projects/{world.pa}/items?limit=200")
    assert items.headers["content-type"].startswith("application/json")
    assert any(i["preview"] == payload for i in items.json()["items"])  # verbatim, as JSON data
    page = c.get("/app/projects/1")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert payload not in page.text  # the page is static; data only arrives as JSON
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), "inline script in index.html"
    assert c.get("/").text == page.text


def test_openapi_documents_the_api(world: World) -> None:
    spec = world.client().get("/openapi.json").json()
    assert "/api/projects/{pid}/next" in spec["paths"] and "/api/auth/login" in spec["paths"]
    assert spec["paths"]["/api/projects/{pid}/next"]["post"]["x-labelloop-action"] == "task.next"


def test_point_cloud_points_as_float32(world: World, tmp_path: Path) -> None:
    import numpy as np

    from labelloop.core import LabelSchema
    from labelloop.core.accounts import Role
    from labelloop.services.accounts import add_member
    from labelloop.services.projects import create_project
    from tests.helpers import pcd_ascii

    schema = LabelSchema.model_validate({"media": [{"name": "cloud", "kind": "pointcloud"}]})
    pid = create_project(world.store, "pc", schema, "user:test").id
    write(tmp_path / "pc" / "a.pcd", pcd_ascii(50))
    import_source(world.store, "pc", tmp_path / "pc", actor="user:test")
    add_member(world.store, pid, "viewer", Role.VIEWER)
    c = world.client("viewer")
    item = c.get(f"/api/projects/{pid}/items").json()["items"][0]
    sha = item["media"]["cloud"]["sha256"]
    assert world.client("viewer").get(f"/api/media/{sha}/points").status_code == 404  # not shown yet
    assert c.get(f"/api/projects/{pid}/items/{item['id']}").status_code == 200
    r = c.get(f"/api/media/{sha}/points")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    pts = np.frombuffer(r.content, dtype="<f4").reshape(-1, 3)
    assert pts.shape == (50, 3) and np.isfinite(pts).all()
    assert world.client("annotator").get(f"/api/media/{sha}/points").status_code == 404
