"""Background jobs: long work (an import, an export, a QC run) that outlives the request.

A job is a row: what it is (``kind``), who asked (``actor``), where it stands (``status``,
``done`` of ``total``, a short ``message``), and how it ended (``result`` or ``error``).
The runner that executes jobs is :mod:`labelloop.services.jobs`.

Example:
    >>> JobStatus.RUNNING.live, JobStatus.DONE.live
    (True, False)
    >>> sorted(s.value for s in JobStatus if not s.live)
    ['cancelled', 'done', 'failed', 'interrupted']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Job", "JobStatus"]


class JobStatus(StrEnum):
    """Where a job stands.

    ``queued`` and ``running`` are live; the others are final. ``interrupted`` means the
    server stopped (or died) before the job ended: its work was rolled back or never began.
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def live(self) -> bool:
        """Whether the job may still change (queued or running)."""
        return self in (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class Job:
    """A background job of a project, as stored.

    Attributes:
        id: The job id.
        project_id: The project the job works on (its rights are the project's).
        kind: What it does: ``import``, ``export``, ...
        actor: Who asked (``user:alice``).
        status: Where it stands.
        params: What it was asked to do (format, options, file name): JSON.
        done: Units of work done (items, files or bytes; see ``message``).
        total: Units in all, when known.
        message: What it is doing now (``exporting items``), or empty.
        result: What it produced, once done (JSON).
        error: Why it failed, was cancelled or interrupted; None otherwise.
        cancel_requested: Someone asked to cancel it.
        created_at: When it was submitted.
        started_at: When a worker took it.
        finished_at: When it ended.
    """

    id: int
    project_id: int
    kind: str
    actor: str
    status: JobStatus
    params: dict[str, Any] = field(default_factory=dict)
    done: int = 0
    total: int | None = None
    message: str = ""
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: bool = False
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire form (times in ISO 8601).

        Example:
            >>> Job(1, 2, "export", "user:a", JobStatus.QUEUED).to_json()["progress"]
            {'done': 0, 'total': None, 'message': ''}
        """

        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "id": self.id,
            "project_id": self.project_id,
            "kind": self.kind,
            "actor": self.actor,
            "status": self.status.value,
            "params": self.params,
            "progress": {"done": self.done, "total": self.total, "message": self.message},
            "result": self.result,
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
        }
