r"""Bounded line reading: a 1 GB line costs at most ``max_bytes`` of memory, never more.

Example:
    >>> import io
    >>> [(n, r) for n, r in iter_lines(io.BytesIO(b"a\n" + b"x" * 10 + b"\nb"), max_bytes=4)]
    [(1, b'a'), (2, LineTooLong(size=10)), (3, b'b')]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["LineTooLong", "iter_lines"]

_SKIP_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """Stands in for a line longer than the limit (its bytes were skipped, not kept)."""

    size: int


def iter_lines(f: BinaryIO, *, max_bytes: int) -> Iterator[tuple[int, bytes | LineTooLong]]:
    """Yield ``(line_number, line)`` with the line ending removed; 1-based numbers.

    A line longer than ``max_bytes`` is yielded as :class:`LineTooLong` and skipped in
    chunks, so memory stays bounded whatever the input.
    """
    number = 0
    while True:
        raw = f.readline(max_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            size = len(raw)
            while True:
                chunk = f.readline(_SKIP_CHUNK)
                size += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield number, LineTooLong(size=size - (1 if chunk.endswith(b"\n") else 0))
            continue
        if raw.endswith(b"\n"):
            raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        yield number, raw
