"""Held items (awaiting or failing desensitisation) never reach people through the API."""

from __future__ import annotations

import uuid

from labelloop.services.desensitise import configure, desensitise
from tests.api.conftest import World

POS = [{"id": "r1", "control": "sentiment", "labels": ["pos"]}]


def test_held_items_are_neither_served_listed_nor_writable(world: World) -> None:
    w = world
    ann, rev, mgr, viewer = (w.client(r) for r in ("annotator", "reviewer", "manager", "viewer"))
    # a task taken before the project opts in to desensitisation must not come back once held
    taken = ann.post(f"/api/projects/{w.pa}/next").json()["task"]["item"]["id"]
    configure(w.store, "a", {"pii": {"mode": "tag", "chinese_ner": False}}, actor="user:boss")
    assert ann.post(f"/api/projects/{w.pa}/next").status_code == 204
    assert rev.post(f"/api/projects/{w.pa}/next").status_code == 204
    assert viewer.get(f"/api/projects/{w.pa}/items").json()["items"] == []  # no preview of original text
    for who in (ann, rev, mgr, viewer):
        assert who.get(f"/api/projects/{w.pa}/items/{taken}").status_code == 404
    assert ann.put(f"/api/projects/{w.pa}/items/{taken}/draft", json={"value": POS}).status_code == 404
    submitted = ann.post(
        f"/api/projects/{w.pa}/items/{taken}/annotations",
        json={"value": POS, "base_version": None},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert submitted.status_code == 404
    with w.store.read() as tx:
        (sid,) = [s.id for s in tx.labels.for_items([w.items_a[0]])[0]]
    assert rev.post(f"/api/projects/{w.pa}/suggestions/{sid}/accept").status_code == 404
    with w.store.read() as tx:
        assert tx.labels.for_items(w.items_a)[1] == []  # nothing was written on a held item
    # once desensitised, the items are work again
    assert desensitise(w.store, "a").items == 6
    assert ann.post(f"/api/projects/{w.pa}/next").json()["task"]["item"]["id"] == taken
    assert len(viewer.get(f"/api/projects/{w.pa}/items").json()["items"]) == 6
