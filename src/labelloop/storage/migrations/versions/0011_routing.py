"""Live routing and active learning: route runs, item tiers, learning rounds, and a queue rank.

``task_slots.queue_rank`` puts an active-learning batch at the front of the queue; the queue
index gains it after ``state`` so ``next`` stays one range scan in queue order.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from labelloop.storage.tables import JsonType, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _fk(col: str, target: str, **kw: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(col, sa.Integer, sa.ForeignKey(target), **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.add_column("task_slots", sa.Column("queue_rank", sa.SmallInteger, nullable=False, server_default=sa.text("0")))
    op.drop_index("ix_task_slots_queue", table_name="task_slots")
    op.create_index("ix_task_slots_queue", "task_slots", ["project_id", "state", "queue_rank", "item_id", "slot"])
    op.create_table(
        "route_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("project_id", "projects.id", nullable=False),
        sa.Column("backend", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("policy", JsonType, nullable=False),
        sa.Column("thresholds", JsonType, nullable=False),
        sa.Column("certificate", JsonType, nullable=False),
        sa.Column("project_certificate", JsonType, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_route_runs_project", "route_runs", ["project_id", "id"])
    op.create_table(
        "item_routes",
        _fk("item_id", "items.id", primary_key=True),
        _fk("project_id", "projects.id", nullable=False),
        _fk("run_id", "route_runs.id", nullable=False),
        sa.Column("tier", sa.String(10), nullable=False),
        sa.Column("backend", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        _fk("suggestion_id", "suggestions.id", nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        _fk("annotation_id", "annotations.id", nullable=True),
        sa.Column("routed_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_item_routes_project_tier", "item_routes", ["project_id", "tier"])
    op.create_table(
        "learn_rounds",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("project_id", "projects.id", nullable=False),
        sa.Column("backend", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("sampler", sa.String(20), nullable=False),
        sa.Column("trained_on", JsonType, nullable=False),
        sa.Column("batch", JsonType, nullable=False),
        sa.Column("stop_set", JsonType, nullable=False),
        sa.Column("stop_predictions", JsonType, nullable=False),
        sa.Column("kappa", sa.Float, nullable=True),
        sa.Column("stop", sa.Boolean, nullable=False),
        sa.Column("report", JsonType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_learn_rounds_project_backend", "learn_rounds", ["project_id", "backend", "id"])


def downgrade() -> None:
    op.drop_index("ix_learn_rounds_project_backend", table_name="learn_rounds")
    op.drop_table("learn_rounds")
    op.drop_index("ix_item_routes_project_tier", table_name="item_routes")
    op.drop_table("item_routes")
    op.drop_index("ix_route_runs_project", table_name="route_runs")
    op.drop_table("route_runs")
    op.drop_index("ix_task_slots_queue", table_name="task_slots")
    op.create_index("ix_task_slots_queue", "task_slots", ["project_id", "state", "item_id", "slot"])
    with op.batch_alter_table("task_slots") as batch:
        batch.drop_column("queue_rank")
