"""Request size limits, enforced before the body is parsed (pure ASGI middleware).

A declared ``Content-Length`` above the limit is refused at once; a chunked body is counted
as it streams and cut off at the limit. Either way the answer is 413 and the worker goes on.

Every route gets :data:`MAX_BODY`, except the paths given a larger limit of their own (file
uploads: :data:`UPLOAD_PATH`, ``Settings.max_upload_bytes``), whose handlers stream the body
to disk rather than parse it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_BODY", "UPLOAD_PATH", "BodyLimit"]

MAX_BODY = 8 * 1024 * 1024
UPLOAD_PATH = re.compile(r"^/api/projects/[0-9]+/imports$")
"""The upload route: its body is streamed to a file, so it may be larger."""


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` (or a path's own larger limit) with 413."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY,
        headers: dict[str, str] | None = None,
        larger: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.headers = headers or {}
        self.larger = tuple(larger)

    def limit_for(self, path: str) -> int:
        """The byte limit of a request path."""
        return next((n for pattern, n in self.larger if pattern.match(path)), self.max_bytes)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = orjson.dumps({"error": {"code": "LL-TOOLARGE", "message": f"request body over {limit} bytes"}})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    await self._refuse(send, limit)
                    return
        seen = 0
        over = False
        refused = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            # whatever the app made of the cut-off body (400, 500), the client is told 413
            nonlocal refused
            if over:
                if not refused:
                    refused = True
                    await self._refuse(send, limit)
                return
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except _TooLarge:
            if not refused:
                await self._refuse(send, limit)
