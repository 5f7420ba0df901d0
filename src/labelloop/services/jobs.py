"""An in-process job runner: long work off the request, with progress, cancel and a record.

The app owns one :class:`JobRunner` (a bounded thread pool). A job is a row in the database
(:class:`~labelloop.core.jobs.Job`), so its status, progress and outcome outlive the request
and the process: a job whose server stopped before it ended reads ``interrupted``.

Submitting work
---------------
Any long use case becomes a job through :meth:`JobRunner.submit`::

    def work(progress: Progress, cancel: CancelFlag) -> dict[str, Any]:
        for done, batch in enumerate(batches, 1):
            cancel.raise_if_set()            # stop between units of work (raises JobCancelled)
            handle(batch)
            progress(done, len(batches), "checking items")
        return {"checked": len(batches)}     # the job's result (JSON)

    job = runner.submit(project_id, "qc", Actor.user("alice"), work)

* ``fn(progress, cancel)`` runs in a worker thread. It opens its own transactions (on the
  runner's store or one it closed over); nothing of the request is available to it.
* ``progress(done, total=None, message=None)`` records where it stands. It only touches
  memory, so call it as often as you like: the runner shows it live and its heartbeat thread
  writes it to the database every ``heartbeat_s``.
* ``cancel`` is a :class:`CancelFlag`: ``cancel.is_set()`` or ``cancel.raise_if_set()``.
  Raising :class:`JobCancelled` (from anywhere inside ``fn``) ends the job ``cancelled``;
  ``fn`` must leave nothing half-done behind (roll back its transaction, remove its files).
* Its return value (a JSON-able dict, or None) becomes ``result``; a
  :class:`~labelloop.errors.LabelloopError` ends the job ``failed`` with its message; any
  other exception ends it ``failed`` with a generic message (the traceback goes to the log,
  never to the client).

Liveness
--------
A live job's row carries the runner's heartbeat (every ``heartbeat_s``). Each runner marks
live jobs whose heartbeat is older than ``stale_after_s`` ``interrupted``: at start and on
every heartbeat, so a restarted server (or another server on the same database) cleans up
after one that died. A runner shutting down asks its jobs to stop and marks what did not
end in time ``interrupted``.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema
    >>> from labelloop.storage import Store
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> schema = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}]})
    >>> with store.transaction() as tx:
    ...     pid = tx.projects.create("demo", schema, "user:me").id
    >>> runner = JobRunner(store, workers=1).start()
    >>> job = runner.submit(pid, "count", "user:me", lambda progress, cancel: {"n": 3})
    >>> runner.wait(pid, job.id, timeout=10).result
    {'n': 3}
    >>> runner.shutdown()
    >>> store.close()
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from labelloop.core.jobs import Job, JobStatus
from labelloop.errors import Conflict, LabelloopError
from labelloop.services.accounts import RateLimited
from labelloop.storage import Store
from labelloop.storage.jobs_repo import JobRepo

__all__ = ["CancelFlag", "JobCancelled", "JobFn", "JobRunner", "Progress"]

logger = logging.getLogger("labelloop.jobs")

INTERRUPTED = "interrupted: the server stopped before the job ended (its work was rolled back)"
_MAX_ERROR = 2000


class JobCancelled(Exception):
    """Raised inside a job to stop it: the job ends ``cancelled`` (or ``interrupted`` at shutdown)."""


class CancelFlag:
    """Set when the job should stop: a manager cancelled it, or the server is shutting down.

    Example:
        >>> flag = CancelFlag()
        >>> flag.is_set()
        False
        >>> flag.set("user")
        >>> flag.raise_if_set()
        Traceback (most recent call last):
        ...
        labelloop.services.jobs.JobCancelled: cancelled
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def set(self, reason: str = "user") -> None:
        """Ask the job to stop; ``reason`` is ``user`` (cancelled) or ``shutdown`` (interrupted)."""
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        """Whether the job was asked to stop."""
        return self._event.is_set()

    def raise_if_set(self) -> None:
        """Raise :class:`JobCancelled` when the job was asked to stop."""
        if self._event.is_set():
            raise JobCancelled("cancelled")


class Progress:
    """What a job reports: ``progress(done, total=None, message=None)``; cheap, call it often.

    It only updates memory: the runner's heartbeat thread writes it to the database, and the
    runner's :meth:`JobRunner.get` shows it live. (The job's own thread never writes job rows
    while it works: on SQLite its transaction holds the one write lock.)

    Example:
        >>> p = Progress()
        >>> p(3, 10, "exporting items")
        >>> p.snapshot()
        (3, 10, 'exporting items')
    """

    def __init__(self) -> None:
        self.done = 0
        self.total: int | None = None
        self.message = ""
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Record that ``done`` of ``total`` units are done (``message``: what is being done now)."""
        with self._lock:
            self.done, self.total = int(done), None if total is None else int(total)
            if message is not None:
                self.message = message

    def snapshot(self) -> tuple[int, int | None, str]:
        """``(done, total, message)`` as last reported."""
        with self._lock:
            return self.done, self.total, self.message


JobFn = Callable[[Progress, CancelFlag], "dict[str, Any] | None"]
"""The work of a job: ``fn(progress, cancel)`` returns the job's result (JSON) or None."""


def _dedupe_key(kind: str, params: dict[str, Any]) -> str:
    blob = json.dumps({"kind": kind, "params": params}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class _Live:
    """A job this runner owns and has not finished: its flag, progress, future and cleanup."""

    __slots__ = ("cleanup", "flag", "future", "progress")

    def __init__(self, cleanup: Callable[[], None] | None) -> None:
        self.flag = CancelFlag()
        self.progress = Progress()
        self.future: Future[None] | None = None
        self.cleanup = cleanup

    def clean(self, job_id: int) -> None:
        """Run the job's cleanup once (whether or not the job ever ran)."""
        cleanup, self.cleanup = self.cleanup, None
        if cleanup is not None:
            try:
                cleanup()
            except Exception:
                logger.exception("job %d: cleanup failed", job_id)


class JobRunner:
    """A bounded pool of worker threads running jobs recorded in the store.

    Args:
        store: Where job rows live (and what jobs usually work on).
        workers: Jobs that run at once; more wait, ``queued``.
        max_live_per_actor: Queued plus running jobs one actor may have; one more is refused
            with :class:`~labelloop.services.accounts.RateLimited` (HTTP 429).
        heartbeat_s: How often the runner marks its live jobs alive and saves their progress.
        stale_after_s: A live job of another runner without a heartbeat for this long is
            ``interrupted`` (its server stopped or died).
    """

    def __init__(
        self,
        store: Store,
        *,
        workers: int = 2,
        max_live_per_actor: int = 8,
        heartbeat_s: float = 2.0,
        stale_after_s: float = 30.0,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers: expected at least 1, got {workers}")
        if stale_after_s <= heartbeat_s:
            raise ValueError(f"stale_after_s ({stale_after_s}) must exceed heartbeat_s ({heartbeat_s})")
        self.store = store
        self.workers = workers
        self.max_live_per_actor = max_live_per_actor
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.id = uuid.uuid4().hex
        self._pool: ThreadPoolExecutor | None = None
        self._live: dict[int, _Live] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # life cycle ---------------------------------------------------------------------------
    def start(self) -> JobRunner:
        """Start the workers and the heartbeat; mark live jobs of vanished servers interrupted."""
        if self._pool is not None:
            return self
        self._sweep()
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="labelloop-job")
        self._beat = threading.Thread(target=self._heartbeat_loop, name="labelloop-job-heartbeat", daemon=True)
        self._beat.start()
        return self

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop: ask running jobs to stop, wait up to ``timeout`` s, mark what is left interrupted."""
        pool = self._pool
        if pool is None:
            return
        self._stop.set()
        with self._lock:
            for live in self._live.values():
                live.flag.set("shutdown")
        pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            never = [(job_id, live) for job_id, live in self._live.items() if live.future and live.future.cancelled()]
        for job_id, live in never:  # queued jobs that will never run
            live.clean(job_id)
            self._forget(job_id)
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._live and time.monotonic() < deadline:
                self._idle.wait(max(0.0, deadline - time.monotonic()))
        try:
            with self.store.transaction() as tx:
                JobRepo(tx.conn).interrupt_runner(self.id, reason=INTERRUPTED)
        except Exception:  # the database may be gone at shutdown: the next start sweeps
            logger.exception("could not mark this runner's jobs interrupted")
        if self._beat is not None:
            self._beat.join(timeout=max(1.0, self.heartbeat_s))
        self._pool = None

    def _sweep(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(seconds=self.stale_after_s)
        with self.store.transaction() as tx:
            n = JobRepo(tx.conn).interrupt_stale(cutoff, runner=self.id, reason=INTERRUPTED)
        if n:
            logger.warning("%d job(s) of a server that stopped marked interrupted", n)

    def beat(self) -> None:
        """One heartbeat: save the progress of this runner's live jobs and mark them alive.

        It also picks up cancels asked of another server, and marks live jobs of other
        runners whose heartbeat stopped ``interrupted``.
        """
        with self._lock:
            snapshots = {job_id: live.progress.snapshot() for job_id, live in self._live.items()}
        with self.store.transaction() as tx:
            asked = JobRepo(tx.conn).heartbeat(self.id, snapshots)
        with self._lock:
            for job_id in asked:
                if job_id in self._live:
                    self._live[job_id].flag.set("user")
        self._sweep()

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.beat()
            except LabelloopError as exc:  # the store refused (busy): next time
                logger.warning("job heartbeat skipped: %s", exc)
            except Exception as exc:  # a database hiccup (SQLite busy during a long import) must not end it
                logger.warning("job heartbeat skipped: %s", type(exc).__name__)

    # jobs ---------------------------------------------------------------------------------
    def submit(
        self,
        project_id: int,
        kind: str,
        actor: str,
        fn: JobFn,
        *,
        params: dict[str, Any] | None = None,
        dedupe: bool = False,
        cleanup: Callable[[], None] | None = None,
    ) -> Job:
        """Queue ``fn`` as a job of the project; return its row (``queued``).

        Args:
            project_id: The project the job works on (its jobs list shows it; its rights apply).
            kind: A short name of the work: ``import``, ``export``, ``qc`` ...
            actor: Who asked (``user:alice``).
            fn: The work, ``fn(progress, cancel) -> dict | None`` (see the module docs).
            params: What was asked, shown with the job (JSON).
            dedupe: Return the live job of the same project, kind and params instead of a new
                one (an export asked for twice is made once).
            cleanup: Called once when the job has ended, however it ended, even if ``fn``
                never ran (cancelled while queued, server stopping) or the job was not made
                (refused, or a live twin was returned): remove the job's input files here.

        Raises:
            RateLimited: the actor has ``max_live_per_actor`` live jobs already (429).
            LabelloopError: the runner is not started or is shutting down.
        """
        params = params or {}
        pool = self._pool
        live = _Live(cleanup)
        try:
            if pool is None or self._stop.is_set():
                raise LabelloopError("the job runner is not running")
            key = _dedupe_key(kind, params) if dedupe else None
            with self.store.transaction() as tx:
                repo = JobRepo(tx.conn)
                if repo.live_count(actor) >= self.max_live_per_actor:
                    twin = repo.live_twin(project_id, key) if key is not None else None
                    if twin is not None:
                        live.clean(0)
                        return twin
                    raise RateLimited(
                        f"{actor} has {self.max_live_per_actor} jobs queued or running; wait for one to end", 10
                    )
                job, new = repo.create(project_id, kind, actor, params, runner=self.id, dedupe_key=key)
        except BaseException:
            live.clean(0)
            raise
        if not new:
            live.clean(job.id)
            return job
        with self._lock:
            self._live[job.id] = live
            try:
                live.future = pool.submit(self._run, job.id, fn, live)
            except RuntimeError:  # shut down between the check and here
                live.future = None
        if live.future is None:
            live.clean(job.id)
            self._forget(job.id)
            with self.store.transaction() as tx:
                JobRepo(tx.conn).interrupt_runner(self.id, reason=INTERRUPTED)
            raise LabelloopError("the job runner is shutting down")
        return job

    def _overlay(self, job: Job) -> Job:
        """The job with this runner's live progress (fresher than the row)."""
        with self._lock:
            live = self._live.get(job.id)
        if live is None or not job.status.live:
            return job
        done, total, message = live.progress.snapshot()
        return replace(job, done=done, total=total, message=message)

    def get(self, project_id: int, job_id: int) -> Job:
        """A job of the project (with live progress when this runner runs it).

        Raises:
            NotFound: no such job in the project.
        """
        with self.store.read() as tx:
            job = JobRepo(tx.conn).get(project_id, job_id)
        return self._overlay(job)

    def list(
        self, project_id: int, *, limit: int = 50, before: int | None = None, kind: str | None = None
    ) -> list[Job]:
        """The project's jobs, newest first (``before``: ids below it, for the next page)."""
        with self.store.read() as tx:
            found = JobRepo(tx.conn).list(project_id, limit=limit, before=before, kind=kind)
        return [self._overlay(j) for j in found]

    def cancel(self, project_id: int, job_id: int) -> Job:
        """Cancel a queued job, or ask a running one to stop (it ends ``cancelled`` soon after).

        A job of this runner is told at once; one running on another server sees the request
        at that server's next heartbeat.

        Raises:
            NotFound: no such job in the project.
            Conflict: the job has ended already.
        """
        with self.store.read() as tx:
            if not JobRepo(tx.conn).get(project_id, job_id).status.live:
                raise Conflict(f"job {job_id} has ended already")
        with self._lock:
            live = self._live.get(job_id)
        if live is not None:  # first: a running import holds SQLite's one write lock until it stops
            live.flag.set("user")
        with self.store.transaction() as tx:
            job = JobRepo(tx.conn).request_cancel(project_id, job_id)
        return self._overlay(job)

    def wait(self, project_id: int, job_id: int, *, timeout: float = 60.0, poll_s: float = 0.05) -> Job:
        """Poll until the job has ended (for tests, the CLI and scripts).

        Raises:
            TimeoutError: still live after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(project_id, job_id)
            if not job.status.live:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.status.value} after {timeout} s")
            time.sleep(poll_s)

    # the worker side ----------------------------------------------------------------------
    def _forget(self, job_id: int) -> None:
        with self._idle:
            self._live.pop(job_id, None)
            self._idle.notify_all()

    def _run(self, job_id: int, fn: JobFn, live: _Live) -> None:
        try:
            with self.store.transaction() as tx:
                if live.flag.is_set() or not JobRepo(tx.conn).start(job_id):
                    return  # cancelled while queued (or the runner is stopping: marked interrupted)
            self._execute(job_id, fn, live)
        except Exception:
            logger.exception("job %d: the runner failed", job_id)
        finally:
            live.clean(job_id)
            self._forget(job_id)

    def _execute(self, job_id: int, fn: JobFn, live: _Live) -> None:
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            result = fn(live.progress, live.flag)
            status = JobStatus.DONE
        except JobCancelled:
            shutdown = live.flag.reason == "shutdown"
            status = JobStatus.INTERRUPTED if shutdown else JobStatus.CANCELLED
            error = INTERRUPTED if shutdown else "cancelled; nothing of it was kept"
        except LabelloopError as exc:
            status, error = JobStatus.FAILED, str(exc)[:_MAX_ERROR]
        except Exception as exc:
            logger.error("job %d failed", job_id, exc_info=exc)
            status, error = JobStatus.FAILED, f"internal error ({type(exc).__name__}); the server log has the details"
        done, total, message = live.progress.snapshot()
        with self.store.transaction() as tx:
            JobRepo(tx.conn).finish(
                job_id, status, runner=self.id, result=result, error=error, done=done, total=total, message=message
            )
