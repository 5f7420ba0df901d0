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
refuses any interleaving that slipped through.

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
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, insert, or_, select, text

from labelloop.storage import tables as t
from labelloop.storage.anchors import PENDING_HEADS
from labelloop.storage.tables_provenance import item_originals
from labelloop.storage.tables_provenance import provenance_events as ev

__all__ = [
    "GENESIS",
    "ROW_COLUMNS",
    "Event",
    "ProvenanceRepo",
    "canonical",
    "event_hash",
    "id_ranges",
    "normal",
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


class ProvenanceRepo:
    """Append to and read the provenance chains."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _lock(self, chain: int) -> None:
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": _LOCK_CLASS, "b": chain})

    def head(self, chain: int) -> tuple[int, str]:
        """Return ``(seq, hash)`` of a chain's last event, ``(0, GENESIS)`` when empty."""
        row = self.conn.execute(
            select(ev.c.seq, ev.c.hash).where(ev.c.chain == chain).order_by(ev.c.seq.desc()).limit(1)
        ).first()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def append(
        self,
        kind: str,
        *,
        actor: str,
        project_id: int | None,
        subject: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Event:
        """Append one event to the project's chain, in the caller's transaction."""
        chain = project_id or 0
        self._lock(chain)
        seq, prev = self.head(chain)
        ts = datetime.now(UTC).isoformat()
        e = Event(0, chain, seq + 1, ts, actor[:200], kind, project_id, subject or {}, payload or {}, prev, "")
        digest = event_hash(e.body())
        new_id = self.conn.execute(insert(ev).values(**e.body(), hash=digest).returning(ev.c.id)).scalar_one()
        # the store anchors this head outside the database once the transaction commits
        self.conn.info.setdefault(PENDING_HEADS, {})[chain] = (e.seq, digest)
        return replace(e, id=int(new_id), hash=digest)

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
    ) -> Event | None:
        """Append one event for a batch of rows just written (values in :data:`ROW_COLUMNS` order).

        ``normalised=True`` says the values already went through :func:`normal` (values may
        then hold ``orjson.Fragment`` objects: JSON already in canonical form).
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


def record_inserted(
    conn: Connection,
    kind: str,
    table: str,
    project_id: int,
    rows: Sequence[dict[str, Any]],
    ids: Sequence[int],
    *,
    subject: dict[str, Any] | None = None,
) -> Event | None:
    """Append the event of a batch insert: ``rows`` as given to the insert, ``ids`` as returned."""
    if not rows:
        return None
    cols = ROW_COLUMNS[table][1:]
    get = operator.itemgetter(*cols)
    values = [[i, *get(r)] for i, r in zip(ids, rows, strict=True)]
    memo: dict[Any, str] = {}  # a batch mostly shares one timestamp: convert it once
    for k, name in enumerate(cols, start=1):
        if name in _FLOAT_COLUMNS:  # a REAL/double column gives back 1.0 for 1
            for v in values:
                v[k] = None if v[k] is None else float(v[k])
        elif name == "created_at":
            for v in values:
                v[k] = _utc_iso(v[k], memo)
    return ProvenanceRepo(conn).record_rows(
        kind,
        table,
        values,
        actor=batch_actor(r["created_by"] for r in rows),
        project_id=project_id,
        subject=subject,
    )
