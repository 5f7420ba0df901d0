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

__all__ = ["Raw", "Sql"]


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


def _identity(value: Any) -> Any:
    return value


_TYPES: WeakKeyDictionary[Dialect, _Types] = WeakKeyDictionary()


class Raw:
    """Run :class:`Sql` statements on a connection's DBAPI connection, in its transaction."""

    __slots__ = ("db", "pg", "types")

    def __init__(self, conn: Connection) -> None:
        dialect = conn.dialect
        self.pg = dialect.name == "postgresql"
        self.db: Any = conn.connection.driver_connection
        types = _TYPES.get(dialect)
        if types is None:
            types = _TYPES[dialect] = _Types(dialect)
        self.types = types

    def _sql(self, q: Sql) -> str:
        return q.postgresql if self.pg else q.sqlite

    def one(self, q: Sql, params: Sequence[Any] = ()) -> Any:
        """The first row (a tuple), or None."""
        return self.db.execute(self._sql(q), params).fetchone()

    def all(self, q: Sql, params: Sequence[Any] = ()) -> list[Any]:
        """All rows (tuples)."""
        return list(self.db.execute(self._sql(q), params).fetchall())

    def run(self, q: Sql, params: Sequence[Any] = ()) -> int:
        """Execute a write; return the number of rows it touched."""
        return int(self.db.execute(self._sql(q), params).rowcount)

    def many(self, q: Sql, rows: Sequence[Sequence[Any]]) -> None:
        """Execute a write once per parameter row."""
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
