"""Quality: QC config per project, QC runs, findings, correction tasks and gold labels.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _when(name: str = "created_at", nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "qc_configs",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("config", _json(), nullable=False),
        _when("updated_at"),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        _fk("qc_configs", "project_id", "projects"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_qc_configs")),
    )
    op.create_table(
        "qc_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _when("since", nullable=True),
        sa.Column("items_checked", sa.Integer(), nullable=False),
        sa.Column("findings_new", sa.Integer(), nullable=False),
        sa.Column("findings_resolved", sa.Integer(), nullable=False),
        sa.Column("config", _json(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _when("finished_at", nullable=True),
        _when(),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _fk("qc_runs", "project_id", "projects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_runs")),
    )
    op.create_index(op.f("ix_qc_runs_project_id"), "qc_runs", ["project_id"], unique=False)
    op.create_table(
        "qc_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.String(length=128), nullable=True),
        sa.Column("control", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("detector", sa.String(length=20), nullable=False),
        sa.Column("label_source", sa.String(length=20), nullable=False),
        sa.Column("annotator", sa.String(length=200), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("fix", _json(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        _when(),
        _fk("qc_findings", "run_id", "qc_runs"),
        _fk("qc_findings", "project_id", "projects"),
        _fk("qc_findings", "item_id", "items"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_findings")),
    )
    op.create_index(op.f("ix_qc_findings_run_id"), "qc_findings", ["run_id"], unique=False)
    op.create_index("ix_qc_findings_project_item", "qc_findings", ["project_id", "item_id"], unique=False)
    op.create_table(
        "correction_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        _when("resolved_at", nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        _when(),
        _fk("correction_tasks", "project_id", "projects"),
        _fk("correction_tasks", "finding_id", "qc_findings"),
        _fk("correction_tasks", "item_id", "items"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction_tasks")),
        sa.UniqueConstraint("finding_id", name="uq_correction_tasks_finding"),
    )
    op.create_index(
        "ix_correction_tasks_project_status_item", "correction_tasks", ["project_id", "status", "item_id"], unique=False
    )
    op.create_table(
        "gold_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("value", _json(), nullable=False),
        _when(),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _fk("gold_labels", "project_id", "projects"),
        _fk("gold_labels", "item_id", "items"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gold_labels")),
        sa.UniqueConstraint("project_id", "item_id", name="uq_gold_labels_project_item"),
    )


def downgrade() -> None:
    op.drop_table("gold_labels")
    op.drop_index("ix_correction_tasks_project_status_item", table_name="correction_tasks")
    op.drop_table("correction_tasks")
    op.drop_index("ix_qc_findings_project_item", table_name="qc_findings")
    op.drop_index(op.f("ix_qc_findings_run_id"), table_name="qc_findings")
    op.drop_table("qc_findings")
    op.drop_index(op.f("ix_qc_runs_project_id"), table_name="qc_runs")
    op.drop_table("qc_runs")
    op.drop_table("qc_configs")
