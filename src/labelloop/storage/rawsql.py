"""Hot-path statements run on the DBAPI connection of a SQLAlchemy connection, written once.

Building, caching and running a Core statement costs SQLAlchemy 150-300 µs of Python on a
small machine; the driver's own cursor runs the same indexed look-up in about 10 µs. The web
app's per-request statements (authentication, next task, submit, the provenance append) are
therefore plain SQL strings kept here and in the repositories that use them, run inside the
caller's transaction (the same DBAPI connection), with values converted by the very SQLAlchemy
type processors the tables declare, so what is stored and read back is identical either way.

Statements use ``?`` placeholders; :class:`Sql` renders ``%s`` for psycopg. PostgreSQL-only
tails (row locks) are given apart and left out on SQLite, whose writers are serialised by
``BEGIN IMMEDIATE``.

On PostgreSQL a request's time goes mostly to round trips, so statements travel together where
they can (psycopg's pipeline mode):

* :meth:`Raw.batch` sends several statements in one round trip. The server still runs them one
  after the other, each with its own snapshot (READ COMMITTED), so a statement after a lock sees
  what committed while it waited, exactly as if it had been sent alone.
* :meth:`Raw.defer` queues a write whose result nobody reads. It goes with the connection's next
  statement, or with the ``COMMIT`` (:func:`flush_deferred`, called by the engine's hooks, see
  :mod:`labelloop.storage.engine`); a rollback drops it. On SQLite both simply run in order.
* A transaction's ``BEGIN`` waits the same way (:func:`begin_later`): the driver connection is in
  autocommit mode and the engine's hooks send ``BEGIN`` with the transaction's first statement,
  whichever path sends it (these, or SQLAlchemy's).

Example:
    >>> from labelloop.storage.engine import make_engine
    >>> eng = make_engine("sqlite://")
    >>> with eng.connect() as conn:
    ...     raw = Raw(conn)
    ...     raw.one(Sql("SELECT ? + 1"), (41,))
    (42,)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import JSON, Connection, Dialect

from labelloop.storage.tables import JsonType, UTCDateTime

__all__ = ["DEFERRED", "Done", "Raw", "Sql", "Step", "begin_later", "flush_deferred"]

DEFERRED = "labelloop_deferred_writes"
"""``Connection.info`` key of the statements not sent yet (PostgreSQL): a ``BEGIN``, deferred writes."""


class Sql:
    """One statement in both dialects: ``?`` placeholders, an optional PostgreSQL-only tail.

    ``pg`` gives PostgreSQL its own text instead (same ``?`` parameters, in the same order).
    """

    __slots__ = ("postgresql", "sqlite")

    def __init__(self, sql: str, *, pg_tail: str = "", pg: str | None = None) -> None:
        pg_sql = sql + pg_tail if pg is None else pg
        if "%" in sql or "%" in pg_sql:
            raise ValueError("'%' would need escaping for psycopg: keep it out of hot-path SQL")
        self.sqlite = sql
        self.postgresql = pg_sql.replace("?", "%s")


_Proc = Callable[[Any], Any]


class _Types:
    """The bind and result processors of the column types the raw statements touch."""

    __slots__ = ("json_in", "json_out", "plain_json_in", "time_in", "time_out")

    def __init__(self, dialect: Dialect) -> None:
        ident: _Proc = _identity
        when = UTCDateTime()
        self.time_in: _Proc = when._cached_bind_processor(dialect) or ident
        self.time_out: _Proc = when._cached_result_processor(dialect, None) or ident
        self.json_in: _Proc = JsonType._cached_bind_processor(dialect) or ident
        self.json_out: _Proc = JsonType._cached_result_processor(dialect, None) or ident
        self.plain_json_in: _Proc = _PLAIN_JSON._cached_bind_processor(dialect) or ident


_PLAIN_JSON = JSON()

Step = tuple["Sql", Sequence[Any]]
_TUPLES_OK = 2  # libpq's PGRES_TUPLES_OK


class Done:
    """What one statement of :meth:`Raw.batch` gave: its rows (none for a write) and rowcount."""

    __slots__ = ("count", "rows")

    def __init__(self, rows: list[Any], count: int) -> None:
        self.rows = rows
        self.count = count

    @classmethod
    def of_pg(cls, cursor: Any) -> Done:
        """Read out a psycopg cursor (its result status, not ``description``: that builds column objects)."""
        res = cursor.pgresult
        return cls(cursor.fetchall() if res is not None and res.status == _TUPLES_OK else [], int(cursor.rowcount))

    @classmethod
    def of_sqlite(cls, cursor: Any) -> Done:
        """Read out a sqlite3 cursor (no rows after a write)."""
        return cls(cursor.fetchall(), int(cursor.rowcount))

    def first(self) -> Any:
        """The first row, or None."""
        return self.rows[0] if self.rows else None


_CURSORS = "labelloop_cursors"


def _cursors(db: Any, info: dict[Any, Any], n: int) -> list[Any]:
    """``n`` cursors of a psycopg connection, kept with it (a new cursor per statement costs more).

    Each statement of a pipeline needs its own cursor; the rows are read out before the next use.
    """
    kept: list[Any] = info.setdefault(_CURSORS, [])
    while len(kept) < n:
        kept.append(db.cursor())
    return kept[:n]


_BEGIN = Sql("BEGIN")


def begin_later(info: dict[Any, Any]) -> None:
    """Note that a transaction began: its ``BEGIN`` goes with its first statement (PostgreSQL).

    For a driver connection in autocommit mode (see :mod:`labelloop.storage.engine`).
    """
    info[DEFERRED] = [(_BEGIN, ())]


def _send(cur: Any, q: Sql, params: Sequence[Any]) -> None:
    if q is _BEGIN:
        cur.execute("BEGIN", prepare=False)
    else:
        cur.execute(q.postgresql, params)


def flush_deferred(db: Any, info: dict[Any, Any], *, commit: bool = False) -> bool:
    """Send what waits on a psycopg connection (``BEGIN``, deferred writes), and ``COMMIT`` when asked.

    One round trip for all of them. Returns whether anything was sent (a transaction that ran
    nothing sends nothing, not even its ``COMMIT``); a failing write raises (the transaction is
    then aborted on the server, and the caller's rollback ends it).
    """
    steps: list[Step] | None = info.pop(DEFERRED, None)
    if not steps or (commit and len(steps) == 1 and steps[0][0] is _BEGIN):
        return False
    cursors = _cursors(db, info, len(steps))
    with db.pipeline():
        for cur, (q, params) in zip(cursors, steps, strict=True):
            _send(cur, q, params)
        if commit:
            db.execute("COMMIT", prepare=False)
    return True


def _identity(value: Any) -> Any:
    return value


_TYPES: WeakKeyDictionary[Dialect, _Types] = WeakKeyDictionary()


class Raw:
    """Run :class:`Sql` statements on a connection's DBAPI connection, in its transaction."""

    __slots__ = ("db", "info", "pg", "types")

    def __init__(self, conn: Connection) -> None:
        dialect = conn.dialect
        self.pg = dialect.name == "postgresql"
        self.db: Any = conn.connection.driver_connection
        self.info = conn.info
        types = _TYPES.get(dialect)
        if types is None:
            types = _TYPES[dialect] = _Types(dialect)
        self.types = types

    def _sql(self, q: Sql) -> str:
        return q.postgresql if self.pg else q.sqlite

    def one(self, q: Sql, params: Sequence[Any] = ()) -> Any:
        """The first row (a tuple), or None."""
        if not self.pg:
            return self.db.execute(q.sqlite, params).fetchone()
        if DEFERRED in self.info:
            return self.batch([(q, params)])[0].first()
        cur = _cursors(self.db, self.info, 1)[0]
        cur.execute(q.postgresql, params)
        return cur.fetchone()

    def all(self, q: Sql, params: Sequence[Any] = ()) -> list[Any]:
        """All rows (tuples)."""
        if not self.pg:
            return list(self.db.execute(q.sqlite, params).fetchall())
        if DEFERRED in self.info:
            return self.batch([(q, params)])[0].rows
        cur = _cursors(self.db, self.info, 1)[0]
        cur.execute(q.postgresql, params)
        return list(cur.fetchall())

    def run(self, q: Sql, params: Sequence[Any] = ()) -> int:
        """Execute a write; return the number of rows it touched."""
        if not self.pg:
            return int(self.db.execute(q.sqlite, params).rowcount)
        if DEFERRED in self.info:
            return self.batch([(q, params)])[0].count
        cur = _cursors(self.db, self.info, 1)[0]
        cur.execute(q.postgresql, params)
        return int(cur.rowcount)

    def batch(self, steps: Sequence[Step]) -> list[Done]:
        """Run statements in order and return what each gave; one round trip on PostgreSQL.

        Each statement starts once the one before it has finished (a statement after a lock
        reads what committed while it waited). What waits to be sent (the transaction's ``BEGIN``,
        writes queued by :meth:`defer`) goes first.

        Example:
            >>> from labelloop.storage.engine import make_engine
            >>> with make_engine("sqlite://").connect() as conn:
            ...     [d.rows for d in Raw(conn).batch([(Sql("SELECT ?"), (1,)), (Sql("SELECT 2"), ())])]
            [[(1,)], [(2,)]]
        """
        if not self.pg:
            return [Done.of_sqlite(self.db.execute(q.sqlite, params)) for q, params in steps]
        deferred: list[Step] = self.info.pop(DEFERRED, None) or []
        cursors = _cursors(self.db, self.info, len(deferred) + len(steps))
        with self.db.pipeline():
            for cur, (q, params) in zip(cursors, [*deferred, *steps], strict=True):
                _send(cur, q, params)
        return [Done.of_pg(c) for c in cursors[len(deferred) :]]

    def defer(self, q: Sql, params: Sequence[Any] = ()) -> None:
        """A write whose result is not needed: sent with the next statement or the commit (PostgreSQL).

        Run at once on SQLite. A deferred write that fails raises where it is sent: at the next
        statement of the transaction, or at its commit (which then rolls back).
        """
        if self.pg:
            self.info.setdefault(DEFERRED, []).append((q, params))
        else:
            self.db.execute(q.sqlite, params)

    def many(self, q: Sql, rows: Sequence[Sequence[Any]]) -> None:
        """Execute a write once per parameter row."""
        if self.pg:
            flush_deferred(self.db, self.info)
        cur = self.db.cursor()
        try:
            cur.executemany(self._sql(q), rows)
        finally:
            cur.close()

    # value conversion, as the table types do it -------------------------------------------
    def time_in(self, value: datetime | None) -> Any:
        """A UTC datetime as the driver stores it (naive ISO text on SQLite)."""
        return self.types.time_in(value)

    def time_out(self, value: Any) -> datetime | None:
        """A stored datetime back as an aware UTC datetime."""
        out: datetime | None = self.types.time_out(value)
        return out

    def json_in(self, value: Any) -> Any:
        """A JSON value as the driver stores it."""
        return self.types.json_in(value)

    def plain_json_in(self, value: Any) -> Any:
        """A value for a plain ``JSON`` column (key order kept as written, also on PostgreSQL)."""
        return self.types.plain_json_in(value)

    def json_out(self, value: Any) -> Any:
        """A stored JSON value back as Python."""
        return self.types.json_out(value)
