"""The security audit log: requests the API refused.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from labelloop.storage.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refusals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("username", sa.String(100), nullable=True),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("suppressed", sa.Integer, nullable=False),
    )
    op.create_index("ix_refusals_at", "refusals", ["at"])


def downgrade() -> None:
    op.drop_index("ix_refusals_at", table_name="refusals")
    op.drop_table("refusals")
