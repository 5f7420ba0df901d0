"""Tables of A/B experiments on live projects (defined on :data:`labelloop.storage.tables.metadata`).

* ``experiments`` — one row per experiment: its name (unique in the project), the two arms'
  strategies (JSON ``{"a": {...}, "b": {...}}``), the seed of the random split, which items it
  took (``all`` or ``unlabelled``), and when and by whom it was started and stopped.
* ``experiment_items`` — the split: each item of an experiment and its arm (``a`` or ``b``).
  ``live_item_id`` is the item's id while the experiment runs and NULL once it stopped: its
  unique index (NULLs are distinct) keeps an item in at most one running experiment, and the
  task payload finds an item's running arm by it. Stopping keeps the split for the readout.
* ``experiment_audits`` — items of an ``accept_threshold`` arm that a routing run would have
  auto-accepted under the arm's effective threshold and sent to a blind audit instead: the run
  and the suggestion, so the readout can judge the arm's auto-accepted accuracy by the audit.
  (Item ids stay out of the run's certificate, which carries counts only.)

Migration ``0013_experiments`` creates the first two, ``0014_experiment_audits`` the third.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from labelloop.storage.tables import JsonType, UTCDateTime, metadata

__all__ = ["experiment_audits", "experiment_items", "experiments"]

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("status", String(10), nullable=False),  # running | stopped
    Column("arms", JsonType, nullable=False),  # {"a": strategy, "b": strategy}
    Column("seed", BigInteger, nullable=False),
    Column("scope", String(20), nullable=False),  # all | unlabelled
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("stopped_at", UTCDateTime(), nullable=True),
    Column("stopped_by", String(200), nullable=True),
    Index("uq_experiments_project_name", "project_id", "name", unique=True),
)

experiment_items = Table(
    "experiment_items",
    metadata,
    Column("experiment_id", ForeignKey("experiments.id"), primary_key=True),
    Column("item_id", ForeignKey("items.id"), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("arm", String(1), nullable=False),
    Column("live_item_id", Integer, nullable=True),  # item_id while the experiment runs, else NULL
    Index("uq_experiment_items_live_item_id", "live_item_id", unique=True),
    Index("ix_experiment_items_project_item", "project_id", "item_id"),  # the arms of a page of items
)

experiment_audits = Table(
    "experiment_audits",
    metadata,
    Column("experiment_id", ForeignKey("experiments.id"), primary_key=True),
    Column("item_id", ForeignKey("items.id"), primary_key=True),
    Column("arm", String(1), nullable=False),
    Column("run_id", ForeignKey("route_runs.id"), nullable=False),
    Column("suggestion_id", ForeignKey("suggestions.id"), nullable=False),
)
