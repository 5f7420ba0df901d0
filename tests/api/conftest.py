"""A web world: two projects, users of every role, API tokens, and a client factory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from labelloop.api import create_app
from labelloop.config import Settings
from labelloop.core import LabelSchema, NewSuggestion
from labelloop.core.accounts import Role, User
from labelloop.services.accounts import add_member, create_token, create_user
from labelloop.services.ingest import import_source
from labelloop.services.projects import create_project
from labelloop.storage import Store
from tests.helpers import IMAGE_SCHEMA, TEXT_SCHEMA, png_bytes, write

PASSWORD = "a long test password"
ROLES = ("viewer", "annotator", "reviewer", "manager")


@dataclass
class World:
    """Projects ``a`` (text, 6 items) and ``b`` (image); users named after their role in ``a``."""

    store: Store
    app: object
    pa: int
    pb: int
    items_a: list[int]
    items_b: list[int]
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None = None) -> TestClient:
        c = TestClient(self.app, raise_server_exceptions=False)  # type: ignore[arg-type]
        if who is not None:
            c.headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return c


def build_world(store: Store, tmp_path: Path) -> World:
    pa = create_project(store, "a", LabelSchema.model_validate(TEXT_SCHEMA), "user:test").id
    pb = create_project(store, "b", LabelSchema.model_validate(IMAGE_SCHEMA), "user:test").id
    texts = [f"text number {i} <script>alert({i})</script>" for i in range(6)]
    write(tmp_path / "a.jsonl", "".join(json.dumps({"text": t}) + "\n" for t in texts))
    import_source(store, "a", tmp_path / "a.jsonl", actor="user:test")
    write(tmp_path / "img" / "x.png", png_bytes())
    import_source(store, "b", tmp_path / "img", actor="user:test")
    with store.read() as tx:
        items_a = [it.id for it in tx.items.page(pa, limit=100)]
        items_b = [it.id for it in tx.items.page(pb, limit=100)]
    with store.transaction() as tx:
        tx.labels.add_suggestions(
            pa, [NewSuggestion(items_a[0], [{"id": "r1", "control": "sentiment", "labels": ["pos"]}], "test", "1", 0.9)]
        )
    app = create_app(Settings(data_dir=tmp_path / "data"), store=store)
    w = World(store, app, pa, pb, items_a, items_b)
    for name in (*ROLES, "admin", "outsider", "annotator2", "b_annotator"):
        w.users[name] = create_user(store, name, PASSWORD, is_admin=name == "admin")
        w.tokens[name] = create_token(store, w.users[name], "tests")[1]
    for role in ROLES:
        add_member(store, pa, role, Role(role))
    add_member(store, pa, "annotator2", Role.ANNOTATOR)
    add_member(store, pb, "b_annotator", Role.ANNOTATOR)
    return w


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with test parameters (the real ones cost ~1 s per hash on a shared CI box)."""
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def world(sqlite_store: Store, tmp_path: Path) -> Iterator[World]:
    w = build_world(sqlite_store, tmp_path)
    with TestClient(w.app):  # type: ignore[arg-type]  # runs the lifespan (secret, limiter)
        yield w
