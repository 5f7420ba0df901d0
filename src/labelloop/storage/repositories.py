"""Repositories: the only place that reads and writes rows. Each is bound to one connection.

Rows map to the domain types of :mod:`labelloop.core`; nothing above storage sees SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Insert, Row, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from labelloop.core import (
    Annotation,
    AnnotationStatus,
    ImportReport,
    Item,
    ItemError,
    LabelSchema,
    MediaRef,
    NewAnnotation,
    NewItem,
    NewReview,
    NewSuggestion,
    Project,
    Review,
    ReviewVerdict,
    Suggestion,
)
from labelloop.errors import Conflict, LabelloopError, NotFound
from labelloop.storage import tables as t
from labelloop.storage.bulk import ids_in_row_order, insert_many_sqlite, insert_step_pg
from labelloop.storage.provenance_repo import ProvenanceRepo, batch_actor, head_of, normal, record_inserted
from labelloop.storage.rawsql import Raw, Sql
from labelloop.storage.tables_provenance import item_holds

__all__ = [
    "ANNOTATION_COLUMNS",
    "ITEM_COLUMNS_I",
    "NOT_HELD_I",
    "WITH_PROJECT_COLUMNS",
    "BlobRow",
    "ImportRepo",
    "ItemRepo",
    "ItemRow",
    "LabelRepo",
    "ProjectRepo",
    "annotation_from_raw",
    "item_from_raw",
    "item_row",
    "item_with_project_from_raw",
    "item_with_project_step",
    "labels_from_rows",
    "labels_step",
    "now",
    "schema_of",
]


def now() -> datetime:
    """The current UTC time (one place, so tests can reason about it)."""
    return datetime.now(UTC)


def _insert_ignore(conn: Connection, table: Any) -> Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


class ProjectRepo:
    """Projects."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, name: str, schema: LabelSchema, created_by: str, created_at: datetime | None = None) -> Project:
        """Create a project.

        Raises:
            Conflict: a project of that name exists.
        """
        if self.conn.execute(select(t.projects.c.id).where(t.projects.c.name == name)).first():
            raise Conflict(f"project {name!r} already exists")
        when = created_at or now()
        schema_json = schema.model_dump(mode="json", exclude_defaults=True)
        try:
            pid = self.conn.execute(
                insert(t.projects)
                .values(name=name, schema=schema_json, created_at=when, created_by=created_by)
                .returning(t.projects.c.id)
            ).scalar_one()
        except IntegrityError as exc:  # a concurrent create of the same name
            raise Conflict(f"project {name!r} already exists") from exc
        return Project(pid, name, schema, when, created_by)

    def get(self, name_or_id: str | int) -> Project:
        """Return a project by name or id.

        Raises:
            NotFound: no such project.
        """
        if isinstance(name_or_id, int):
            raw = Raw(self.conn)
            r = raw.one(_PROJECT_BY_ID, (name_or_id,))
            if r is None:
                raise NotFound("project", name_or_id)
            return Project(r[0], r[1], schema_of(raw.json_out(r[2])), _when(raw, r[3]), r[4])
        q = select(t.projects)
        if isinstance(name_or_id, str) and name_or_id.isdigit():
            row = self.conn.execute(q.where(t.projects.c.id == int(name_or_id))).first()
            if row is None and isinstance(name_or_id, str):
                row = self.conn.execute(q.where(t.projects.c.name == name_or_id)).first()
        else:
            row = self.conn.execute(q.where(t.projects.c.name == name_or_id)).first()
        if row is None:
            raise NotFound("project", name_or_id)
        return _project(row)

    def list(self) -> list[Project]:
        """All projects, oldest first."""
        return [_project(r) for r in self.conn.execute(select(t.projects).order_by(t.projects.c.id))]

    def counts(self, project_id: int) -> dict[str, int]:
        """Row counts of a project's items and label records."""
        out = {}
        for name, table in (
            ("items", t.items),
            ("suggestions", t.suggestions),
            ("annotations", t.annotations),
            ("reviews", t.reviews),
        ):
            out[name] = self.conn.execute(
                select(func.count()).select_from(table).where(table.c.project_id == project_id)
            ).scalar_one()
        return out


_PROJECT_BY_ID = Sql("SELECT id, name, schema, created_at, created_by FROM projects WHERE id = ?")


def _when(raw: Raw, value: Any) -> datetime:
    out = raw.time_out(value)
    assert out is not None
    return out


def _project(row: Row[Any]) -> Project:
    return Project(row.id, row.name, schema_of(row.schema), row.created_at, row.created_by)


_SCHEMAS: dict[bytes, LabelSchema] = {}
_SCHEMAS_MAX = 256


def schema_of(stored: Any) -> LabelSchema:
    """The :class:`LabelSchema` of a stored schema JSON, parsed once per distinct schema.

    A schema is immutable (a frozen model, never updated in place), and building it also builds
    its annotation validator on first use: several milliseconds that a submit would otherwise pay
    each time it loads the project. Keyed by the canonical JSON, so equal schemas share one.

    Example:
        >>> a = schema_of({"media": [{"name": "t", "kind": "text"}]})
        >>> a is schema_of({"media": [{"kind": "text", "name": "t"}]})
        True
    """
    key = orjson.dumps(stored, option=orjson.OPT_SORT_KEYS)
    found = _SCHEMAS.get(key)
    if found is None:
        if len(_SCHEMAS) >= _SCHEMAS_MAX:
            _SCHEMAS.clear()
        found = _SCHEMAS[key] = LabelSchema.model_validate(stored)
    return found


@dataclass(frozen=True, slots=True)
class BlobRow:
    """Metadata of a stored blob."""

    sha256: str
    size: int
    kind: str
    media_type: str
    meta: dict[str, Any]


class ItemRepo:
    """Items and blob metadata."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_blobs(self, rows: Sequence[BlobRow]) -> None:
        """Record blob metadata (existing blobs are left as they are)."""
        if not rows:
            return
        when = now()
        self.conn.execute(
            _insert_ignore(self.conn, t.blobs),
            [
                {
                    "sha256": b.sha256,
                    "size": b.size,
                    "kind": b.kind,
                    "media_type": b.media_type,
                    "meta": b.meta,
                    "created_at": when,
                }
                for b in rows
            ],
        )

    def blob(self, sha256: str) -> BlobRow | None:
        """Return a blob's metadata, or None."""
        r = self.conn.execute(select(t.blobs).where(t.blobs.c.sha256 == sha256)).first()
        return None if r is None else BlobRow(r.sha256, r.size, r.kind, r.media_type, r.meta)

    def blob_known(self, sha256s: Iterable[str]) -> set[str]:
        """Return which of ``sha256s`` have a blob row."""
        keys = list(set(sha256s))
        if not keys:
            return set()
        rows = self.conn.execute(select(t.blobs.c.sha256).where(t.blobs.c.sha256.in_(keys)))
        return {r[0] for r in rows}

    def add_many(
        self,
        project_id: int,
        new: Sequence[NewItem],
        *,
        created_by: str | Sequence[str],
        import_id: int | None = None,
        created_at: Sequence[datetime] | None = None,
    ) -> list[int | None]:
        """Insert items; return the new id of each, or None where the content already exists.

        Duplicates (same content hash in the project, or earlier in ``new``) are skipped. See
        :meth:`add_rows`, which this calls with the items serialised by :func:`item_row`.
        """
        return self.add_rows(
            project_id, [item_row(it) for it in new], created_by=created_by, import_id=import_id, created_at=created_at
        )

    def add_rows(
        self,
        project_id: int,
        rows: Sequence[ItemRow],
        *,
        created_by: str | Sequence[str],
        import_id: int | None = None,
        created_at: Sequence[datetime] | None = None,
    ) -> list[int | None]:
        """Insert items already serialised by :func:`item_row`; return ids as :meth:`add_many`.

        This is the bulk path of imports: the rows (made in another thread or process) go to
        the driver's ``executemany`` with values converted once per call.
        """
        if not rows:
            return []
        first: dict[str, int] = {}
        for i, r in enumerate(rows):
            first.setdefault(r[1], i)
        dialect = self.conn.dialect
        when_proc = t.items.c.created_at.type._cached_bind_processor(dialect)
        assert when_proc is not None
        jsonb = dialect.name == "postgresql"
        when_utc = now()
        when = when_proc(when_utc)
        by = created_by if isinstance(created_by, str) else None
        params = []
        for i in first.values():
            key, digest, data, meta, source = rows[i]
            params.append(
                (
                    project_id,
                    key,
                    bytes.fromhex(digest),
                    data,
                    meta,
                    source,
                    import_id,
                    when if created_at is None else when_proc(created_at[i]),
                    by if by is not None else created_by[i],
                )
            )
        ph = "?" if dialect.paramstyle == "qmark" else "%s"
        values = ", ".join(f"CAST({ph} AS jsonb)" if jsonb and c in ("data", "meta") else ph for c in _ITEM_COLUMNS)
        # Rows inserted now get ids above the current maximum: that identifies the new ones, so
        # duplicates need no look-up (ON CONFLICT skips them). SQLite writers are serialised by
        # BEGIN IMMEDIATE; on PostgreSQL the content hash (unique per project) keeps the mapping right.
        before = self.conn.execute(select(func.coalesce(func.max(t.items.c.id), 0))).scalar_one()
        columns = ", ".join(_ITEM_COLUMNS)
        sql = f"INSERT INTO items ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING"  # noqa: S608 (constants only)
        inserted = self.conn.exec_driver_sql(sql, params).rowcount
        if dialect.name == "sqlite" and inserted == len(rows):
            # Nothing was skipped: SQLite gave the rows the next rowids in order (no AUTOINCREMENT
            # gaps, writers serialised), so the ids need no second query.
            result: list[int | None] = list(range(before + 1, before + 1 + len(rows)))
        else:
            q = select(t.items.c.content_hash, t.items.c.id).where(
                t.items.c.id > before, t.items.c.project_id == project_id
            )
            ids: dict[str, int] = {row[0]: row[1] for row in self.conn.execute(q)}
            result = [ids.get(r[1]) if first[r[1]] == i else None for i, r in enumerate(rows)]
        self._record_import(project_id, rows, result, created_by, when_utc, created_at, import_id)
        if inserted >= _ANALYZE_MIN_ROWS and dialect.name == "postgresql":
            self._refresh_statistics()
        return result

    def _refresh_statistics(self) -> None:
        """ANALYZE items when the planner's row estimate is less than half the table (PostgreSQL).

        Right after a bulk import the planner still believes the table is (nearly) empty and
        reads a keyset page of a large project with a bitmap scan and a sort of every later item
        (70 ms at 100k items) instead of walking ``ix_items_project_id``; autovacuum would catch
        up only later. Doubling as the trigger keeps it to O(log n) runs over a long import.
        """
        raw = Raw(self.conn)
        estimate, top = raw.one(_ITEMS_ESTIMATE)
        if top is not None and top > 2 * max(float(estimate or 0), 0.0):
            raw.run(_ANALYZE_ITEMS)

    def _record_import(
        self,
        project_id: int,
        rows: Sequence[ItemRow],
        ids: Sequence[int | None],
        created_by: str | Sequence[str],
        when_utc: datetime,
        created_at: Sequence[datetime] | None,
        import_id: int | None,
    ) -> None:
        """One provenance event for the items just inserted (values in ``ROW_COLUMNS["items"]`` order)."""
        when_iso = when_utc.astimezone(UTC).isoformat()
        kept = [(i, item_id, rows[i]) for i, item_id in enumerate(ids) if item_id is not None]
        if created_at is None and isinstance(created_by, str):
            values = [
                [item_id, project_id, r[0], r[1], _canonical_meta(r[3]), r[4], import_id, when_iso, created_by]
                for _, item_id, r in kept
            ]
            actor = created_by
        else:
            values = []
            for i, item_id, r in kept:
                made = when_iso if created_at is None else created_at[i].astimezone(UTC).isoformat()
                by = created_by if isinstance(created_by, str) else created_by[i]
                values.append([item_id, project_id, r[0], r[1], _canonical_meta(r[3]), r[4], import_id, made, by])
            actor = batch_actor(v[-1] for v in values) if values else ""
        if not values:
            return
        ProvenanceRepo(self.conn).record_rows(
            "import",
            "items",
            values,
            actor=actor,
            project_id=project_id,
            subject={"import_id": import_id},
            normalised=True,
        )

    def get(self, project_id: int, item_id: int, *, visible_only: bool = False) -> Item:
        """Return one item of a project.

        ``visible_only`` treats a held item (awaiting or failing desensitisation) as absent.

        Raises:
            NotFound: no such item in this project (or it is held, with ``visible_only``).
        """
        raw = Raw(self.conn)
        r = raw.one(_ITEM_VISIBLE if visible_only else _ITEM, (item_id, project_id))
        if r is None:
            raise NotFound("item", item_id)
        return _item_from_raw(raw, r)

    def get_with_project(self, project_id: int, item_id: int, *, visible_only: bool = False) -> tuple[Project, Item]:
        """An item and its project in one query (``visible_only`` as :meth:`get`).

        Raises:
            NotFound: no such project, or no such item in it (or it is held, with ``visible_only``).
        """
        q, params = item_with_project_step(project_id, item_id, visible_only=visible_only)
        return self.with_project_or_raise(Raw(self.conn).one(q, params), project_id, item_id)

    def with_project_or_raise(self, r: Any, project_id: int, item_id: int) -> tuple[Project, Item]:
        """A row of :func:`item_with_project_step` as :meth:`get_with_project` answers it.

        Raises:
            NotFound: no row: the project is missing, or the item.
        """
        if r is None:
            ProjectRepo(self.conn).get(project_id)  # NotFound("project") when that is what is missing
            raise NotFound("item", item_id)
        return item_with_project_from_raw(Raw(self.conn), r)

    def page(
        self,
        project_id: int,
        *,
        after_id: int = 0,
        limit: int = 1000,
        as_of: datetime | None = None,
        visible_only: bool = False,
    ) -> list[Item]:
        """Return up to ``limit`` items with id > ``after_id`` (keyset pagination).

        ``visible_only`` leaves out held items (awaiting or failing desensitisation).
        """
        if as_of is None:  # the web app's item list: plain SQL on the driver
            raw = Raw(self.conn)
            page = _ITEM_PAGE_VISIBLE if visible_only else _ITEM_PAGE
            return [_item_from_raw(raw, r) for r in raw.all(page, (project_id, after_id, limit))]
        q = select(t.items).where(t.items.c.project_id == project_id, t.items.c.id > after_id)
        if visible_only:
            q = q.where(_not_held())
        if as_of is not None:
            q = q.where(t.items.c.created_at <= as_of)
        return [_item(r) for r in self.conn.execute(q.order_by(t.items.c.id).limit(limit))]

    def iter_all(self, project_id: int, *, batch: int = 2000, as_of: datetime | None = None) -> Iterator[list[Item]]:
        """Yield all items of a project in pages, memory bounded by ``batch``."""
        after = 0
        while True:
            page = self.page(project_id, after_id=after, limit=batch, as_of=as_of)
            if not page:
                return
            yield page
            after = page[-1].id


_ITEM_COLUMNS_RAW = "id, project_id, data, content_hash, key, source, meta, import_id, created_at, created_by"
# held items (awaiting or failing desensitisation): one primary-key probe of item_holds per item
_NOT_HELD = "(SELECT 1 FROM item_holds h WHERE h.item_id = i.id) IS NULL"
_ITEM_I = ", ".join("i." + c for c in _ITEM_COLUMNS_RAW.split(", "))
ITEM_COLUMNS_I = _ITEM_I
"""The item columns of :func:`item_from_raw`, of ``items i``."""
NOT_HELD_I = _NOT_HELD
"""The condition that item ``i`` is not held from annotators."""
_WITH_PROJECT_COLUMNS = f"{_ITEM_I}, p.id, p.name, p.schema, p.created_at, p.created_by"
_ITEM = Sql(f"SELECT {_ITEM_I} FROM items i WHERE i.id = ? AND i.project_id = ?")  # noqa: S608 (constants only)
_ITEM_VISIBLE = Sql(f"SELECT {_ITEM_I} FROM items i WHERE i.id = ? AND i.project_id = ? AND {_NOT_HELD}")  # noqa: S608 (constants only)
WITH_PROJECT_COLUMNS = _WITH_PROJECT_COLUMNS
"""The columns of :func:`item_with_project_from_raw`, of ``items i`` and ``projects p``."""
_WITH_PROJECT = (
    f"SELECT {_WITH_PROJECT_COLUMNS}"  # noqa: S608 (constants only)
    " FROM items i JOIN projects p ON p.id = i.project_id WHERE i.id = ? AND i.project_id = ?"
)
_ITEM_WITH_PROJECT = Sql(_WITH_PROJECT)
_ITEM_WITH_PROJECT_VISIBLE = Sql(f"{_WITH_PROJECT} AND {_NOT_HELD}")
_PAGE = f"SELECT {_ITEM_I} FROM items i WHERE i.project_id = ? AND i.id > ?"  # noqa: S608 (constants only)
_ITEM_PAGE = Sql(f"{_PAGE} ORDER BY i.id LIMIT ?")
_ITEM_PAGE_VISIBLE = Sql(f"{_PAGE} AND {_NOT_HELD} ORDER BY i.id LIMIT ?")
# Items of a project past an id without a suggestion from (backend, version), not held. The
# anti-join repeats the project and the id bound on ``suggestions`` although the join implies
# them: PostgreSQL does not carry them across it, and with them each page is one range of
# ix_suggestions_project_model (project, backend, version, item) whatever the statistics say
# (without them a page read every suggestion of the version: 650 ms at 10k items done).
_PENDING = (
    "i.project_id = ? AND i.id > ? AND NOT EXISTS (SELECT 1 FROM suggestions s WHERE s.project_id = ?"  # noqa: S608
    f" AND s.backend = ? AND s.model_version = ? AND s.item_id = i.id AND s.item_id > ?) AND {_NOT_HELD}"
)
_PENDING_PAGE = Sql(
    f"SELECT {_ITEM_I} FROM items i WHERE {_PENDING} ORDER BY i.id LIMIT ?",  # noqa: S608 (constants only)
    # JSON as text: orjson parses it faster than the driver's jsonb loader
    pg=f"SELECT {_ITEM_I.replace('i.data', 'i.data::text').replace('i.meta', 'i.meta::text')} FROM items i"  # noqa: S608
    f" WHERE {_PENDING} ORDER BY i.id LIMIT ?",
)
_PENDING_COUNT = Sql(f"SELECT count(*) FROM items i WHERE {_PENDING}")  # noqa: S608 (constants only)


def item_with_project_step(project_id: int, item_id: int, *, visible_only: bool = False) -> tuple[Sql, tuple[int, int]]:
    """The statement of :meth:`ItemRepo.get_with_project`, for :meth:`Raw.batch`."""
    return (_ITEM_WITH_PROJECT_VISIBLE if visible_only else _ITEM_WITH_PROJECT), (item_id, project_id)


def item_with_project_from_raw(raw: Raw, r: Sequence[Any]) -> tuple[Project, Item]:
    """A project and item from a row of :func:`item_with_project_step`."""
    project = Project(r[10], r[11], schema_of(raw.json_out(r[12])), _when(raw, r[13]), r[14])
    return project, _item_from_raw(raw, r)


def item_from_raw(raw: Raw, r: Sequence[Any]) -> Item:
    """An item from a raw row whose first columns are :data:`ITEM_COLUMNS_I`."""
    return _item_from_raw(raw, r)


def _item_from_raw(raw: Raw, r: Sequence[Any]) -> Item:
    """An item from a raw row in ``_ITEM_COLUMNS_RAW`` order."""
    return Item(
        id=r[0],
        project_id=r[1],
        data={k: MediaRef.from_json(v) for k, v in raw.json_out(r[2]).items()},
        content_hash=bytes(r[3]).hex(),
        key=r[4],
        source=r[5],
        meta=raw.json_out(r[6]),
        import_id=r[7],
        created_at=_when(raw, r[8]),
        created_by=r[9],
    )


_ANALYZE_MIN_ROWS = 1000
_ITEMS_ESTIMATE = Sql(
    "SELECT c.reltuples, (SELECT max(id) FROM items) FROM pg_class c WHERE c.oid = to_regclass('items')"
)
_ANALYZE_ITEMS = Sql("ANALYZE items")

_ITEM_COLUMNS = (
    "project_id",
    "key",
    "content_hash",
    "data",
    "meta",
    "source",
    "import_id",
    "created_at",
    "created_by",
)


def _not_held(item_id: Any = None) -> Any:
    """Items that no hold keeps from annotators and backends (``item_id``: the column to test)."""
    h = item_holds
    return ~select(h.c.item_id).where(h.c.item_id == (t.items.c.id if item_id is None else item_id)).exists()


_LONG_DIGITS = re.compile(r"\d{16}")  # an integer that a jsonb round trip may change


def _canonical_meta(meta: str) -> Any:
    """An item's meta JSON (written with sorted keys by :func:`item_row`) for a provenance digest.

    Only numbers need normalising for the digest, and only a float or a long integer can change
    in a database round trip: a meta with neither goes in as it is, already canonical.
    """
    if "." in meta or "e" in meta or "E" in meta or _LONG_DIGITS.search(meta):
        return normal(orjson.loads(meta))
    return orjson.Fragment(meta)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


ItemRow = tuple[str | None, str, str, str, str]
"""An item serialised for :meth:`ItemRepo.add_rows`: key, content hash, data JSON, meta JSON, source."""


def item_row(new: NewItem) -> ItemRow:
    """Serialise an item for :meth:`ItemRepo.add_rows` (pure: safe in another thread or process).

    Example:
        >>> from labelloop.core import MediaRef
        >>> item_row(NewItem({"text": MediaRef.from_text("hi")}, "ab" * 32, source="m.jsonl:1"))[3:]
        ('{}', 'm.jsonl:1')
    """
    data = _dumps({name: ref.to_json() for name, ref in new.data.items()})
    meta = orjson.dumps(new.meta, option=orjson.OPT_SORT_KEYS).decode("utf-8") if new.meta else "{}"
    return (new.key, new.content_hash, data, meta, new.source)


def _utc(v: Any, memo: dict[Any, datetime]) -> datetime:
    """A ``created_at`` as stored: naive UTC text on SQLite, an aware datetime on PostgreSQL."""
    got = memo.get(v)
    if got is None:
        when = datetime.fromisoformat(v) if isinstance(v, str) else v
        got = memo[v] = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return got


def _items_raw(rows: Iterable[Sequence[Any]]) -> list[Item]:
    """Items from raw rows in :data:`ITEM_COLUMNS_I` order (same values as :func:`_item` gives).

    A page is converted at once, a fraction of SQLAlchemy's per-value processing (its SQLite
    datetime parser above all): JSON as text (``::text`` on PostgreSQL) or already parsed,
    each distinct timestamp once.
    """
    memo: dict[Any, datetime] = {}  # items imported together share one timestamp
    from_json = MediaRef.from_json
    loads = orjson.loads
    out = []
    for r in rows:
        data, meta = r[2], r[6]
        if type(data) is str:
            data = loads(data)
        if type(meta) is str:
            meta = {} if meta == "{}" else loads(meta)
        out.append(
            Item(
                r[0],
                r[1],
                {k: from_json(v) for k, v in data.items()},
                bytes(r[3]).hex(),
                r[4],
                r[5],
                meta,
                r[7],
                _utc(r[8], memo),
                r[9],
            )
        )
    return out


def _item(row: Row[Any]) -> Item:
    return Item(
        id=row.id,
        project_id=row.project_id,
        data={k: MediaRef.from_json(v) for k, v in row.data.items()},
        content_hash=row.content_hash,
        key=row.key,
        source=row.source,
        meta=row.meta,
        import_id=row.import_id,
        created_at=row.created_at,
        created_by=row.created_by,
    )


class LabelRepo:
    """Suggestions, annotations and reviews (append-only)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _insert(self, table: Any, rows: list[dict[str, Any]], project_id: int, kind: str) -> list[int]:
        if not rows:
            return []
        if len(rows) == 1 and table is t.annotations:  # one version: plain SQL on the driver
            ids = [self._insert_annotation_row(rows[0]).id]
        elif self.conn.dialect.name == "sqlite":
            ids = insert_many_sqlite(self.conn, table, rows)
        else:  # PostgreSQL: the insert, the chain's lock and its head in one round trip; the event goes with the commit
            raw = Raw(self.conn)
            step = insert_step_pg(self.conn.dialect, table, rows, "item_id")
            done = raw.batch([step, *ProvenanceRepo(self.conn).head_steps(project_id)])
            ids = ids_in_row_order(done[0].rows, [r["item_id"] for r in rows], table.name)
            head = head_of(done[-1].first())
            record_inserted(self.conn, kind, table.name, project_id, rows, ids, head=head, defer=True)
            return ids
        record_inserted(self.conn, kind, table.name, project_id, rows, ids)  # one provenance event per batch
        return ids

    def add_suggestions(
        self,
        project_id: int,
        new: Sequence[NewSuggestion],
        *,
        created_at: Sequence[datetime] | None = None,
        created_by: Sequence[str] | None = None,
    ) -> list[int]:
        """Store suggestions (already validated); return their ids in order."""
        when = now()
        return self._insert(
            t.suggestions,
            [
                {
                    "project_id": project_id,
                    "item_id": s.item_id,
                    "value": s.value,
                    "score": s.score,
                    "backend": s.backend,
                    "model_version": s.model_version,
                    "created_at": created_at[i] if created_at is not None else when,
                    "created_by": created_by[i] if created_by is not None else f"backend:{s.backend}@{s.model_version}",
                }
                for i, s in enumerate(new)
            ],
            project_id,
            "suggestion",
        )

    def _insert_annotation_row(self, r: dict[str, Any]) -> Annotation:
        """Insert one annotation row (no provenance event: the caller records it); return it as stored."""
        raw = Raw(self.conn)
        return annotation_from_raw(raw, raw.one(_INSERT_ANNOTATION, self._annotation_params(raw, r)))

    @staticmethod
    def _annotation_params(raw: Raw, r: dict[str, Any]) -> tuple[Any, ...]:
        return (
            r["project_id"], r["item_id"], raw.json_in(r["value"]), r["annotator"], r["status"],
            r["lead_time_s"], r["parent_id"], r["suggestion_id"], raw.time_in(r["created_at"]), r["created_by"],
        )  # fmt: skip

    def add_annotation(self, project_id: int, new: NewAnnotation) -> Annotation:
        """Store one annotation version (already validated); return it as stored (one round trip).

        The same row and provenance event as :meth:`add_annotations` with one version, read back
        by ``RETURNING`` (a submit answers with the stored copy).
        """
        row = {
            "project_id": project_id, "item_id": new.item_id, "value": new.value, "annotator": new.annotator,
            "status": new.status.value, "lead_time_s": new.lead_time_s, "parent_id": new.parent_id,
            "suggestion_id": new.suggestion_id, "created_at": now(), "created_by": f"user:{new.annotator}",
        }  # fmt: skip
        raw = Raw(self.conn)
        prov = ProvenanceRepo(self.conn)
        # the insert, the chain's lock and its head in one round trip; the event goes with the commit
        done = raw.batch([(_INSERT_ANNOTATION, self._annotation_params(raw, row)), *prov.head_steps(project_id)])
        stored = annotation_from_raw(raw, done[0].first())
        head = head_of(done[-1].first())
        record_inserted(
            self.conn, "annotation", t.annotations.name, project_id, [row], [stored.id], head=head, defer=True
        )
        return stored

    def add_annotations(
        self,
        project_id: int,
        new: Sequence[NewAnnotation],
        *,
        created_at: Sequence[datetime] | None = None,
        created_by: Sequence[str] | None = None,
    ) -> list[int]:
        """Store annotation versions (already validated); return their ids in order."""
        when = now()
        return self._insert(
            t.annotations,
            [
                {
                    "project_id": project_id,
                    "item_id": a.item_id,
                    "value": a.value,
                    "annotator": a.annotator,
                    "status": a.status.value,
                    "lead_time_s": a.lead_time_s,
                    "parent_id": a.parent_id,
                    "suggestion_id": a.suggestion_id,
                    "created_at": created_at[i] if created_at is not None else when,
                    "created_by": created_by[i] if created_by is not None else f"user:{a.annotator}",
                }
                for i, a in enumerate(new)
            ],
            project_id,
            "annotation",
        )

    def add_reviews(
        self,
        project_id: int,
        new: Sequence[NewReview],
        item_ids: Sequence[int],
        *,
        created_at: Sequence[datetime] | None = None,
        created_by: Sequence[str] | None = None,
    ) -> list[int]:
        """Store reviews; ``item_ids`` gives the item of each reviewed annotation."""
        when = now()
        return self._insert(
            t.reviews,
            [
                {
                    "project_id": project_id,
                    "item_id": item_ids[i],
                    "annotation_id": r.annotation_id,
                    "reviewer": r.reviewer,
                    "verdict": r.verdict.value,
                    "correction_id": r.correction_id,
                    "comment": r.comment,
                    "created_at": created_at[i] if created_at is not None else when,
                    "created_by": created_by[i] if created_by is not None else f"user:{r.reviewer}",
                }
                for i, r in enumerate(new)
            ],
            project_id,
            "review",
        )

    def for_items(
        self, item_ids: Sequence[int], *, as_of: datetime | None = None
    ) -> tuple[list[Suggestion], list[Annotation], list[Review]]:
        """Return all label records of the given items, in id order."""
        if not item_ids:
            return [], [], []
        if as_of is None and len(item_ids) <= _RAW_IN_MAX:
            return self._for_items_raw(item_ids)
        out: list[list[Any]] = []
        for table, mapper in ((t.suggestions, _suggestion), (t.annotations, _annotation), (t.reviews, _review)):
            q = select(table).where(table.c.item_id.in_(list(item_ids)))
            if as_of is not None:
                q = q.where(table.c.created_at <= as_of)
            out.append([mapper(r) for r in self.conn.execute(q.order_by(table.c.id))])
        return out[0], out[1], out[2]

    def _for_items_raw(self, item_ids: Sequence[int]) -> tuple[list[Suggestion], list[Annotation], list[Review]]:
        return self._labels_raw(_labels_sql(len(item_ids)), tuple(item_ids) * 3)

    def _labels_raw(
        self, query: Sql, params: tuple[Any, ...]
    ) -> tuple[list[Suggestion], list[Annotation], list[Review]]:
        """Split the rows of one :func:`_union_labels` statement by kind, each in id order."""
        raw = Raw(self.conn)
        return labels_from_rows(raw, raw.all(query, params))

    def for_item_range(
        self, project_id: int, first_id: int, last_id: int, *, as_of: datetime | None = None
    ) -> tuple[list[Suggestion], list[Annotation], list[Review]]:
        """Return the label records of a project's items with ids in ``[first_id, last_id]``.

        The cheap way to fetch the labels of a keyset page (an index range scan, no id list).
        """
        if as_of is None:
            return self._labels_raw(_LABELS_RANGE, (first_id, last_id, project_id) * 3)
        out: list[list[Any]] = []
        for table, mapper in ((t.suggestions, _suggestion), (t.annotations, _annotation), (t.reviews, _review)):
            q = select(table).where(table.c.item_id.between(first_id, last_id), table.c.project_id == project_id)
            if as_of is not None:
                q = q.where(table.c.created_at <= as_of)
            out.append([mapper(r) for r in self.conn.execute(q.order_by(table.c.id))])
        return out[0], out[1], out[2]

    def annotation(self, annotation_id: int) -> Annotation:
        """Return one annotation version.

        Raises:
            NotFound: no such annotation.
        """
        raw = Raw(self.conn)
        r = raw.one(_ANNOTATION, (annotation_id,))
        if r is None:
            raise NotFound("annotation", annotation_id)
        return annotation_from_raw(raw, r)

    def items_without_suggestion(
        self, project_id: int, backend: str, model_version: str, *, after_id: int = 0, limit: int = 100
    ) -> list[Item]:
        """Items with id > ``after_id`` that have no suggestion from (backend, model_version).

        An anti-join (``NOT EXISTS``) paginated by item id, so a resumed pre-annotation run skips
        done work and each page costs the same however far the run has got (plain SQL on the
        driver: a page is read per batch of a pre-annotation run).
        """
        params = (project_id, after_id, project_id, backend, model_version, after_id, limit)
        return _items_raw(Raw(self.conn).all(_PENDING_PAGE, params))

    def count_without_suggestion(self, project_id: int, backend: str, model_version: str) -> int:
        """How many items of a project have no suggestion from (backend, model_version)."""
        row = Raw(self.conn).one(_PENDING_COUNT, (project_id, 0, project_id, backend, model_version, 0))
        return int(row[0])

    def latest_submitted(
        self, project_id: int, *, after_item_id: int = 0, limit: int = 1000
    ) -> list[tuple[Item, Annotation]]:
        """Items with their newest submitted annotation version, by item id after ``after_item_id``."""
        a = t.annotations
        newest = (
            select(func.max(a.c.id).label("id"))
            .where(a.c.project_id == project_id, a.c.status == AnnotationStatus.SUBMITTED.value)
            .where(a.c.item_id > after_item_id)
            .group_by(a.c.item_id)
            .subquery()
        )
        cols = [c.label(f"a_{c.name}") for c in a.c]
        q = (
            select(t.items, *cols)
            .join(a, a.c.item_id == t.items.c.id)
            .where(a.c.id.in_(select(newest.c.id)))
            .order_by(t.items.c.id)
            .limit(limit)
        )
        out = []
        for row in self.conn.execute(q):
            m = row._mapping
            item = _item(row)
            ann = Annotation(
                m["a_id"], m["a_project_id"], m["a_item_id"], m["a_value"], m["a_annotator"],
                AnnotationStatus(m["a_status"]), m["a_lead_time_s"], m["a_parent_id"], m["a_suggestion_id"],
                m["a_created_at"], m["a_created_by"],
            )  # fmt: skip
            out.append((item, ann))
        return out


ANNOTATION_COLUMNS = (
    "id, project_id, item_id, value, annotator, status, lead_time_s, parent_id, suggestion_id, created_at, created_by"
)
_ANNOTATION = Sql(f"SELECT {ANNOTATION_COLUMNS} FROM annotations WHERE id = ?")  # noqa: S608 (constants only)
_ANNOTATION_INSERT = (
    "INSERT INTO annotations (project_id, item_id, value, annotator, status, lead_time_s, parent_id, suggestion_id,"
    " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_ANNOTATION = Sql(f"{_ANNOTATION_INSERT} RETURNING {ANNOTATION_COLUMNS}")
_RAW_IN_MAX = 32
# The suggestions, annotations and reviews of some items in one statement (one round trip):
# kind, id, project_id, item_id, value, a number, three texts and two ids, created_at/by.
_LABEL_KINDS = (
    "SELECT 0 AS k, id, project_id, item_id, value, score AS num, backend AS t1, model_version AS t2, NULL AS i1,"
    " NULL AS i2, NULL AS t3, created_at, created_by FROM suggestions {where}",
    "SELECT 1, id, project_id, item_id, value, lead_time_s, annotator, status, parent_id, suggestion_id, NULL,"
    " created_at, created_by FROM annotations {where}",
    "SELECT 2, id, project_id, item_id, NULL, NULL, reviewer, verdict, annotation_id, correction_id, comment,"
    " created_at, created_by FROM reviews {where}",
)


def _union_labels(where: str) -> Sql:
    """One statement for the labels of the items ``where`` selects (its parameters three times)."""
    return Sql(" UNION ALL ".join(q.format(where=where) for q in _LABEL_KINDS) + " ORDER BY 1, 2")


_LABELS_RANGE = _union_labels("WHERE item_id BETWEEN ? AND ? AND project_id = ?")
_LABELS_SQL: dict[int, Sql] = {}


def _labels_sql(n: int) -> Sql:
    """The label read of ``n`` items (statements kept per ``n``)."""
    found = _LABELS_SQL.get(n)
    if found is None:
        found = _LABELS_SQL[n] = _union_labels(f"WHERE item_id IN ({', '.join('?' * n)})")
    return found


def labels_step(item_ids: Sequence[int]) -> tuple[Sql, tuple[Any, ...]]:
    """The statement of :meth:`LabelRepo.for_items` (at most 32 items), for :meth:`Raw.batch`."""
    if not 0 < len(item_ids) <= _RAW_IN_MAX:
        raise ValueError(f"item_ids: expected 1..{_RAW_IN_MAX} ids, got {len(item_ids)}")
    return _labels_sql(len(item_ids)), tuple(item_ids) * 3


def labels_from_rows(raw: Raw, rows: Sequence[Any]) -> tuple[list[Suggestion], list[Annotation], list[Review]]:
    """Split the rows of a label statement (:func:`labels_step`) by kind, each in id order."""
    sugg: list[Suggestion] = []
    anns: list[Annotation] = []
    revs: list[Review] = []
    for k, i, p, item, value, num, t1, t2, i1, i2, t3, when, by in rows:
        if k == 0:
            sugg.append(Suggestion(i, p, item, raw.json_out(value), num, t1, t2, _when(raw, when), by))
        elif k == 1:
            anns.append(
                Annotation(i, p, item, raw.json_out(value), t1, AnnotationStatus(t2), num, i1, i2, _when(raw, when), by)
            )
        else:
            revs.append(Review(i, p, item, i1, t1, ReviewVerdict(t2), i2, t3, _when(raw, when), by))
    return sugg, anns, revs


def annotation_from_raw(raw: Raw, r: Sequence[Any]) -> Annotation:
    """An annotation from a raw row in :data:`ANNOTATION_COLUMNS` order."""
    return Annotation(
        r[0], r[1], r[2], raw.json_out(r[3]), r[4], AnnotationStatus(r[5]), r[6], r[7], r[8], _when(raw, r[9]), r[10]
    )


def _suggestion(r: Row[Any]) -> Suggestion:
    return Suggestion(
        r.id, r.project_id, r.item_id, r.value, r.score, r.backend, r.model_version, r.created_at, r.created_by
    )


def _annotation(r: Row[Any]) -> Annotation:
    return Annotation(
        r.id,
        r.project_id,
        r.item_id,
        r.value,
        r.annotator,
        AnnotationStatus(r.status),
        r.lead_time_s,
        r.parent_id,
        r.suggestion_id,
        r.created_at,
        r.created_by,
    )


def _review(r: Row[Any]) -> Review:
    return Review(
        r.id,
        r.project_id,
        r.item_id,
        r.annotation_id,
        r.reviewer,
        ReviewVerdict(r.verdict),
        r.correction_id,
        r.comment,
        r.created_at,
        r.created_by,
    )


class ImportRepo:
    """Import runs and their per-item errors."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def start(self, project_id: int, source: str, created_by: str) -> int:
        """Record a running import; return its id."""
        return int(
            self.conn.execute(
                insert(t.imports)
                .values(
                    project_id=project_id,
                    source=source,
                    status="running",
                    items=0,
                    duplicates=0,
                    errors=0,
                    message="",
                    created_at=now(),
                    created_by=created_by,
                )
                .returning(t.imports.c.id)
            ).scalar_one()
        )

    def finish(
        self, import_id: int, *, status: str, items: int, duplicates: int, errors: int, message: str = ""
    ) -> None:
        """Close an import with its outcome."""
        self.conn.execute(
            update(t.imports)
            .where(t.imports.c.id == import_id)
            .values(
                status=status, items=items, duplicates=duplicates, errors=errors, message=message, finished_at=now()
            )
        )

    def commit(self, import_id: int, report: ImportReport) -> None:
        """Close a successful import: its per-item errors, its counts, status ``committed``."""
        self.add_errors(import_id, report.errors)
        self.finish(
            import_id,
            status="committed",
            items=report.items,
            duplicates=report.duplicates,
            errors=len(report.errors),
        )

    def fail(self, import_id: int, exc: BaseException) -> None:
        """Close an import that was rolled back, with what stopped it (a generic line for bugs)."""
        message = str(exc) if isinstance(exc, LabelloopError) else f"{type(exc).__name__}: {exc}"
        self.finish(import_id, status="failed", items=0, duplicates=0, errors=0, message=message[:2000])

    def add_errors(self, import_id: int, errors: Sequence[ItemError]) -> None:
        """Record per-item errors of an import."""
        if errors:
            self.conn.execute(
                insert(t.import_errors),
                [
                    {"import_id": import_id, "source": e.source, "line": e.line, "code": e.code, "reason": e.reason}
                    for e in errors
                ],
            )

    def get(self, import_id: int) -> dict[str, Any]:
        """Return an import's row as a dict.

        Raises:
            NotFound: no such import.
        """
        row = self.conn.execute(select(t.imports).where(t.imports.c.id == import_id)).first()
        if row is None:
            raise NotFound("import", import_id)
        return dict(row._mapping)

    def errors(self, import_id: int) -> list[ItemError]:
        """Return an import's recorded errors."""
        rows = self.conn.execute(
            select(t.import_errors).where(t.import_errors.c.import_id == import_id).order_by(t.import_errors.c.id)
        )
        return [ItemError(r.source, r.reason, r.code, r.line) for r in rows]
