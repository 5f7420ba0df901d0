"""Content hashes used for blob addresses and item de-duplication.

Example:
    >>> sha256_text("hello")[:12]
    '2cf24dba5fb0'
    >>> content_hash({"text": "t:abc"}) == content_hash({"text": "t:abc"})
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

__all__ = ["content_hash", "sha256_bytes", "sha256_text"]


def sha256_bytes(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """Return the hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(parts: Mapping[str, str]) -> str:
    """Hash an item's content from its per-field content keys, independent of field order.

    Args:
        parts: Field name to a content key (a blob sha256, or a text hash).

    Returns:
        The hex SHA-256 over the sorted ``name=key`` lines.
    """
    if len(parts) == 1:
        return next(iter(parts.values()))
    joined = "\n".join(f"{name}={key}" for name, key in sorted(parts.items()))
    return sha256_text(joined)
