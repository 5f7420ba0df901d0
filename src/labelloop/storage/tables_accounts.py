"""Tables of the web app: accounts, sessions, API tokens, project roles, work assignment, refusals.

Secrets are never stored: sessions and API tokens keep the SHA-256 of the token, passwords
their argon2 hash. ``task_slots`` is the work queue: one row per (item, overlap slot), so
``next`` is one index range scan over ``(project_id, state, queue_rank, item_id, slot)``.
``label_skill`` holds each annotator's evidence per label type (gold and reviews);
``review_locks`` which reviewer holds which annotation for review, until when.
``login_attempts`` the recent log-in attempts the rate limit counts (shared by every server process).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, Integer, SmallInteger, String, Table, Text, text

from labelloop.storage.tables import JsonType, UTCDateTime, metadata

__all__ = [
    "annotator_stats",
    "api_tokens",
    "drafts",
    "gold_items",
    "idempotency_keys",
    "label_skill",
    "login_attempts",
    "media_grants",
    "memberships",
    "refusals",
    "review_locks",
    "sessions",
    "task_settings",
    "task_slots",
    "users",
]

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

memberships = Table(
    "memberships",
    metadata,
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True, index=True),
    Column("role", String(20), nullable=False),
    Column("quota", Integer, nullable=True),  # most submitted annotations; None: no limit
)

task_settings = Table(
    "task_settings",
    metadata,
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
    Column("overlap", Integer, nullable=False, default=1),
    Column("gold_rate", Float, nullable=False, default=0.0),
    Column("lock_seconds", Integer, nullable=False, default=900),
    Column("synced_item_id", Integer, nullable=False, default=0),  # items up to here are queued
)

# state: 0 queued (free or locked by user_id until expires_at), 1 done, 2 a gold task in progress;
# queue_rank: lower ranks are served first (0; an active-learning batch gets -1), then item, slot
task_slots = Table(
    "task_slots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False),
    Column("slot", SmallInteger, nullable=False),
    Column("state", SmallInteger, nullable=False, default=0),
    Column("user_id", ForeignKey("users.id"), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("queue_rank", SmallInteger, nullable=False, server_default=text("0")),
    Index("ix_task_slots_queue", "project_id", "state", "queue_rank", "item_id", "slot"),
    Index("ix_task_slots_item_user", "item_id", "user_id"),
    Index("ix_task_slots_user", "user_id", "project_id", "state"),
)

gold_items = Table(
    "gold_items",
    metadata,
    Column("item_id", ForeignKey("items.id"), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("value", JsonType, nullable=False),
    Index("ix_gold_items_project", "project_id", "item_id"),
)

annotator_stats = Table(
    "annotator_stats",
    metadata,
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("submitted", Integer, nullable=False, default=0),
    Column("since_gold", Integer, nullable=False, default=0),
    Column("gold_seen", Integer, nullable=False, default=0),
    Column("gold_score", Float, nullable=False, default=0.0),
)

# evidence per (annotator, label type): observations and their summed credit in [0, seen]
label_skill = Table(
    "label_skill",
    metadata,
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("control", String(64), primary_key=True),
    Column("label", Text, primary_key=True),
    Column("seen", Integer, nullable=False),
    Column("correct", Float, nullable=False),
)

# an annotation handed to a reviewer by review/next: theirs until expires_at
review_locks = Table(
    "review_locks",
    metadata,
    Column("annotation_id", ForeignKey("annotations.id"), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_review_locks_user", "user_id", "project_id"),
)

drafts = Table(
    "drafts",
    metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("item_id", ForeignKey("items.id"), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("value", JsonType, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("annotation_id", ForeignKey("annotations.id"), nullable=False),
)

# blobs a project's members may fetch: recorded when an item is shown to an authorised user
media_grants = Table(
    "media_grants",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
)

# requests the API refused (401, 403, 404 of an object outside the caller's reach, 429): the
# security audit log (who, from where, what, why); never the request body or a credential
refusals = Table(
    "refusals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("user_id", ForeignKey("users.id"), nullable=True),
    Column("username", String(100), nullable=True),
    Column("ip", String(64), nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", String(300), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("code", String(40), nullable=False),
    Column("reason", String(300), nullable=False),
    Column("suppressed", Integer, nullable=False, default=0),
)


# Log-in attempts within the rate limit's window (older rows are pruned as attempts arrive).
# ``at`` is wall-clock seconds since the epoch: every server process of an instance compares them.
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False),  # lower-cased, as typed
    Column("ip", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_login_attempts_ip_at", "ip", "at"),
    Index("ix_login_attempts_at", "at"),
)
