"""Engine creation: SQLite in WAL mode with a busy timeout, or PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

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
        pg = create_engine(parsed, pool_pre_ping=True, pool_size=_PG_POOL, max_overflow=_PG_POOL, **kwargs)
        event.listen(pg, "connect", _pg_session)
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
