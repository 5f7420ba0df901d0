r"""Where an exporter writes: a folder or one zip file, published atomically either way.

:func:`atomic_output` yields an :class:`ExportOutput` for ``out``: a :class:`FolderOutput`
(a temporary sibling folder renamed to ``out``)
or, when ``out`` ends in ``.zip``, a :class:`ZipOutput` (a temporary sibling file renamed to
``out``). Exporters name files by their ``/``-separated path relative to the artifact's root,
so both give the same layout: a zip member for every file of the folder, byte for byte (YOLO's
``data.yaml`` alone differs: a zip's has no absolute ``path``). A format that writes a file per
item costs one file on disk in zip mode; members are written by
:class:`~labelloop.formats._zipwrite.ZipWriter` (a few µs each).

* :meth:`ExportOutput.write` — a new file with the given bytes.
* :meth:`ExportOutput.open` — a new file to stream into (in a zip: spooled to an anonymous
  temporary file and added when the export completes, so several can be open at once).
* :meth:`ExportOutput.place` — a media file: copied or hard-linked into a folder, streamed
  into a zip (:data:`STORED_SUFFIXES` stored, everything else deflated).
* :meth:`ExportOutput.makedirs` — a folder (a directory entry in a zip).
* :meth:`ExportOutput.scratch` — an anonymous temporary file beside the artifact, not part of it.

Nothing half-written is left behind: when the body raises, the temporary folder or file is
removed and spooled files vanish with their handles.

Example:
    >>> import tempfile, pathlib, zipfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "export.zip"
    >>> with atomic_output(out) as dest:
    ...     dest.write("labels/a.txt", b"0 0.5 0.5 1 1\\n")
    ...     with dest.open("list.txt") as fh:
    ...         _ = fh.write(b"a\\n")
    >>> sorted(zipfile.ZipFile(out).namelist())
    ['labels/a.txt', 'list.txt']
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any, cast

from labelloop.errors import FormatError
from labelloop.formats._media import copy_file, write_new
from labelloop.formats._zipwrite import ZipWriter

__all__ = ["STORED_SUFFIXES", "ExportOutput", "FolderOutput", "ZipOutput", "atomic_output", "is_zip_target", "nested"]

STORED_SUFFIXES = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".webp", ".gif", ".avif", ".heic",
        ".mp3", ".ogg", ".opus", ".flac", ".m4a", ".aac", ".mp4", ".webm",
        ".zip", ".gz", ".bz2", ".xz", ".zst", ".7z", ".parquet", ".npz", ".spacy",
        ".wav", ".bin", ".pcd", ".ply", ".las", ".laz",
    }
)  # fmt: skip
"""Suffixes stored, not deflated: formats compressed already, and sensor samples (PCM audio, float
point clouds) that deflate by a few percent at a high CPU cost."""

_CHUNK = 1 << 20
_NESTED: ContextVar[dict[Path, ExportOutput]] = ContextVar("_NESTED", default={})  # noqa: B039  (never mutated)


def is_zip_target(out: Path) -> bool:
    """Whether ``out`` names a zip artifact (its name ends in ``.zip``, any case).

    Example:
        >>> is_zip_target(Path("out/coco.zip")), is_zip_target(Path("out/coco"))
        (True, False)
    """
    return out.suffix.lower() == ".zip"


class ExportOutput(ABC):
    """The artifact an exporter writes into; paths are relative, ``/``-separated.

    Attributes:
        out: Where the artifact is published.
    """

    def __init__(self, out: Path) -> None:
        self.out = out

    @abstractmethod
    def write(self, rel: str, data: bytes) -> None:
        """Write a new file ``rel`` holding ``data`` (never over an existing one)."""

    @abstractmethod
    def open(self, rel: str) -> IO[bytes]:
        """A new binary file ``rel`` to stream into; it is part of the artifact once closed."""

    def open_text(self, rel: str, *, newline: str | None = None) -> IO[str]:
        """A new UTF-8 text file ``rel`` (as ``open(path, "w", encoding="utf-8", newline=newline)``)."""
        return io.TextIOWrapper(self.open(rel), encoding="utf-8", newline=newline)

    @abstractmethod
    def place(self, src: str | Path, rel: str, *, link: bool = False) -> None:
        """Put the media file ``src`` at ``rel`` (``link``: hard-link where a folder allows)."""

    @abstractmethod
    def makedirs(self, rel: str) -> None:
        """Create the folder ``rel`` (and its parents); nothing when it exists."""

    def scratch(self) -> IO[bytes]:
        """An anonymous temporary file beside the artifact (not part of it; gone once closed)."""
        return tempfile.TemporaryFile(dir=self.out.parent)

    def copy_in(self, rel: str, src: IO[bytes]) -> None:
        """A new file ``rel`` holding the rest of the open binary file ``src``."""
        with self.open(rel) as fh:
            shutil.copyfileobj(src, fh, _CHUNK)


class FolderOutput(ExportOutput):
    """Files in a (temporary) folder.

    Attributes:
        root: The folder written into.
    """

    def __init__(self, out: Path, root: Path) -> None:
        super().__init__(out)
        self.root = root
        self._prefix = f"{root}{os.sep}"
        self._dirs: set[str] = {""}

    def _parent(self, rel: str) -> str:
        folder = rel.rpartition("/")[0]
        if folder not in self._dirs:
            self.makedirs(folder)
        return self._prefix + rel

    def write(self, rel: str, data: bytes) -> None:
        write_new(self._parent(rel), data)

    def open(self, rel: str) -> IO[bytes]:
        return open(self._parent(rel), "xb")  # noqa: PTH123  (the caller closes it)

    def open_text(self, rel: str, *, newline: str | None = None) -> IO[str]:
        return open(self._parent(rel), "x", encoding="utf-8", newline=newline)  # noqa: PTH123

    def place(self, src: str | Path, rel: str, *, link: bool = False) -> None:
        dest = self._parent(rel)
        if link:
            try:
                os.link(src, dest)
                return
            except OSError:
                pass
        copy_file(src, dest)

    def makedirs(self, rel: str) -> None:
        if rel not in self._dirs:
            os.makedirs(self._prefix + rel, exist_ok=True)  # noqa: PTH103  (str paths, no pathlib cost)
            self._dirs.add(rel)


class _Spool(io.BufferedIOBase):
    """A spooled zip member: writes go to an anonymous temporary file, queued on the zip when closed."""

    def __init__(self, fh: IO[bytes], owner: ZipOutput, rel: str) -> None:
        super().__init__()
        self._fh = fh
        self._owner = owner
        self._rel = rel
        self._sha = hashlib.sha256() if owner.hashes is not None else None

    def writable(self) -> bool:
        return True

    def write(self, data: Any, /) -> int:
        if self._sha is not None:
            self._sha.update(data)
        return self._fh.write(data)

    def tell(self) -> int:
        return self._fh.tell()

    def flush(self) -> None:
        if not self.closed:
            self._fh.flush()

    def close(self) -> None:
        if not self.closed:
            self._fh.flush()
            self._owner._pending.append((self._rel, self._fh))
            if self._sha is not None and self._owner.hashes is not None:
                self._owner.hashes[self._rel] = (self._sha.hexdigest(), self._fh.tell())
        super().close()


class ZipOutput(ExportOutput):
    """Members of one zip file (ZIP64 where needed), written sequentially.

    Files opened with :meth:`open` are spooled and added when the export completes
    (:meth:`finish`), so exporters may keep several open while writing others.
    """

    def __init__(self, out: Path, fd: int, *, hashes: bool = False) -> None:
        super().__init__(out)
        self.zip = ZipWriter(fd, time.localtime(time.time())[:6])  # type: ignore[arg-type]
        self._pending: list[tuple[str, IO[bytes]]] = []
        self.hashes: dict[str, tuple[str, int]] | None = {} if hashes else None
        """``{path: (sha256 hex, size)}`` of every file, when asked for (a signed release lists them)."""

    @staticmethod
    def _deflate(rel: str) -> bool:
        dot = rel.rfind(".")
        return not (dot > rel.rfind("/") and rel[dot:].lower() in STORED_SUFFIXES)

    def write(self, rel: str, data: bytes) -> None:
        self.zip.add_bytes(rel, data, compress=self._deflate(rel))
        if self.hashes is not None:
            self.hashes[rel] = (hashlib.sha256(data).hexdigest(), len(data))

    def open(self, rel: str) -> IO[bytes]:
        if rel in self.zip or any(rel == p for p, _ in self._pending):
            raise FileExistsError(f"{rel!r}: already in the zip")
        spool = _Spool(tempfile.TemporaryFile(dir=self.out.parent, buffering=_CHUNK), self, rel)  # noqa: SIM115
        return cast("IO[bytes]", spool)

    def place(self, src: str | Path, rel: str, *, link: bool = False) -> None:
        del link  # the zip holds the bytes either way
        fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            if size <= _CHUNK:
                data = os.read(fd, size)
                while len(data) < size and (more := os.read(fd, size - len(data))):
                    data += more
                self.write(rel, data)
                return
            sha = hashlib.sha256() if self.hashes is not None else None

            def read(n: int) -> bytes:
                block = os.read(fd, n)
                if sha is not None:
                    sha.update(block)
                return block

            self.zip.add_stream(rel, read, size, compress=self._deflate(rel))
            if sha is not None and self.hashes is not None:
                self.hashes[rel] = (sha.hexdigest(), size)
        finally:
            os.close(fd)

    def makedirs(self, rel: str) -> None:
        parts = [p for p in rel.split("/") if p]
        for i in range(1, len(parts) + 1):
            name = "/".join(parts[:i]) + "/"
            if name not in self.zip:
                self.zip.add_dir(name)

    def finish(self) -> None:
        """Add the spooled files (in the order they were closed) and write the central directory."""
        for rel, fh in self._pending:
            with fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(0)
                self.zip.add_stream(rel, fh.read, size, compress=self._deflate(rel))
        self._pending.clear()
        self.zip.close()

    def discard(self) -> None:
        """Drop the spooled files (a failed export)."""
        for _, fh in self._pending:
            fh.close()
        self._pending.clear()


def _check_free(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FormatError(f"{out}: the export destination already exists and is not empty")
    out.parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def atomic_output(out: Path, *, hashes: bool = False) -> Iterator[ExportOutput]:
    """Yield the artifact for ``out``: a zip when ``out`` ends in ``.zip``, else a folder.

    On success the temporary folder or file is renamed to ``out``; when the body raises it
    is removed and nothing is published. ``hashes``: a zip records every file's SHA-256 and
    size (:attr:`ZipOutput.hashes`). Inside :func:`nested`, ``out`` may name a folder of an
    enclosing artifact: that part is yielded as is.

    Raises:
        FormatError: when ``out`` already holds something.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "export"
        >>> with atomic_output(out) as dest:
        ...     dest.write("a/b.txt", b"x")
        >>> (out / "a" / "b.txt").read_bytes()
        b'x'
    """
    inner = _NESTED.get().get(out)
    if inner is not None:  # a part of an enclosing artifact: published with it
        yield inner
        return
    _check_free(out)
    if not is_zip_target(out):
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        try:
            yield FolderOutput(out, tmp)
            tmp.chmod(0o755)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    tmp_file = Path(name)
    try:
        try:
            dest = ZipOutput(out, fd, hashes=hashes)
            try:
                yield dest
                dest.finish()
            except BaseException:
                dest.discard()
                raise
        finally:
            os.close(fd)
        tmp_file.chmod(0o644)
        os.replace(tmp_file, out)
    except BaseException:
        tmp_file.unlink(missing_ok=True)
        raise


class _Part(ExportOutput):
    """The folder ``prefix`` of another output."""

    def __init__(self, parent: ExportOutput, prefix: str) -> None:
        super().__init__(parent.out / prefix)
        self.parent, self.prefix = parent, prefix.strip("/") + "/"

    def write(self, rel: str, data: bytes) -> None:
        self.parent.write(self.prefix + rel, data)

    def open(self, rel: str) -> IO[bytes]:
        return self.parent.open(self.prefix + rel)

    def open_text(self, rel: str, *, newline: str | None = None) -> IO[str]:
        return self.parent.open_text(self.prefix + rel, newline=newline)

    def place(self, src: str | Path, rel: str, *, link: bool = False) -> None:
        self.parent.place(src, self.prefix + rel, link=link)

    def makedirs(self, rel: str) -> None:
        self.parent.makedirs(self.prefix + rel)

    def scratch(self) -> IO[bytes]:
        return self.parent.scratch()


@contextmanager
def nested(parent: ExportOutput, prefix: str) -> Iterator[Path]:
    """A path that, given to an exporter, makes it write into ``prefix/`` of ``parent``.

    The exporter's :func:`atomic_output` yields that part instead of a new artifact, so a
    format's files land inside an enclosing zip (a signed release) without a folder on disk.

    Example:
        >>> import tempfile, pathlib, zipfile
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "release.zip"
        >>> with atomic_output(out) as dest, nested(dest, "data") as data:
        ...     with atomic_output(data) as inner:
        ...         inner.write("a.txt", b"x")
        >>> zipfile.ZipFile(out).namelist()
        ['data/a.txt']
    """
    part = _Part(parent, prefix)
    token = _NESTED.set({**_NESTED.get(), part.out: part})
    try:
        yield part.out
    finally:
        _NESTED.reset(token)
