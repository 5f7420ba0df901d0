"""The job runner on SQLite and PostgreSQL: results, failures, progress, cancel, dedupe,
limits, shutdown, and jobs of a server killed mid-job read back ``interrupted``."""

from __future__ import annotations

import doctest
import io
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import LabelSchema
from labelloop.core.jobs import JobStatus
from labelloop.errors import Conflict, InputRejected, NotFound
from labelloop.services import jobs as jobs_module
from labelloop.services.accounts import RateLimited
from labelloop.services.jobs import CancelFlag, JobCancelled, JobRunner, Progress
from labelloop.services.projects import create_project
from labelloop.storage import Store
from tests.helpers import TEXT_SCHEMA

ACTOR = "user:alice"


@pytest.fixture
def pid(store: Store) -> int:
    return create_project(store, "jobs", LabelSchema.model_validate(TEXT_SCHEMA), ACTOR).id


@pytest.fixture
def runner(store: Store) -> Any:
    r = JobRunner(store, workers=2, heartbeat_s=0.1, stale_after_s=1.0).start()
    yield r
    r.shutdown(timeout=5)


def _until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_docs_run() -> None:
    assert doctest.testmod(jobs_module, optionflags=doctest.ELLIPSIS).failed == 0


def test_a_job_runs_and_keeps_its_result_and_progress(runner: JobRunner, pid: int) -> None:
    def work(progress: Progress, cancel: CancelFlag) -> dict[str, Any]:
        for i in range(1, 6):
            progress(i, 5, "counting")
        return {"counted": 5}

    job = runner.submit(pid, "count", ACTOR, work, params={"n": 5})
    assert job.status == JobStatus.QUEUED and job.params == {"n": 5} and job.actor == ACTOR
    done = runner.wait(pid, job.id)
    assert done.status == JobStatus.DONE and done.result == {"counted": 5} and done.error is None
    assert (done.done, done.total, done.message) == (5, 5, "counting")
    assert done.started_at is not None and done.finished_at is not None and done.finished_at >= done.started_at
    assert [j.id for j in runner.list(pid)] == [job.id]
    assert runner.list(pid, kind="other") == []


def test_failures_say_why_without_leaking_internals(runner: JobRunner, pid: int) -> None:
    def refused(_p: Progress, _c: CancelFlag) -> None:
        raise InputRejected("pets.zip", "a readable zip archive", "a corrupt archive")

    def bug(_p: Progress, _c: CancelFlag) -> None:
        raise RuntimeError("SELECT secret FROM users at /srv/labelloop")

    a = runner.wait(pid, runner.submit(pid, "import", ACTOR, refused).id)
    assert a.status == JobStatus.FAILED
    assert a.error == "pets.zip: expected a readable zip archive, got a corrupt archive"
    b = runner.wait(pid, runner.submit(pid, "import", ACTOR, bug).id)
    assert b.status == JobStatus.FAILED and b.error is not None
    assert "RuntimeError" in b.error and "secret" not in b.error and "/srv" not in b.error


def test_progress_is_live_while_running_and_saved_by_the_heartbeat(runner: JobRunner, pid: int, store: Store) -> None:
    release = threading.Event()

    def work(progress: Progress, cancel: CancelFlag) -> None:
        progress(3, 10, "halfway there")
        release.wait(10)

    job = runner.submit(pid, "slow", ACTOR, work)
    _until(lambda: runner.get(pid, job.id).done == 3)
    seen = runner.get(pid, job.id)
    assert (seen.status, seen.total, seen.message) == (JobStatus.RUNNING, 10, "halfway there")
    # another runner on the same database reads what the heartbeat saved
    other = JobRunner(store, heartbeat_s=0.1, stale_after_s=1.0)
    _until(lambda: other.get(pid, job.id).done == 3)
    release.set()
    assert runner.wait(pid, job.id).status == JobStatus.DONE


def test_cancel_a_running_job(runner: JobRunner, pid: int) -> None:
    started = threading.Event()
    steps: list[int] = []

    def work(progress: Progress, cancel: CancelFlag) -> None:
        started.set()
        for i in range(1000):
            cancel.raise_if_set()
            steps.append(i)
            progress(i, 1000)
            time.sleep(0.01)

    job = runner.submit(pid, "long", ACTOR, work)
    assert started.wait(10)
    asked = runner.cancel(pid, job.id)
    assert asked.cancel_requested
    ended = runner.wait(pid, job.id)
    assert ended.status == JobStatus.CANCELLED and "cancelled" in (ended.error or "")
    assert len(steps) < 1000
    with pytest.raises(Conflict, match="has ended"):
        runner.cancel(pid, job.id)


def test_cancel_a_queued_job_before_it_runs(store: Store, pid: int) -> None:
    runner = JobRunner(store, workers=1, heartbeat_s=0.1, stale_after_s=1.0).start()
    try:
        release = threading.Event()
        ran: list[str] = []
        cleaned: list[str] = []
        first = runner.submit(pid, "block", ACTOR, lambda p, c: (release.wait(10), None)[1])
        second = runner.submit(
            pid, "never", ACTOR, lambda p, c: ran.append("x"), cleanup=lambda: cleaned.append("second")
        )
        assert runner.get(pid, second.id).status == JobStatus.QUEUED
        cancelled = runner.cancel(pid, second.id)
        assert cancelled.status == JobStatus.CANCELLED and cancelled.finished_at is not None
        release.set()
        assert runner.wait(pid, first.id).status == JobStatus.DONE
        _until(lambda: cleaned == ["second"])  # the input of a job that never ran is removed too
        assert ran == [] and runner.get(pid, second.id).status == JobStatus.CANCELLED
    finally:
        runner.shutdown(timeout=5)


def test_a_cancel_asked_on_another_server_reaches_the_job(runner: JobRunner, pid: int, store: Store) -> None:
    started = threading.Event()

    def work(progress: Progress, cancel: CancelFlag) -> None:
        started.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cancel.raise_if_set()
            time.sleep(0.01)

    job = runner.submit(pid, "long", ACTOR, work)
    assert started.wait(10)
    JobRunner(store).cancel(pid, job.id)  # a second server: it only writes the request
    assert runner.wait(pid, job.id).status == JobStatus.CANCELLED  # picked up by the first one's heartbeat


def test_jobs_are_per_project(runner: JobRunner, pid: int, store: Store) -> None:
    other = create_project(store, "other", LabelSchema.model_validate(TEXT_SCHEMA), ACTOR).id
    job = runner.submit(pid, "x", ACTOR, lambda p, c: None)
    runner.wait(pid, job.id)
    with pytest.raises(NotFound):
        runner.get(other, job.id)
    with pytest.raises(NotFound):
        runner.cancel(other, job.id)
    assert runner.list(other) == []


def test_dedupe_and_the_per_actor_limit(store: Store, pid: int) -> None:
    runner = JobRunner(store, workers=1, max_live_per_actor=2, heartbeat_s=0.1, stale_after_s=1.0).start()
    release = threading.Event()
    try:
        work = lambda p, c: (release.wait(10), {"ok": True})[1]  # noqa: E731
        a = runner.submit(pid, "export", ACTOR, work, params={"format": "coco"}, dedupe=True)
        twins = [runner.submit(pid, "export", ACTOR, work, params={"format": "coco"}, dedupe=True) for _ in range(5)]
        assert {t.id for t in twins} == {a.id}  # the same export asked again is the same job
        b = runner.submit(pid, "export", ACTOR, work, params={"format": "yolo"}, dedupe=True)
        assert b.id != a.id
        with pytest.raises(RateLimited, match="2 jobs"):
            runner.submit(pid, "export", ACTOR, work, params={"format": "voc"}, dedupe=True)
        assert runner.submit(pid, "export", ACTOR, work, params={"format": "coco"}, dedupe=True).id == a.id
        other = runner.submit(pid, "export", "user:bob", work, params={"format": "voc"})  # bob has his own count
        release.set()
        for j in (a, b, other):
            assert runner.wait(pid, j.id).status == JobStatus.DONE
        again = runner.submit(pid, "export", ACTOR, work, params={"format": "coco"}, dedupe=True)
        assert again.id not in (a.id, b.id)  # the first one has ended: a new export
        runner.wait(pid, again.id)
    finally:
        release.set()
        runner.shutdown(timeout=5)


def test_shutdown_interrupts_what_is_left(store: Store, pid: int) -> None:
    runner = JobRunner(store, workers=1, heartbeat_s=0.1, stale_after_s=1.0).start()
    started = threading.Event()
    cleaned: list[int] = []

    def cooperative(progress: Progress, cancel: CancelFlag) -> None:
        started.set()
        while True:
            cancel.raise_if_set()
            time.sleep(0.01)

    running = runner.submit(pid, "long", ACTOR, cooperative)
    queued = runner.submit(pid, "later", ACTOR, lambda p, c: None, cleanup=lambda: cleaned.append(1))
    assert started.wait(10)
    runner.shutdown(timeout=5)
    for job in (running, queued):
        ended = runner.get(pid, job.id)
        assert ended.status == JobStatus.INTERRUPTED and "server stopped" in (ended.error or ""), ended
    assert cleaned == [1]
    with pytest.raises(Exception, match="not running"):
        runner.submit(pid, "late", ACTOR, lambda p, c: None)


_CRASHER = """
import sys, threading, time
from pathlib import Path
from labelloop.services.jobs import JobRunner
from labelloop.storage import Store

url, data, pid = (sys.argv[1] or None), Path(sys.argv[2]), int(sys.argv[3])
store = Store.open(url, data)
runner = JobRunner(store, heartbeat_s=0.1, stale_after_s=1.0).start()

def work(progress, cancel):
    progress(7, 100, "working")
    time.sleep(600)

job = runner.submit(pid, "import", "user:alice", work)
while runner.get(pid, job.id).status.value != "running":
    time.sleep(0.02)
time.sleep(0.3)  # a heartbeat or two saves the progress
print(job.id, flush=True)
time.sleep(600)
"""


def test_a_job_of_a_killed_server_reads_interrupted_after_restart(store: Store, pid: int, tmp_path: Path) -> None:
    url = store.engine.url.render_as_string(hide_password=False) if store.engine.dialect.name == "postgresql" else ""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASHER, url, str(store.data_dir), str(pid)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(jobs_module.__file__).parents[2])},
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip().isdigit(), f"the crashing server printed {line!r}"
        job_id = int(line)
    finally:
        proc.kill()  # SIGKILL: no shutdown, no cleanup
        proc.wait(10)
    restarted = JobRunner(store, heartbeat_s=0.1, stale_after_s=1.0)
    seen = restarted.get(pid, job_id)
    assert seen.status == JobStatus.RUNNING and seen.done == 7  # the dead server's last heartbeat
    time.sleep(1.1)
    restarted.start()  # the restart sweeps jobs whose server stopped beating
    try:
        ended = restarted.get(pid, job_id)
        assert ended.status == JobStatus.INTERRUPTED and ended.finished_at is not None
        assert ended.error is not None and "interrupted" in ended.error
        with pytest.raises(Conflict):
            restarted.cancel(pid, job_id)
    finally:
        restarted.shutdown(timeout=5)


def test_the_sweep_leaves_a_live_runner_alone(runner: JobRunner, pid: int, store: Store) -> None:
    release = threading.Event()
    job = runner.submit(pid, "slow", ACTOR, lambda p, c: (release.wait(10), None)[1])
    _until(lambda: runner.get(pid, job.id).status == JobStatus.RUNNING)
    other = JobRunner(store, heartbeat_s=0.1, stale_after_s=1.0).start()  # a second server sweeping
    try:
        time.sleep(1.5)  # longer than stale_after_s: the first runner's heartbeat keeps its job live
        assert runner.get(pid, job.id).status == JobStatus.RUNNING
    finally:
        release.set()
        other.shutdown(timeout=5)
    assert runner.wait(pid, job.id).status == JobStatus.DONE


def test_cancel_flag_and_progress_are_plain_objects() -> None:
    flag = CancelFlag()
    flag.raise_if_set()
    flag.set("shutdown")
    flag.set("user")  # the first reason stays
    assert flag.reason == "shutdown"
    with pytest.raises(JobCancelled):
        flag.raise_if_set()
    p = Progress()
    p(1)
    assert p.snapshot() == (1, None, "")
    with pytest.raises(ValueError, match="stale_after_s"):
        JobRunner(None, heartbeat_s=5, stale_after_s=5)  # type: ignore[arg-type]


def test_cancel_reaches_an_import_that_holds_the_write_lock(sqlite_store: Store) -> None:
    """On SQLite a running import holds the one write lock: the cancel must not wait for it."""
    from labelloop.services.ingest import ImportLimits
    from labelloop.services.web_imports import Upload, run_import
    from tests.helpers import IMAGE_SCHEMA, png_bytes

    pid = create_project(sqlite_store, "imgs", LabelSchema.model_validate(IMAGE_SCHEMA), ACTOR).id
    upload = Upload(sqlite_store, "many.zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(200):
            zf.writestr(f"{i}.png", png_bytes(color=(i, 7, 7)))
    upload.write(buf.getvalue())
    upload.finish()

    def work(progress: Progress, cancel: CancelFlag) -> dict[str, Any]:
        def slow(done: int, total: int | None = None, message: str | None = None) -> None:
            progress(done, total, message)
            time.sleep(0.05)

        return run_import(
            sqlite_store, pid, upload, "auto", actor=ACTOR, progress=_Forward(slow), cancel=cancel,
            limits=ImportLimits(batch_size=5),
        )  # fmt: skip

    runner = JobRunner(sqlite_store, heartbeat_s=0.1, stale_after_s=1.0).start()
    try:
        job = runner.submit(pid, "import", ACTOR, work)
        _until(lambda: runner.get(pid, job.id).done > 0)
        t0 = time.monotonic()
        runner.cancel(pid, job.id)
        assert time.monotonic() - t0 < 5  # not the 30 s of a lock wait
        ended = runner.wait(pid, job.id)
        assert ended.status == JobStatus.CANCELLED, ended
        with sqlite_store.read() as tx:
            assert tx.projects.counts(pid)["items"] == 0
        assert not upload.folder.exists()
    finally:
        runner.shutdown(timeout=5)


class _Forward(Progress):
    """A progress reporter that hands every report to a function."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def __call__(self, done: int, total: int | None = None, message: str | None = None) -> None:
        self.fn(done, total, message)
