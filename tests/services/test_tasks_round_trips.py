"""``next`` and ``submit`` on PostgreSQL in few round trips, with every guarantee kept under racing callers.

The round trips are counted with libpq's trace of the messages the pooled connection sends.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from psycopg import pq
from sqlalchemy import select, text

from labelloop.core import LabelSchema, MediaRef, NewItem
from labelloop.core.accounts import Role, User
from labelloop.services.accounts import add_member, create_user
from labelloop.services.audit import verify
from labelloop.services.tasks import next_task, submit
from labelloop.storage import Store
from labelloop.storage import tables_accounts as ta

pytestmark = pytest.mark.postgres

SCHEMA = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [{"name": "sentiment", "kind": "classification", "target": "text", "labels": ["pos", "neg"]}],
}
VALUE = [{"id": "r1", "control": "sentiment", "labels": ["pos"]}]


@pytest.fixture
def pg_store(pg_url: str, tmp_path: Path) -> Iterator[Store]:
    s = Store.open(pg_url, tmp_path / "data")
    try:
        yield s
    finally:
        s.close()


def _project(store: Store, n: int) -> int:
    schema = LabelSchema.model_validate(SCHEMA)
    with store.transaction() as tx:
        pid = tx.projects.create("rt", schema, "user:t").id
        refs = [MediaRef.from_text(f"text {i}") for i in range(n)]
        tx.items.add_many(pid, [NewItem({"text": r}, r.sha256) for r in refs], created_by="user:t")
    return pid


def _annotator(store: Store, pid: int, name: str) -> User:
    u = create_user(store, name, "long enough password")
    add_member(store, pid, name, Role.ANNOTATOR)
    return u


def _traced(store: Store, action: Callable[[], object]) -> list[str]:
    """The frontend messages (Query, Bind, Sync...) the pooled connection sent while ``action`` ran."""
    with store.engine.connect() as c:  # the one pooled connection a sequential caller gets back
        pgconn = c.connection.driver_connection.pgconn  # type: ignore[union-attr]
    fd, name = tempfile.mkstemp()
    try:
        pgconn.trace(fd)
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        action()
        pgconn.untrace()
        return [line.split("\t")[2] for line in Path(name).read_text().splitlines() if line.startswith("F\t")]
    finally:
        os.close(fd)
        os.unlink(name)


def test_next_and_submit_take_few_round_trips_on_postgresql(pg_store: Store) -> None:
    pid = _project(pg_store, 20)
    u = _annotator(pg_store, pid, "rt_ann")
    for k in range(8):  # warm: the queue filled, statements prepared
        t = next_task(pg_store, pid, u, "annotator")
        assert t is not None
        submit(pg_store, pid, t["item"]["id"], u, "annotator", VALUE, base_version=None, idempotency_key=f"w{k}")
    got: dict[str, object] = {}

    def nxt() -> None:
        got["task"] = next_task(pg_store, pid, u, "annotator")

    sent = _traced(pg_store, nxt)
    task = got["task"]
    assert isinstance(task, dict)
    # BEGIN with the state (lock, then reads); the take with the item's rows; COMMIT. No ping.
    assert sent.count("Sync") + sent.count("Query") == 3, sent

    def sub() -> None:
        submit(pg_store, pid, task["item"]["id"], u, "annotator", VALUE, base_version=None, idempotency_key="x")

    sent = _traced(pg_store, sub)
    # BEGIN with the facts; the insert with the chain's lock and head; the event and counters with the COMMIT
    assert sent.count("Sync") + sent.count("Query") == 3, sent
    with pg_store.read() as tx:
        done = tx.conn.execute(select(ta.task_slots.c.state).where(ta.task_slots.c.item_id == task["item"]["id"]))
        assert [r[0] for r in done] == [1]
        assert tx.provenance.head(pid)[0] >= 10  # items, 9 submits: every event is in the chain
    assert not verify(pg_store).problems


def test_racing_askers_and_submitters_keep_every_guarantee_on_postgresql(pg_store: Store) -> None:
    pid = _project(pg_store, 60)
    users = []
    for i in range(6):
        users.append(_annotator(pg_store, pid, f"race{i}"))
    taken: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(u: User) -> None:
        try:
            for _ in range(6):
                t = next_task(pg_store, pid, u, "annotator")
                assert t is not None
                with lock:
                    taken.append(t["item"]["id"])
                key = uuid.uuid4().hex
                for _retry in range(2):  # a retried submit creates one annotation
                    submit(
                        pg_store, pid, t["item"]["id"], u, "annotator", VALUE, base_version=None, idempotency_key=key
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(taken) == len(set(taken)) == 36  # overlap 1: no item given twice
    with pg_store.read() as tx:
        n = tx.conn.execute(text("SELECT count(*) FROM annotations")).scalar()
        assert n == 36
        assert tx.provenance.head(pid)[0] == 1 + 36  # the import and one event per submit, one chain
    assert not verify(pg_store).problems
