"""Keyset indexes: pages of a project's items, and the labels of a page, by range scans.

Without them a page query walked every row of the project (then sorted), so exporting or
pre-annotating a large project cost O(N²).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_items_project_id", "items", ["project_id", "id"])
    for table in ("suggestions", "annotations", "reviews"):
        op.create_index(f"ix_{table}_project_item", table, ["project_id", "item_id"])


def downgrade() -> None:
    for table in ("suggestions", "annotations", "reviews"):
        op.drop_index(f"ix_{table}_project_item", table_name=table)
    op.drop_index("ix_items_project_id", table_name="items")
