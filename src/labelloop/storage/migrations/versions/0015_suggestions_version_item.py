"""Suggestions of a backend version indexed by item: the pending-items anti-join of pre-annotation.

``ix_suggestions_project_model`` (project, backend, version) gains ``item_id`` as its last
column, so "no suggestion from this version for items after N" is one index range on
PostgreSQL whatever the planner's statistics say (with stale ones it read every suggestion of
the version per page, and a run slowed down as it went). Queries on the first three columns
use it as before.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_suggestions_project_model", table_name="suggestions")
    op.create_index(
        "ix_suggestions_project_model", "suggestions", ["project_id", "backend", "model_version", "item_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_suggestions_project_model", table_name="suggestions")
    op.create_index("ix_suggestions_project_model", "suggestions", ["project_id", "backend", "model_version"])
