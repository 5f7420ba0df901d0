"""Stream a folder as a zip archive, chunk by chunk, never holding the archive in memory or on disk.

:func:`iter_zip` drives :mod:`zipfile` over a write-only sink: each member is written with a
data descriptor (sizes and CRC after the data, as for any non-seekable output), ZIP64 where a
member needs it, and what the sink collected is handed out after every chunk read from the
source file, so memory stays at about one chunk whatever the folder holds. Media that are
already compressed (PNG, JPEG, audio codecs, Parquet, ...) are stored, everything else deflated.

Example:
    >>> import io, tempfile, zipfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_text("hello")
    >>> blob = b"".join(iter_zip(root))
    >>> zipfile.ZipFile(io.BytesIO(blob)).read("a.txt")
    b'hello'
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from labelloop.formats import STORED_SUFFIXES

__all__ = ["STORED_SUFFIXES", "iter_zip", "zip_members"]


class _Sink:
    """A write-only, non-seekable file: collects what :mod:`zipfile` writes until drained."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the parts wait for :meth:`drain`."""

    def close(self) -> None:
        """Nothing to close: the parts wait for :meth:`drain`."""

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def zip_members(root: Path) -> list[Path]:
    """The regular files under ``root``, sorted by their relative path (symbolic links skipped).

    Example:
        >>> import tempfile, pathlib
        >>> zip_members(pathlib.Path(tempfile.mkdtemp()))
        []
    """
    out: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in names:
            p = Path(folder) / name
            if p.is_file() and not p.is_symlink():
                out.append(p)
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def iter_zip(
    root: Path, *, chunk: int = 1 << 20, on_member: Callable[[int, int], None] | None = None
) -> Iterator[bytes]:
    r"""Yield the bytes of a zip archive of every regular file under ``root``.

    Member names are the paths relative to ``root`` (``/``-separated).

    Args:
        root: The folder to archive.
        chunk: Bytes read from a source file at a time (bounds the memory used).
        on_member: Called as ``on_member(done, total)`` after each member is written.

    Example:
        >>> import tempfile, pathlib
        >>> next(iter_zip(pathlib.Path(tempfile.mkdtemp())))[:4]  # an empty archive
        b'PK\x05\x06'
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        members = zip_members(root)
        for n, path in enumerate(members, 1):
            info = zipfile.ZipInfo.from_file(path, path.relative_to(root).as_posix(), strict_timestamps=False)
            stored = path.suffix.lower() in STORED_SUFFIXES
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            with path.open("rb") as src, zf.open(info, "w") as dest:
                while block := src.read(chunk):
                    dest.write(block)
                    if sink.parts:
                        yield sink.drain()
            if sink.parts:
                yield sink.drain()
            if on_member is not None:
                on_member(n, len(members))
    if tail := sink.drain():
        yield tail
