"""A/B experiments on live projects: the experiments and their random split of items into two arms.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from labelloop.storage.tables import JsonType, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("arms", JsonType, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.Column("stopped_by", sa.String(200), nullable=True),
    )
    op.create_index("uq_experiments_project_name", "experiments", ["project_id", "name"], unique=True)
    op.create_table(
        "experiment_items",
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("arm", sa.String(1), nullable=False),
        sa.Column("live_item_id", sa.Integer, nullable=True),
    )
    op.create_index("uq_experiment_items_live_item_id", "experiment_items", ["live_item_id"], unique=True)
    op.create_index("ix_experiment_items_project_item", "experiment_items", ["project_id", "item_id"])


def downgrade() -> None:
    op.drop_table("experiment_items")
    op.drop_table("experiments")
