"""Shared fixtures: a fresh store per test on SQLite, and on PostgreSQL where one is reachable.

``LABELLOOP_TEST_POSTGRES_URL`` names the server (default: the local one). Tests skip the
PostgreSQL variant when it is unreachable, unless ``LABELLOOP_REQUIRE_POSTGRES=1`` (CI), where
that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from labelloop.core import LabelSchema
from labelloop.services.projects import create_project
from labelloop.storage import Store
from tests.helpers import IMAGE_SCHEMA, TEXT_SCHEMA

PG_URL = os.environ.get("LABELLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


_PG_PROBLEM: str | bool | None = False  # False: not probed yet


def pg_problem() -> str | None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_available()
    assert _PG_PROBLEM is not False
    return _PG_PROBLEM


def _require_pg() -> None:
    problem = pg_problem()
    if problem is not None:
        if os.environ.get("LABELLOOP_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable at {PG_URL}: {problem}")
        pytest.skip(f"no PostgreSQL at {PG_URL}: {problem}")


@contextmanager
def _fresh_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    _require_pg()
    with _fresh_schema() as url:
        yield url


@pytest.fixture
def pg_url_pair() -> Iterator[tuple[str, str]]:
    """Two PostgreSQL URLs of two fresh schemas (the same writes through two paths), dropped afterwards."""
    _require_pg()
    with _fresh_schema() as first, _fresh_schema() as second:
        yield first, second


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on each backend."""
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = Store.open(url, tmp_path / "data")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store (for tests that are not about the backend)."""
    s = Store.open(None, tmp_path / "data")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def text_schema() -> LabelSchema:
    return LabelSchema.model_validate(TEXT_SCHEMA)


@pytest.fixture
def image_schema() -> LabelSchema:
    return LabelSchema.model_validate(IMAGE_SCHEMA)


@pytest.fixture
def make_project(sqlite_store: Store):  # type: ignore[no-untyped-def]
    def make(name: str, schema: dict, store: Store | None = None) -> str:  # type: ignore[type-arg]
        create_project(store or sqlite_store, name, LabelSchema.model_validate(schema), "user:test")
        return name

    return make
