"""The work queue on SQLite and PostgreSQL: concurrent askers never share a slot; locks expire."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from labelloop.core import LabelSchema, NewItem
from labelloop.core.accounts import Role, User
from labelloop.services.accounts import add_member, create_user
from labelloop.services.tasks import next_task, set_settings, submit
from labelloop.storage import Store, now
from labelloop.storage.tasks_repo import TaskRepo
from tests.helpers import TEXT_SCHEMA, race


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _project(store: Store, n_items: int, n_users: int) -> tuple[int, list[User]]:
    from labelloop.core import MediaRef, content_hash

    with store.transaction() as tx:
        pid = tx.projects.create("q", LabelSchema.model_validate(TEXT_SCHEMA), "user:test").id
        refs = [MediaRef.from_text(f"item {i}") for i in range(n_items)]
        tx.items.add_many(
            pid, [NewItem({"text": r}, content_hash({"text": r.sha256})) for r in refs], created_by="user:t"
        )
    users = []
    for i in range(n_users):
        u = create_user(store, f"u{i}", "long enough password")
        add_member(store, pid, u.username, Role.ANNOTATOR)
        users.append(u)
    return pid, users


def _race(store: Store, pid: int, users: list[User]) -> list[int | None]:
    def ask(i: int) -> int | None:
        task = next_task(store, pid, users[i], "annotator")
        return None if task is None else int(task["item"]["id"])

    return race(len(users), ask)


def test_concurrent_next_never_shares_a_slot(store: Store) -> None:
    pid, users = _project(store, 20, 8)
    got = _race(store, pid, users)
    assert None not in got and len(set(got)) == len(got)


def test_overlap_two_gives_each_item_to_two_different_people(store: Store) -> None:
    pid, users = _project(store, 3, 8)
    set_settings(store, pid, overlap=2)
    got = _race(store, pid, users)
    taken = [g for g in got if g is not None]
    assert len(taken) == 6  # 3 items × 2 slots; the last two askers get nothing
    assert all(taken.count(i) == 2 for i in set(taken))


def test_expired_lock_is_reclaimed_and_late_submit_is_refused(store: Store) -> None:
    pid, (a, b) = _project(store, 1, 2)
    task = next_task(store, pid, a, "annotator")
    assert task is not None and next_task(store, pid, b, "annotator") is None
    with store.transaction() as tx:
        repo = TaskRepo(tx.conn)
        slot = repo.slot_for(task["item"]["id"], a.id)
        assert slot is not None
        repo.lock(slot.id, a.id, now() - timedelta(seconds=1))
    again = next_task(store, pid, b, "annotator")
    assert again is not None and again["item"]["id"] == task["item"]["id"]
    value = [{"id": "r", "control": "sentiment", "labels": ["pos"]}]
    from labelloop.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        submit(store, pid, task["item"]["id"], a, "annotator", value, base_version=None, idempotency_key="k1")
    done = submit(store, pid, again["item"]["id"], b, "annotator", value, base_version=None, idempotency_key="k1")
    assert done.created and done.annotation["annotator"] == "u1"


def test_concurrent_retries_of_one_submit_store_one_annotation(store: Store, tmp_path: Path) -> None:
    pid, (a,) = _project(store, 1, 1)
    task = next_task(store, pid, a, "annotator")
    assert task is not None
    iid = task["item"]["id"]
    value = [{"id": "r", "control": "sentiment", "labels": ["neg"]}]
    results: list[object] = []

    def send() -> None:
        try:
            results.append(submit(store, pid, iid, a, "annotator", value, base_version=None, idempotency_key="same"))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.read() as tx:
        _s, anns, _r = tx.labels.for_items([iid])
    assert len(anns) == 1
    ok = [r for r in results if not isinstance(r, Exception)]
    assert ok and all(r.annotation["id"] == anns[0].id for r in ok)  # type: ignore[attr-defined]


def test_one_users_concurrent_nexts_get_one_task(store: Store) -> None:
    pid, (a,) = _project(store, 10, 1)
    got = _race(store, pid, [a] * 6)
    assert None not in got and len(set(got)) == 1  # the task they hold, renewed; never a second one
    with store.read() as tx:
        assert TaskRepo(tx.conn).held(pid, a.id) is not None


def test_many_askers_on_a_short_queue_each_get_a_slot(store: Store) -> None:
    # fewer free slots than the candidate window (32): each concurrent asker must still find one
    # the others did not choose; none may come back empty-handed while a slot is free
    pid, users = _project(store, 9, 8)
    got = _race(store, pid, users)
    assert None not in got and len(set(got)) == len(got)
