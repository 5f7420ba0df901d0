"""Read-only queries for viewers (the web page and API listing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelloop.core import Item, Project
from labelloop.errors import NotFound
from labelloop.services.redacted_view import visible_labels
from labelloop.storage import Store

__all__ = ["MAX_PAGE", "MediaFile", "item_page", "list_projects", "media_file"]

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A stored media file and its content type."""

    path: Path
    media_type: str


def list_projects(store: Store) -> list[tuple[Project, dict[str, int]]]:
    """All projects with their record counts."""
    with store.read() as tx:
        return [(p, tx.projects.counts(p.id)) for p in tx.projects.list()]


def item_page(
    store: Store, project: str | int, *, after: int = 0, limit: int = 50
) -> tuple[Project, list[Item], dict[int, Any]]:
    """A page of items (keyset by id, ``limit`` clamped to 1..200) with their latest labels.

    Held items (awaiting or failing desensitisation) are never shown, nor label versions withheld
    since an item was desensitised (:func:`~labelloop.services.redacted_view.visible_labels`).
    """
    limit = max(1, min(limit, MAX_PAGE))
    with store.read() as tx:
        p = tx.projects.get(project)
        items = tx.items.page(p.id, after_id=max(0, after), limit=limit, visible_only=True)
        sugg, anns, _ = visible_labels(tx, *tx.labels.for_items([i.id for i in items]))
    latest: dict[int, Any] = {}
    for s in sugg:
        latest.setdefault(s.item_id, {})["suggestion"] = s
    for a in anns:
        latest.setdefault(a.item_id, {})["annotation"] = a
    return p, items, latest


def media_file(store: Store, sha256: str) -> MediaFile:
    """The file of a known blob.

    Raises:
        NotFound: no such blob (also for malformed hashes).
    """
    with store.read() as tx:
        row = tx.items.blob(sha256) if len(sha256) == 64 else None
    if row is None or not store.blobs.exists(sha256):
        raise NotFound("media", sha256)
    return MediaFile(store.blobs.path(sha256), row.media_type)
