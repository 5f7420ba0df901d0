"""Content-addressed blob store on the local file system.

Blobs live at ``<root>/<aa>/<bb>/<sha256>``; they are written to a temporary file in the same
file system and renamed into place, so a blob is either complete or absent.

Example:
    >>> import tempfile, pathlib
    >>> store = BlobStore(pathlib.Path(tempfile.mkdtemp()))
    >>> sha, size, new = store.put_bytes(b"hello")
    >>> store.read_bytes(sha), size, new
    (b'hello', 5, True)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from labelloop.errors import InputRejected, NotFound

__all__ = ["BlobStore", "StagedBlob"]

_CHUNK = 1 << 20


class StagedBlob:
    """A file copied into the store's staging area with its hash computed on the way."""

    def __init__(self, path: Path, sha256: str, size: int) -> None:
        self.path = path
        self.sha256 = sha256
        self.size = size


class BlobStore:
    """Files addressed by SHA-256 under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / ".staging"

    def path(self, sha256: str) -> Path:
        """Return where the blob ``sha256`` lives (whether or not it exists)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFound("blob", sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        """Return True if the blob is stored."""
        return self.path(sha256).is_file()

    def read_bytes(self, sha256: str) -> bytes:
        """Return a blob's bytes.

        Raises:
            NotFound: no such blob.
        """
        p = self.path(sha256)
        if not p.is_file():
            raise NotFound("blob", sha256)
        return p.read_bytes()

    @contextmanager
    def stage(self, src: BinaryIO, *, source: str, max_bytes: int) -> Iterator[StagedBlob]:
        """Copy ``src`` into a staging file while hashing it; the file is removed on exit.

        Raises:
            InputRejected: the content is larger than ``max_bytes``.
        """
        self.staging.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.staging, prefix="in-")
        tmp_path = Path(tmp)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise InputRejected(source, f"at most {max_bytes} bytes", "a larger file")
                    digest.update(chunk)
                    out.write(chunk)
            yield StagedBlob(tmp_path, digest.hexdigest(), size)
        finally:
            tmp_path.unlink(missing_ok=True)

    def commit_staged(self, staged: StagedBlob) -> bool:
        """Move a staged file to its address; return True if the blob is new."""
        dest = self.path(staged.sha256)
        if dest.is_file():
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, dest)  # same file system: atomic; the stage's cleanup then finds nothing
        return True

    def put_bytes(self, data: bytes) -> tuple[str, int, bool]:
        """Store ``data``; return (sha256, size, whether it was new)."""
        sha = hashlib.sha256(data).hexdigest()
        dest = self.path(sha)
        if dest.is_file():
            return sha, len(data), False
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, dest)
        return sha, len(data), True

    def delete(self, sha256: str) -> None:
        """Remove a blob (used to undo the new blobs of a rolled-back import)."""
        self.path(sha256).unlink(missing_ok=True)

    def copy_to(self, sha256: str, dest: Path) -> None:
        """Copy a blob to ``dest`` (hard link when possible)."""
        src = self.path(sha256)
        if not src.is_file():
            raise NotFound("blob", sha256)
        try:
            os.link(src, dest)
        except OSError:
            shutil.copyfile(src, dest)
