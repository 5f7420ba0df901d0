"""Background job rows: create (deduplicated), start, progress, finish, cancel, heartbeats.

Every state change is one guarded UPDATE (``WHERE status = ...``), so two parties racing on
a job (a worker finishing it while a manager cancels it, two servers sweeping stale rows)
never both win.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from labelloop.core.jobs import Job, JobStatus
from labelloop.errors import NotFound
from labelloop.storage.repositories import now
from labelloop.storage.tables_jobs import LIVE_STATUSES, jobs

__all__ = ["JobRepo"]

_LIVE = jobs.c.status.in_(LIVE_STATUSES)


def _job(row: Any) -> Job:
    return Job(
        id=row.id, project_id=row.project_id, kind=row.kind, actor=row.actor, status=JobStatus(row.status),
        params=dict(row.params or {}), done=int(row.done), total=None if row.total is None else int(row.total),
        message=row.message, result=row.result, error=row.error, cancel_requested=bool(row.cancel_requested),
        created_at=row.created_at, started_at=row.started_at, finished_at=row.finished_at,
    )  # fmt: skip


class JobRepo:
    """Job rows of every project."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(
        self,
        project_id: int,
        kind: str,
        actor: str,
        params: dict[str, Any],
        *,
        runner: str,
        dedupe_key: str | None = None,
    ) -> tuple[Job, bool]:
        """Add a queued job; return it and True, or the live job with the same key and False."""
        t = now()
        values = {
            "project_id": project_id, "kind": kind, "status": JobStatus.QUEUED.value, "actor": actor,
            "params": params, "dedupe_key": dedupe_key, "done": 0, "total": None, "message": "", "result": None,
            "error": None, "cancel_requested": False, "runner": runner, "created_at": t, "heartbeat_at": t,
        }  # fmt: skip
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(jobs).values(**values).on_conflict_do_nothing().returning(jobs.c.id)
        new_id = self.conn.execute(stmt).scalar_one_or_none()
        if new_id is not None:
            return self.get(project_id, int(new_id)), True
        twin = self.live_twin(project_id, dedupe_key) if dedupe_key is not None else None
        if twin is None:  # (the live twin ended between the two statements: add ours after all)
            new_id = self.conn.execute(insert(jobs).values(**values).returning(jobs.c.id)).scalar_one()
            return self.get(project_id, int(new_id)), True
        return twin, False

    def live_twin(self, project_id: int, dedupe_key: str) -> Job | None:
        """The queued or running job of the project with this deduplication key, if any."""
        row = self.conn.execute(
            select(jobs).where(jobs.c.project_id == project_id, jobs.c.dedupe_key == dedupe_key, _LIVE)
        ).first()
        return None if row is None else _job(row)

    def get(self, project_id: int, job_id: int) -> Job:
        """A job of the project.

        Raises:
            NotFound: no such job in this project (another project's job is not found either).
        """
        row = self.conn.execute(select(jobs).where(jobs.c.id == job_id, jobs.c.project_id == project_id)).first()
        if row is None:
            raise NotFound("job", job_id)
        return _job(row)

    def list(
        self, project_id: int, *, limit: int = 50, before: int | None = None, kind: str | None = None
    ) -> list[Job]:
        """The project's jobs, newest first (keyset: ids below ``before``)."""
        q = select(jobs).where(jobs.c.project_id == project_id)
        if before is not None:
            q = q.where(jobs.c.id < before)
        if kind is not None:
            q = q.where(jobs.c.kind == kind)
        return [_job(r) for r in self.conn.execute(q.order_by(jobs.c.id.desc()).limit(limit))]

    def live_count(self, actor: str) -> int:
        """How many queued or running jobs ``actor`` has, in every project."""
        return int(
            self.conn.execute(select(func.count()).select_from(jobs).where(jobs.c.actor == actor, _LIVE)).scalar_one()
        )

    def start(self, job_id: int) -> bool:
        """Mark a queued job running; False when it is no longer queued (cancelled meanwhile)."""
        res = self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.RUNNING.value, started_at=now(), heartbeat_at=now())
        )
        return res.rowcount == 1

    def finish(
        self,
        job_id: int,
        status: JobStatus,
        *,
        runner: str,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
    ) -> bool:
        """End a job this runner ran (running, or interrupted by its own shutdown); False if it had ended."""
        values: dict[str, Any] = {"status": status.value, "result": result, "error": error, "finished_at": now()}
        if done is not None:
            values.update(done=done, total=total)
        if message is not None:
            values["message"] = message[:500]
        res = self.conn.execute(
            update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.runner == runner,
                jobs.c.status.in_((JobStatus.RUNNING.value, JobStatus.INTERRUPTED.value)),
            )
            .values(**values)
        )
        return res.rowcount == 1

    def request_cancel(self, project_id: int, job_id: int) -> Job:
        """Cancel a queued job at once, or ask a running one to stop; a finished job is left as it is.

        Raises:
            NotFound: no such job in this project.
        """
        self.get(project_id, job_id)
        self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.CANCELLED.value, cancel_requested=True, error="cancelled before it started",
                    finished_at=now())
        )  # fmt: skip
        self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING.value)
            .values(cancel_requested=True)
        )
        return self.get(project_id, job_id)

    def heartbeat(self, runner: str, progress: dict[int, tuple[int, int | None, str]]) -> set[int]:
        """Mark the runner's live jobs alive and save their progress; return those asked to cancel.

        ``progress`` maps a job id to ``(done, total, message)``.
        """
        t = now()
        self.conn.execute(update(jobs).where(jobs.c.runner == runner, _LIVE).values(heartbeat_at=t))
        if progress:
            self.conn.execute(
                update(jobs)
                .where(jobs.c.id == bindparam("jid"), jobs.c.runner == runner, jobs.c.status == JobStatus.RUNNING.value)
                .values(done=bindparam("d"), total=bindparam("t"), message=bindparam("m")),
                [{"jid": k, "d": d, "t": tot, "m": m[:500]} for k, (d, tot, m) in progress.items()],
            )
        rows = self.conn.execute(
            select(jobs.c.id).where(jobs.c.runner == runner, _LIVE, jobs.c.cancel_requested.is_(True))
        )
        return {int(r.id) for r in rows}

    def interrupt_stale(self, older_than: datetime, *, runner: str, reason: str) -> int:
        """Mark live jobs of other runners silent since before ``older_than`` interrupted; return how many."""
        res = self.conn.execute(
            update(jobs)
            .where(_LIVE, jobs.c.heartbeat_at < older_than, jobs.c.runner != runner)
            .values(status=JobStatus.INTERRUPTED.value, error=reason, finished_at=now())
        )
        return int(res.rowcount)

    def interrupt_runner(self, runner: str, *, reason: str) -> int:
        """Mark the runner's live jobs interrupted (it is shutting down); return how many."""
        res = self.conn.execute(
            update(jobs)
            .where(and_(jobs.c.runner == runner, _LIVE))
            .values(status=JobStatus.INTERRUPTED.value, error=reason, finished_at=now())
        )
        return int(res.rowcount)
