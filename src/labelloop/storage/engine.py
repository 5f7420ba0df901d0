"""Engine creation: SQLite in WAL mode with a busy timeout, or PostgreSQL by URL."""

from __future__ import annotations

import select
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from labelloop.storage.rawsql import DEFERRED, begin_later, flush_deferred

__all__ = ["WRITE", "make_engine", "sqlite_url"]

# Execution option that marks a connection as a writer: SQLite then starts its transaction
# with BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout instead of failing
# with "database is locked" when a deferred read lock cannot be upgraded.
WRITE = "labelloop_write"
_CACHE_KIB = 32 * 1024
_PG_POOL = 16
_SQLITE_POOL = 24


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def sqlite_url(path: Path) -> str:
    """Return the SQLAlchemy URL of a SQLite database file."""
    return f"sqlite:///{path}"


def _pg_session(dbapi_conn: Any, _record: Any) -> None:
    """Session settings of every PostgreSQL connection (committed: SET is transactional).

    JIT compilation is off: the planner JITs any statement whose estimated cost passes
    ``jit_above_cost``, and the work-queue look-ups (a LIMIT over a large index range whose
    filter it cannot estimate) pass it while running in about a millisecond; compiling took
    200 ms on every ``next`` at 100k items.
    """
    with dbapi_conn.cursor() as cur:
        cur.execute("SET jit = off")
    dbapi_conn.commit()
    dbapi_conn.autocommit = True  # BEGIN goes with each transaction's first statement (see _pg_hooks)


_IDLE_PING_S = 10.0
_CHECKED_IN = "labelloop_checked_in"


def _pg_hooks(engine: Engine) -> None:
    """Connection checks and deferred writes of a PostgreSQL engine.

    A pooled connection is checked before use without a round trip when it was in use moments
    ago: the socket has nothing to read unless the server spoke (a restart or a terminated
    backend sends its notice and closes). Only a connection with something to read, or idle
    for more than ten seconds, is pinged; a failed ping gives the pool a fresh connection
    (SQLAlchemy's ``pool_pre_ping`` pinged on every checkout: a round trip per request).

    A transaction's ``BEGIN`` is not a round trip of its own: the driver connection is in
    autocommit mode, and ``BEGIN`` waits (:func:`labelloop.storage.rawsql.begin_later`) to go
    with the transaction's first statement, a raw one (:meth:`Raw.batch`) or SQLAlchemy's (sent
    just before it here). Writes queued by :meth:`labelloop.storage.rawsql.Raw.defer` wait the
    same way, travel with the ``COMMIT`` when nothing follows them, and are dropped on rollback.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_CHECKED_IN)
        fresh = last is not None and time.monotonic() - last < _IDLE_PING_S
        if fresh and not select.select([dbapi_conn.pgconn.socket], [], [], 0)[0]:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info.pop(DEFERRED, None)
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        begin_later(conn.info)

    @event.listens_for(engine, "before_cursor_execute")
    def _flush(conn: Connection, *_args: Any) -> None:
        if DEFERRED in conn.info:
            flush_deferred(conn.connection.driver_connection, conn.info)

    @event.listens_for(engine, "commit")
    def _commit(conn: Connection) -> None:
        if DEFERRED in conn.info:  # what waits and the COMMIT in one round trip (nothing ran: nothing to send)
            flush_deferred(conn.connection.driver_connection, conn.info, commit=True)

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Connection) -> None:
        conn.info.pop(DEFERRED, None)


def make_engine(url: str, *, busy_timeout_ms: int = 30_000) -> Engine:
    """Create an engine for ``url`` (``sqlite:///…`` or ``postgresql+psycopg://…``).

    Example:
        >>> eng = make_engine("sqlite://")
        >>> eng.dialect.name
        'sqlite'
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    # Pooled connections are kept for as many requests as the web server runs at once (its worker
    # threads): past pool_size, each returned connection is closed and the next request reconnects
    # (a new PostgreSQL backend, or a SQLite open with its PRAGMAs) on the hot path.
    if parsed.get_backend_name() != "sqlite":
        pg = create_engine(parsed, pool_size=_PG_POOL, max_overflow=_PG_POOL, **kwargs)
        event.listen(pg, "connect", _pg_session)
        _pg_hooks(pg)
        return pg
    if parsed.database and parsed.database != ":memory:":
        kwargs |= {"pool_size": _SQLITE_POOL, "max_overflow": _SQLITE_POOL}
    engine = create_engine(parsed, connect_args={"timeout": busy_timeout_ms / 1000}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        if parsed.database and parsed.database != ":memory:":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")  # a fixed 32 MiB page cache (SQLite default: 2 MiB)
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(WRITE, False)
        # on the driver itself: this runs for every transaction, SQLAlchemy's execute path costs more
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
