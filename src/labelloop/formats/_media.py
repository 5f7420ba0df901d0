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
from pathlib import Path, PurePosixPath

from labelloop.core import Item, MediaRef
from labelloop.formats._base import MediaPath

__all__ = ["MediaWriter", "image_size", "probe_image"]

_EXT = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
    "image/gif": ".gif",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _safe_stem(key: str | None) -> str:
    if not key:
        return ""
    stem = PurePosixPath(key.replace("\\", "/")).stem
    return _UNSAFE.sub("_", stem).strip("._")[:100]


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


class MediaWriter:
    """Copies (or hard-links) media files into export sub-folders under unique names.

    Names come from the item's key (its stem, sanitised) so a re-import keeps recognisable
    keys; a clash appends the item id. Only the used stems are remembered (one short string
    per item).

    Args:
        root: The export's temporary folder.
        media_path: Maps a SHA-256 to the blob's file.
        link: Hard-link instead of copying where the file system allows it.
    """

    def __init__(self, root: Path, media_path: MediaPath, *, link: bool = False) -> None:
        self.root = root
        self.media_path = media_path
        self.link = link
        self._used: dict[str, set[str]] = {}

    def source(self, ref: MediaRef) -> Path:
        """The readable file behind ``ref``.

        Raises:
            ValueError: when the blob is missing or not a regular file.
        """
        try:
            src = self.media_path(ref.sha256)
        except Exception as exc:  # the callable may refuse a path outside the media root
            raise ValueError(f"media {ref.sha256[:12]} is not available ({exc})") from exc
        if not src.is_file():
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

    def place(self, src: Path, subdir: str, name: str) -> Path:
        """Copy or link ``src`` to ``subdir/name`` and return the new path."""
        folder = self.root / subdir
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / name
        if self.link:
            try:
                os.link(src, dest)
                return dest
            except OSError:
                pass
        shutil.copyfile(src, dest)
        return dest
