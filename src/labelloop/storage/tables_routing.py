"""Tables of live routing and active learning (defined on :data:`labelloop.storage.tables.metadata`).

* ``route_runs`` — one row per ``labelloop route`` run: the policy asked for, the thresholds it
  certified, the run's quality certificate and the project's certificate as of that run (JSON).
* ``item_routes`` — each routed item's current tier (``auto``, ``review``, ``manual``, ``audit``),
  the suggestion it was routed on and, for ``auto``, the annotation the run wrote. ``manual`` and
  ``audit`` items are shown to people without the suggestion (blind), so their labels count as
  clean evidence; the row stays as it was when a person labels the item.
* ``learn_rounds`` — one row per active-learning round: the model version it fitted, the items
  it trained on, the batch it sent to the front of the queue, and its stop-set predictions (the
  stopping rule replays them).

Migration ``0008_routing`` creates exactly these (and the queue rank of ``task_slots``).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from labelloop.storage.tables import JsonType, UTCDateTime, metadata

__all__ = ["item_routes", "learn_rounds", "route_runs"]

route_runs = Table(
    "route_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("backend", String(200), nullable=False),
    Column("model_version", String(200), nullable=False),
    Column("policy", JsonType, nullable=False),  # target, confidence, audit rate, manual cut, evidence
    Column("thresholds", JsonType, nullable=False),  # {"*": t} or {class: t}; null: never auto
    Column("certificate", JsonType, nullable=False),  # this run's (batch) certificate
    Column("project_certificate", JsonType, nullable=False),  # the project's, as of this run
    Column("message", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Index("ix_route_runs_project", "project_id", "id"),
)

item_routes = Table(
    "item_routes",
    metadata,
    Column("item_id", ForeignKey("items.id"), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("run_id", ForeignKey("route_runs.id"), nullable=False),
    Column("tier", String(10), nullable=False),
    Column("backend", String(200), nullable=False),
    Column("model_version", String(200), nullable=False),
    Column("suggestion_id", ForeignKey("suggestions.id"), nullable=False),
    Column("score", Float, nullable=False),
    Column("annotation_id", ForeignKey("annotations.id"), nullable=True),  # the auto label, for ``auto``
    Column("routed_at", UTCDateTime(), nullable=False),
    Index("ix_item_routes_project_tier", "project_id", "tier"),
)

learn_rounds = Table(
    "learn_rounds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("backend", String(200), nullable=False),
    Column("model_version", String(200), nullable=False),
    Column("sampler", String(20), nullable=False),
    Column("trained_on", JsonType, nullable=False),  # item ids whose labels fitted the model
    Column("batch", JsonType, nullable=False),  # item ids sent to the front of the queue
    Column("stop_set", JsonType, nullable=False),  # item ids whose predictions the stopping rule compares
    Column("stop_predictions", JsonType, nullable=False),  # predicted class per stop-set item
    Column("kappa", Float, nullable=True),  # agreement with the previous round on the stop set
    Column("stop", Boolean, nullable=False),
    Column("report", JsonType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Index("ix_learn_rounds_project_backend", "project_id", "backend", "id"),
)
