"""Quality tables: QC config per project, QC runs, findings, correction tasks and gold labels.

Findings are append-only facts ("run R found this"); their correction tasks carry the mutable
status (``open`` → ``resolved``), the lock of the person working on one (user id and expiry)
and the resolver's note. Migration ``0005_quality`` creates these tables; ``0009_correction_locks``
adds the lock and note columns.
"""

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from labelloop.storage.tables import JsonType, UTCDateTime, metadata

__all__ = ["correction_tasks", "gold_labels", "qc_configs", "qc_findings", "qc_runs"]

qc_configs = Table(
    "qc_configs",
    metadata,
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
    Column("config", JsonType, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

qc_runs = Table(
    "qc_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False, index=True),
    Column("mode", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("since", UTCDateTime(), nullable=True),
    Column("items_checked", Integer, nullable=False),
    Column("findings_new", Integer, nullable=False),
    Column("findings_resolved", Integer, nullable=False),
    Column("config", JsonType, nullable=False),
    Column("message", Text, nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
)

qc_findings = Table(
    "qc_findings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("qc_runs.id"), nullable=False, index=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False),
    Column("region_id", String(128), nullable=True),
    Column("control", String(64), nullable=True),
    Column("label", String(200), nullable=True),
    Column("rule_id", String(100), nullable=False),
    Column("detector", String(20), nullable=False),
    Column("label_source", String(20), nullable=False),
    Column("annotator", String(200), nullable=True),
    Column("record_id", Integer, nullable=True),
    Column("severity", String(10), nullable=False),
    Column("message", Text, nullable=False),
    Column("fix", JsonType, nullable=True),
    Column("score", Float, nullable=True),
    Column("fingerprint", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_qc_findings_project_item", "project_id", "item_id"),
)

correction_tasks = Table(
    "correction_tasks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("finding_id", ForeignKey("qc_findings.id"), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("status", String(10), nullable=False),
    Column("resolution", String(20), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolved_by", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("locked_by", Integer, nullable=True),  # the user working on it (migration 0009)
    Column("lock_expires_at", UTCDateTime(), nullable=True),
    Column("resolution_note", Text, nullable=True),  # why a person fixed or dismissed it (0009)
    UniqueConstraint("finding_id", name="uq_correction_tasks_finding"),
    Index("ix_correction_tasks_project_status_item", "project_id", "status", "item_id"),
    Index("ix_correction_tasks_project_fingerprint", "project_id", "fingerprint"),  # 0009: settled findings
)

gold_labels = Table(
    "gold_labels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False),
    Column("value", JsonType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    UniqueConstraint("project_id", "item_id", name="uq_gold_labels_project_item"),
)
