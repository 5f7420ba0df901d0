"""The review queue on SQLite and PostgreSQL: review/next locks an annotation to one reviewer.

A reviewer who asks again gets the annotation they hold (lock renewed); others skip it until
the lock expires; concurrent reviewers never get the same one; a review of an annotation
someone else holds is refused (409).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from labelloop.core import LabelSchema, MediaRef, NewItem, content_hash
from labelloop.core.accounts import Role, User
from labelloop.errors import Conflict
from labelloop.services.accounts import add_member, create_user
from labelloop.services.tasks import next_review, next_task, review, set_settings, submit
from labelloop.storage import Store, now
from labelloop.storage import tables_accounts as ta
from labelloop.storage.tasks_repo import TaskRepo
from tests.helpers import TEXT_SCHEMA, race

POS = [{"id": "r", "control": "sentiment", "labels": ["pos"]}]


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _world(store: Store, n_done: int, n_reviewers: int) -> tuple[int, list[User], list[int]]:
    """A project with ``n_done`` submitted annotations (by ``ann``) and reviewers r0, r1, ..."""
    with store.transaction() as tx:
        pid = tx.projects.create("rq", LabelSchema.model_validate(TEXT_SCHEMA), "user:test").id
        refs = [MediaRef.from_text(f"item {i}") for i in range(n_done)]
        tx.items.add_many(pid, [NewItem({"text": r}, content_hash({"text": r.sha256})) for r in refs],
                          created_by="user:t")  # fmt: skip
    ann = create_user(store, "ann", "long enough password")
    add_member(store, pid, "ann", Role.ANNOTATOR)
    done = []
    for k in range(n_done):
        task = next_task(store, pid, ann, "annotator")
        assert task is not None
        a = submit(store, pid, task["item"]["id"], ann, "annotator", POS, base_version=None, idempotency_key=f"k{k}")
        done.append(a.annotation["id"])
    reviewers = []
    for i in range(n_reviewers):
        u = create_user(store, f"r{i}", "long enough password")
        add_member(store, pid, u.username, Role.REVIEWER)
        reviewers.append(u)
    return pid, reviewers, done


def _next(store: Store, pid: int, who: User) -> int | None:
    task = next_review(store, pid, who, "reviewer")
    return None if task is None else int(task["annotation"]["id"])


def _expire(store: Store, annotation_id: int) -> None:
    with store.transaction() as tx:
        locks = ta.review_locks
        past = now() - timedelta(seconds=1)
        tx.conn.execute(locks.update().where(locks.c.annotation_id == annotation_id).values(expires_at=past))


def test_a_reviewer_keeps_their_annotation_and_others_skip_it(store: Store) -> None:
    pid, (r0, r1), done = _world(store, 3, 2)
    set_settings(store, pid, lock_seconds=600)
    first = next_review(store, pid, r0, "reviewer")
    assert first is not None and first["annotation"]["id"] == done[0]
    assert _next(store, pid, r1) == done[1]  # not the one r0 holds
    again = next_review(store, pid, r0, "reviewer")  # asking again: the same one, lock renewed
    assert again is not None and again["annotation"]["id"] == done[0]
    assert again["lock_expires_at"] >= first["lock_expires_at"]
    with store.read() as tx:
        lock = TaskRepo(tx.conn).review_lock(done[0])
    assert lock is not None and lock[0] == r0.id and now() + timedelta(seconds=590) < lock[1]
    # once reviewed, the lock is gone and the reviewer moves on
    review(store, pid, first["item"]["id"], r0, "reviewer", annotation_id=done[0], verdict="accept")
    with store.read() as tx:
        assert TaskRepo(tx.conn).review_lock(done[0]) is None
    assert _next(store, pid, r0) == done[2]
    assert _next(store, pid, r1) == done[1]
    r2 = create_user(store, "r2", "long enough password")
    add_member(store, pid, "r2", Role.REVIEWER)
    assert _next(store, pid, r2) is None  # everything left is held


def test_an_expired_review_lock_goes_to_the_next_asker(store: Store) -> None:
    pid, (r0, r1), done = _world(store, 1, 2)
    assert _next(store, pid, r0) == done[0]
    assert _next(store, pid, r1) is None
    _expire(store, done[0])
    assert _next(store, pid, r1) == done[0]
    assert _next(store, pid, r0) is None  # r0's lock was taken over: nothing for them now


def test_a_review_of_an_annotation_another_reviewer_holds_is_refused(store: Store) -> None:
    pid, (r0, r1), done = _world(store, 1, 2)
    task = next_review(store, pid, r0, "reviewer")
    assert task is not None
    iid = task["item"]["id"]
    with pytest.raises(Conflict, match=f"annotation {done[0]} is locked for review by another reviewer until"):
        review(store, pid, iid, r1, "reviewer", annotation_id=done[0], verdict="reject")
    with store.read() as tx:
        assert tx.labels.for_items([iid])[2] == []  # nothing written
    _expire(store, done[0])  # an expired lock no longer stands in the way
    out = review(store, pid, iid, r1, "reviewer", annotation_id=done[0], verdict="reject")
    assert out["review"]["reviewer"] == "r1"
    with pytest.raises(Conflict, match="already reviewed"):
        review(store, pid, iid, r0, "reviewer", annotation_id=done[0], verdict="accept")


def test_reviewing_without_asking_next_still_works(store: Store) -> None:
    pid, (r0,), done = _world(store, 1, 1)
    with store.read() as tx:
        iid = tx.labels.annotation(done[0]).item_id
    out = review(store, pid, iid, r0, "reviewer", annotation_id=done[0], verdict="accept")
    assert out["review"]["verdict"] == "accept" and _next(store, pid, r0) is None


def _race(store: Store, pid: int, reviewers: list[User]) -> list[int | None]:
    return race(len(reviewers), lambda i: _next(store, pid, reviewers[i]))


def test_concurrent_reviewers_never_get_the_same_annotation(store: Store) -> None:
    pid, reviewers, done = _world(store, 10, 8)
    got = _race(store, pid, reviewers)
    assert None not in got and len(set(got)) == len(got) and set(got) <= set(done)


def test_more_reviewers_than_annotations_each_get_one_or_none(store: Store) -> None:
    pid, reviewers, done = _world(store, 3, 8)
    got = _race(store, pid, reviewers)
    taken = [g for g in got if g is not None]
    assert sorted(taken) == sorted(done)  # every annotation handed out exactly once


def test_one_reviewers_concurrent_nexts_get_one_annotation(store: Store) -> None:
    pid, (r0,), done = _world(store, 5, 1)
    got = _race(store, pid, [r0] * 6)
    assert got == [done[0]] * 6
