"""Index item keys only where an item has one.

Most imports give items no external key; a full index on ``(project_id, key)`` still took an
entry per item, a B-tree insert on the bulk-import path for nothing. Look-ups by key
(``key = ?`` implies ``key IS NOT NULL``) still use the partial index on SQLite and PostgreSQL.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_WHERE = sa.text("key IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_items_project_key", table_name="items")
    op.create_index(
        "ix_items_project_key", "items", ["project_id", "key"], sqlite_where=_WHERE, postgresql_where=_WHERE
    )


def downgrade() -> None:
    op.drop_index("ix_items_project_key", table_name="items")
    op.create_index("ix_items_project_key", "items", ["project_id", "key"])
