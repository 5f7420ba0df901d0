"""Correction tasks can be locked to the person working on one; their fingerprints are indexed.

``locked_by`` (a user id) and ``lock_expires_at``: the reviewer who took the task from the
correction queue, until when. An expired lock is free for anyone; resolving clears it.
``resolution_note``: why the person fixed or dismissed the task.
``ix_correction_tasks_project_fingerprint``: QC looks up, per page of findings, which were
already resolved by a person (fixed or dismissed) so it does not reopen them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("correction_tasks", sa.Column("locked_by", sa.Integer(), nullable=True))
    op.add_column("correction_tasks", sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("correction_tasks", sa.Column("resolution_note", sa.Text(), nullable=True))
    op.create_index("ix_correction_tasks_project_fingerprint", "correction_tasks", ["project_id", "fingerprint"])


def downgrade() -> None:
    op.drop_index("ix_correction_tasks_project_fingerprint", table_name="correction_tasks")
    with op.batch_alter_table("correction_tasks") as batch:
        batch.drop_column("resolution_note")
        batch.drop_column("lock_expires_at")
        batch.drop_column("locked_by")
