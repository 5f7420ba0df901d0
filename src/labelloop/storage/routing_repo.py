"""Rows of live routing and active learning: route runs, item tiers, learning rounds, queue ranks.

The queue operations here (withdraw an auto-accepted item's free slots, queue a re-routed item
again, put an active-learning batch first) work on ``task_slots`` with the same states as
:mod:`labelloop.storage.tasks_repo`. :meth:`RoutingRepo.is_blind` is one primary-key probe; the
task payload reads the same tier together with the item's experiment arm
(:meth:`labelloop.storage.experiments_repo.ExperimentRepo.task_rules`).

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.storage import Store
    >>> from labelloop.core import LabelSchema
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> with store.transaction() as tx:
    ...     pid = tx.projects.create("p", LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]}),
    ...                              "user:me").id
    ...     RoutingRepo(tx.conn).tier_counts(pid)
    {}
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from labelloop.storage import tables as t
from labelloop.storage import tables_accounts as ta
from labelloop.storage import tables_quality as tq
from labelloop.storage import tables_routing as tr
from labelloop.storage.rawsql import Raw, Sql
from labelloop.storage.repositories import now
from labelloop.storage.tasks_repo import QUEUED as _QUEUED

__all__ = ["BLIND_TIERS", "ItemRoute", "LearnRound", "RouteRun", "RoutingRepo", "SlotState", "blind_step"]

BLIND_TIERS = ("manual", "audit")
"""Tiers whose items people label without seeing the suggestion."""

_CHUNK = 500
_BLIND = Sql("SELECT tier FROM item_routes WHERE item_id = ?")


def blind_step(item_id: int) -> tuple[Sql, tuple[int]]:
    """The item's routing tier read (:meth:`RoutingRepo.is_blind`), for :meth:`Raw.batch`: blind when in BLIND_TIERS."""
    return _BLIND, (item_id,)


@dataclass(frozen=True, slots=True)
class ItemRoute:
    """Where one item was routed, on which suggestion."""

    item_id: int
    run_id: int
    tier: str
    backend: str
    model_version: str
    suggestion_id: int
    score: float
    annotation_id: int | None
    routed_at: datetime


@dataclass(frozen=True, slots=True)
class RouteRun:
    """One routing run and its certificates."""

    id: int
    project_id: int
    backend: str
    model_version: str
    policy: dict[str, Any]
    thresholds: dict[str, float | None]
    certificate: dict[str, Any]
    project_certificate: dict[str, Any]
    message: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class LearnRound:
    """One active-learning round."""

    id: int
    project_id: int
    backend: str
    model_version: str
    sampler: str
    trained_on: list[int]
    batch: list[int]
    stop_set: list[int]
    stop_predictions: list[str]
    kappa: float | None
    stop: bool
    report: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SlotState:
    """One task slot of an item, as routing needs it."""

    id: int
    state: int
    user_id: int | None
    expires_at: datetime | None

    def free(self, at: datetime) -> bool:
        """Queued and not held by anyone (or held past its lock)."""
        return self.state == _QUEUED and (
            self.user_id is None or (self.expires_at is not None and self.expires_at < at)
        )


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield list(ids[i : i + _CHUNK])


def _run(r: Any) -> RouteRun:
    return RouteRun(
        r.id, r.project_id, r.backend, r.model_version, dict(r.policy), dict(r.thresholds), dict(r.certificate),
        dict(r.project_certificate), r.message, r.created_at, r.created_by,
    )  # fmt: skip


def _round(r: Any) -> LearnRound:
    return LearnRound(
        r.id, r.project_id, r.backend, r.model_version, r.sampler, list(r.trained_on), list(r.batch),
        list(r.stop_set), [str(x) for x in r.stop_predictions], r.kappa, bool(r.stop), dict(r.report), r.created_at,
    )  # fmt: skip


class RoutingRepo:
    """Routing and learning rows of one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"

    # item tiers ---------------------------------------------------------------------------------
    def routes(self, project_id: int, first_id: int, last_id: int) -> dict[int, ItemRoute]:
        """The routes of a project's items with ids in ``[first_id, last_id]``."""
        r = tr.item_routes
        q = select(r).where(r.c.project_id == project_id, r.c.item_id.between(first_id, last_id))
        return {
            row.item_id: ItemRoute(
                row.item_id,
                row.run_id,
                row.tier,
                row.backend,
                row.model_version,
                row.suggestion_id,
                row.score,
                row.annotation_id,
                row.routed_at,
            )
            for row in self.conn.execute(q)
        }

    def is_blind(self, item_id: int) -> bool:
        """Whether people label this item without seeing its suggestions (tier ``manual`` or ``audit``)."""
        row = Raw(self.conn).one(_BLIND, (item_id,))
        return row is not None and row[0] in BLIND_TIERS

    def save_routes(self, project_id: int, rows: Sequence[ItemRoute]) -> None:
        """Insert or replace the routes of these items."""
        r = tr.item_routes
        for chunk in _chunks([x.item_id for x in rows]):
            self.conn.execute(delete(r).where(r.c.item_id.in_(chunk)))
        values = [
            {
                "item_id": x.item_id,
                "project_id": project_id,
                "run_id": x.run_id,
                "tier": x.tier,
                "backend": x.backend,
                "model_version": x.model_version,
                "suggestion_id": x.suggestion_id,
                "score": x.score,
                "annotation_id": x.annotation_id,
                "routed_at": x.routed_at,
            }
            for x in rows
        ]
        if values:
            self.conn.execute(insert(r), values)

    def tier_counts(self, project_id: int) -> dict[str, int]:
        """Items per tier, as last routed (one index range scan)."""
        r = tr.item_routes
        q = select(r.c.tier, func.count()).where(r.c.project_id == project_id).group_by(r.c.tier)
        return {str(row[0]): int(row[1]) for row in self.conn.execute(q)}

    def auto_counts(self, project_id: int) -> dict[tuple[str, str], int]:
        """Auto-accepted items per (backend, model version)."""
        r = tr.item_routes
        q = (
            select(r.c.backend, r.c.model_version, func.count())
            .where(r.c.project_id == project_id, r.c.tier == "auto")
            .group_by(r.c.backend, r.c.model_version)
        )
        return {(str(row[0]), str(row[1])): int(row[2]) for row in self.conn.execute(q)}

    # runs ---------------------------------------------------------------------------------------
    def add_run(
        self, project_id: int, backend: str, model_version: str, policy: dict[str, Any], created_by: str
    ) -> int:
        """Start a run's row (thresholds and certificates come with :meth:`finish_run`)."""
        q = (
            insert(tr.route_runs)
            .values(
                project_id=project_id, backend=backend, model_version=model_version, policy=policy, thresholds={},
                certificate={}, project_certificate={}, message="", created_at=now(), created_by=created_by,
            )
            .returning(tr.route_runs.c.id)
        )  # fmt: skip
        return int(self.conn.execute(q).scalar_one())

    def finish_run(
        self,
        run_id: int,
        thresholds: dict[str, float | None],
        certificate: dict[str, Any],
        project_certificate: dict[str, Any],
        message: str,
    ) -> None:
        """Record a run's thresholds, certificates and summary."""
        rr = tr.route_runs
        self.conn.execute(
            update(rr)
            .where(rr.c.id == run_id)
            .values(
                thresholds=thresholds, certificate=certificate, project_certificate=project_certificate,
                message=message,
            )
        )  # fmt: skip

    def latest_run(
        self, project_id: int, *, backend: str | None = None, model_version: str | None = None
    ) -> RouteRun | None:
        """The project's newest run (of a backend and model version, when given)."""
        rr = tr.route_runs
        q = select(rr).where(rr.c.project_id == project_id)
        if backend is not None:
            q = q.where(rr.c.backend == backend)
        if model_version is not None:
            q = q.where(rr.c.model_version == model_version)
        row = self.conn.execute(q.order_by(rr.c.id.desc()).limit(1)).first()
        return None if row is None else _run(row)

    def runs_between(self, project_id: int, start: datetime, end: datetime | None = None) -> list[RouteRun]:
        """The project's runs made at or after ``start`` (and at or before ``end``, when given), oldest first."""
        rr = tr.route_runs
        q = select(rr).where(rr.c.project_id == project_id, rr.c.created_at >= start)
        if end is not None:
            q = q.where(rr.c.created_at <= end)
        return [_run(r) for r in self.conn.execute(q.order_by(rr.c.id))]

    def run_count(self, project_id: int, backend: str, model_version: str) -> int:
        """How many runs routed on this backend's model version."""
        rr = tr.route_runs
        q = select(func.count()).where(
            rr.c.project_id == project_id, rr.c.backend == backend, rr.c.model_version == model_version
        )
        return int(self.conn.execute(q).scalar_one())

    def newest_backend(self, project_id: int) -> str | None:
        """The backend of the project's newest scored suggestion."""
        s = t.suggestions
        q = (
            select(s.c.backend)
            .where(s.c.project_id == project_id, s.c.score.is_not(None))
            .order_by(s.c.id.desc())
            .limit(1)
        )
        return self.conn.execute(q).scalar()

    def newest_model_version(self, project_id: int, backend: str) -> str | None:
        """The model version of the backend's newest suggestion in the project."""
        s = t.suggestions
        q = (
            select(s.c.model_version)
            .where(s.c.project_id == project_id, s.c.backend == backend)
            .order_by(s.c.id.desc())
            .limit(1)
        )
        return self.conn.execute(q).scalar()

    # queue --------------------------------------------------------------------------------------
    def slots(self, item_ids: Sequence[int], *, for_update: bool = False) -> dict[int, list[SlotState]]:
        """The task slots of these items (row-locked on PostgreSQL with ``for_update``)."""
        s = ta.task_slots
        out: dict[int, list[SlotState]] = {i: [] for i in item_ids}
        for chunk in _chunks(list(item_ids)):
            q = select(s.c.id, s.c.item_id, s.c.state, s.c.user_id, s.c.expires_at).where(s.c.item_id.in_(chunk))
            if for_update and self.pg:
                q = q.with_for_update()
            for row in self.conn.execute(q.order_by(s.c.id)):
                out[int(row.item_id)].append(SlotState(int(row.id), int(row.state), row.user_id, row.expires_at))
        return out

    def withdraw(self, slot_ids: Sequence[int]) -> None:
        """Delete queued slots (an auto-accepted item needs no person)."""
        s = ta.task_slots
        for chunk in _chunks(list(slot_ids)):
            self.conn.execute(delete(s).where(s.c.id.in_(chunk), s.c.state == _QUEUED))

    def requeue(self, project_id: int, item_ids: Sequence[int], overlap: int) -> None:
        """Queue ``overlap`` fresh slots for each item (a re-routed auto label goes back to people)."""
        rows = [
            {"project_id": project_id, "item_id": i, "slot": k, "state": _QUEUED}
            for i in item_ids
            for k in range(overlap)
        ]
        if rows:
            self.conn.execute(insert(ta.task_slots), rows)

    def promote(self, project_id: int, item_ids: Sequence[int]) -> int:
        """Put these items' queued slots first in the queue (rank -1); earlier batches go back to 0.

        Returns:
            How many queued slots now rank first.
        """
        s = ta.task_slots
        self.conn.execute(
            update(s).where(s.c.project_id == project_id, s.c.state == _QUEUED, s.c.queue_rank < 0).values(queue_rank=0)
        )
        n = 0
        for chunk in _chunks(list(item_ids)):
            res = self.conn.execute(
                update(s)
                .where(s.c.project_id == project_id, s.c.state == _QUEUED, s.c.item_id.in_(chunk))
                .values(queue_rank=-1)
            )
            n += int(res.rowcount)
        return n

    def promoted(self, project_id: int) -> list[int]:
        """Items with a queued slot at the front of the queue."""
        s = ta.task_slots
        q = (
            select(s.c.item_id)
            .where(s.c.project_id == project_id, s.c.state == _QUEUED, s.c.queue_rank < 0)
            .distinct()
            .order_by(s.c.item_id)
        )
        return [int(r[0]) for r in self.conn.execute(q)]

    # gold ---------------------------------------------------------------------------------------
    def gold_labels(
        self, project_id: int, first_id: int, last_id: int
    ) -> dict[int, tuple[list[dict[str, Any]], datetime]]:
        """QC gold answers (value, when set) of the items with ids in ``[first_id, last_id]``."""
        g = tq.gold_labels
        q = select(g.c.item_id, g.c.value, g.c.created_at).where(
            g.c.project_id == project_id, g.c.item_id.between(first_id, last_id)
        )
        return {int(r[0]): (list(r[1]), r[2]) for r in self.conn.execute(q)}

    def gold_tasks(self, project_id: int, first_id: int, last_id: int) -> set[int]:
        """Items with ids in ``[first_id, last_id]`` that are gold tasks of the queue (never routed)."""
        g = ta.gold_items
        q = select(g.c.item_id).where(g.c.project_id == project_id, g.c.item_id.between(first_id, last_id))
        return {int(r[0]) for r in self.conn.execute(q)}

    # learning rounds ----------------------------------------------------------------------------
    def add_round(
        self,
        project_id: int,
        backend: str,
        model_version: str,
        sampler: str,
        *,
        trained_on: Sequence[int],
        batch: Sequence[int],
        stop_set: Sequence[int],
        stop_predictions: Sequence[str],
        kappa: float | None,
        stop: bool,
        report: dict[str, Any],
        created_by: str,
    ) -> int:
        """Record one learning round; return its id."""
        q = (
            insert(tr.learn_rounds)
            .values(
                project_id=project_id, backend=backend, model_version=model_version, sampler=sampler,
                trained_on=list(trained_on), batch=list(batch), stop_set=list(stop_set),
                stop_predictions=list(stop_predictions), kappa=kappa, stop=stop, report=report, created_at=now(),
                created_by=created_by,
            )
            .returning(tr.learn_rounds.c.id)
        )  # fmt: skip
        return int(self.conn.execute(q).scalar_one())

    def rounds(self, project_id: int, backend: str) -> list[LearnRound]:
        """A backend's learning rounds in a project, oldest first."""
        lr = tr.learn_rounds
        q = select(lr).where(lr.c.project_id == project_id, lr.c.backend == backend).order_by(lr.c.id)
        return [_round(r) for r in self.conn.execute(q)]

    def trained_on(self, project_id: int, backend: str, model_version: str) -> set[int] | None:
        """The items whose labels fitted this model version in a learning round (None: not recorded)."""
        lr = tr.learn_rounds
        q = (
            select(lr.c.trained_on)
            .where(and_(lr.c.project_id == project_id, lr.c.backend == backend, lr.c.model_version == model_version))
            .order_by(lr.c.id.desc())
            .limit(1)
        )
        row = self.conn.execute(q).first()
        return None if row is None else {int(i) for i in row[0]}
