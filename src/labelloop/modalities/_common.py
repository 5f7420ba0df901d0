"""Shared value objects and helpers of the modality probes.

The public names (:class:`ProbeLimits`, :class:`Probed`) are re-exported by
:mod:`labelloop.modalities`; the rest is private to the package.

Example:
    >>> from labelloop.modalities import ProbeLimits
    >>> ProbeLimits(max_points=10).max_points
    10
"""

from __future__ import annotations

import io
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from labelloop.core.media import Medium
from labelloop.errors import InputRejected

__all__ = ["DEFAULT_LIMITS", "HEAD_BYTES", "Input", "ProbeLimits", "Probed", "why"]

#: How many leading bytes :func:`labelloop.modalities.sniff` looks at.
HEAD_BYTES = 4096

_OBJECT_REPR = re.compile(r"\s*<[^<>]*(?: at 0x[0-9a-fA-F]+| name=[^<>]*)>")


@dataclass(frozen=True, slots=True)
class ProbeLimits:
    """Upper bounds a probed input must respect; anything larger is refused.

    Attributes:
        max_text_bytes: A text item larger than this (in bytes) is refused.
        max_image_pixels: Width x height declared in the image header; checked before decoding
            so a decompression bomb never allocates its pixels.
        max_audio_seconds: Longest accepted audio duration.
        max_points: Most points accepted in one point cloud.

    Example:
        >>> ProbeLimits().max_image_pixels
        100000000
    """

    max_text_bytes: int = 10 * 2**20
    max_image_pixels: int = 100_000_000
    max_audio_seconds: float = 4 * 3600
    max_points: int = 50_000_000

    def __post_init__(self) -> None:
        for name in ("max_text_bytes", "max_image_pixels", "max_audio_seconds", "max_points"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ProbeLimits.{name} must be positive, got {getattr(self, name)!r}")


#: The limits used when a caller passes none.
DEFAULT_LIMITS = ProbeLimits()


@dataclass(frozen=True, slots=True)
class Probed:
    """What probing found out about one input.

    Attributes:
        kind: The medium.
        media_type: ``image/png``, ``audio/flac``, ``application/x-pcd``, ``text/plain`` ...
        meta: Facts about the content. Images: ``width``, ``height``, ``mode`` (and ``frames``
            when animated). Audio: ``duration_s``, ``sample_rate``, ``channels``, ``frames``.
            Point clouds: ``points``, ``fields``, ``format``, ``bounds`` (``None`` when there is
            no finite point). Text: ``chars``.
        text: The decoded text for text inputs (BOM stripped, no normalisation, so character
            offsets into it are exact); ``None`` otherwise.

    Example:
        >>> from labelloop.modalities import probe_bytes
        >>> probe_bytes("hi 你好".encode(), source="a.txt").meta
        {'chars': 5}
    """

    kind: Medium
    media_type: str
    meta: dict[str, Any]
    text: str | None = None


class Input:
    """One input to probe: a file or an in-memory buffer, plus its human name."""

    __slots__ = ("_head", "data", "path", "size", "source")

    def __init__(self, source: str, *, path: Path | None = None, data: bytes | None = None) -> None:
        self.source = source
        self.path = path
        self.data = data
        self._head: bytes | None = None
        if data is not None:
            self.size = len(data)
        elif path is not None:
            self.size = self._stat(path)
        else:  # pragma: no cover - programming error
            raise ValueError("Input needs a path or data")

    def _stat(self, path: Path) -> int:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise self.reject("a readable file", "no such file") from None
        except PermissionError:
            raise self.reject("a readable file", "permission denied") from None
        except OSError as exc:
            raise self.reject("a readable file", why(exc, self)) from None
        if stat.S_ISDIR(st.st_mode):
            raise self.reject("a regular file", "a directory")
        if not stat.S_ISREG(st.st_mode):
            raise self.reject("a regular file", "a special file (device, pipe or socket)")
        return st.st_size

    def reject(self, expected: str, got: str) -> InputRejected:
        """Build the error for this input (the caller raises it)."""
        return InputRejected(self.source, expected, got)

    def open(self) -> IO[bytes]:
        """Open the content for binary reading (the caller closes it)."""
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        try:
            return self.path.open("rb")
        except OSError as exc:
            raise self.reject("a readable file", why(exc, self)) from None

    def head(self) -> bytes:
        """Return the first :data:`HEAD_BYTES` bytes."""
        if self._head is None:
            if self.data is not None:
                self._head = self.data[:HEAD_BYTES]
            else:
                with self.open() as fp:
                    self._head = self._read(fp, HEAD_BYTES)
        return self._head

    def read(self) -> bytes:
        """Return the whole content (callers check size limits first)."""
        if self.data is not None:
            return self.data
        with self.open() as fp:
            return self._read(fp, -1)

    def chunks(self, size: int) -> Iterator[bytes]:
        """Yield the content in pieces of ``size`` bytes (the last may be shorter)."""
        if self.data is not None:
            view = memoryview(self.data)
            for start in range(0, len(view), size):
                yield bytes(view[start : start + size])
            return
        with self.open() as fp:
            while piece := self._read(fp, size):
                yield piece

    def _read(self, fp: IO[bytes], size: int) -> bytes:
        try:
            return fp.read(size)
        except OSError as exc:
            raise self.reject("a readable file", why(exc, self)) from None


def why(exc: BaseException, inp: Input | None = None) -> str:
    r"""Turn a library exception into a short, path-free reason for a message.

    Example:
        >>> why(ValueError("bad\nsecond line"))
        'bad'
    """
    text = str(exc).strip()
    if inp is not None and inp.path is not None:
        text = text.replace(str(inp.path), inp.source)
    text = _OBJECT_REPR.sub("", text)
    text = text.splitlines()[0].strip() if text else ""
    if not text:
        text = type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
