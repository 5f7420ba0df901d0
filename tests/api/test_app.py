"""The read-only API and viewer pages: data, media types, escaping, security headers."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from labelloop.api import create_app
from labelloop.config import Settings
from labelloop.services.ingest import import_source
from labelloop.storage import Store
from tests.helpers import IMAGE_SCHEMA, TEXT_SCHEMA, png_bytes, write


def test_api_and_pages(sqlite_store: Store, make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_project("t", TEXT_SCHEMA)
    make_project("img", IMAGE_SCHEMA)
    write(tmp_path / "m.jsonl", json.dumps({"text": "<script>alert(1)</script> & <img src=x onerror=alert(2)>"}) + "\n")
    import_source(sqlite_store, "t", tmp_path / "m.jsonl", actor="user:test")
    write(tmp_path / "img" / "a.png", png_bytes())
    import_source(sqlite_store, "img", tmp_path / "img", actor="user:test")
    client = TestClient(create_app(Settings(data_dir=tmp_path / "unused"), store=sqlite_store))
    with client:
        r = client.get("/api/health")
        assert r.json()["status"] == "ok"
        for header in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
            assert header in r.headers
        projects = client.get("/api/projects").json()
        assert [(p["name"], p["items"]) for p in projects] == [("t", 1), ("img", 1)]
        pid = projects[1]["id"]
        items = client.get(f"/api/projects/{pid}/items").json()["items"]
        sha = items[0]["data"]["image"]["sha256"]
        media = client.get(f"/api/media/{sha}")
        assert media.status_code == 200 and media.content == png_bytes()
        assert media.headers["content-type"] == "image/png"
        assert media.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in media.headers["content-security-policy"]
        assert client.get("/api/media/" + "0" * 64).status_code == 404
        assert client.get("/api/media/../../etc/passwd").status_code == 404
        assert client.get("/api/projects/999/items").json()["error"]["code"] == "LL-NOTFOUND"
        assert client.get(f"/api/projects/{pid}/items?limit=1000000000").status_code == 422
        page = client.get(f"/projects/{projects[0]['id']}").text
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<img src=x" not in page
        assert "script-src 'self'" in client.get("/").headers["content-security-policy"]


def test_internal_errors_are_logged_not_leaked(
    sqlite_store: Store,
    tmp_path: Path,
    monkeypatch,
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    from labelloop.api import app as app_module

    def boom(_store: Store) -> None:
        raise RuntimeError("secret detail /etc/labelloop SELECT * FROM users")

    monkeypatch.setattr(app_module, "list_projects", boom)
    client = TestClient(create_app(Settings(data_dir=tmp_path), store=sqlite_store), raise_server_exceptions=False)
    with client:
        r = client.get("/api/projects")
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "LL-INTERNAL", "message": "internal error"}}
    assert "secret" not in r.text and "Traceback" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert any("secret detail" in str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)
