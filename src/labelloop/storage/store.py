"""The store: one database plus one blob directory, and transactions over them.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store.open(None, d)
    >>> schema = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}]})
    >>> with store.transaction() as tx:
    ...     p = tx.projects.create("demo", schema, "user:me")
    >>> with store.read() as tx:
    ...     tx.projects.get("demo").id == p.id
    True
    >>> store.close()
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import OperationalError

from labelloop.errors import StorageError
from labelloop.storage.anchors import ANCHOR_FILE, PENDING_HEADS, AnchorLog, database_fingerprint
from labelloop.storage.blobs import BlobStore
from labelloop.storage.checkpoint import BACKSTOP_PAGES, Checkpointer
from labelloop.storage.compliance_repo import ComplianceRepo
from labelloop.storage.engine import WRITE, make_engine, sqlite_url
from labelloop.storage.migrate import upgrade
from labelloop.storage.provenance_repo import ProvenanceRepo
from labelloop.storage.releases_repo import ReleaseRepo
from labelloop.storage.repositories import ImportRepo, ItemRepo, LabelRepo, ProjectRepo

__all__ = ["Store", "UnitOfWork"]

_WRITER_WAIT_S = 30.0  # as the SQLite busy timeout (engine.make_engine)


def _backstop_checkpoints(dbapi_conn: Any, _record: Any) -> None:
    """Request connections leave WAL checkpoints to the store's thread, up to a backstop size."""
    dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")


class UnitOfWork:
    """Repositories bound to one connection inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.projects = ProjectRepo(conn)
        self.items = ItemRepo(conn)
        self.labels = LabelRepo(conn)
        self.imports = ImportRepo(conn)
        self.releases = ReleaseRepo(conn)
        self.provenance = ProvenanceRepo(conn)
        self.compliance = ComplianceRepo(conn)


class Store:
    """A database (SQLite by default, PostgreSQL by URL) and a content-addressed blob store."""

    def __init__(
        self, engine: Engine, blobs: BlobStore, data_dir: Path, checkpointer: Checkpointer | None = None
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.data_dir = data_dir
        self.checkpointer = checkpointer
        if checkpointer is not None:  # a store dropped without close() must not leave its thread behind
            weakref.finalize(self, checkpointer.signal_stop)
        # SQLite has one writer at a time. Its busy handler makes a waiting writer sleep in growing
        # steps (1, 2, 5, 10 ... 100 ms) and retry, so under concurrent writes most of the wait is
        # oversleeping: the writers of this process queue on a lock instead and start the moment
        # the previous one commits. Other processes still meet the busy timeout as before.
        self._writer = threading.RLock() if engine.dialect.name == "sqlite" else None
        url = engine.url.render_as_string(hide_password=True)
        self.anchors = AnchorLog(data_dir / ANCHOR_FILE, database_fingerprint(url, data_dir))

    @classmethod
    def open(cls, database_url: str | None, data_dir: Path, *, migrate: bool = True) -> Store:
        """Open (and by default migrate) the store.

        Args:
            database_url: SQLAlchemy URL; None means SQLite at ``<data_dir>/labelloop.db``.
            data_dir: Where blobs (and the default database) live; created if missing.
            migrate: Upgrade the schema to the newest revision.

        Raises:
            StorageError: the database is unreachable or its schema is unknown.
        """
        data_dir.mkdir(parents=True, exist_ok=True)
        url = database_url or sqlite_url(data_dir / "labelloop.db")
        engine = make_engine(url)
        path = engine.url.database if engine.dialect.name == "sqlite" else None
        checkpointer = None
        if path and path != ":memory:":
            checkpointer = Checkpointer(Path(path))
            event.listen(engine, "connect", _backstop_checkpoints)
        try:
            if migrate:
                upgrade(engine)
        except OperationalError as exc:
            engine.dispose()
            raise StorageError(f"cannot open the database {engine.url.render_as_string()}: {exc.orig}") from exc
        except StorageError:
            engine.dispose()
            raise
        if checkpointer is not None:
            checkpointer.start()
        return cls(engine, BlobStore(data_dir / "blobs"), data_dir, checkpointer)

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """A write transaction: committed when the block ends, rolled back on any error.

        When the committed transaction appended provenance events, the new chain heads are
        appended to the anchor file (one line per chain, after the commit).
        """
        # after the busy timeout, go on to SQLite's own wait and error, exactly as without the lock
        queued = self._writer is not None and self._writer.acquire(timeout=_WRITER_WAIT_S)
        try:
            with self.engine.connect().execution_options(**{WRITE: True}) as conn:
                conn.info.pop(PENDING_HEADS, None)
                try:
                    with conn.begin():
                        yield UnitOfWork(conn)
                    heads = conn.info.pop(PENDING_HEADS, None)
                finally:
                    conn.info.pop(PENDING_HEADS, None)
        finally:
            if queued:
                assert self._writer is not None
                self._writer.release()
        if heads:
            self.anchors.append(heads)

    @contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        """A read transaction (a consistent snapshot on PostgreSQL and SQLite WAL)."""
        with self.engine.connect() as conn, conn.begin():
            yield UnitOfWork(conn)

    def close(self) -> None:
        """Release the database connections (and end the checkpoint thread)."""
        self.engine.dispose()
        if self.checkpointer is not None:
            self.checkpointer.stop()
