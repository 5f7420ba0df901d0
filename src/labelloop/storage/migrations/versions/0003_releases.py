"""Releases: immutable, signed snapshots of which label version each item carries.

A sealed release row (``merkle_root`` set) refuses UPDATE; release rows and their label rows
refuse DELETE, and label rows refuse UPDATE, so a release can never be rewritten.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

PG_SEALED = """
CREATE FUNCTION labelloop_release_sealed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.merkle_root IS NOT NULL THEN
        RAISE EXCEPTION 'labelloop: releases are immutable once sealed (% refused)', TG_OP;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def _triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER releases_no_update BEFORE UPDATE ON releases WHEN OLD.merkle_root IS NOT NULL "
            "BEGIN SELECT RAISE(ABORT, 'labelloop: releases are immutable once sealed'); END"
        )
        op.execute(
            "CREATE TRIGGER releases_no_delete BEFORE DELETE ON releases "
            "BEGIN SELECT RAISE(ABORT, 'labelloop: releases are immutable'); END"
        )
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER release_labels_no_{action.lower()} BEFORE {action} ON release_labels "
                f"BEGIN SELECT RAISE(ABORT, 'labelloop: release_labels rows are append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(PG_SEALED)
        op.execute(
            "CREATE TRIGGER releases_sealed BEFORE UPDATE OR DELETE ON releases "
            "FOR EACH ROW EXECUTE FUNCTION labelloop_release_sealed()"
        )
        op.execute(
            "CREATE TRIGGER release_labels_append_only BEFORE UPDATE OR DELETE ON release_labels "
            "FOR EACH ROW EXECUTE FUNCTION labelloop_append_only()"
        )


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("labelled", sa.Integer(), nullable=False),
        sa.Column("regions", sa.Integer(), nullable=False),
        sa.Column("merkle_root", sa.String(length=64), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("quality", _JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_releases_project_id_projects")),
        sa.ForeignKeyConstraint(["parent_id"], ["releases.id"], name=op.f("fk_releases_parent_id_releases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
        sa.UniqueConstraint("project_id", "name", name="uq_releases_project_name"),
    )
    op.create_table(
        "release_labels",
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("annotation_id", sa.Integer(), nullable=True),
        sa.Column("suggestion_id", sa.Integer(), nullable=True),
        sa.Column("record_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"], name=op.f("fk_release_labels_release_id_releases")),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_release_labels_item_id_items")),
        sa.ForeignKeyConstraint(
            ["annotation_id"], ["annotations.id"], name=op.f("fk_release_labels_annotation_id_annotations")
        ),
        sa.ForeignKeyConstraint(
            ["suggestion_id"], ["suggestions.id"], name=op.f("fk_release_labels_suggestion_id_suggestions")
        ),
        sa.PrimaryKeyConstraint("release_id", "item_id", name=op.f("pk_release_labels")),
    )
    op.create_index("ix_release_labels_annotation", "release_labels", ["annotation_id"])
    _triggers()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in (
            "releases_no_update",
            "releases_no_delete",
            "release_labels_no_update",
            "release_labels_no_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS release_labels_append_only ON release_labels")
        op.execute("DROP TRIGGER IF EXISTS releases_sealed ON releases")
        op.execute("DROP FUNCTION IF EXISTS labelloop_release_sealed()")
    op.drop_index("ix_release_labels_annotation", table_name="release_labels")
    op.drop_table("release_labels")
    op.drop_table("releases")
