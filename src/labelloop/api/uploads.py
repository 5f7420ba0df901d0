"""Receive a raw request body into an upload file, chunk by chunk, off the event loop.

The body is never held whole in memory: chunks are gathered up to :data:`BUFFER` bytes and
written by a worker thread. Whatever stops the transfer (the size limit of
:mod:`labelloop.api.limits`, a client that goes away, a bad body) removes the partial file.
"""

from __future__ import annotations

import anyio
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from labelloop.errors import InputRejected
from labelloop.services.web_imports import Upload

__all__ = ["BUFFER", "receive_into"]

BUFFER = 1 << 20


async def receive_into(request: Request, upload: Upload) -> None:
    """Write the request body into ``upload`` and close it; on any error discard it and re-raise.

    Raises:
        InputRejected: a multipart form (the file goes as the raw body), or an empty body.
        UploadTooLarge: over the upload's limit.
    """
    try:
        if request.headers.get("content-type", "").lower().startswith("multipart/"):
            raise InputRejected(
                "body", "the file itself as the request body (Content-Type: application/octet-stream)", "a form"
            )
        buf = bytearray()
        async for chunk in request.stream():
            buf += chunk
            if len(buf) >= BUFFER:
                await run_in_threadpool(upload.write, bytes(buf))
                buf.clear()
        if buf:
            await run_in_threadpool(upload.write, bytes(buf))
        await run_in_threadpool(upload.finish)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(upload.discard)
        raise
