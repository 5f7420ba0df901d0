"""Correction tasks as a work queue: list them, lock one to a person with an expiry, resolve it.

QC opens the tasks (:class:`labelloop.storage.quality_repo.QualityRepo`); this repository is the
reviewer's side. A lock is ``(locked_by, lock_expires_at)`` on the task row: taking one is a
single conditional ``UPDATE`` (free, expired or already the taker's), so two reviewers asking at
once never get the same task. Tasks of held items (awaiting or failing desensitisation) are
left out of every listing, as items are elsewhere.

Bound to one connection like the other repositories: ``CorrectionRepo(tx.conn)``.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema
    >>> from labelloop.storage import Store
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> with store.transaction() as tx:
    ...     p = tx.projects.create("c", LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]}), "me")
    >>> with store.read() as tx:
    ...     CorrectionRepo(tx.conn).page(p.id), CorrectionRepo(tx.conn).rule_counts(p.id)
    ([], [])
    >>> store.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, exists, func, or_, select, update

from labelloop.core.findings import FindingRecord, LabelSource
from labelloop.errors import NotFound
from labelloop.storage.quality_repo import finding_of
from labelloop.storage.tables_accounts import users
from labelloop.storage.tables_provenance import item_holds
from labelloop.storage.tables_quality import correction_tasks as c
from labelloop.storage.tables_quality import qc_findings as f

__all__ = ["CorrectionRepo", "CorrectionTask"]

OPEN, RESOLVED = "open", "resolved"


@dataclass(frozen=True, slots=True)
class CorrectionTask:
    """A correction task with its finding and its lock.

    Attributes:
        id: The task id.
        project_id: The project.
        record: The finding (with the task's status and resolution).
        locked_by: The user id holding the lock (None: nobody; it may have expired).
        locked_by_name: That user's name.
        lock_expires_at: Until when the lock holds.
        resolved_by: Who resolved it (``user:alice``, ``system:qc``), None while open.
        resolved_at: When.
        note: The resolver's note (the reason of a dismissal).
    """

    id: int
    project_id: int
    record: FindingRecord
    locked_by: int | None
    locked_by_name: str | None
    lock_expires_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    note: str | None

    @property
    def item_id(self) -> int:
        """The item the finding is about."""
        return self.record.finding.item_id

    @property
    def status(self) -> str:
        """``open`` or ``resolved``."""
        return self.record.status

    def held_by_other(self, user_id: int, at: datetime) -> bool:
        """Whether someone else holds an unexpired lock on it at ``at``."""
        return (
            self.locked_by is not None
            and self.locked_by != user_id
            and self.lock_expires_at is not None
            and self.lock_expires_at > at
        )


def _task(r: Row[Any]) -> CorrectionTask:
    finding = finding_of(r)
    record = FindingRecord(r.finding_id, r.run_id, finding, r.task_id, r.status, r.resolution, r.finding_created_at)
    return CorrectionTask(
        r.task_id,
        r.project_id,
        record,
        r.locked_by,
        r.locked_by_name,
        r.lock_expires_at,
        r.resolved_by,
        r.resolved_at,
        r.resolution_note,
    )


def _not_held() -> Any:
    return ~exists().where(item_holds.c.item_id == c.c.item_id)


def _free(user_id: int, at: datetime) -> Any:
    """The lock lets ``user_id`` take the task: nobody's, theirs, or expired."""
    return or_(c.c.locked_by.is_(None), c.c.locked_by == user_id, c.c.lock_expires_at <= at)


class CorrectionRepo:
    """Correction tasks of one connection, seen as a reviewer's work queue."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _select(self) -> Select[Any]:
        return (
            select(
                c.c.id.label("task_id"),
                c.c.project_id,
                c.c.status,
                c.c.resolution,
                c.c.resolved_by,
                c.c.resolved_at,
                c.c.resolution_note,
                c.c.locked_by,
                c.c.lock_expires_at,
                users.c.username.label("locked_by_name"),
                f.c.id.label("finding_id"),
                f.c.run_id,
                f.c.item_id,
                f.c.region_id,
                f.c.control,
                f.c.label,
                f.c.rule_id,
                f.c.detector,
                f.c.label_source,
                f.c.annotator,
                f.c.record_id,
                f.c.severity,
                f.c.message,
                f.c.fix,
                f.c.score,
                f.c.created_at.label("finding_created_at"),
            )
            .join(f, f.c.id == c.c.finding_id)
            .outerjoin(users, users.c.id == c.c.locked_by)
        )

    def get(self, project_id: int, task_id: int) -> CorrectionTask:
        """One task of the project (open or resolved; held items included: the caller decides).

        Raises:
            NotFound: no such task in this project.
        """
        row = self.conn.execute(self._select().where(c.c.id == task_id, c.c.project_id == project_id)).first()
        if row is None:
            raise NotFound("correction task", task_id)
        return _task(row)

    def page(
        self,
        project_id: int,
        *,
        status: str | None = OPEN,
        rule: str | None = None,
        severity: str | None = None,
        after_id: int = 0,
        limit: int = 50,
    ) -> list[CorrectionTask]:
        """Tasks with id > ``after_id`` in id order (keyset), optionally by status, rule and severity."""
        q = self._select().where(c.c.project_id == project_id, c.c.id > after_id, _not_held())
        if status is not None:
            q = q.where(c.c.status == status)
        if rule is not None:
            q = q.where(f.c.rule_id == rule)
        if severity is not None:
            q = q.where(f.c.severity == severity)
        return [_task(r) for r in self.conn.execute(q.order_by(c.c.id).limit(limit))]

    def rule_counts(self, project_id: int) -> list[tuple[str, str, int]]:
        """``(rule, severity, open tasks)`` of the project, by rule (held items left out)."""
        rows = self.conn.execute(
            select(f.c.rule_id, f.c.severity, func.count())
            .select_from(c.join(f, f.c.id == c.c.finding_id))
            .where(c.c.project_id == project_id, c.c.status == OPEN, _not_held())
            .group_by(f.c.rule_id, f.c.severity)
            .order_by(f.c.rule_id, f.c.severity)
        )
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    def held(self, project_id: int, user_id: int, at: datetime) -> int | None:
        """The oldest open task whose unexpired lock ``user_id`` holds (held items left out)."""
        row = self.conn.execute(
            select(c.c.id)
            .where(
                c.c.project_id == project_id,
                c.c.status == OPEN,
                c.c.locked_by == user_id,
                c.c.lock_expires_at > at,
                _not_held(),
            )
            .order_by(c.c.id)
            .limit(1)
        ).first()
        return None if row is None else int(row[0])

    def candidates(
        self,
        project_id: int,
        user_id: int,
        at: datetime,
        *,
        after_id: int = 0,
        rule: str | None = None,
        severity: str | None = None,
        not_by: str | None = None,
        limit: int = 20,
    ) -> list[int]:
        """Ids of open tasks ``user_id`` may take now, id > ``after_id``, oldest first.

        ``not_by``: leave out tasks whose finding's author is this username (the annotator of
        the human annotation the finding names: :attr:`labelloop.core.findings.Finding.author`).
        """
        q = select(c.c.id).where(c.c.project_id == project_id, c.c.status == OPEN, c.c.id > after_id, _not_held())
        q = q.where(_free(user_id, at))
        if rule is not None or severity is not None or not_by is not None:
            q = q.join(f, f.c.id == c.c.finding_id)
            if rule is not None:
                q = q.where(f.c.rule_id == rule)
            if severity is not None:
                q = q.where(f.c.severity == severity)
            if not_by is not None:  # (NULLs spelt out: NOT over a NULL comparison would drop the row)
                q = q.where(
                    or_(
                        f.c.label_source != LabelSource.HUMAN.value,
                        f.c.record_id.is_(None),
                        f.c.annotator.is_(None),
                        f.c.annotator != not_by,
                    )
                )
        return [int(r[0]) for r in self.conn.execute(q.order_by(c.c.id).limit(limit))]

    def take(self, task_id: int, user_id: int, at: datetime, expires: datetime) -> bool:
        """Lock an open task to ``user_id`` until ``expires`` when its lock is free; True when taken."""
        res = self.conn.execute(
            update(c)
            .where(c.c.id == task_id, c.c.status == OPEN, _free(user_id, at))
            .values(locked_by=user_id, lock_expires_at=expires)
        )
        return int(res.rowcount) == 1

    def release(self, project_id: int, user_id: int, *, keep: int | None = None) -> int:
        """Drop ``user_id``'s locks in the project (all but ``keep``); return how many."""
        cond = and_(c.c.project_id == project_id, c.c.locked_by == user_id)
        if keep is not None:
            cond = and_(cond, c.c.id != keep)
        res = self.conn.execute(update(c).where(cond).values(locked_by=None, lock_expires_at=None))
        return int(res.rowcount)

    def resolve(
        self, task_id: int, resolution: str, actor: str, user_id: int, at: datetime, *, note: str | None = None
    ) -> bool:
        """Resolve an open task that nobody else holds; clear its lock. True when this call resolved it."""
        res = self.conn.execute(
            update(c)
            .where(c.c.id == task_id, c.c.status == OPEN, _free(user_id, at))
            .values(
                status=RESOLVED,
                resolution=resolution,
                resolved_at=at,
                resolved_by=actor,
                resolution_note=note,
                locked_by=None,
                lock_expires_at=None,
            )
        )
        return int(res.rowcount) == 1
