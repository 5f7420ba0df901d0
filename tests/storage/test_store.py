"""Storage on SQLite and PostgreSQL: migrations, repositories, append-only history."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

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
from labelloop.errors import Conflict, NotFound, StorageError
from labelloop.storage import Store, repositories
from labelloop.storage import tables as t
from labelloop.storage.migrate import HEAD, current_revision, head_revision
from labelloop.storage.rawsql import Sql


def _text_item(s: str, **kw: object) -> NewItem:
    ref = MediaRef.from_text(s)
    return NewItem({"text": ref}, ref.sha256, **kw)  # type: ignore[arg-type]


def test_migrated_to_head_and_matches_tables(store: Store) -> None:
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), t.metadata)
    assert diff == []


def test_head_constant_is_the_newest_migration() -> None:
    # Store.open skips Alembic for a database already at HEAD: the constant must follow the scripts
    assert head_revision() == HEAD


def test_unknown_revision_is_refused_and_untouched(tmp_path: Path) -> None:
    s = Store.open(None, tmp_path)
    with s.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    s.close()
    with pytest.raises(StorageError, match="ffff_future"):
        Store.open(None, tmp_path)
    s2 = Store.open(None, tmp_path, migrate=False)
    assert current_revision(s2.engine) == "ffff_future"
    s2.close()


def test_project_create_get_conflict(store: Store, text_schema: LabelSchema) -> None:
    with store.transaction() as tx:
        p = tx.projects.create("reviews", text_schema, "user:alice")
    with store.read() as tx:
        got = tx.projects.get("reviews")
        assert got == tx.projects.get(p.id) == tx.projects.get(str(p.id))
        assert got.schema == text_schema
        assert got.created_at.tzinfo is not None
    with pytest.raises(Conflict, match="already exists"), store.transaction() as tx:
        tx.projects.create("reviews", text_schema, "user:bob")
    with pytest.raises(NotFound), store.read() as tx:
        tx.projects.get("nope")


def test_items_dedup_and_pages(store: Store, text_schema: LabelSchema) -> None:
    with store.transaction() as tx:
        p = tx.projects.create("p", text_schema, "user:a")
        ids = tx.items.add_many(
            p.id, [_text_item("a"), _text_item("b"), _text_item("a"), _text_item("中文")], created_by="user:a"
        )
        assert ids[2] is None and all(i is not None for i in (ids[0], ids[1], ids[3]))
        again = tx.items.add_many(p.id, [_text_item("b"), _text_item("c")], created_by="user:a")
        assert again[0] is None and again[1] is not None
    with store.read() as tx:
        pages = list(tx.items.iter_all(p.id, batch=2))
        assert [len(pg) for pg in pages] == [2, 2]
        texts = [it.data["text"].text for pg in pages for it in pg]
        assert texts == ["a", "b", "中文", "c"]
        assert tx.projects.counts(p.id)["items"] == 4


def test_label_records_are_append_only(store: Store, text_schema: LabelSchema) -> None:
    with store.transaction() as tx:
        p = tx.projects.create("p", text_schema, "user:a")
        (item_id,) = tx.items.add_many(p.id, [_text_item("hello")], created_by="user:a")
        assert item_id is not None
        value = [{"id": "r", "control": "sentiment", "labels": ["pos"]}]
        (sid,) = tx.labels.add_suggestions(p.id, [NewSuggestion(item_id, value, "rules", "1.0", 0.7)])
        (a1,) = tx.labels.add_annotations(p.id, [NewAnnotation(item_id, value, "alice", suggestion_id=sid)])
        fixed = [{"id": "r", "control": "sentiment", "labels": ["neg"]}]
        (a2,) = tx.labels.add_annotations(p.id, [NewAnnotation(item_id, fixed, "bob", parent_id=a1)])
        tx.labels.add_reviews(p.id, [NewReview(a1, "carol", ReviewVerdict.CORRECT, correction_id=a2)], [item_id])
    with store.read() as tx:
        sugg, anns, revs = tx.labels.for_items([item_id])
    assert sugg[0].created_by == "backend:rules@1.0" and sugg[0].score == 0.7
    assert [a.parent_id for a in anns] == [None, a1] and anns[0].suggestion_id == sid
    assert anns[1].annotator == "bob" and anns[1].status is AnnotationStatus.SUBMITTED
    assert revs[0].verdict is ReviewVerdict.CORRECT and revs[0].correction_id == a2
    for table in (t.suggestions, t.annotations, t.reviews):
        with pytest.raises(DBAPIError, match="append-only"), store.transaction() as tx:
            tx.conn.execute(update(table).values(created_by="someone else"))
        with pytest.raises(DBAPIError, match="append-only"), store.transaction() as tx:
            tx.conn.execute(table.delete())
    with store.read() as tx:
        assert len(tx.labels.for_items([item_id])[1]) == 2


def test_as_of_filters_by_time(store: Store, text_schema: LabelSchema) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with store.transaction() as tx:
        p = tx.projects.create("p", text_schema, "user:a")
        ids = tx.items.add_many(
            p.id,
            [_text_item("old"), _text_item("new")],
            created_by="user:a",
            created_at=[t0, t0 + timedelta(days=2)],
        )
        assert ids[0] is not None
        tx.labels.add_annotations(
            p.id,
            [NewAnnotation(ids[0], [], "a"), NewAnnotation(ids[0], [], "b")],
            created_at=[t0, t0 + timedelta(days=3)],
        )
    with store.read() as tx:
        items = tx.items.page(p.id, as_of=t0 + timedelta(days=1))
        assert [i.data["text"].text for i in items] == ["old"]
        _, anns, _ = tx.labels.for_items([ids[0]], as_of=t0 + timedelta(days=1))
        assert [a.annotator for a in anns] == ["a"]


def test_transaction_rolls_back_on_error(store: Store, text_schema: LabelSchema) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.projects.create("p", text_schema, "user:a")
        raise RuntimeError("boom")
    with store.read() as tx:
        assert tx.projects.list() == []


def test_naive_datetimes_are_refused(store: Store, text_schema: LabelSchema) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.transaction() as tx:
        tx.projects.create("p", text_schema, "user:a", created_at=datetime(2026, 1, 1))


def test_sqlite_concurrent_writers_queue_instead_of_failing(tmp_path: Path, text_schema: LabelSchema) -> None:
    store = Store.open(None, tmp_path)
    with store.transaction() as tx:
        p = tx.projects.create("p", text_schema, "user:a")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for k in range(5):
                with store.transaction() as tx:
                    tx.items.page(p.id)  # read first: the case that deadlocks with deferred BEGIN
                    tx.items.add_many(p.id, [_text_item(f"w{n}-{k}")], created_by=f"user:{n}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    with store.read() as tx:
        assert tx.projects.counts(p.id)["items"] == 100
    store.close()


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open the database"):
        Store.open("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2", tmp_path)


def test_upgrade_from_the_first_revision_keeps_every_row(
    store: Store, tmp_path: Path, text_schema: LabelSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command
    from sqlalchemy import func, select

    from labelloop.storage.migrate import _config

    url = store.engine.url.render_as_string(hide_password=False)
    with store.engine.begin() as conn:  # start over at revision 0001 with data in it
        command.downgrade(_config(conn), "0001")
    assert current_revision(store.engine) == "0001"
    monkeypatch.setattr(repositories, "record_inserted", lambda *a, **k: None)  # 0001 had no provenance log
    no_head = [(Sql("SELECT 0, 'none'"), ())]  # PostgreSQL reads the chain head with its batch insert
    monkeypatch.setattr(repositories.ProvenanceRepo, "head_steps", lambda *a: no_head)
    monkeypatch.setattr(repositories.ItemRepo, "_record_import", lambda *a, **k: None)
    with store.transaction() as tx:
        p = tx.projects.create("old", text_schema, "user:a")
        ids = tx.items.add_many(p.id, [_text_item(f"t{i}") for i in range(5)], created_by="user:a")
        tx.labels.add_annotations(p.id, [NewAnnotation(i, [], "a") for i in ids if i is not None])
    reopened = Store.open(url if store.engine.dialect.name == "postgresql" else None, store.data_dir)
    try:
        assert current_revision(reopened.engine) == head_revision()
        with reopened.read() as tx:
            assert tx.projects.counts(tx.projects.get("old").id) == {
                "items": 5,
                "suggestions": 0,
                "annotations": 5,
                "reviews": 0,
            }
            assert tx.conn.execute(select(func.count()).select_from(t.items)).scalar_one() == 5
    finally:
        reopened.close()
