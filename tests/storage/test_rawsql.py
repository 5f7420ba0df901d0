"""The hot-path statements on the driver agree with the SQLAlchemy path, on SQLite and PostgreSQL.

What the raw statements write, SQLAlchemy reads back unchanged (and the other way round):
UTC datetimes, JSON values (floats, unicode, nesting), binary content hashes, NULLs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from labelloop.core import AnnotationStatus, LabelSchema, MediaRef, NewAnnotation, NewItem, NewSuggestion
from labelloop.storage import Store
from labelloop.storage import tables as t
from labelloop.storage import tables_accounts as ta
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
    with store.read() as tx:
        item = tx.items.get(pid, iid)  # raw
        (paged,) = tx.items.page(pid)  # Core
        assert item == paged
        assert tx.projects.get(pid) == tx.projects.get("raw")  # raw by id, Core by name
        raw_labels = tx.labels.for_items([iid])  # raw
        core_labels = tx.labels.for_item_range(pid, iid, iid)  # Core
        assert raw_labels == core_labels
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
