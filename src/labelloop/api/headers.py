"""Security headers on every response (pure ASGI middleware).

Starlette's ``@app.middleware("http")`` (``BaseHTTPMiddleware``) runs each request through a
task group and a memory stream to hand the response back; adding headers needs none of that:
this middleware only edits the ``http.response.start`` message on its way out. A header the
route already set is kept; ``/api/`` answers get ``Cache-Control: no-store`` unless they chose.

Example:
    >>> async def app(scope, receive, send): ...
    >>> SecurityHeaders(app, {"X-Frame-Options": "DENY"}).headers
    [(b'x-frame-options', b'DENY')]

    (tests/api/test_hardening.py checks the headers on real responses.)
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders"]

_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """Add ``headers`` to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; complete the response's headers as it starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*self.headers, _NO_STORE] if scope["path"].startswith("/api/") else self.headers

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {bytes(name).lower() for name, _ in headers}
                headers += [h for h in extra if h[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
