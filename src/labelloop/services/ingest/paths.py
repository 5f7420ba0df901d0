"""Safe resolution of user-given relative paths inside an import root.

The path rules themselves live in :mod:`labelloop.formats` (one implementation for every
importer); this adds the import's wording and the check that the file exists.

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
from pathlib import Path

from labelloop.errors import InputRejected
from labelloop.formats import UnsafePath, resolve_inside

__all__ = ["safe_join"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def safe_join(root: Path, rel: str, *, source: str) -> Path:
    """Join ``rel`` onto ``root``, refusing anything that could leave ``root``, and require a file.

    Raises:
        InputRejected: with the offending path in the message.
    """
    if _SCHEME.match(rel):
        raise InputRejected(source, "a local file path (URLs are not fetched during import)", repr(rel))
    try:
        target = resolve_inside(root, rel)
    except UnsafePath as exc:
        got = f"{rel!r}, which links outside it" if exc.escapes else repr(rel)
        raise InputRejected(source, "a path inside the dataset folder", got) from None
    if not target.is_file():
        raise InputRejected(source, "an existing file", f"no file at {rel!r}")
    return target
