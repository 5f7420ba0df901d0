"""L2 storage: the only user of SQLAlchemy and Alembic; database, blobs and repositories."""

from __future__ import annotations

from labelloop.storage.blobs import BlobStore, StagedBlob
from labelloop.storage.provenance_repo import Event, ProvenanceRepo
from labelloop.storage.repositories import (
    BlobRow,
    ImportRepo,
    ItemRepo,
    ItemRow,
    LabelRepo,
    ProjectRepo,
    item_row,
    now,
)
from labelloop.storage.store import Store, UnitOfWork

__all__ = [
    "BlobRow",
    "BlobStore",
    "Event",
    "ImportRepo",
    "ItemRepo",
    "ItemRow",
    "LabelRepo",
    "ProjectRepo",
    "ProvenanceRepo",
    "StagedBlob",
    "Store",
    "UnitOfWork",
    "item_row",
    "now",
]
