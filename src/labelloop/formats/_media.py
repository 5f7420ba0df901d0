"""Placing media files into an export folder, and probing image sizes.

Example:
    >>> _safe_stem("photos/cat 1.png"), _safe_stem("../x"), _safe_stem(None)
    ('cat_1', 'x', '')
"""

from __future__ import annotations

import mimetypes
import os
import re
import shutil
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from labelloop.core import Item, MediaRef
from labelloop.formats._base import MediaPath

if TYPE_CHECKING:
    from labelloop.formats._output import ExportOutput

__all__ = ["MediaWriter", "copy_file", "image_size", "probe_image", "write_new"]

_EXT = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
    "image/gif": ".gif",
}
# sendfile(2) between two regular files: Linux only (macOS wants a socket as the target).
_SENDFILE_FILES = sys.platform.startswith("linux")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _safe_stem(key: str | None) -> str:
    if not key:
        return ""
    name = key.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    dot = name.rfind(".")
    stem = name[:dot] if 0 < dot < len(name) - 1 else name  # as PurePosixPath(key).stem
    return _UNSAFE.sub("_", stem).strip("._")[:100]


def copy_file(src: str | Path, dest: str | Path) -> None:
    """Copy ``src`` to a new file ``dest`` in the kernel (``sendfile``), refusing to overwrite.

    A few system calls and no Python file objects: about five times faster than
    :func:`shutil.copyfile` for the small files datasets are made of. ``dest`` is created with
    ``O_EXCL``, so an existing file (or a planted symbolic link) is never written through.

    Raises:
        OSError: when ``src`` cannot be read or ``dest`` cannot be created.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "a").write_bytes(b"abc")
        >>> copy_file(d / "a", d / "b"); (d / "b").read_bytes()
        b'abc'
    """
    if not _SENDFILE_FILES:
        with Path(src).open("rb") as fi, Path(dest).open("xb") as fo:
            shutil.copyfileobj(fi, fo)
        return
    fin = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fout = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            size, offset = os.fstat(fin).st_size, 0
            while offset < size and (sent := os.sendfile(fout, fin, offset, size - offset)):
                offset += sent  # stops at the size seen: no final zero-length read
        except BaseException:
            os.close(fout)
            os.unlink(dest)  # noqa: PTH108  (no partial copy is left behind; str paths, no pathlib cost)
            raise
        os.close(fout)
    finally:
        os.close(fin)


def probe_image(path: Path) -> tuple[int, int]:
    """Return ``(width, height)`` of an image file from its header.

    Raises:
        ValueError: when the file is not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            w, h = im.size
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{path.name} is not a readable image ({exc})") from exc
    return int(w), int(h)


def image_size(ref: MediaRef, path: Path) -> tuple[int, int]:
    """``(width, height)`` from the reference's probed metadata, else from the file."""
    w, h = ref.meta.get("width"), ref.meta.get("height")
    if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
        return w, h
    return probe_image(path)


def write_new(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a new file ``path`` (``O_EXCL``: never through an existing name).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> write_new(p, b"x"); p.read_bytes()
        b'x'
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        done = os.write(fd, data)
        if done < len(data):  # a short write: the rest, without copying (small files take one write)
            view = memoryview(data)[done:]
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class MediaWriter:
    """Copies (or hard-links, or streams) media files into an export's sub-folders under unique names.

    Names come from the item's key (its stem, sanitised) so a re-import keeps recognisable
    keys; a clash appends the item id. Only the used stems are remembered (one short string
    per item).

    With ``write=False`` (a labels-only export, CVAT's "save images" off) every name is still
    reserved and every source still checked, so the label files name the media exactly as a
    full export would, but no media file is written.

    Args:
        root: The export's output (a temporary folder or a zip being written).
        media_path: Maps a SHA-256 to the blob's file.
        link: Hard-link instead of copying where the file system allows it.
        write: Write the media files at all.
    """

    def __init__(self, root: ExportOutput, media_path: MediaPath, *, link: bool = False, write: bool = True) -> None:
        self.root = root
        self.media_path = media_path
        self.link = link
        self.write = write
        self._used: dict[str, set[str]] = {}
        self._folders: dict[str, str] = {}

    def source(self, ref: MediaRef) -> Path:
        """The readable file behind ``ref``.

        Raises:
            ValueError: when the blob is missing or not a regular file.
        """
        try:
            src = self.media_path(ref.sha256)
        except Exception as exc:  # the callable may refuse a path outside the media root
            raise ValueError(f"media {ref.sha256[:12]} is not available ({exc})") from exc
        try:
            regular = stat.S_ISREG(os.stat(src).st_mode)  # noqa: PTH116  (once per item: no pathlib cost)
        except OSError:
            regular = False
        if not regular:
            raise ValueError(f"media {ref.sha256[:12]} is missing from the media store")
        return src

    def name_for(self, item: Item, ref: MediaRef, subdir: str, src: Path) -> str:
        """Reserve a unique file name in ``subdir`` for this item's media."""
        ext = _EXT.get(ref.media_type) or mimetypes.guess_extension(ref.media_type) or src.suffix or ".bin"
        used = self._used.setdefault(subdir, set())
        stem = _safe_stem(item.key) or f"item-{item.id}"
        if stem.lower() in used:
            stem = f"{stem}-{item.id}"
        n = 1
        base = stem
        while stem.lower() in used:
            n += 1
            stem = f"{base}-{n}"
        used.add(stem.lower())
        return stem + ext

    def folder(self, subdir: str) -> str:
        """``subdir`` with a trailing ``/``, created in the output on first use (then cached)."""
        folder = self._folders.get(subdir)
        if folder is None:
            self.root.makedirs(subdir)
            folder = self._folders[subdir] = f"{subdir}/"
        return folder

    def place(self, src: Path, subdir: str, name: str) -> None:
        """Copy, link or stream ``src`` to ``subdir/name`` (nothing in a labels-only export)."""
        if not self.write:
            return
        self.root.place(src, self.folder(subdir) + name, link=self.link)
