"""Evidence per label type on SQLite and PostgreSQL: gold and reviews write it, ``next`` uses it.

An annotator strong on one label and weak on another gets hard items of the first and easy
items of the second; the stats and the QC report show the same evidence.
"""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.core import LabelSchema, MediaRef, NewItem, NewSuggestion, content_hash
from labelloop.core.accounts import Role, User
from labelloop.services.accounts import add_member, create_user
from labelloop.services.qc_report import qc_report
from labelloop.services.tasks import (
    label_skills,
    mark_gold,
    next_review,
    next_task,
    project_stats,
    review,
    set_settings,
    submit,
)
from labelloop.storage import Store
from labelloop.storage.skills_repo import SkillRepo
from labelloop.storage.tasks_repo import TaskRepo
from tests.helpers import TEXT_SCHEMA

POS = [{"id": "r", "control": "sentiment", "labels": ["pos"]}]
NEG = [{"id": "r", "control": "sentiment", "labels": ["neg"]}]
PER = [{"id": "s", "control": "entities", "label": "PER", "start": 0, "end": 4}]


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _world(store: Store, n: int, people: dict[str, Role]) -> tuple[int, dict[str, User], list[int]]:
    with store.transaction() as tx:
        pid = tx.projects.create("s", LabelSchema.model_validate(TEXT_SCHEMA), "user:test").id
        refs = [MediaRef.from_text(f"item {i}") for i in range(n)]
        ids = tx.items.add_many(pid, [NewItem({"text": r}, content_hash({"text": r.sha256})) for r in refs],
                                created_by="user:t")  # fmt: skip
    users = {}
    for name, role in people.items():
        users[name] = create_user(store, name, "long enough password")
        add_member(store, pid, name, role)
    return pid, users, [i for i in ids if i is not None]


def _evidence(store: Store, pid: int, user: User) -> dict[tuple[str, str], tuple[int, float]]:
    with store.read() as tx:
        return SkillRepo(tx.conn).of_user(pid, user.id)


def _do(store: Store, pid: int, user: User, value: list[dict[str, Any]], key: str) -> dict[str, Any]:
    task = next_task(store, pid, user, "annotator")
    assert task is not None
    return submit(store, pid, task["item"]["id"], user, "annotator", value, base_version=None,
                  idempotency_key=key).annotation  # fmt: skip


def test_a_gold_answer_scores_every_label_type_in_it_or_in_the_gold(store: Store) -> None:
    pid, users, ids = _world(store, 3, {"ann": Role.ANNOTATOR})
    ann = users["ann"]
    mark_gold(store, pid, ids[0], POS + PER)
    mark_gold(store, pid, ids[1], POS)
    set_settings(store, pid, gold_rate=1.0)
    _do(store, pid, ann, NEG + PER, "g1")  # wrong sentiment, right entity
    assert _evidence(store, pid, ann) == {
        ("entities", "PER"): (1, 1.0), ("sentiment", "neg"): (1, 0.0), ("sentiment", "pos"): (1, 0.0),
    }  # fmt: skip
    _do(store, pid, ann, POS, "g2")
    ev = _evidence(store, pid, ann)
    assert ev[("sentiment", "pos")] == (2, 1.0) and ev[("sentiment", "neg")] == (1, 0.0)
    (row,) = project_stats(store, pid)["annotators"]
    overall = (1 + 1 / 3 + 1) / 4  # Jaccard 1/3, then 1, under Beta(1, 1): the overall skill as before
    assert row["gold_seen"] == 2 and row["skill"] == round(overall, 4)
    assert row["skill_by_label"]["sentiment"]["pos"] == {
        "seen": 2,
        "accuracy": 0.5,
        "skill": round((1 + 4 * overall) / 6, 4),
    }
    # an ordinary (not gold) submit is no evidence
    set_settings(store, pid, gold_rate=0.0)
    _do(store, pid, ann, NEG, "n1")
    assert _evidence(store, pid, ann) == ev


@pytest.mark.parametrize(
    ("verdict", "fix", "expected"),
    [
        ("accept", None, {("sentiment", "pos"): (1, 1.0), ("entities", "PER"): (1, 1.0)}),
        ("reject", None, {("sentiment", "pos"): (1, 0.0), ("entities", "PER"): (1, 0.0)}),
        # the reviewer keeps the entity and changes the sentiment: pos wrong, neg missed
        (
            "correct",
            NEG + PER,
            {("sentiment", "pos"): (1, 0.0), ("sentiment", "neg"): (1, 0.0), ("entities", "PER"): (1, 1.0)},
        ),
    ],
)
def test_a_review_credits_the_author_only(
    store: Store, verdict: str, fix: list[dict[str, Any]] | None, expected: dict[Any, Any]
) -> None:
    pid, users, _ = _world(store, 2, {"ann": Role.ANNOTATOR, "rev": Role.REVIEWER})
    ann, rev = users["ann"], users["rev"]
    done = _do(store, pid, ann, POS + PER, "k1")
    task = next_review(store, pid, rev, "reviewer")
    assert task is not None and task["annotation"]["id"] == done["id"]
    review(store, pid, done["item_id"], rev, "reviewer", annotation_id=done["id"], verdict=verdict, value=fix)
    assert _evidence(store, pid, ann) == expected
    assert _evidence(store, pid, rev) == {}
    people = {r["username"]: r for r in project_stats(store, pid)["annotators"]}
    assert people["ann"]["skill_by_label"]["sentiment"]["pos"]["seen"] == 1
    assert label_skills(store, pid)["ann"] == people["ann"]["skill_by_label"]


def _scored_items(store: Store, pid: int, ids: list[int], plan: list[tuple[list[dict[str, Any]], float]]) -> None:
    with store.transaction() as tx:
        tx.labels.add_suggestions(
            pid, [NewSuggestion(iid, value, "m", "1", score) for iid, (value, score) in zip(ids, plan, strict=True)]
        )


def _order(store: Store, pid: int, user: User, n: int) -> list[int]:
    got = []
    for k in range(n):
        task = next_task(store, pid, user, "annotator")
        assert task is not None
        got.append(task["item"]["id"])
        submit(store, pid, got[-1], user, "annotator", POS, base_version=None, idempotency_key=f"{user.id}-{k}")
    return got


def test_strong_on_pos_weak_on_neg_gets_hard_pos_items_and_easy_neg_items(store: Store) -> None:
    people = {"pos_expert": Role.ANNOTATOR, "neg_expert": Role.ANNOTATOR, "newcomer": Role.ANNOTATOR}
    pid, users, ids = _world(store, 4, people)
    set_settings(store, pid, overlap=3)
    # queue order: easy pos, hard neg, hard pos, easy neg (difficulty = 1 - best score)
    _scored_items(store, pid, ids, [(POS, 0.95), (NEG, 0.1), (POS, 0.1), (NEG, 0.95)])
    easy_pos, hard_neg, hard_pos, easy_neg = ids
    with store.transaction() as tx:
        skills = SkillRepo(tx.conn)
        for _ in range(20):
            skills.add(pid, users["pos_expert"].id, {("sentiment", "pos"): 1.0})
            skills.add(pid, users["neg_expert"].id, {("sentiment", "neg"): 1.0})
        for k in range(20):
            skills.add(pid, users["pos_expert"].id, {("sentiment", "neg"): float(k < 4)})
            skills.add(pid, users["neg_expert"].id, {("sentiment", "pos"): float(k < 4)})
    assert _order(store, pid, users["pos_expert"], 4) == [hard_pos, easy_neg, easy_pos, hard_neg]
    # (the easy pos item and the hard neg one match equally well: queue order decides)
    assert _order(store, pid, users["neg_expert"], 4) == [easy_pos, hard_neg, easy_neg, hard_pos]
    assert _order(store, pid, users["newcomer"], 4) == [easy_pos, easy_neg, hard_neg, hard_pos]  # overall 0.5


def test_candidates_carry_the_label_of_the_best_suggestion(store: Store) -> None:
    pid, users, ids = _world(store, 4, {"ann": Role.ANNOTATOR})
    spans = [{"id": "s", "control": "entities", "label": "ORG", "start": 0, "end": 4}]
    with store.transaction() as tx:
        tx.labels.add_suggestions(pid, [
            NewSuggestion(ids[0], POS, "m", "1", 0.4), NewSuggestion(ids[0], NEG, "m", "2", 0.7),  # best: neg
            NewSuggestion(ids[1], spans, "m", "1", None),  # unscored: still a label type
            NewSuggestion(ids[2], [], "m", "1", 0.9),  # an empty suggestion: none
        ])  # fmt: skip
    with store.transaction() as tx:
        tasks = TaskRepo(tx.conn)
        tasks.sync(*tasks.queue_state(pid))
        from labelloop.storage import now

        found = {c.slot.item_id: c for c in tasks.candidates(pid, users["ann"].id, now())}
    assert found[ids[0]].label == ("sentiment", "neg") and found[ids[0]].best_score == 0.7
    assert found[ids[1]].label == ("entities", "ORG") and found[ids[1]].best_score is None
    assert found[ids[2]].label is None and found[ids[3]].label is None


def test_the_qc_report_shows_accuracy_per_label_from_gold_and_reviews(store: Store) -> None:
    pid, users, _ = _world(store, 2, {"ann": Role.ANNOTATOR, "rev": Role.REVIEWER})
    done = _do(store, pid, users["ann"], POS, "k1")
    review(store, pid, done["item_id"], users["rev"], "reviewer", annotation_id=done["id"], verdict="reject")
    rep = qc_report(store, pid)
    assert rep["annotators"]["ann"]["skill_by_label"] == {"sentiment": {"pos": {"seen": 1, "accuracy": 0.0,
                                                                              "skill": 0.4}}}  # fmt: skip
    from labelloop.quality.report_html import render_html

    page = render_html(rep)
    assert "accuracy by label (gold + review)" in page and "sentiment/pos 0.000 (n=1)" in page


def test_a_manager_reviewing_their_own_annotation_earns_no_evidence(store: Store) -> None:
    pid, users, _ = _world(store, 1, {"boss": Role.MANAGER})
    boss = users["boss"]
    task = next_task(store, pid, boss, "manager")
    assert task is not None
    done = submit(store, pid, task["item"]["id"], boss, "manager", POS, base_version=None, idempotency_key="k")
    review(store, pid, task["item"]["id"], boss, "manager", annotation_id=done.annotation["id"], verdict="accept")
    assert _evidence(store, pid, boss) == {}
