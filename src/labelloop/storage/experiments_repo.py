"""Rows of A/B experiments: experiments, their split of items into arms, and what a task must apply.

:meth:`ExperimentRepo.task_rules` runs on every ``next`` in place of
:meth:`labelloop.storage.routing_repo.RoutingRepo.is_blind`: one statement that reads the item's
routing tier (a primary-key probe of ``item_routes``) and its running arm, if any (a probe of the
unique index of ``experiment_items.live_item_id`` and of the experiment's primary key).

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.storage import Store
    >>> from labelloop.core import LabelSchema
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> with store.transaction() as tx:
    ...     pid = tx.projects.create("p", LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]}),
    ...                              "user:me").id
    ...     repo = ExperimentRepo(tx.conn)
    ...     eid = repo.add(pid, "e1", {"a": {"prefill": True}, "b": {"prefill": False}}, 7, "all", "user:me")
    ...     repo.get(pid, "e1").status, repo.task_rules(1).arm
    ('running', None)
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from labelloop.errors import Conflict, NotFound
from labelloop.storage import tables as t
from labelloop.storage import tables_experiments as te
from labelloop.storage.rawsql import Raw, Sql, Step
from labelloop.storage.repositories import now
from labelloop.storage.routing_repo import BLIND_TIERS

__all__ = [
    "RUNNING",
    "STOPPED",
    "ArmSpell",
    "AuditRow",
    "ExperimentRepo",
    "ExperimentRow",
    "TaskRules",
    "task_rules_of",
    "task_rules_step",
]

RUNNING, STOPPED = "running", "stopped"
_CHUNK = 5000
_TASK_RULES = Sql(
    "SELECT r.tier, x.experiment_id, x.arm, e.arms FROM (SELECT 1 AS one) AS o"
    " LEFT JOIN item_routes r ON r.item_id = ?"
    " LEFT JOIN experiment_items x ON x.live_item_id = ?"
    " LEFT JOIN experiments e ON e.id = x.experiment_id"
)


def task_rules_step(item_id: int) -> Step:
    """The statement of :meth:`ExperimentRepo.task_rules`, for :meth:`Raw.batch` (parse with :func:`task_rules_of`)."""
    return _TASK_RULES, (item_id, item_id)


def task_rules_of(raw: Raw, r: Any) -> TaskRules:
    """:class:`TaskRules` from the row of :func:`task_rules_step`."""
    blind = r[0] in BLIND_TIERS
    if r[1] is None:
        return TaskRules(blind)
    arms = raw.json_out(r[3]) or {}
    return TaskRules(blind, int(r[1]), str(r[2]), dict(arms.get(str(r[2])) or {}))


@dataclass(frozen=True, slots=True)
class ExperimentRow:
    """One stored experiment."""

    id: int
    project_id: int
    name: str
    status: str
    arms: dict[str, dict[str, Any]]
    seed: int
    scope: str
    created_at: datetime
    created_by: str
    stopped_at: datetime | None
    stopped_by: str | None


@dataclass(frozen=True, slots=True)
class TaskRules:
    """What one item's task payload must apply.

    Attributes:
        tier_blind: The item is routed to a blind tier (``manual`` or ``audit``).
        experiment_id: The running experiment the item is in (None: none).
        arm: Its arm there (``a`` or ``b``).
        strategy: That arm's stored strategy (JSON).
    """

    tier_blind: bool
    experiment_id: int | None = None
    arm: str | None = None
    strategy: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ArmSpell:
    """An item's time in one experiment's arm: the arm's strategy from ``start`` to ``end`` (None: running)."""

    arm: str
    strategy: dict[str, Any]
    start: datetime
    end: datetime | None
    experiment_id: int = 0


@dataclass(frozen=True, slots=True)
class AuditRow:
    """An item of an experiment's arm that a routing run would have auto-accepted and sent to a blind audit."""

    item_id: int
    arm: str
    run_id: int
    suggestion_id: int


def _row(r: Any) -> ExperimentRow:
    return ExperimentRow(
        r.id, r.project_id, r.name, r.status, {str(k): dict(v) for k, v in dict(r.arms).items()}, int(r.seed), r.scope,
        r.created_at, r.created_by, r.stopped_at, r.stopped_by,
    )  # fmt: skip


class ExperimentRepo:
    """Experiment rows of one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self, project_id: int, name: str, arms: dict[str, dict[str, Any]], seed: int, scope: str, created_by: str
    ) -> int:
        """Insert a running experiment; return its id."""
        e = te.experiments
        q = (
            insert(e)
            .values(
                project_id=project_id, name=name, status=RUNNING, arms=arms, seed=seed, scope=scope,
                created_at=now(), created_by=created_by,
            )
            .returning(e.c.id)
        )  # fmt: skip
        try:
            return int(self.conn.execute(q).scalar_one())
        except IntegrityError as exc:  # a concurrent start of the same name
            raise Conflict(f"experiment {name!r} already exists in the project") from exc

    def add_items(self, experiment_id: int, project_id: int, rows: Sequence[tuple[int, str]]) -> None:
        """Store the split: ``(item_id, arm)`` rows, live."""
        for i in range(0, len(rows), _CHUNK):
            values = [
                {
                    "experiment_id": experiment_id,
                    "item_id": item,
                    "project_id": project_id,
                    "arm": arm,
                    "live_item_id": item,
                }
                for item, arm in rows[i : i + _CHUNK]
            ]
            try:
                self.conn.execute(insert(te.experiment_items), values)
            except IntegrityError as exc:  # a concurrent experiment took some of these items first
                raise Conflict("items are already in a running experiment (started meanwhile); try again") from exc

    def find(self, project_id: int, key: int | str) -> ExperimentRow | None:
        """An experiment of the project by id (an int) or name (a str), or None."""
        e = te.experiments
        cond = e.c.id == key if isinstance(key, int) else e.c.name == key
        r = self.conn.execute(select(e).where(e.c.project_id == project_id, cond)).first()
        return None if r is None else _row(r)

    def get(self, project_id: int, key: int | str) -> ExperimentRow:
        """An experiment of the project by id or name.

        Raises:
            NotFound: no such experiment in the project.
        """
        found = self.find(project_id, key)
        if found is None:
            raise NotFound("experiment", key)
        return found

    def of_project(self, project_id: int) -> list[ExperimentRow]:
        """The project's experiments, oldest first."""
        e = te.experiments
        return [_row(r) for r in self.conn.execute(select(e).where(e.c.project_id == project_id).order_by(e.c.id))]

    def stop(self, experiment_id: int, by: str) -> bool:
        """Stop a running experiment (its arms no longer apply); False when it was not running."""
        e, x = te.experiments, te.experiment_items
        done = self.conn.execute(
            update(e).where(e.c.id == experiment_id, e.c.status == RUNNING)
            .values(status=STOPPED, stopped_at=now(), stopped_by=by)
        ).rowcount  # fmt: skip
        if done != 1:
            return False
        self.conn.execute(update(x).where(x.c.experiment_id == experiment_id).values(live_item_id=None))
        return True

    def arm_counts(self, experiment_id: int) -> dict[str, int]:
        """Items per arm."""
        x = te.experiment_items
        q = select(x.c.arm, func.count()).where(x.c.experiment_id == experiment_id).group_by(x.c.arm)
        return {str(r[0]): int(r[1]) for r in self.conn.execute(q)}

    def items_page(self, experiment_id: int, after_item: int = 0, limit: int = 1000) -> list[tuple[int, str]]:
        """``(item_id, arm)`` of the experiment's items with id > ``after_item``, by item id."""
        x = te.experiment_items
        q = (
            select(x.c.item_id, x.c.arm)
            .where(x.c.experiment_id == experiment_id, x.c.item_id > after_item)
            .order_by(x.c.item_id)
            .limit(limit)
        )
        return [(int(r[0]), str(r[1])) for r in self.conn.execute(q)]

    def candidates(self, project_id: int, *, unlabelled: bool) -> list[tuple[int, int | None]]:
        """``(item_id, running experiment id or None)`` of the project's items, by id.

        With ``unlabelled``, only items without any annotation version (by a person or auto-accepted).
        """
        i, x, a = t.items, te.experiment_items, t.annotations
        live = select(x.c.experiment_id).where(x.c.live_item_id == i.c.id).scalar_subquery()
        q = select(i.c.id, live).where(i.c.project_id == project_id)
        if unlabelled:
            q = q.where(~exists().where(a.c.item_id == i.c.id))
        return [(int(r[0]), None if r[1] is None else int(r[1])) for r in self.conn.execute(q.order_by(i.c.id))]

    def arms_in_range(self, project_id: int, first_id: int, last_id: int) -> dict[int, list[ArmSpell]]:
        """Every arm (of a running or stopped experiment) of the items with ids in ``[first_id, last_id]``."""
        x, e = te.experiment_items, te.experiments
        q = (
            select(x.c.item_id, x.c.arm, e.c.arms, e.c.created_at, e.c.stopped_at, x.c.experiment_id)
            .join(e, e.c.id == x.c.experiment_id)
            .where(x.c.project_id == project_id, x.c.item_id.between(first_id, last_id))
            .order_by(x.c.item_id, e.c.id)
        )
        out: dict[int, list[ArmSpell]] = {}
        for r in self.conn.execute(q):
            strategy = dict(dict(r.arms).get(r.arm) or {})
            spell = ArmSpell(str(r.arm), strategy, r.created_at, r.stopped_at, int(r.experiment_id))
            out.setdefault(int(r.item_id), []).append(spell)
        return out

    def add_audits(self, experiment_id: int, rows: Sequence[AuditRow]) -> None:
        """Record would-be-auto items sent to a blind audit; an item recorded already keeps its first row.

        (Routing leaves an ``audit`` item in that tier, so a second audit of it is not expected.)
        """
        a = te.experiment_audits
        for i in range(0, len(rows), _CHUNK):
            chunk = rows[i : i + _CHUNK]
            q = select(a.c.item_id).where(
                a.c.experiment_id == experiment_id, a.c.item_id.in_([r.item_id for r in chunk])
            )
            known = {int(r[0]) for r in self.conn.execute(q)}
            values = [
                {"experiment_id": experiment_id, "item_id": r.item_id, "arm": r.arm, "run_id": r.run_id,
                 "suggestion_id": r.suggestion_id}
                for r in chunk if r.item_id not in known
            ]  # fmt: skip
            if values:
                self.conn.execute(insert(a), values)

    def audits(self, experiment_id: int) -> list[AuditRow]:
        """The experiment's audited would-be-auto items, by item id."""
        a = te.experiment_audits
        q = (
            select(a.c.item_id, a.c.arm, a.c.run_id, a.c.suggestion_id)
            .where(a.c.experiment_id == experiment_id)
            .order_by(a.c.item_id)
        )
        return [AuditRow(int(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in self.conn.execute(q)]

    def has_suggestions(self, project_id: int, backend: str, model_version: str | None = None) -> bool:
        """Whether the backend (at that model version, when given) suggested anything in the project."""
        s = t.suggestions
        q = select(s.c.id).where(s.c.project_id == project_id, s.c.backend == backend)
        if model_version is not None:
            q = q.where(s.c.model_version == model_version)
        return self.conn.execute(q.limit(1)).first() is not None

    def names(self, experiment_ids: Sequence[int]) -> dict[int, str]:
        """Experiment id -> name."""
        e = te.experiments
        if not experiment_ids:
            return {}
        q = select(e.c.id, e.c.name).where(e.c.id.in_(list(experiment_ids)))
        return {int(r[0]): str(r[1]) for r in self.conn.execute(q)}

    def task_rules(self, item_id: int) -> TaskRules:
        """The item's blind routing tier and running arm, in one statement (see the module docstring)."""
        raw = Raw(self.conn)
        return task_rules_of(raw, raw.one(*task_rules_step(item_id)))
