"""Request size limits, enforced before the body is parsed (pure ASGI middleware).

A declared ``Content-Length`` above the limit is refused at once; a chunked body is counted
as it streams and cut off at the limit. Either way the answer is 413 and the worker goes on.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_BODY", "BodyLimit"]

MAX_BODY = 8 * 1024 * 1024


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.headers = headers or {}

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps({"error": {"code": "LL-TOOLARGE", "message": f"request body over {self.max_bytes} bytes"}})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        seen = 0
        over = False
        refused = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            # whatever the app made of the cut-off body (400, 500), the client is told 413
            nonlocal refused
            if over:
                if not refused:
                    refused = True
                    await self._refuse(send)
                return
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except _TooLarge:
            if not refused:
                await self._refuse(send)
