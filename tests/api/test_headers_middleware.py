"""The security-headers middleware on its own: added when missing, kept when the route set them."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from labelloop.api.headers import SecurityHeaders


def _run(path: str, route_headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": route_headers})
        await send({"type": "http.response.body", "body": b"{}"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    mw = SecurityHeaders(app, {"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"})
    # A thread of its own: a browser test earlier in this worker may leave an event loop running here.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, mw({"type": "http", "path": path}, None, send)).result()  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return dict(sent[0]["headers"])


def test_missing_headers_are_added_and_api_answers_are_not_stored() -> None:
    got = _run("/api/projects", [(b"content-type", b"application/json")])
    assert got[b"x-frame-options"] == b"DENY" and got[b"referrer-policy"] == b"no-referrer"
    assert got[b"cache-control"] == b"no-store"


def test_a_header_the_route_set_is_kept() -> None:
    got = _run("/api/media/x", [(b"X-Frame-Options", b"SAMEORIGIN"), (b"cache-control", b"private, max-age=3600")])
    assert got[b"X-Frame-Options"] == b"SAMEORIGIN" and b"x-frame-options" not in got
    assert got[b"cache-control"] == b"private, max-age=3600"


def test_pages_outside_the_api_may_be_cached() -> None:
    assert b"cache-control" not in _run("/", [])
