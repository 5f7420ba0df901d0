"""The hot-path statements on the driver agree with the SQLAlchemy path, on SQLite and PostgreSQL.

What the raw statements write, SQLAlchemy reads back unchanged (and the other way round):
UTC datetimes, JSON values (floats, unicode, nesting), binary content hashes, NULLs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from labelloop.core import (
    AnnotationStatus,
    LabelSchema,
    MediaRef,
    NewAnnotation,
    NewItem,
    NewReview,
    NewSuggestion,
    ReviewVerdict,
)
from labelloop.storage import Store
from labelloop.storage import tables as t
from labelloop.storage import tables_accounts as ta
from labelloop.storage import tasks_repo as tr
from labelloop.storage.accounts_repo import AccountRepo
from labelloop.storage.provenance_repo import ProvenanceRepo, event_hash
from labelloop.storage.rawsql import Raw, Sql
from labelloop.storage.tasks_repo import TaskRepo, UserStats

VALUE = [{"id": "r1", "control": "sentiment", "labels": ["pos"], "note": "naïve ✓", "w": 0.1, "n": [1, 2.5, None]}]


def _project_with_item(store: Store, text_schema: LabelSchema) -> tuple[int, int]:
    ref = MediaRef.from_text("über café")
    with store.transaction() as tx:
        pid = tx.projects.create("raw", text_schema, "user:alice").id
        (iid,) = tx.items.add_many(pid, [NewItem({"text": ref}, ref.sha256, meta={"k": [1, "é"]})], created_by="u:a")
    assert iid is not None
    return pid, iid


def test_sql_renders_both_placeholder_styles() -> None:
    q = Sql("SELECT a FROM b WHERE c = ? AND d = ?", pg_tail=" FOR UPDATE")
    assert q.sqlite == "SELECT a FROM b WHERE c = ? AND d = ?"
    assert q.postgresql == "SELECT a FROM b WHERE c = %s AND d = %s FOR UPDATE"
    with pytest.raises(ValueError, match="escaping"):
        Sql("SELECT 'a%' FROM b")


def test_item_project_and_labels_read_raw_equal_the_core_reads(store: Store, text_schema: LabelSchema) -> None:
    pid, iid = _project_with_item(store, text_schema)
    with store.transaction() as tx:
        tx.labels.add_suggestions(pid, [NewSuggestion(iid, VALUE, 0.75, "m", "1")])
        (aid,) = tx.labels.add_annotations(
            pid, [NewAnnotation(iid, VALUE, "alice", AnnotationStatus.SUBMITTED, 1.5, None, None)]
        )
        (fix,) = tx.labels.add_annotations(pid, [NewAnnotation(iid, VALUE[:0], "rev", AnnotationStatus.SUBMITTED)])
        tx.labels.add_reviews(pid, [NewReview(aid, "rev", ReviewVerdict.CORRECT, fix, "ça va")], [iid])
    later = datetime.now(UTC) + timedelta(days=1)  # as_of: the Core statement
    with store.read() as tx:
        item = tx.items.get(pid, iid)  # raw
        assert [item] == tx.items.page(pid) == tx.items.page(pid, as_of=later)  # raw page, Core page
        assert tx.projects.get(pid) == tx.projects.get("raw")  # raw by id, Core by name
        core_labels = tx.labels.for_item_range(pid, iid, iid, as_of=later)
        assert tx.labels.for_items([iid]) == tx.labels.for_item_range(pid, iid, iid) == core_labels
        assert [len(x) for x in core_labels] == [1, 2, 1]
        ann = tx.labels.annotation(aid)
    assert ann.value == VALUE and ann.created_at.tzinfo is UTC and ann.lead_time_s == 1.5


def test_single_annotation_insert_stores_what_core_reads(store: Store, text_schema: LabelSchema) -> None:
    pid, iid = _project_with_item(store, text_schema)
    when = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)
    with store.transaction() as tx:
        (aid,) = tx.labels.add_annotations(  # one row: the raw insert
            pid, [NewAnnotation(iid, VALUE, "bob", AnnotationStatus.SUBMITTED, None, None, None)], created_at=[when]
        )
    with store.read() as tx:
        row = tx.conn.execute(select(t.annotations).where(t.annotations.c.id == aid)).one()
    assert (row.value, row.created_at, row.lead_time_s, row.annotator) == (VALUE, when, None, "bob")


def test_slot_lock_times_round_trip_and_compare(store: Store, text_schema: LabelSchema) -> None:
    pid, iid = _project_with_item(store, text_schema)
    with store.transaction() as tx:
        uid = AccountRepo(tx.conn).create_user("ann", "x").id
        tasks = TaskRepo(tx.conn)
        settings, top = tasks.queue_state(pid)
        assert top == iid
        tasks.sync(settings, top)
        now = datetime.now(UTC)
        (c,) = tasks.candidates(pid, uid, now)
        expires = now + timedelta(seconds=90)
        tasks.lock(c.slot.id, uid, expires)
    with store.read() as tx:
        core = tx.conn.execute(select(ta.task_slots.c.expires_at).where(ta.task_slots.c.id == c.slot.id)).scalar()
        tasks = TaskRepo(tx.conn)
        held = tasks.held(pid, uid)
        assert core == expires and held is not None and held.expires_at == expires
        other = AccountRepo(tx.conn).user_by_name("ann")
        assert other is not None
        # compared in the database: not expired a second before, expired a second after
        assert tasks.candidates(pid, uid + 1, expires - timedelta(seconds=1)) == []
        assert [x.slot.id for x in tasks.candidates(pid, uid + 1, expires + timedelta(seconds=1))] == [c.slot.id]


def test_stats_upsert_and_standing(store: Store, text_schema: LabelSchema) -> None:
    pid, _ = _project_with_item(store, text_schema)
    with store.transaction() as tx:
        uid = AccountRepo(tx.conn).create_user("ann", "x").id
        tasks = TaskRepo(tx.conn)
        assert tasks.standing(pid, uid) == (UserStats(), None)
        tasks.save_stats(pid, uid, UserStats(1, 1, 0, 0.0))
        tasks.save_stats(pid, uid, UserStats(2, 0, 1, 0.5))
        assert tasks.stats(pid, uid) == UserStats(2, 0, 1, 0.5)


def test_provenance_append_hash_matches_the_stored_event(store: Store) -> None:
    with store.transaction() as tx:
        repo = ProvenanceRepo(tx.conn)
        first = repo.append("note", actor="user:a", project_id=None, subject={"z": 1, "a": "é"}, payload={"x": 0.5})
        second = repo.append("note", actor="user:a", project_id=None)
    with store.read() as tx:
        stored = list(ProvenanceRepo(tx.conn).events(0))
    assert [e.hash for e in stored] == [first.hash, second.hash]
    assert all(event_hash(e.body()) == e.hash for e in stored)
    assert stored[1].prev_hash == stored[0].hash and list(stored[0].subject) == ["z", "a"]  # order kept


def test_raw_runs_inside_the_callers_transaction(store: Store, text_schema: LabelSchema) -> None:
    pid, _ = _project_with_item(store, text_schema)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        Raw(tx.conn).run(Sql("UPDATE projects SET created_by = ? WHERE id = ?"), ("user:mallory", pid))
        raise RuntimeError("roll back")
    with store.read() as tx:
        assert tx.projects.get(pid).created_by == "user:alice"


def test_bulk_import_refreshes_the_item_statistics_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    store = Store.open(pg_url, tmp_path / "data")
    try:
        schema = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}]})
        with store.transaction() as tx:
            pid = tx.projects.create("big", schema, "user:a").id
        refs = [MediaRef.from_text(f"item {i}") for i in range(3000)]
        with store.transaction() as tx:
            tx.items.add_many(pid, [NewItem({"text": r}, r.sha256) for r in refs], created_by="u:a")
        with store.read() as tx:
            estimate = tx.conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('items')")).scalar()
            plan = "\n".join(
                r[0]
                for r in tx.conn.execute(
                    text("EXPLAIN SELECT * FROM items WHERE project_id = :p AND id > 10 ORDER BY id LIMIT 50"),
                    {"p": pid},
                )
            )
        assert estimate is not None and estimate >= 3000
        assert "Index Scan" in plan and "Sort" not in plan and "Bitmap" not in plan  # an index walk, in order
    finally:
        store.close()


def test_candidates_walk_the_queue_index_in_order(store: Store, text_schema: LabelSchema) -> None:
    # O(log n) per next however much work is done: a range of ix_task_slots_queue in queue order,
    # never a walk from the first item through finished slots (PostgreSQL's anti-join plan did that)
    # Each candidate's best score and label type: index probes of the item's suggestions, never a scan.
    with store.transaction() as tx:
        pid = tx.projects.create("plan", text_schema, "user:a").id
        refs = [MediaRef.from_text(f"item {i}") for i in range(2000)]
        ids = tx.items.add_many(pid, [NewItem({"text": r}, r.sha256) for r in refs], created_by="u:a")
        value = [{"id": "r", "control": "sentiment", "labels": ["neg"]}]
        tx.labels.add_suggestions(pid, [NewSuggestion(i, value, "m", "1", 0.5) for i in ids if i is not None])
    with store.transaction() as tx:
        uid = AccountRepo(tx.conn).create_user("ann", "x").id
        tasks = TaskRepo(tx.conn)
        tasks.sync(*tasks.queue_state(pid))
        tasks.refresh_statistics()
        tx.conn.execute(ta.task_slots.update().where(ta.task_slots.c.item_id <= 1500).values(state=1, user_id=uid))
        tasks.refresh_statistics()
        if tasks.pg:
            tx.conn.exec_driver_sql("ANALYZE suggestions")
    q = tr._CANDIDATES
    with store.read() as tx:
        raw = Raw(tx.conn)
        params = (pid, raw.time_in(datetime.now(UTC)), uid, 32)
        if raw.pg:
            plan = "\n".join(r[0] for r in raw.all(Sql("EXPLAIN " + q.postgresql.replace("%s", "?")), params))
            assert "Anti Join" not in plan and "Seq Scan" not in plan
            assert plan.count("Index Scan using ix_suggestions_item_id") == 2, plan
        else:
            plan = "\n".join(str(r[-1]) for r in raw.all(Sql("EXPLAIN QUERY PLAN " + q.sqlite), params))
            assert "TEMP B-TREE" not in plan and "SCAN g" not in plan
            assert plan.count("SEARCH g USING INDEX ix_suggestions_item_id") == 2, plan
        found = TaskRepo(tx.conn).candidates(pid, uid, datetime.now(UTC))
    assert "ix_task_slots_queue" in plan, plan
    assert len(found) == 32 and all(c.slot.item_id > 1500 for c in found)
    assert all(c.best_score == 0.5 and c.label == ("sentiment", "neg") for c in found)


def test_postgresql_connections_never_jit(pg_url: str, tmp_path: Path) -> None:
    # a JIT compile (~200 ms) on the next-task query cost more than 100 runs of it
    store = Store.open(pg_url, tmp_path / "data")
    try:
        for _ in range(2):  # a new connection, then a pooled one after a rollback
            with store.read() as tx:
                assert tx.conn.execute(text("SHOW jit")).scalar() == "off"
    finally:
        store.close()
