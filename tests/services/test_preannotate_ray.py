"""``--engine ray`` on a local Ray cluster: same results as local, failures isolated per batch."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from labelloop.backends.base import BaseBackend
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendOutput
from labelloop.errors import BackendUnavailable
from labelloop.services.preannotate import preannotate
from labelloop.storage import Store
from tests.backends.factories import TEXT_SCHEMA, add_items, make_project, text_ref

ray = pytest.importorskip("ray", reason="the 'ray' extra is not installed")
pytestmark = pytest.mark.ray

RULES = {"rules": [{"name": "city", "kind": "dictionary", "control": "entities", "label": "LOC", "terms": ["北京"]}]}


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One local cluster for the module (starting one takes seconds); the engine reuses it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import tests/
    try:
        yield
    finally:
        ray.shutdown()


class Faulty(BaseBackend):
    """Dies, hangs or raises by the item's text; fine otherwise."""

    name = "test.faulty"
    model_version = "1"
    capabilities = BackendCapabilities(frozenset({Medium.TEXT}), frozenset({ControlKind.SPANS}), batch_size=2)

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        out = []
        for it in batch:
            text = it.data["text"].text or ""
            if text == "die":
                os._exit(3)
            if text == "hang":
                time.sleep(60)
            if text == "raise":
                raise RuntimeError("model exploded")
            span = {"id": "s", "control": "entities", "label": "LOC", "start": 0, "end": 1}
            out.append(self.ok(it, [span | {"label": "ALIEN"}] if text == "alien" else [span], score=0.5))
        return out


def _texts(store: Store, texts: list[str]) -> dict[str, int]:
    make_project(store, "p", TEXT_SCHEMA)
    return {it.data["text"].text or "": it.id for it in add_items(store, "p", "text", [text_ref(t) for t in texts])}


def test_same_suggestions_as_local_and_resume(sqlite_store: Store) -> None:
    _texts(sqlite_store, [f"去北京 {i}" for i in range(9)] + ["nothing"])
    r = preannotate(sqlite_store, "p", "text.rules", config=RULES, batch_size=3, engine="ray")
    assert (r.engine, r.todo, r.suggestions, r.failed, r.batches) == ("ray", 10, 10, 0, 4)
    with sqlite_store.read() as tx:
        sugg, _, _ = tx.labels.for_items(list(range(1, 11)))
    assert sorted(s.item_id for s in sugg) == list(range(1, 11))
    assert all(s.value[0]["text"] == "北京" for s in sugg if s.item_id <= 9)
    again = preannotate(sqlite_store, "p", "text.rules", config=RULES, engine="ray")
    assert (again.todo, again.skipped, again.suggestions) == (0, 10, 0)


def test_a_limited_run_on_ray(sqlite_store: Store) -> None:
    ids = _texts(sqlite_store, [f"去北京 {i}" for i in range(9)])
    r = preannotate(sqlite_store, "p", "text.rules", config=RULES, batch_size=3, engine="ray", limit=5)
    assert (r.todo, r.suggestions, r.batches) == (5, 5, 2)
    with sqlite_store.read() as tx:
        done = sorted(s.item_id for s in tx.labels.for_items(sorted(ids.values()))[0])
    assert done == sorted(ids.values())[:5]


def test_crash_hang_garbage_affect_only_their_batch(sqlite_store: Store) -> None:
    ids = _texts(sqlite_store, ["a", "die", "b", "c", "hang", "d", "raise", "e", "alien", "f"])
    r = preannotate(
        sqlite_store, "p", "", backend=Faulty(), engine="ray", options={"batch_timeout_s": 8, "ray_workers": 2}
    )
    errors = {e.source: e.reason for e in r.errors}
    assert errors[f"item {ids['die']}"] == "backend worker died"
    assert errors[f"item {ids['a']}"] == "backend worker died"  # same batch as the crash
    assert errors[f"item {ids['hang']}"] == "backend timed out after 8 s"
    assert errors[f"item {ids['raise']}"] == "backend raised RuntimeError: model exploded"  # retried alone
    assert "invalid output" in errors[f"item {ids['alien']}"]
    # batches of 2: [a, die] [b, c] [hang, d] [raise, e] [alien, f]: raise and alien fail alone
    assert (r.suggestions, r.failed) == (4, 6) and r.retried_batches == 1
    with sqlite_store.read() as tx:
        assert tx.labels.count_without_suggestion(1, "test.faulty", "1") == 6


def test_setup_failure_is_reported(sqlite_store: Store) -> None:
    _texts(sqlite_store, ["x"])
    with pytest.raises(BackendUnavailable, match="llm"):
        preannotate(sqlite_store, "p", "llm", config={"endpoint": "http://127.0.0.1:9/v1", "model": "m"}, engine="ray")


def test_unknown_engine(sqlite_store: Store) -> None:
    _texts(sqlite_store, ["x"])
    bad: Any = "spark"
    with pytest.raises(ValueError, match="engine must be"):
        preannotate(sqlite_store, "p", "text.rules", config=RULES, engine=bad)
