"""Multi-row inserts on the driver that give the new ids back in row order, one per dialect.

SQLAlchemy's ``insert().returning(..., sort_by_parameter_order=True)`` spends most of a batch
in Python: it renders a multi-row ``VALUES`` statement per batch, which psycopg then parses
again (too long for its statement cache), and converts every value through the type
processors. Here the values are converted column by column (:func:`bind_columns`, the column
types' own bind processors, each distinct timestamp once) and sent as one statement:

* SQLite: one ``executemany`` of a prepared ``INSERT``; the ids are the next rowids (writers
  hold the database lock, the tables have no AUTOINCREMENT), checked against ``max(id)``.
* PostgreSQL: one ``INSERT ... SELECT`` over the columns sent as arrays (JSON columns as one
  JSON array; a column with one value for the whole batch as that value), in row order
  (``WITH ORDINALITY ... ORDER BY``), ``RETURNING`` the id and a check column. Ids come from
  the table's sequence as the rows are inserted, so ascending ids follow the row order (the
  assumption SQLAlchemy's own ordered inserts make on PostgreSQL); the check column, read back
  in id order, must equal the rows' values or the insert is refused. The statement text
  depends only on the columns and which of them are constant, so psycopg prepares it once.

Example:
    >>> from sqlalchemy.dialects import postgresql
    >>> from labelloop.storage import tables as t
    >>> cols, constant = ["project_id", "item_id", "comment"], [True, False, False]
    >>> print(insert_sql_pg(postgresql.dialect(), t.reviews, cols, constant, "item_id").postgresql)
    ... # doctest: +NORMALIZE_WHITESPACE
    INSERT INTO reviews (project_id, item_id, comment) SELECT %s::INTEGER, u.c0, u.c1 FROM ROWS FROM
    (unnest(%s::INTEGER[]), unnest(%s::TEXT[])) WITH ORDINALITY AS u(c0, c1, ord) ORDER BY u.ord
    RETURNING id, item_id
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Dialect, Float, Table, func, select

from labelloop.errors import StorageError
from labelloop.storage.rawsql import Sql, Step

__all__ = ["bind_columns", "ids_in_row_order", "insert_many_sqlite", "insert_sql_pg", "insert_step_pg"]

_LENGTH = re.compile(r"\(\d+\)")


def _is_json(table: Table, column: str) -> bool:
    return isinstance(table.c[column].type, JSON)


def bind_columns(dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """The rows' values column by column (keys of the first row), as the driver takes them.

    Each column goes through its type's bind processor (a ``created_at`` shared by the batch
    is converted once). On PostgreSQL, JSON columns are left as they are: :func:`insert_step_pg`
    sends each as one JSON array.
    """
    pg = dialect.name == "postgresql"
    columns: list[list[Any]] = []
    for c in rows[0]:
        raw = [r[c] for r in rows]
        proc = None if pg and _is_json(table, c) else table.c[c].type._cached_bind_processor(dialect)
        if proc is None:
            columns.append(raw)
        elif c == "created_at":
            memo: dict[Any, Any] = {}
            columns.append([memo[v] if v in memo else memo.setdefault(v, proc(v)) for v in raw])
        else:
            columns.append([proc(v) for v in raw])
    return columns


def insert_many_sqlite(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert rows (all with the same keys) with one ``executemany``; return their ids in order.

    The ids are the next rowids: the write transaction holds the database lock (``BEGIN
    IMMEDIATE``) and the tables have no AUTOINCREMENT, so the rows get ``max(id) + 1`` onwards,
    in order; the id range is checked against ``max(id)`` after the insert.
    """
    cols = list(rows[0])
    params = list(zip(*bind_columns(conn.dialect, table, rows), strict=True))
    last = select(func.coalesce(func.max(table.c.id), 0))
    before = int(conn.execute(last).scalar_one())
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"  # noqa: S608 (constants)
    conn.exec_driver_sql(sql, params)
    after = int(conn.execute(last).scalar_one())
    if after - before != len(rows):  # cannot happen under the write lock; refuse rather than mislabel
        raise StorageError(f"{table.name}: inserted {len(rows)} rows but the ids moved by {after - before}")
    return list(range(before + 1, after + 1))


def _cast(dialect: Dialect, table: Table, column: str) -> str:
    # no length: an explicit cast to VARCHAR(n) truncates, the column's own (assignment) cast refuses
    return _LENGTH.sub("", table.c[column].type.compile(dialect=dialect))


@lru_cache(maxsize=64)
def _insert_sql_pg(
    dialect: Dialect, table: Table, cols: tuple[str, ...], constant: tuple[bool, ...], check: str
) -> Sql:
    sources: list[str] = []
    values: list[str] = []
    for c, const in zip(cols, constant, strict=True):
        if const:
            values.append(f"?::{_cast(dialect, table, c)}")
            continue
        values.append(f"u.c{len(sources)}")
        json = _is_json(table, c)
        sources.append("jsonb_array_elements(?::jsonb)" if json else f"unnest(?::{_cast(dialect, table, c)}[])")
    names = ", ".join(f"c{i}" for i in range(len(sources)))
    return Sql(
        f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {', '.join(values)}"  # noqa: S608 (constants)
        f" FROM ROWS FROM ({', '.join(sources)}) WITH ORDINALITY AS u({names}, ord)"
        f" ORDER BY u.ord RETURNING id, {check}"
    )


def insert_sql_pg(dialect: Dialect, table: Table, cols: Sequence[str], constant: Sequence[bool], check: str) -> Sql:
    """The PostgreSQL statement of :func:`insert_step_pg` (cached per table, columns and constants).

    ``constant`` marks the columns sent as one value for every row; ``check`` must not be one.
    """
    return _insert_sql_pg(dialect, table, tuple(cols), tuple(constant), check)


_SAME_WHEN_EQUAL = (str, int, datetime)


def _constant(values: list[Any]) -> bool:
    """Whether a column stores one value in every row.

    Equal is not enough for floats (``0.0 == -0.0``) and JSON (``1 == 1.0 == True``, stored
    apart): those count as constant when they are one object.
    """
    first = values[0]
    if all(v is first for v in values):
        return True
    kind = type(first)
    return kind in _SAME_WHEN_EQUAL and values.count(first) == len(values) and all(type(v) is kind for v in values)


def insert_step_pg(dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]], check: str) -> Step:
    """The insert of ``rows`` (all with the same keys) as one statement, for :meth:`Raw.batch`.

    A column with the same value in every row (the batch's timestamp, its author) is sent
    once. The statement returns ``(id, check)`` of each new row; pass them to
    :func:`ids_in_row_order`.
    """
    cols = list(rows[0])
    columns = bind_columns(dialect, table, rows)
    constant = [c != check and _constant(v) for c, v in zip(cols, columns, strict=True)]
    once: list[Any] = []  # the placeholders of the select list come first, then those of ROWS FROM
    arrays: list[Any] = []
    for c, values, const in zip(cols, columns, constant, strict=True):
        if const:
            value: Any = values[0]
        elif isinstance(table.c[c].type, Float):  # an array has one element type (1 stores as 1.0)
            value = [float(v) if type(v) is int else v for v in values]
        else:
            value = values
        (once if const else arrays).append(orjson.dumps(value).decode() if _is_json(table, c) else value)
    return insert_sql_pg(dialect, table, cols, constant, check), [*once, *arrays]


def ids_in_row_order(returned: Sequence[Sequence[Any]], expected: Sequence[Any], table: str) -> list[int]:
    """The ids of :func:`insert_step_pg`'s rows in row order, checked against the rows' values.

    Raises:
        StorageError: the returned check values, in id order, are not the rows' own (the ids
            would be mislabelled: refused, and the transaction rolls back).
    """
    ordered = sorted(returned, key=lambda r: int(r[0]))
    if len(ordered) != len(expected) or any(r[1] != v for r, v in zip(ordered, expected, strict=False)):
        raise StorageError(f"{table}: the ids of {len(expected)} inserted rows do not follow the row order")
    return [int(r[0]) for r in ordered]
