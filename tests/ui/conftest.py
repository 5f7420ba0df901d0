"""Browser fixtures: Debian's chromium driven by Playwright (no browser download).

``fake_app`` serves the UI's static files and a small in-memory imitation of the REST API
through Playwright request interception, so the editors can be tested on their own;
``test_ui_server.py`` drives the same UI against a real server.
"""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

CHROMIUM = os.environ.get("LABELLOOP_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # WebGL through the software rasteriser, for the three.js point-cloud view
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
]
STATIC = Path(str(files("labelloop.ui") / "static"))
ORIGIN = "http://ui.test"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium (skips where it is absent; CI installs it in .ci/run)."""
    if not Path(CHROMIUM).exists():  # pragma: no cover
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


@dataclass
class FakeApi:
    """An in-memory imitation of the REST API of the web contract (just enough for the editors)."""

    project: dict[str, Any]
    tasks: list[dict[str, Any]]
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    reviews_queue: list[dict[str, Any]] = field(default_factory=list)
    conflict: dict[str, Any] | None = None  # the next submit answers 409 with this as "current"
    annotations: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key -> body
    members: list[dict[str, Any]] = field(
        default_factory=lambda: [{"user_id": 1, "username": "ann", "role": "manager"}]
    )
    settings: dict[str, Any] = field(default_factory=lambda: {"overlap": 1, "gold_rate": 0.0, "lock_seconds": 600})

    def calls_to(self, method: str, suffix: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["method"] == method and c["path"].endswith(suffix)]

    def handle(self, route: Any, request: Any) -> None:
        url = urlparse(request.url)
        path, method = url.path, request.method
        body = None
        if request.post_data:
            body = json.loads(request.post_data)
        self.calls.append({"method": method, "path": path, "body": body, "headers": request.headers})
        pid = self.project["id"]
        base = f"/api/projects/{pid}"

        def reply(status: int, data: Any = None) -> None:
            if data is None:
                route.fulfill(status=status)
            else:
                route.fulfill(status=status, content_type="application/json", body=json.dumps(data))

        if path == "/api/me" or path == "/api/auth/login":
            return reply(200, {"user": {"id": 1, "username": "ann", "is_admin": False}, "csrf_token": "tok"})
        if path.startswith("/api/media/"):
            sha = path.split("/")[3]
            if path.endswith("/points") or sha not in self.media:
                return reply(404, {"error": {"code": "LL-NOTFOUND", "message": "no such media"}})
            data, ctype = self.media[sha]
            return route.fulfill(status=200, content_type=ctype, body=data)
        if path == "/api/projects":
            return reply(200, {"projects": [{**{k: self.project[k] for k in ("id", "name", "role")}, "media": ["x"]}]})
        if path == base:
            return reply(200, self.project)
        if path == f"{base}/stats":
            stats = {"progress": {"items": 3, "annotated": 1}, "annotators": [{"username": "ann", "annotations": 1}]}
            return reply(200, stats)
        if path == f"{base}/items":
            q = parse_qs(url.query)
            return reply(200, {"items": [], "next": None, "q": q})
        if path == f"{base}/next":
            return reply(200, {"task": self.tasks.pop(0)}) if self.tasks else reply(204)
        if path == f"{base}/review/next":
            return reply(200, {"task": self.reviews_queue.pop(0)}) if self.reviews_queue else reply(204)
        if path == f"{base}/members":
            if method == "POST":
                self.members.append({"user_id": len(self.members) + 2, **(body or {})})
                return reply(201, self.members[-1])
            return reply(200, {"members": self.members})
        if path == f"{base}/settings":
            if method == "PUT":
                self.settings.update(body or {})
            return reply(200, self.settings)
        if path.endswith("/draft") and method == "PUT":
            return reply(204)
        if path.endswith("/annotations") and method == "POST":
            if self.conflict is not None:
                current, self.conflict = self.conflict, None
                return reply(409, {"error": {"code": "LL-CONFLICT", "message": "stale"}, "current": current})
            key = request.headers.get("idempotency-key", "")
            self.annotations.setdefault(key, body or {})
            return reply(201, {"annotation": {"id": 99, **self.annotations[key]}})
        if "/suggestions/" in path and path.endswith("/accept"):
            return reply(201, {"annotation": {"id": 98}})
        if path.endswith("/reviews") and method == "POST":
            return reply(201, {"review": {"id": 7, **(body or {})}})
        return reply(404, {"error": {"code": "LL-NOTFOUND", "message": f"fake API has no {method} {path}"}})


def serve_static(route: Any, request: Any) -> None:
    path = urlparse(request.url).path
    rel = "index.html" if path in ("/", "") else path.removeprefix("/static/")
    target = (STATIC / rel).resolve()
    if not target.is_relative_to(STATIC.resolve()) or not target.is_file():
        route.fulfill(status=404, body="not found")
        return
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix == ".js":
        ctype = "text/javascript"
    route.fulfill(
        status=200,
        content_type=ctype,
        body=target.read_bytes(),
        headers={"Content-Security-Policy": "script-src 'self'; object-src 'none'"},
    )


def _real_console_error(msg: Any) -> bool:
    # HTTP error answers the UI handles (404, 409, 422) are logged by the browser; they are not bugs
    return bool(msg.type == "error" and "Failed to load resource" not in msg.text)


@pytest.fixture
def fake_app(browser: Any) -> Iterator[Callable[..., tuple[Any, FakeApi]]]:
    """Open the UI on a fake API; returns (page, api). Console errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_app(
        api: FakeApi, hash_: str = "#/projects", viewport: tuple[int, int] = (1280, 900)
    ) -> tuple[Any, FakeApi]:
        ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if _real_console_error(m) else None)
        page.route(f"{ORIGIN}/api/**", api.handle)
        page.route(f"{ORIGIN}/", serve_static)
        page.route(f"{ORIGIN}/static/**", serve_static)
        page.goto(f"{ORIGIN}/{hash_}")
        return page, api

    yield open_app
    for ctx in contexts:
        ctx.close()
    assert not errors, errors
