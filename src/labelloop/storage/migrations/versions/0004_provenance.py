"""Provenance: the hash-chained event log, item originals, item holds and project settings.

``provenance_events`` and ``item_originals`` are append-only: triggers refuse UPDATE and DELETE,
like the label records (the PostgreSQL trigger function of 0001 is reused).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = ("provenance_events", "item_originals")


def upgrade() -> None:
    op.create_table(
        "provenance_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provenance_events")),
        sa.UniqueConstraint("chain", "seq", name="uq_provenance_events_chain_seq"),
    )
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.create_table(
        "item_originals",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("data", json, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_item_originals_item_id_items")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_item_originals_project_id_projects")),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_originals")),
    )
    op.create_index("ix_item_originals_project", "item_originals", ["project_id", "item_id"])
    op.create_table(
        "item_holds",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_item_holds_item_id_items")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_item_holds_project_id_projects")),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_holds")),
    )
    op.create_index("ix_item_holds_project", "item_holds", ["project_id", "item_id"])
    op.create_table(
        "project_settings",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", json, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_project_settings_project_id_projects")),
        sa.PrimaryKeyConstraint("project_id", "key", name=op.f("pk_project_settings")),
    )
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "sqlite":
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'labelloop: {table} rows are append-only'); END"
                )
        elif dialect == "postgresql":
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION labelloop_append_only()"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "sqlite":
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.drop_table("project_settings")
    op.drop_index("ix_item_holds_project", table_name="item_holds")
    op.drop_table("item_holds")
    op.drop_index("ix_item_originals_project", table_name="item_originals")
    op.drop_table("item_originals")
    op.drop_table("provenance_events")
