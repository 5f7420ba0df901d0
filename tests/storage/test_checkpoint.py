"""SQLite WAL checkpoints run in the store's own thread, not in the committing request."""

from __future__ import annotations

import gc
import time
from pathlib import Path

from sqlalchemy import text

from labelloop.core import LabelSchema, MediaRef, NewItem
from labelloop.storage import Store
from labelloop.storage.checkpoint import BACKSTOP_PAGES


def test_the_thread_checkpoints_and_requests_only_keep_a_backstop(tmp_path: Path, text_schema: LabelSchema) -> None:
    store = Store.open(None, tmp_path)
    try:
        assert store.checkpointer is not None and store.checkpointer.running
        with store.read() as tx:
            assert tx.conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == BACKSTOP_PAGES
        db = tmp_path / "labelloop.db"
        refs = [MediaRef.from_text(f"item {i} " * 20) for i in range(3000)]
        with store.transaction() as tx:
            pid = tx.projects.create("p", text_schema, "user:a").id
            tx.items.add_many(pid, [NewItem({"text": r}, r.sha256) for r in refs], created_by="u:a")
        # the commit only appended to the log (far below the backstop); the thread copies it into
        # the database file within a round or two
        wal = db.with_name(db.name + "-wal").stat().st_size
        assert wal > 1_000_000
        deadline = time.monotonic() + 10
        while (db.stat().st_size < wal // 2 or store.checkpointer.rounds == 0) and time.monotonic() < deadline:
            time.sleep(0.05)  # (the file may grow before the first round: wait for both)
        assert db.stat().st_size >= wal // 2 and store.checkpointer.rounds > 0
    finally:
        store.close()
    assert not store.checkpointer.running


def test_a_store_dropped_without_close_ends_its_thread(tmp_path: Path) -> None:
    store = Store.open(None, tmp_path)
    checkpointer = store.checkpointer
    assert checkpointer is not None and checkpointer.running
    store.engine.dispose()
    del store
    gc.collect()
    deadline = time.monotonic() + 5
    while checkpointer.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not checkpointer.running


def test_postgresql_and_memory_stores_have_no_thread(store: Store) -> None:
    if store.engine.dialect.name == "postgresql":
        assert store.checkpointer is None
    else:
        assert store.checkpointer is not None  # the fixture's SQLite store is a file
