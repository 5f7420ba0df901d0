"""A JSON response rendered by orjson, for the routes every annotator calls many times a minute.

FastAPI turns a returned ``dict`` into JSON in two passes: :func:`fastapi.encoders.jsonable_encoder`
walks it in Python, then the standard library encodes it. The work routes (next task, submit,
review) answer with plain JSON values already, so :class:`FastJSON` skips the walk and encodes
once in C. The bytes are those of Starlette's ``JSONResponse`` (compact, UTF-8, non-ASCII text
unescaped), except that NaN and infinities become ``null`` where Starlette would fail.

Example:
    >>> FastJSON({"task": {"id": 1, "text": "ok"}}, status_code=201).body
    b'{"task":{"id":1,"text":"ok"}}'
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

__all__ = ["FastJSON"]


class FastJSON(JSONResponse):
    """``JSONResponse`` rendered with orjson (NaN and infinities are written as ``null``)."""

    def render(self, content: Any) -> bytes:
        """Encode ``content``; raises ``TypeError`` for values JSON cannot hold."""
        return orjson.dumps(content)
