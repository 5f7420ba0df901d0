"""Annotator evidence per label type, and review locks.

``label_skill`` holds, per (project, annotator, control, label), how many gold answers and
reviews judged that label type and their summed credit; task assignment reads one
annotator's rows per ``next`` (a primary-key prefix range). ``review_locks`` gives an
annotation to one reviewer at a time until the lock expires.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from labelloop.storage.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_skill",
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("control", sa.String(64), primary_key=True),
        sa.Column("label", sa.Text, primary_key=True),
        sa.Column("seen", sa.Integer, nullable=False),
        sa.Column("correct", sa.Float, nullable=False),
    )
    op.create_table(
        "review_locks",
        sa.Column("annotation_id", sa.Integer, sa.ForeignKey("annotations.id"), primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_review_locks_user", "review_locks", ["user_id", "project_id"])


def downgrade() -> None:
    op.drop_table("review_locks")
    op.drop_table("label_skill")
