"""Batch inserts of label rows: the PostgreSQL one-statement path writes what SQLAlchemy's insert wrote."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from sqlalchemy import Connection, insert, select

from labelloop.core import NewAnnotation, NewReview, NewSuggestion, ReviewVerdict
from labelloop.errors import StorageError
from labelloop.services.audit import verify
from labelloop.storage import Store
from labelloop.storage import tables as t
from labelloop.storage.bulk import ids_in_row_order
from labelloop.storage.provenance_repo import record_inserted
from labelloop.storage.tables_provenance import provenance_events as ev
from tests.backends.factories import TEXT_SCHEMA, add_items, make_project, text_ref

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
ODD_TEXT = 'quote " backslash \\ braces {a,b} comma, NULL "NULL" 北京😀 \t tab'
VALUES: list[list[dict[str, Any]]] = [
    [{"id": "a", "control": "c", "text": ODD_TEXT}],
    [],
    [{"id": "b", "n": 10**16, "m": -(10**16) + 1}],
    [{"id": "c", "f": 0.1, "z": -0.0, "big": 1e20, "tiny": 5e-324}],
    [{"id": "d", "nested": [{"k": [1, 2, 3], "none": None, "t": True}]}],
]
SCORES = [None, 0, 1, 0.25, 1.0]
# equal in Python, stored apart: a column is sent once only when its values are the same
SAME_IN_PYTHON: list[list[dict[str, Any]]] = [[{"a": 1}], [{"a": True}], [{"a": 1.0}], [{"a": 1}], [{"a": 1}]]
SAME_SCORES = [0.0, -0.0, 0.0, 0.0, 0.0]
LABEL_KINDS = ("suggestion", "annotation", "review")


def _generic(conn: Connection, table: Any, rows: list[dict[str, Any]], project_id: int, kind: str) -> list[int]:
    """The path the PostgreSQL batch insert replaced: SQLAlchemy's ordered multi-row insert, then the event."""
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = [int(r[0]) for r in conn.execute(stmt, rows)]
    record_inserted(conn, kind, table.name, project_id, rows, ids)
    return ids


def _new(table: str, ids: Sequence[int], *, odd: bool = True) -> list[Any]:
    """Five suggestions or annotations of the items ``ids``, or five reviews of the annotations ``ids``.

    ``odd=False``: values equal in Python but stored apart (1, true, 1.0; 0.0 and -0.0).
    """
    values, scores = (VALUES, SCORES) if odd else (SAME_IN_PYTHON, SAME_SCORES)
    if table == "suggestions":
        return [NewSuggestion(i, values[k], "b1" if k < 3 else "b2", "1", scores[k]) for k, i in enumerate(ids)]
    if table == "annotations":
        leads: list[float | None] = [None, 0, 3, 2.5, None] if odd else [-0.0, 0.0, 0.0, 0.0, 0.0]
        return [NewAnnotation(i, values[k], f"ann{k % 2}", lead_time_s=leads[k]) for k, i in enumerate(ids)]
    comments = ["", ODD_TEXT, "ok", "", "x" * 500]
    return [NewReview(a, "rev", ReviewVerdict.ACCEPT, None, comments[k]) for k, a in enumerate(ids)]


def _row(new: Any, when: datetime, by: str, item_id: int) -> dict[str, Any]:
    """The row of ``new`` as the repository builds it."""
    if isinstance(new, NewSuggestion):
        cols = {"value": new.value, "score": new.score, "backend": new.backend, "model_version": new.model_version}
    elif isinstance(new, NewAnnotation):
        cols = {"value": new.value, "annotator": new.annotator, "status": new.status.value,
                "lead_time_s": new.lead_time_s, "parent_id": new.parent_id,
                "suggestion_id": new.suggestion_id}  # fmt: skip
    else:
        cols = {"annotation_id": new.annotation_id, "reviewer": new.reviewer, "verdict": new.verdict.value,
                "correction_id": new.correction_id, "comment": new.comment}  # fmt: skip
    return {"project_id": 1, "item_id": item_id, **cols, "created_at": when, "created_by": by}


def _write(store: Store, *, fast: bool) -> dict[str, list[int]]:
    """The same suggestions, annotations and reviews through one path; their ids by table."""
    make_project(store, "p", TEXT_SCHEMA)
    items = [it.id for it in add_items(store, "p", "text", [text_ref(f"t{i}") for i in range(5)])]
    out: dict[str, list[int]] = {"suggestions": [], "annotations": [], "reviews": []}
    with store.transaction() as tx:
        # per-row times and authors, then one of each for the batch (sent once), then values equal in Python
        for at, by, odd in (
            ([T0 + timedelta(seconds=k) for k in range(5)], [f"user:{k} {ODD_TEXT}" for k in range(5)], True),
            ([T0] * 5, ["user:same"] * 5, True),
            ([T0] * 5, ["user:same"] * 5, False),
        ):
            for table, kind in (("suggestions", "suggestion"), ("annotations", "annotation"), ("reviews", "review")):
                new = _new(table, out["annotations"][-5:] if table == "reviews" else items, odd=odd)
                if fast:
                    add = {"suggestions": tx.labels.add_suggestions, "annotations": tx.labels.add_annotations}
                    if table == "reviews":
                        ids = tx.labels.add_reviews(1, new, items, created_at=at, created_by=by)
                    else:
                        ids = add[table](1, new, created_at=at, created_by=by)
                else:
                    rows = [_row(n, at[k], by[k], items[k]) for k, n in enumerate(new)]
                    ids = _generic(tx.conn, getattr(t, table), rows, 1, kind)
                out[table].extend(ids)
    return out


def _stored(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.read() as tx:
        out = {tb.name: [tuple(r) for r in tx.conn.execute(select(tb).order_by(tb.c.id))] for tb in
               (t.suggestions, t.annotations, t.reviews)}  # fmt: skip
        out["events"] = [
            (r.seq, r.actor, r.kind, r.subject, r.payload)
            for r in tx.conn.execute(select(ev).where(ev.c.kind.in_(LABEL_KINDS)).order_by(ev.c.id))
        ]
    return out


@pytest.mark.postgres
def test_pg_batch_inserts_write_what_the_generic_insert_wrote(pg_url_pair: tuple[str, str], tmp_path: Path) -> None:
    stores = [Store.open(url, tmp_path / f"d{k}") for k, url in enumerate(pg_url_pair)]
    try:
        ids = [_write(stores[0], fast=True), _write(stores[1], fast=False)]
        assert ids[0] == ids[1] and all(len(v) == 15 for v in ids[0].values())
        fast, generic = _stored(stores[0]), _stored(stores[1])
        for table in ("suggestions", "annotations", "reviews"):  # as JSON: 1, 1.0 and true differ, 0.0 and -0.0 too
            assert len(fast[table]) == 15 and orjson.dumps(fast[table]) == orjson.dumps(generic[table]), table
        odd = fast["suggestions"][10:]
        assert orjson.dumps([r[3] for r in odd]) == orjson.dumps(SAME_IN_PYTHON)
        assert orjson.dumps([r[4] for r in odd]) == b"[0.0,-0.0,0.0,0.0,0.0]"
        # one event per batch, covering the same rows with the same digest
        assert len(fast["events"]) == 9 and fast["events"] == generic["events"]
        assert all(verify(s, "p").ok for s in stores)
        with stores[0].read() as tx:
            back = {s.id: s for s in tx.labels.for_items(list(range(1, 6)))[0]}
        first = [back[i] for i in ids[0]["suggestions"][:5]]
        assert [s.value for k, s in enumerate(first) if k != 3] == [v for k, v in enumerate(VALUES) if k != 3]
        assert first[3].value[0]["z"] == 0.0 and [s.score for s in first] == [None, 0.0, 1.0, 0.25, 1.0]
    finally:
        for s in stores:
            s.close()


@pytest.mark.postgres
def test_pg_batch_insert_refuses_a_too_long_value_and_writes_nothing(pg_url: str, tmp_path: Path) -> None:
    store = Store.open(pg_url, tmp_path / "d")
    try:
        make_project(store, "p", TEXT_SCHEMA)
        items = [it.id for it in add_items(store, "p", "text", [text_ref(f"t{i}") for i in range(3)])]
        new = [NewSuggestion(i, [], "b", "1", 0.5) for i in items]
        with pytest.raises(psycopg.errors.StringDataRightTruncation), store.transaction() as tx:
            tx.labels.add_suggestions(1, new, created_by=["user:a", "x" * 201, "user:b"])  # not cut to 200
        with store.read() as tx:
            assert tx.labels.count_without_suggestion(1, "b", "1") == 3
        assert verify(store, "p").ok
    finally:
        store.close()


def test_ids_in_row_order_refuses_ids_that_do_not_follow_the_rows() -> None:
    assert ids_in_row_order([(12, 7), (11, 5), (13, 7)], [5, 7, 7], "suggestions") == [11, 12, 13]
    with pytest.raises(StorageError, match="suggestions: the ids of 3 inserted rows do not follow the row order"):
        ids_in_row_order([(11, 7), (12, 5), (13, 7)], [5, 7, 7], "suggestions")
    with pytest.raises(StorageError):
        ids_in_row_order([(11, 5)], [5, 7], "suggestions")
