"""The provenance log: an append-only, hash-chained event table, and digests of the rows it covers.

Each project has its own chain (events outside any project use chain 0). An event's ``hash`` is
SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of ``chain``, ``seq``, ``ts``,
``actor``, ``kind``, ``project_id``, ``subject``, ``payload`` and ``prev_hash``; ``prev_hash`` is
the ``hash`` of the event before it (64 zeros for the first). A batch write is one event whose
payload holds the row count and the SHA-256 of the canonical rows written (:func:`rows_digest`),
so editing a covered row is as detectable as editing an event.

Each append also notes the new head on the connection; :meth:`labelloop.storage.Store.transaction`
writes the heads of a committed transaction to the anchor file (:mod:`labelloop.storage.anchors`).

Appends are serialised per chain: SQLite writers hold the database lock (``BEGIN IMMEDIATE``);
on PostgreSQL the append takes a transaction-level advisory lock on the chain. Both make the
read of the chain head and the insert of the next event atomic; a unique ``(chain, seq)``
refuses any interleaving that slipped through. On PostgreSQL the lock is held to the commit,
so every writer of a project waits for it: a submit takes it in the round trip of its
annotation insert (:meth:`ProvenanceRepo.head_steps`) and sends its event with the commit
(``defer``), which keeps the lock for one round trip plus the hashing.

Example:
    >>> canonical({"b": 1e20, "a": [2.5, "x"]}).decode()
    '{"a":[2.5,"x"],"b":"100000000000000000000"}'
    >>> canonical([1e20, 10**20, -0.0]) == canonical([10**20, 1e20, 0.0])
    True
    >>> id_ranges([5, 1, 2, 3, 9])
    [[1, 3], [5, 5], [9, 9]]
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, or_, select

from labelloop.storage import tables as t
from labelloop.storage.anchors import PENDING_HEADS
from labelloop.storage.rawsql import Raw, Sql, Step
from labelloop.storage.tables_provenance import item_originals
from labelloop.storage.tables_provenance import provenance_events as ev

__all__ = [
    "GENESIS",
    "ROW_COLUMNS",
    "Event",
    "ProvenanceRepo",
    "canonical",
    "event_hash",
    "head_of",
    "id_ranges",
    "normal",
    "normal_json_many",
    "rows_digest",
]

GENESIS = "0" * 64
_LOCK_CLASS = 0x4C4C50  # "LLP": the advisory-lock namespace of provenance chains

# The columns whose values a batch digest covers, per table (the id first). ``items.data`` is
# left out on purpose: desensitisation replaces it, and its own event covers the new value.
ROW_COLUMNS: dict[str, tuple[str, ...]] = {
    "items": ("id", "project_id", "key", "content_hash", "meta", "source", "import_id", "created_at", "created_by"),
    "items.data": ("id", "data"),
    "suggestions": (
        "id", "project_id", "item_id", "value", "score", "backend", "model_version", "created_at", "created_by",
    ),
    "annotations": (
        "id", "project_id", "item_id", "value", "annotator", "status", "lead_time_s", "parent_id",
        "suggestion_id", "created_at", "created_by",
    ),
    "reviews": (
        "id", "project_id", "item_id", "annotation_id", "reviewer", "verdict", "correction_id", "comment",
        "created_at", "created_by",
    ),
    "item_originals": ("item_id", "project_id", "data", "created_at", "created_by"),
}  # fmt: skip


_BIG = 10**16


def _normal(value: Any) -> Any:
    """Rewrite the numbers a PostgreSQL ``jsonb`` round trip changes.

    ``-0.0`` becomes ``0.0``; integral numbers of 1e16 and more (``1e20`` comes back as the
    integer 100000000000000000000, beyond what JSON parsers keep exactly) become their decimal
    digits as a string, for floats and integers alike. Exact type checks keep the walk cheap.
    """
    tv = type(value)
    if tv is str or value is None or tv is bool:
        return value
    if tv is int:
        return value if -_BIG < value < _BIG else str(value)
    if tv is float:
        if value == 0.0:
            return 0.0
        return str(int(value)) if value.is_integer() and abs(value) >= 1e16 else value
    if tv is dict:
        return {k: _normal(v) for k, v in value.items()}
    if tv is list or tv is tuple:
        return [_normal(v) for v in value]
    return value


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    raise TypeError(f"cannot canonicalise a {type(value).__name__}")


_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def canonical(value: Any, *, normalised: bool = False) -> bytes:
    """Canonical JSON bytes: sorted keys, no whitespace, UTC ISO datetimes, hex bytes.

    Numbers are normalised so that what was written and what either database gives back
    hash alike; ``normalised=True`` says the caller already did (see :func:`normal`).
    """
    return orjson.dumps(value if normalised else _normal(value), default=_default, option=_OPTS)


def normal(value: Any) -> Any:
    """The number normalisation of :func:`canonical`, for callers that normalise as they build."""
    return _normal(value)


_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


def _may_need_normal(raw: bytes) -> bool:
    """Whether orjson output may hold a number :func:`normal` changes.

    Such a number is a float (a digit, then "." or an exponent) or an integer of 17 digits or
    more. Text inside strings may look like one too (a false alarm, the caller then walks the
    values); a real one cannot hide.
    """
    t = raw.translate(_DIGITS_TO_ZERO)
    return b"0." in t or b"0e" in t or b"0E" in t or b"00000000000000000" in t


def normal_json_many(values: Sequence[Any]) -> list[Any]:
    """JSON values ready for :func:`canonical` with ``normalised=True`` (one check for the batch).

    When the batch holds no float and no integer of 17 digits or more (checked on one orjson
    dump of all of them), the values are already normal and come back as they are, without a
    walk over each; otherwise each goes through :func:`normal`.

    Example:
        >>> normal_json_many([{"b": 1, "a": "x"}, [2]])
        [{'b': 1, 'a': 'x'}, [2]]
        >>> normal_json_many([[-0.0, 10**17]])
        [[0.0, '100000000000000000']]
    """
    try:
        raw = orjson.dumps(list(values), default=_default, option=_OPTS)
    except TypeError:  # not plain JSON (or a 65-bit integer): the walk decides, as canonical() would
        return [_normal(v) for v in values]
    return [_normal(v) for v in values] if _may_need_normal(raw) else list(values)


def rows_digest(rows: Sequence[Sequence[Any]], *, normalised: bool = False) -> tuple[int, str]:
    """Return ``(count, sha256)`` of the canonical JSON array of ``rows`` (each an array).

    Example:
        >>> rows_digest([(1, "a"), (2, "b")])[0]
        2
    """
    return len(rows), hashlib.sha256(canonical(rows, normalised=normalised)).hexdigest()


def id_ranges(ids: Iterable[int]) -> list[list[int]]:
    """Compress ids into sorted, inclusive ``[first, last]`` runs."""
    out: list[list[int]] = []
    seq = list(ids)
    if any(b <= a for a, b in itertools.pairwise(seq)):
        seq = sorted(set(seq))
    for i in seq:
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


@dataclass(frozen=True, slots=True)
class Event:
    """One provenance event as stored."""

    id: int
    chain: int
    seq: int
    ts: str
    actor: str
    kind: str
    project_id: int | None
    subject: dict[str, Any]
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The hashed fields."""
        return {
            "chain": self.chain,
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "kind": self.kind,
            "project_id": self.project_id,
            "subject": self.subject,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
        }


def event_hash(body: dict[str, Any]) -> str:
    """SHA-256 (hex) of an event body's canonical JSON."""
    return hashlib.sha256(canonical(body)).hexdigest()


# The append runs on every write (each submit): plain SQL on the driver (see rawsql).
_ADVISORY_LOCK = Sql("SELECT pg_advisory_xact_lock(?, ?)")
_HEAD = Sql("SELECT seq, hash FROM provenance_events WHERE chain = ? ORDER BY seq DESC LIMIT 1")
_APPEND_SQL = (
    "INSERT INTO provenance_events (chain, seq, ts, actor, kind, project_id, subject, payload, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_APPEND = Sql(_APPEND_SQL + " RETURNING id")
_APPEND_DEFERRED = Sql(_APPEND_SQL)


def head_of(row: Any) -> tuple[int, str]:
    """``(seq, hash)`` from the row of a chain-head read (None: the chain is empty)."""
    return _head_of(row)


def _head_of(row: Any) -> tuple[int, str]:
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


class ProvenanceRepo:
    """Append to and read the provenance chains."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def head(self, chain: int) -> tuple[int, str]:
        """Return ``(seq, hash)`` of a chain's last event, ``(0, GENESIS)`` when empty."""
        return _head_of(Raw(self.conn).one(_HEAD, (chain,)))

    def head_steps(self, chain: int) -> list[Step]:
        """Statements that lock a chain for appending and read its head, for :meth:`Raw.batch`.

        Pass the last one's first row to :func:`head_of` and that to :meth:`append` (``head``).
        """
        lock: list[Step] = [(_ADVISORY_LOCK, (_LOCK_CLASS, chain))] if Raw(self.conn).pg else []
        return [*lock, (_HEAD, (chain,))]

    def append(
        self,
        kind: str,
        *,
        actor: str,
        project_id: int | None,
        subject: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        head: tuple[int, str] | None = None,
        defer: bool = False,
    ) -> Event:
        """Append one event to the project's chain, in the caller's transaction.

        ``head`` is the chain's head when the caller already locked the chain and read it
        (:meth:`head_steps`). ``defer`` sends the insert with the transaction's next statement
        or its commit (:meth:`Raw.defer`); the event then comes back with ``id`` 0 (not known
        before the insert).
        """
        chain = project_id or 0
        raw = Raw(self.conn)
        if head is None:  # lock and read in one round trip
            head = _head_of(raw.batch(self.head_steps(chain))[-1].first())
        seq, prev = head
        ts = datetime.now(UTC).isoformat()
        e = Event(0, chain, seq + 1, ts, actor[:200], kind, project_id, subject or {}, payload or {}, prev, "")
        digest = event_hash(e.body())
        row = (
            e.chain, e.seq, e.ts, e.actor, e.kind, e.project_id, raw.plain_json_in(e.subject),
            raw.plain_json_in(e.payload), e.prev_hash, digest,
        )  # fmt: skip
        new_id = 0
        if defer:
            raw.defer(_APPEND_DEFERRED, row)
        else:
            new_id = int(raw.one(_APPEND, row)[0])
        # the store anchors this head outside the database once the transaction commits
        self.conn.info.setdefault(PENDING_HEADS, {})[chain] = (e.seq, digest)
        return replace(e, id=new_id, hash=digest)

    def record_rows(
        self,
        kind: str,
        table: str,
        rows: Sequence[Sequence[Any]],
        *,
        actor: str,
        project_id: int | None,
        subject: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        normalised: bool = False,
        head: tuple[int, str] | None = None,
        defer: bool = False,
    ) -> Event | None:
        """Append one event for a batch of rows just written (values in :data:`ROW_COLUMNS` order).

        ``normalised=True`` says the values already went through :func:`normal` (values may
        then hold ``orjson.Fragment`` objects: JSON already in canonical form). ``head`` and
        ``defer`` as in :meth:`append`.
        """
        if not rows:
            return None
        ids = [int(r[0]) for r in rows]
        if all(a < b for a, b in itertools.pairwise(ids)):
            ordered = rows
            # strictly increasing, and as many as the span: one contiguous run (the bulk-import case)
            ranges = [[ids[0], ids[-1]]] if ids[-1] - ids[0] + 1 == len(ids) else id_ranges(ids)
        else:
            ordered = sorted(rows, key=lambda r: int(r[0]))
            ranges = id_ranges(ids)
        count, digest = rows_digest(ordered, normalised=normalised)
        subj = {"table": table, "ids": ranges, **(subject or {})}
        return self.append(
            kind,
            actor=actor,
            project_id=project_id,
            subject=subj,
            payload={"count": count, "sha256": digest, **(payload or {})},
            head=head,
            defer=defer,
        )

    def events(self, chain: int, *, batch: int = 5000) -> Iterator[Event]:
        """Yield a chain's events in storage order (by id), as the database holds them."""
        after = 0
        while True:
            rows = self.conn.execute(
                select(ev).where(ev.c.chain == chain, ev.c.id > after).order_by(ev.c.id).limit(batch)
            ).all()
            if not rows:
                return
            for r in rows:
                yield Event(
                    int(r.id), r.chain, r.seq, r.ts, r.actor, r.kind, r.project_id, r.subject, r.payload,
                    r.prev_hash, r.hash,
                )  # fmt: skip
            after = int(rows[-1].id)

    def event_at(self, chain: int, seq: int) -> Event | None:
        """The event stored at ``(chain, seq)``, or None."""
        r = self.conn.execute(select(ev).where(ev.c.chain == chain, ev.c.seq == seq)).first()
        if r is None:
            return None
        return Event(
            int(r.id), r.chain, r.seq, r.ts, r.actor, r.kind, r.project_id, r.subject, r.payload, r.prev_hash, r.hash
        )

    def chains(self) -> list[int]:
        """All chains that hold events."""
        return [int(r[0]) for r in self.conn.execute(select(ev.c.chain).distinct().order_by(ev.c.chain))]

    def rows(self, table: str, ranges: Sequence[Sequence[int]]) -> list[tuple[Any, ...]]:
        """Read the covered columns of rows whose id lies in ``ranges``, by id."""
        cols = ROW_COLUMNS[table]
        tbl = _TABLES[table.split(".", maxsplit=1)[0]]
        key = tbl.c[cols[0]]
        out: list[tuple[Any, ...]] = []
        for chunk in range(0, len(ranges), 200):
            cond = or_(*[and_(key >= a, key <= b) for a, b in ranges[chunk : chunk + 200]])
            q = select(*[tbl.c[c] for c in cols]).where(cond).order_by(key)
            out.extend(tuple(r) for r in self.conn.execute(q))
        return out

    def count_rows(self, table: str, project_id: int) -> int:
        """How many rows of ``table`` belong to the project."""
        tbl = _TABLES[table]
        return int(self.conn.execute(select(func.count()).where(tbl.c.project_id == project_id)).scalar_one())

    def ids(self, table: str, project_id: int, *, after: int = 0, limit: int = 10000) -> list[int]:
        """Row ids of a project's ``table`` above ``after``, ascending."""
        tbl = _TABLES[table]
        key = tbl.c[ROW_COLUMNS[table][0]]
        q = select(key).where(tbl.c.project_id == project_id, key > after).order_by(key).limit(limit)
        return [int(r[0]) for r in self.conn.execute(q)]


_TABLES: dict[str, Any] = {
    "items": t.items,
    "suggestions": t.suggestions,
    "annotations": t.annotations,
    "reviews": t.reviews,
    "item_originals": item_originals,
}


_FLOAT_COLUMNS = frozenset({"score", "lead_time_s"})
_JSON_COLUMNS = frozenset({"value"})


def _utc_iso(value: Any, memo: dict[Any, str]) -> Any:
    if not isinstance(value, datetime):
        return value
    got = memo.get(value)
    if got is None:
        got = memo[value] = value.astimezone(UTC).isoformat()
    return got


def batch_actor(created_by: Iterable[str]) -> str:
    """One actor for a batch: the single ``created_by``, or the first and how many others."""
    names = sorted(set(created_by))
    return names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} more)"


def _normal_column(column: list[Any]) -> list[Any]:
    """:func:`normal` over one column of scalars, skipped when it cannot change anything.

    Example:
        >>> _normal_column([1, 2]), _normal_column(["a"]), _normal_column([10**17, None])
        ([1, 2], ['a'], ['100000000000000000', None])
    """
    try:
        if min(column) > -_BIG and max(column) < _BIG and all(type(x) is int for x in column):
            return column
    except TypeError:  # strings, None: not integers only
        pass
    if all(type(x) is str for x in column):
        return column
    return [_normal(x) for x in column]


def record_inserted(
    conn: Connection,
    kind: str,
    table: str,
    project_id: int,
    rows: Sequence[dict[str, Any]],
    ids: Sequence[int],
    *,
    subject: dict[str, Any] | None = None,
    head: tuple[int, str] | None = None,
    defer: bool = False,
) -> Event | None:
    """Append the event of a batch insert: ``rows`` as given to the insert, ``ids`` as returned.

    The rows are normalised column by column (:func:`normal`; JSON columns by
    :func:`normal_json_many`), then digested as :meth:`ProvenanceRepo.record_rows` does.
    ``head`` and ``defer`` as in :meth:`ProvenanceRepo.append`.
    """
    if not rows:
        return None
    columns: list[list[Any]] = [_normal_column(list(ids))]
    memo: dict[Any, str] = {}  # a batch mostly shares one timestamp: convert it once
    for name in ROW_COLUMNS[table][1:]:
        col = [r[name] for r in rows]
        if name in _FLOAT_COLUMNS:  # a REAL/double column gives back 1.0 for 1
            col = [None if v is None else _normal(float(v)) for v in col]
        elif name == "created_at":
            col = [_utc_iso(v, memo) for v in col]
        elif name in _JSON_COLUMNS:
            col = normal_json_many(col)
        else:
            col = _normal_column(col)
        columns.append(col)
    values = list(zip(*columns, strict=True))
    return ProvenanceRepo(conn).record_rows(
        kind,
        table,
        values,
        actor=batch_actor(r["created_by"] for r in rows),
        project_id=project_id,
        subject=subject,
        normalised=True,
        head=head,
        defer=defer,
    )
