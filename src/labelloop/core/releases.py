"""Dataset releases: an immutable, named snapshot of which label version each item carries.

Example:
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> r = Release(1, 1, "v1", None, t, 10, 8, 12, "ab" * 32, None, None, None, t, "user:me")
    >>> r.sealed
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["Release"]


@dataclass(frozen=True, slots=True)
class Release:
    """A stored release.

    Attributes:
        id: Database id.
        project_id: The project it snapshots.
        name: Unique within the project (``v1``, ``2026-11-train``).
        parent_id: The release it follows (for lineage and diffs), if any.
        as_of: The moment frozen: items and label versions created up to then.
        items: Items in the release.
        labelled: Items that carry a label.
        regions: Regions over all labels.
        merkle_root: Root of the Merkle tree over the label records (hex); None while building.
        signature: Ed25519 signature of the release statement (base64), if signed.
        key_id: SHA-256 of the signing public key (hex).
        quality: The quality certificate attached, if any.
        created_at: When it was made.
        created_by: Who made it.
    """

    id: int
    project_id: int
    name: str
    parent_id: int | None
    as_of: datetime
    items: int
    labelled: int
    regions: int
    merkle_root: str | None
    signature: str | None
    key_id: str | None
    quality: dict[str, Any] | None
    created_at: datetime
    created_by: str

    @property
    def sealed(self) -> bool:
        """True once the Merkle root is recorded (the row can no longer change)."""
        return self.merkle_root is not None
