"""Submit bookkeeping on SQLite and PostgreSQL: counters, gold scoring, drafts, keys, resubmits.

On PostgreSQL the key, the dropped draft, the finished slot and the counters are one statement
(a data-modifying WITH); on SQLite one statement each. Both must leave the same rows.
"""

from __future__ import annotations

import pytest

from labelloop.core import LabelSchema, MediaRef, NewItem, content_hash
from labelloop.core.accounts import Role, User
from labelloop.errors import NotFound
from labelloop.services.accounts import add_member, create_user
from labelloop.services.tasks import mark_gold, next_task, project_stats, save_draft, set_settings, submit
from labelloop.storage import Store
from labelloop.storage.tasks_repo import DONE, TaskRepo
from tests.helpers import TEXT_SCHEMA

POS = [{"id": "r", "control": "sentiment", "labels": ["pos"]}]
NEG = [{"id": "r", "control": "sentiment", "labels": ["neg"]}]


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _world(store: Store, n: int) -> tuple[int, User, list[int]]:
    with store.transaction() as tx:
        pid = tx.projects.create("s", LabelSchema.model_validate(TEXT_SCHEMA), "user:test").id
        refs = [MediaRef.from_text(f"item {i}") for i in range(n)]
        ids = tx.items.add_many(pid, [NewItem({"text": r}, content_hash({"text": r.sha256})) for r in refs],
                                created_by="user:t")  # fmt: skip
    u = create_user(store, "ann", "long enough password")
    add_member(store, pid, "ann", Role.ANNOTATOR)
    return pid, u, [i for i in ids if i is not None]


def _submitted(store: Store, pid: int) -> tuple[int, int]:
    (row,) = project_stats(store, pid)["annotators"]
    return row["submitted"], row["gold_seen"]


def test_submit_counts_once_drops_the_draft_and_keeps_the_key(store: Store) -> None:
    pid, u, _ = _world(store, 3)
    task = next_task(store, pid, u, "annotator")
    assert task is not None
    iid = task["item"]["id"]
    save_draft(store, pid, iid, u, "annotator", POS)
    first = submit(store, pid, iid, u, "annotator", POS, base_version=None, idempotency_key="k1")
    again = submit(store, pid, iid, u, "annotator", POS, base_version=None, idempotency_key="k1")
    assert first.created and not again.created and again.annotation == first.annotation
    assert first.annotation["value"] == POS and first.annotation["annotator"] == "ann"
    with store.read() as tx:
        tasks = TaskRepo(tx.conn)
        slot = tasks.slot_for(iid, u.id)
        assert slot is not None and slot.state == DONE and slot.expires_at is None
        assert tasks.draft(iid, u.id) is None and tasks.idempotent(u.id, "k1") == first.annotation["id"]
    # a new version of a finished task is stored but not counted again
    fix = submit(store, pid, iid, u, "annotator", NEG, base_version=first.annotation["id"], idempotency_key="k2")
    assert fix.created and fix.annotation["parent_id"] == first.annotation["id"]
    assert _submitted(store, pid) == (1, 0)
    second = next_task(store, pid, u, "annotator")
    assert second is not None and second["item"]["id"] != iid
    submit(store, pid, second["item"]["id"], u, "annotator", POS, base_version=None, idempotency_key="k3")
    assert _submitted(store, pid) == (2, 0)


def test_a_gold_submit_is_scored_not_counted(store: Store) -> None:
    pid, u, ids = _world(store, 4)
    mark_gold(store, pid, ids[0], POS)
    set_settings(store, pid, gold_rate=1.0)
    task = next_task(store, pid, u, "annotator")
    assert task is not None and task["item"]["id"] == ids[0] and task["is_gold"] is False  # never revealed
    submit(store, pid, ids[0], u, "annotator", POS, base_version=None, idempotency_key="g1")
    assert _submitted(store, pid) == (0, 1)
    (row,) = project_stats(store, pid)["annotators"]
    assert row["skill"] == round(2 / 3, 4)  # (1 + 1) / (1 + 2): one perfect gold answer
    with store.read() as tx:
        slot = TaskRepo(tx.conn).slot_for(ids[0], u.id)
        assert slot is not None and slot.state == DONE


def test_submit_to_a_missing_item_or_project_says_which(store: Store) -> None:
    pid, u, ids = _world(store, 1)
    with pytest.raises(NotFound, match="item"):
        submit(store, pid, ids[0] + 100, u, "annotator", POS, base_version=None, idempotency_key="x")
    with pytest.raises(NotFound, match="project"):
        submit(store, pid + 100, ids[0], u, "annotator", POS, base_version=None, idempotency_key="x")
