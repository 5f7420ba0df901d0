"""A/B experiments with accept_threshold arms: the would-be-auto items each routing run audited, per arm.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiment_audits",
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), primary_key=True),
        sa.Column("arm", sa.String(1), nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("route_runs.id"), nullable=False),
        sa.Column("suggestion_id", sa.Integer, sa.ForeignKey("suggestions.id"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("experiment_audits")
