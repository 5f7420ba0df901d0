"""Safe resolution of user-given relative paths inside an import root.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> safe_join(root, "../etc/passwd", source="m.jsonl:3")
    Traceback (most recent call last):
    ...
    labelloop.errors.InputRejected: m.jsonl:3: expected a path inside the dataset folder, got '../etc/passwd'
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from labelloop.errors import InputRejected

__all__ = ["safe_join"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def safe_join(root: Path, rel: str, *, source: str) -> Path:
    """Join ``rel`` onto ``root``, refusing anything that could leave ``root``.

    Refused: URLs, absolute POSIX or Windows paths, ``..`` components, NUL bytes, and
    symbolic links whose target lies outside ``root``.

    Raises:
        InputRejected: with the offending path in the message.
    """
    expected = "a path inside the dataset folder"
    if not rel or "\x00" in rel:
        raise InputRejected(source, expected, repr(rel))
    if _SCHEME.match(rel):
        raise InputRejected(source, "a local file path (URLs are not fetched during import)", repr(rel))
    win = PureWindowsPath(rel)
    posix = PurePosixPath(rel.replace("\\", "/"))
    if posix.is_absolute() or win.is_absolute() or win.drive or ".." in posix.parts:
        raise InputRejected(source, expected, repr(rel))
    base = root.resolve()
    target = (base / posix).resolve()
    if not target.is_relative_to(base):
        raise InputRejected(source, expected, f"{rel!r}, which links outside it")
    if not target.is_file():
        raise InputRejected(source, "an existing file", f"no file at {rel!r}")
    return target
