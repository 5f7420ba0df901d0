"""Statements sent together (Raw.batch), writes sent with the commit (Raw.defer), pooled connections checked
without a round trip: the same results and the same transaction semantics as one statement at a time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from labelloop.core import LabelSchema, MediaRef, NewItem
from labelloop.errors import StorageError
from labelloop.storage import Store
from labelloop.storage.accounts_repo import AccountRepo
from labelloop.storage.rawsql import Raw, Sql
from labelloop.storage.tasks_repo import TaskRepo


def test_batch_runs_in_order_and_gives_each_result(store: Store) -> None:
    with store.transaction() as tx:
        tx.conn.exec_driver_sql("CREATE TABLE rt_batch (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
    with store.transaction() as tx:
        done = Raw(tx.conn).batch([
            (Sql("INSERT INTO rt_batch (k, v) VALUES (?, ?)"), (1, 10)),
            (Sql("UPDATE rt_batch SET v = v + 1 WHERE k = ?"), (1,)),
            (Sql("UPDATE rt_batch SET v = v + 1 WHERE k = ?"), (2,)),
            (Sql("SELECT k, v FROM rt_batch ORDER BY k"), ()),
        ])  # fmt: skip
    assert [d.count for d in done[:3]] == [1, 1, 0]  # a later statement sees an earlier one's write
    assert done[3].rows == [(1, 11)] and done[3].first() == (1, 11)
    assert done[0].rows == [] and done[0].first() is None


def test_deferred_writes_are_committed_seen_by_later_reads_and_dropped_on_rollback(store: Store) -> None:
    with store.transaction() as tx:
        tx.conn.exec_driver_sql("CREATE TABLE rt_defer (k INTEGER PRIMARY KEY)")
    ins = Sql("INSERT INTO rt_defer (k) VALUES (?)")
    with store.transaction() as tx:
        raw = Raw(tx.conn)
        raw.defer(ins, (1,))
        assert raw.one(Sql("SELECT count(*) FROM rt_defer")) == (1,)  # a raw read sends it first
        raw.defer(ins, (2,))
        assert tx.conn.execute(text("SELECT count(*) FROM rt_defer")).scalar() == 2  # so does SQLAlchemy
        raw.defer(ins, (3,))  # goes with the COMMIT
    with pytest.raises(RuntimeError), store.transaction() as tx:
        Raw(tx.conn).defer(ins, (4,))
        raise RuntimeError("abandon")
    with store.read() as tx:
        assert [r[0] for r in tx.conn.execute(text("SELECT k FROM rt_defer ORDER BY k"))] == [1, 2, 3]
        assert tx.conn.info.get("labelloop_deferred_writes") is None  # nothing left behind on the connection


def test_a_deferred_write_that_fails_at_commit_rolls_the_transaction_back(store: Store) -> None:
    with store.transaction() as tx:
        tx.conn.exec_driver_sql("CREATE TABLE rt_fail (k INTEGER PRIMARY KEY)")
        tx.conn.exec_driver_sql("INSERT INTO rt_fail (k) VALUES (1)")
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), store.transaction() as tx:
        raw = Raw(tx.conn)
        raw.run(Sql("INSERT INTO rt_fail (k) VALUES (?)"), (2,))
        raw.defer(Sql("INSERT INTO rt_fail (k) VALUES (?)"), (1,))  # duplicate: fails (at commit on PostgreSQL)
    with store.read() as tx:
        assert [r[0] for r in tx.conn.execute(text("SELECT k FROM rt_fail ORDER BY k"))] == [1]
    with store.transaction() as tx:  # the pooled connection is usable again
        assert Raw(tx.conn).one(Sql("SELECT count(*) FROM rt_fail")) == (1,)


@pytest.fixture
def pg_store(pg_url: str, tmp_path: Path) -> Iterator[Store]:
    s = Store.open(pg_url, tmp_path / "data")
    try:
        yield s
    finally:
        s.close()


@pytest.mark.postgres
def test_a_pooled_connection_whose_backend_was_terminated_is_replaced_without_an_error(pg_store: Store) -> None:
    with pg_store.transaction() as tx:
        victim = Raw(tx.conn).one(Sql("SELECT pg_backend_pid()"))[0]
    admin = create_engine(pg_store.engine.url)
    try:
        with admin.begin() as c:
            assert c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": victim}).scalar()
    finally:
        admin.dispose()
    time.sleep(0.3)  # the server's notice reaches the idle pooled socket
    with pg_store.transaction() as tx:  # checked out moments after its last use: a socket check, then a ping
        now = Raw(tx.conn).one(Sql("SELECT pg_backend_pid()"))[0]
    assert now != victim


def test_a_store_on_an_unreachable_server_still_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open the database"):
        Store.open("postgresql+psycopg://postgres@127.0.0.1:1/none", tmp_path / "d")


@pytest.mark.postgres
def test_the_ranked_take_takes_the_first_free_slot_in_order_by_primary_key_probes(pg_store: Store) -> None:
    schema = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}]})
    with pg_store.transaction() as tx:
        pid = tx.projects.create("rank", schema, "user:t").id
        refs = [MediaRef.from_text(f"t {i}") for i in range(6)]
        tx.items.add_many(pid, [NewItem({"text": r}, r.sha256) for r in refs], created_by="user:t")
        a = AccountRepo(tx.conn).create_user("a", "x").id
        b = AccountRepo(tx.conn).create_user("b", "x").id
        tasks = TaskRepo(tx.conn)
        tasks.sync(*tasks.queue_state(pid))
    with pg_store.read() as tx:
        s1, s2, s3, s4, s5, _s6 = [r[0] for r in tx.conn.execute(text("SELECT id FROM task_slots ORDER BY id"))]
    at = datetime.now(UTC)
    later = at + timedelta(minutes=10)
    with pg_store.transaction() as tx:  # another asker holds s1
        assert TaskRepo(tx.conn).take(s1, b, later, at)
    other = pg_store.engine.connect()
    try:
        other.execute(text("SELECT id FROM task_slots WHERE id = :i FOR UPDATE"), {"i": s2})  # s2 being taken
        with pg_store.transaction() as tx:
            tasks = TaskRepo(tx.conn)
            q, params = tasks.take_first_step([s1, s2, s4, s3, s5], a, later, at)
            raw = Raw(tx.conn)
            assert raw.one(q, params) == (s4,)  # in the asker's order: s1 held, s2 locked, s4 free
            plan = "\n".join(r[0] for r in raw.all(Sql("EXPLAIN " + q.postgresql.replace("%s", "?")), params))
    finally:
        other.rollback()
        other.close()
    assert "Function Scan on unnest" in plan and "pk_task_slots" in plan, plan
    assert "Sort" not in plan and "Seq Scan" not in plan, plan  # probes in rank order, stopping at the first
    with pg_store.read() as tx:
        held = dict(tx.conn.execute(text("SELECT id, user_id FROM task_slots WHERE user_id IS NOT NULL")).all())
    assert held == {s1: b, s4: a}
