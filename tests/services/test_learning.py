"""The active-learning loop on a live project (image.classify on handwritten 0s and 1s), SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from labelloop.errors import BackendUnavailable, InputRejected
from labelloop.services.accounts import create_user
from labelloop.services.learning import run_learning_round
from labelloop.services.live_routing import RoutePolicy
from labelloop.services.tasks import next_task, submit
from labelloop.storage import Store
from labelloop.storage.routing_repo import RoutingRepo
from tests.services.live_world import digits_project, label, region


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from labelloop.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _scores(store: Store, pid: int, version: str, items: list[int]) -> dict[int, float]:
    with store.read() as tx:
        sugg, _, _ = tx.labels.for_items(items)
    return {s.item_id: float(s.score or 0.0) for s in sugg if s.model_version == version}


def test_a_round_puts_the_most_uncertain_first_and_next_serves_them(store: Store) -> None:
    w = digits_project(store)
    seen: list[tuple[int, int | None]] = []
    r = run_learning_round(
        store, "digits", "image.classify", batch=8, sampler="margin", policy=RoutePolicy(audit_rate=0.0),
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert r.round_id is not None and len(r.batch) == 8 and r.promoted_slots == 8 and not r.stop
    assert r.trained_on == len(w.trained) and r.route is not None and r.route.model_version == r.model_version
    assert seen[-1][0] == seen[-1][1] == r.predicted + r.failed
    # margin on two classes: the batch holds the least confident suggestions of the new version
    pool = w.unlabelled
    scores = _scores(store, w.pid, r.model_version, pool)
    rest = [scores[i] for i in pool if i not in r.batch]
    assert max(scores[i] for i in r.batch) <= min(rest)
    # next serves the batch first, whatever item ids come before it
    user = create_user(store, "ann", "long enough password")
    served = []
    for n in range(8):
        task = next_task(store, w.pid, user, "annotator")
        assert task is not None
        served.append(task["item"]["id"])
        item = served[-1]
        submit(store, w.pid, item, user, "annotator", region(w.truth[item]), base_version=None, idempotency_key=f"{n}")
    assert sorted(served) == r.batch
    with store.read() as tx:
        assert RoutingRepo(tx.conn).promoted(w.pid) == []  # all done


def test_rounds_carry_the_stopping_rule_and_wait_for_labels(store: Store) -> None:
    w = digits_project(store)
    policy = RoutePolicy(audit_rate=0.0)
    first = run_learning_round(store, "digits", "image.classify", batch=5, policy=policy)
    idle = run_learning_round(store, "digits", "image.classify", batch=5, policy=policy)
    assert idle.nothing_new and idle.round_id is None and "no new labels" in idle.reason
    with store.read() as tx:
        assert RoutingRepo(tx.conn).promoted(w.pid) == first.batch  # still first in the queue
    reports = [first]
    for _ in range(4):  # people label each batch; predictions on the stop set settle
        label(store, w.pid, reports[-1].batch, w.truth)
        reports.append(run_learning_round(store, "digits", "image.classify", batch=5, policy=policy))
        if reports[-1].stop:
            break
    assert len({r.model_version for r in reports}) == len(reports)  # every round learnt from new labels
    assert reports[-1].stop and reports[-1].batch == [] and reports[-1].kappa is not None
    assert "stop" in reports[-1].reason
    with store.read() as tx:
        rounds = RoutingRepo(tx.conn).rounds(w.pid, "image.classify")
    assert [r.id for r in rounds] == [r.round_id for r in reports]
    assert len({tuple(r.stop_set) for r in rounds}) == 1  # one fixed stop set


def test_samplers_cancel_and_refusals(store: Store) -> None:
    w = digits_project(store)
    policy = RoutePolicy(audit_rate=0.0)
    r = run_learning_round(store, "digits", "image.classify", batch=6, sampler="kcenter", policy=policy)
    assert len(r.batch) == 6 and set(r.batch) <= set(w.unlabelled)
    label(store, w.pid, r.batch, w.truth)
    calls = iter([False, False, True])
    stopped = run_learning_round(
        store, "digits", "image.classify", batch=6, sampler="random", policy=policy, cancelled=lambda: next(calls)
    )
    assert stopped.cancelled and stopped.round_id is None and stopped.predicted > 0  # finished batches stay
    again = run_learning_round(store, "digits", "image.classify", batch=6, sampler="random", policy=policy)
    assert again.round_id is not None and len(again.batch) == 6  # resumed: only the rest predicted
    assert again.predicted < len(w.unlabelled)
    with pytest.raises(InputRejected, match="sampler"):
        run_learning_round(store, "digits", "image.classify", sampler="best")  # type: ignore[arg-type]
    with pytest.raises(BackendUnavailable, match="not trainable"):
        rules = {"rules": [{"name": "z", "kind": "dictionary", "control": "digit", "label": "0", "terms": ["zero"]}]}
        run_learning_round(store, "digits", "text.rules", config=rules)


def test_a_round_computes_each_image_s_features_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fit, predict and the sampler's probabilities share one feature row per image (no second inference)."""
    from labelloop.backends.image_classify import FewShotClassifier

    w = digits_project(store)
    policy = RoutePolicy(audit_rate=0.0)
    first = run_learning_round(store, "digits", "image.classify", batch=8, sampler="margin", policy=policy)
    label(store, w.pid, first.batch, w.truth)  # new labels: the next round fits a new version and predicts again
    computed: list[int] = []
    real = FewShotClassifier.features

    def counting(self: FewShotClassifier, images: list[object]) -> object:
        computed.append(len(images))
        return real(self, images)  # type: ignore[arg-type]

    monkeypatch.setattr(FewShotClassifier, "features", counting)
    r = run_learning_round(store, "digits", "image.classify", batch=8, sampler="margin", policy=policy)
    assert r.trained_on == len(w.trained) + 8 and r.predicted > 300 and len(r.batch) == 8
    with store.read() as tx:
        images = {i.data["image"].sha256 for i in tx.items.page(w.pid, limit=10_000)}
    assert sum(computed) == len(images)  # each image once: training, prediction and the sampler's pool
