"""Web app: users, sessions, API tokens, project memberships, and the work-assignment queue.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from labelloop.storage.tables import JsonType, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = (
    "media_grants", "idempotency_keys", "drafts", "annotator_stats", "gold_items", "task_slots",
    "task_settings", "memberships", "api_tokens", "sessions", "users",
)  # fmt: skip


def _fk(col: str, target: str, **kw: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(col, sa.Integer, sa.ForeignKey(target), **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    for name in ("sessions", "api_tokens"):
        extra = (
            [sa.Column("expires_at", UTCDateTime(), nullable=False)]
            if name == "sessions"
            else [sa.Column("name", sa.String(200), nullable=False)]
        )
        op.create_table(
            name,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
            _fk("user_id", "users.id", nullable=False, index=True),
            sa.Column("created_at", UTCDateTime(), nullable=False),
            *extra,
            sa.Column("revoked_at", UTCDateTime(), nullable=True),
        )
    op.create_table(
        "memberships",
        _fk("project_id", "projects.id", primary_key=True),
        _fk("user_id", "users.id", primary_key=True, index=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("quota", sa.Integer, nullable=True),
    )
    op.create_table(
        "task_settings",
        _fk("project_id", "projects.id", primary_key=True),
        sa.Column("overlap", sa.Integer, nullable=False),
        sa.Column("gold_rate", sa.Float, nullable=False),
        sa.Column("lock_seconds", sa.Integer, nullable=False),
        sa.Column("synced_item_id", sa.Integer, nullable=False),
    )
    op.create_table(
        "task_slots",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("project_id", "projects.id", nullable=False),
        _fk("item_id", "items.id", nullable=False),
        sa.Column("slot", sa.SmallInteger, nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False),
        _fk("user_id", "users.id", nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_task_slots_queue", "task_slots", ["project_id", "state", "item_id", "slot"])
    op.create_index("ix_task_slots_item_user", "task_slots", ["item_id", "user_id"])
    op.create_index("ix_task_slots_user", "task_slots", ["user_id", "project_id", "state"])
    op.create_table(
        "gold_items",
        _fk("item_id", "items.id", primary_key=True),
        _fk("project_id", "projects.id", nullable=False),
        sa.Column("value", JsonType, nullable=False),
    )
    op.create_index("ix_gold_items_project", "gold_items", ["project_id", "item_id"])
    op.create_table(
        "annotator_stats",
        _fk("project_id", "projects.id", primary_key=True),
        _fk("user_id", "users.id", primary_key=True),
        sa.Column("submitted", sa.Integer, nullable=False),
        sa.Column("since_gold", sa.Integer, nullable=False),
        sa.Column("gold_seen", sa.Integer, nullable=False),
        sa.Column("gold_score", sa.Float, nullable=False),
    )
    op.create_table(
        "drafts",
        _fk("user_id", "users.id", primary_key=True),
        _fk("item_id", "items.id", primary_key=True),
        _fk("project_id", "projects.id", nullable=False),
        sa.Column("value", JsonType, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        _fk("user_id", "users.id", primary_key=True),
        sa.Column("key", sa.String(100), primary_key=True),
        _fk("project_id", "projects.id", nullable=False),
        _fk("annotation_id", "annotations.id", nullable=False),
    )
    op.create_table(
        "media_grants",
        sa.Column("sha256", sa.String(64), primary_key=True),
        _fk("project_id", "projects.id", primary_key=True),
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
