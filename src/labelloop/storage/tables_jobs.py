"""The table of background jobs (imports, exports, QC runs ...) and their progress.

A live job (``queued`` or ``running``) is kept alive by its runner's ``heartbeat_at``; a live
row whose heartbeat stopped belongs to a server that is gone and is marked ``interrupted``.
``dedupe_key`` is unique among live jobs of a project: the same export asked for twice while
the first still runs is one job.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, text

from labelloop.storage.tables import JsonType, UTCDateTime, metadata

__all__ = ["LIVE_STATUSES", "jobs"]

LIVE_STATUSES = ("queued", "running")
_LIVE = text("status IN ('queued', 'running')")

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("status", String(20), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("params", JsonType, nullable=False),
    Column("dedupe_key", String(64), nullable=True),
    Column("done", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=True),
    Column("message", String(500), nullable=False),
    Column("result", JsonType, nullable=True),
    Column("error", Text, nullable=True),
    Column("cancel_requested", Boolean, nullable=False),
    Column("runner", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
    Index("ix_jobs_project_id", "project_id", "id"),
    Index("ix_jobs_status", "status"),
    Index("uq_jobs_live_dedupe", "project_id", "dedupe_key", unique=True, sqlite_where=_LIVE, postgresql_where=_LIVE),
)
