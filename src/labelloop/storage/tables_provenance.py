"""Tables of provenance and desensitisation (defined on :data:`labelloop.storage.tables.metadata`).

* ``provenance_events`` — the append-only, hash-chained log: one chain per project (``chain`` is
  the project id, 0 for events outside any project), ``seq`` counts from 1 within a chain and
  ``hash`` is SHA-256 over the canonical JSON of the event including ``prev_hash``.
* ``item_originals`` — the original media of a desensitised item (append-only); only a manager
  may read it, and every read is an ``original_read`` event.
* ``item_holds`` — items kept from annotators (awaiting or failed desensitisation).
* ``project_settings`` — per-project settings by key (``compliance``).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from labelloop.storage.tables import JsonType, UTCDateTime, metadata

__all__ = ["APPEND_ONLY_PROVENANCE", "item_holds", "item_originals", "project_settings", "provenance_events"]

provenance_events = Table(
    "provenance_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("chain", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("ts", String(40), nullable=False),  # ISO 8601 UTC text, hashed exactly as stored
    Column("actor", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("project_id", Integer, nullable=True),
    Column("subject", JSON, nullable=False),  # plain JSON: key order kept as written
    Column("payload", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("chain", "seq", name="uq_provenance_events_chain_seq"),
)

item_originals = Table(
    "item_originals",
    metadata,
    Column("item_id", ForeignKey("items.id"), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("data", JsonType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Index("ix_item_originals_project", "project_id", "item_id"),
)

item_holds = Table(
    "item_holds",
    metadata,
    Column("item_id", ForeignKey("items.id"), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_item_holds_project", "project_id", "item_id"),
)

project_settings = Table(
    "project_settings",
    metadata,
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("value", JsonType, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

APPEND_ONLY_PROVENANCE = ("provenance_events", "item_originals")
