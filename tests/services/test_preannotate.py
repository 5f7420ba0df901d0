"""The pre-annotation engine: resume, per-batch checkpoints, isolation of bad items, validation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from labelloop.backends.base import BaseBackend
from labelloop.cli.main import main
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium, NewAnnotation, NewSuggestion
from labelloop.core.plugins import BackendCapabilities
from labelloop.errors import BackendUnavailable, PluginError
from labelloop.services.audit import verify
from labelloop.services.preannotate import preannotate
from labelloop.services.samples import make_scene
from labelloop.storage import Store, repositories
from tests.backends.factories import (
    CLOUD_SCHEMA,
    IMAGE_SCHEMA,
    TEXT_SCHEMA,
    add_items,
    blob_image,
    cloud_ref,
    image_ref,
    make_project,
    text_ref,
)

RULES = {"rules": [{"name": "city", "kind": "dictionary", "control": "entities", "label": "LOC", "terms": ["北京"]}]}


class Scripted(BaseBackend):
    """Behaves by the item's text: raise, garbage, bad label, span past the end, bad score, or ok."""

    name = "test.scripted"
    model_version = "7"
    capabilities = BackendCapabilities(frozenset({Medium.TEXT}), frozenset({ControlKind.SPANS}), batch_size=4)

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[Any]:
        self.calls.append(len(batch))
        out: list[Any] = []
        for it in batch:
            text = it.data["text"].text or ""
            span: dict[str, Any] = {"id": "s", "control": "entities", "label": "LOC", "start": 0, "end": 1}
            if text == "raise":
                raise RuntimeError("model exploded")
            if text == "interrupt":
                raise KeyboardInterrupt
            if text == "garbage":
                out.append("not an output")
            elif text == "label":
                out.append(self.ok(it, [span | {"label": "PLANET"}], score=0.5))
            elif text == "past":
                out.append(self.ok(it, [span | {"end": 99}], score=0.5))
            elif text == "score":
                out.append(self.ok(it, [span], score=2.0))
            elif text == "numpy":
                out.append(self.ok(it, [span | {"end": np.int64(1)}], score=0.5))
            elif text == "refuse":
                out.append(self.fail(it, "cannot read this"))
            else:
                out.append(self.ok(it, [span], score=0.9))
        return out


def _texts(store: Store, texts: list[str]) -> list[Item]:
    make_project(store, "p", TEXT_SCHEMA)
    return add_items(store, "p", "text", [text_ref(t) for t in texts])


def test_resume_skips_done_work(store: Store) -> None:
    _texts(store, [f"去北京 {i}" for i in range(7)])
    seen: list[tuple[int, int | None]] = []
    r = preannotate(store, "p", "text.rules", config=RULES, batch_size=3, progress=lambda d, t: seen.append((d, t)))
    assert (r.todo, r.suggestions, r.failed, r.batches, r.skipped) == (7, 7, 0, 3, 0)
    assert seen[-1] == (7, 7) and r.items_per_s > 0
    again = preannotate(store, "p", "text.rules", config=RULES)
    assert (again.todo, again.suggestions, again.skipped) == (0, 0, 7)
    with store.read() as tx:
        sugg, _, _ = tx.labels.for_items([it.id for page in tx.items.iter_all(1) for it in page])
    assert len(sugg) == 7 and {(s.backend, s.model_version) for s in sugg} == {("text.rules", "1.0")}
    assert sugg[0].value[0]["text"] == "北京" and sugg[0].value[0]["start"] == 1


def test_a_limited_run_takes_the_first_items_and_the_next_run_goes_on(store: Store) -> None:
    items = _texts(store, [f"去北京 {i}" for i in range(7)])
    seen: list[tuple[int, int | None]] = []
    r = preannotate(
        store, "p", "text.rules", config=RULES, batch_size=3, limit=4, progress=lambda d, t: seen.append((d, t))
    )
    assert (r.todo, r.suggestions, r.batches, r.skipped) == (4, 4, 2, 0) and seen[-1] == (4, 4)  # batches of 3 and 1
    with store.read() as tx:
        done = sorted(s.item_id for s in tx.labels.for_items([it.id for it in items])[0])
    assert done == [it.id for it in items[:4]]  # in id order
    rest = preannotate(store, "p", "text.rules", config=RULES, limit=100)
    assert (rest.todo, rest.suggestions, rest.skipped) == (3, 3, 4)
    with pytest.raises(ValueError, match="limit must be >= 1"):
        preannotate(store, "p", "text.rules", config=RULES, limit=0)


def test_a_killed_run_keeps_finished_batches(store: Store) -> None:
    _texts(store, ["a", "b", "c", "interrupt", "d"])
    with pytest.raises(KeyboardInterrupt):
        preannotate(store, "p", "", backend=Scripted(), batch_size=3)
    with store.read() as tx:
        assert tx.labels.count_without_suggestion(1, "test.scripted", "7") == 2  # first batch committed
    resumed = preannotate(store, "p", "", backend=_Healed(), batch_size=3)
    assert (resumed.skipped, resumed.suggestions) == (3, 2)


def test_a_run_killed_while_committing_loses_only_that_batch(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed between a batch's insert and its commit: the batch rolls back whole, the chain stays valid."""
    _texts(store, [f"去北京 {i}" for i in range(7)])
    real, calls = repositories.record_inserted, []

    def dying(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the second batch: its rows are inserted, its event not yet written
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(repositories, "record_inserted", dying)
    with pytest.raises(KeyboardInterrupt):
        preannotate(store, "p", "text.rules", config=RULES, batch_size=3)
    monkeypatch.undo()
    with store.read() as tx:
        assert tx.labels.count_without_suggestion(1, "text.rules", "1.0") == 4
    assert verify(store, "p").ok
    resumed = preannotate(store, "p", "text.rules", config=RULES, batch_size=3)
    assert (resumed.skipped, resumed.suggestions, resumed.batches) == (3, 4, 2)
    report = verify(store, "p")
    assert report.ok and report.chains[0].rows == 7 + 7  # the items' import and the suggestions


class _Healed(Scripted):
    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[Any]:
        return [self.ok(it, [], score=None) for it in batch]


def test_bad_items_are_isolated_with_clear_errors(store: Store) -> None:
    items = _texts(store, ["ok1", "raise", "garbage", "label", "past", "score", "refuse", "numpy", "ok2"])
    backend = Scripted()
    r = preannotate(store, "p", "", backend=backend, batch_size=4)
    assert (r.suggestions, r.failed, r.retried_batches) == (2, 7, 1)
    assert backend.calls == [4, 1, 1, 1, 1, 4, 1]  # a raising batch is retried item by item
    by_item = {e.source: e.reason for e in r.errors}
    ids = {it.data["text"].text: it.id for it in items}
    assert by_item[f"item {ids['raise']}"] == "backend raised RuntimeError: model exploded"
    assert "not a BackendOutput" in by_item[f"item {ids['garbage']}"]
    assert "invalid output: regions[0].label" in by_item[f"item {ids['label']}"]
    assert "past the end of the text" in by_item[f"item {ids['past']}"]
    assert "score 2.0 is not a number in [0, 1]" in by_item[f"item {ids['score']}"]
    assert by_item[f"item {ids['refuse']}"] == "cannot read this"
    assert "not plain JSON" in by_item[f"item {ids['numpy']}"]
    assert all(e.code == "LL-BACKEND" for e in r.errors)
    # failed items are retried by the next run
    assert preannotate(store, "p", "", backend=_Healed()).suggestions == 7


def test_anti_join_counts_only_the_same_version(store: Store) -> None:
    items = _texts(store, ["x", "y", "z"])
    with store.transaction() as tx:
        tx.labels.add_suggestions(1, [NewSuggestion(items[0].id, [], "text.rules", "0.9")])
        tx.labels.add_suggestions(1, [NewSuggestion(items[1].id, [], "text.rules", "1.0")])
    with store.read() as tx:
        todo = tx.labels.items_without_suggestion(1, "text.rules", "1.0", after_id=0, limit=10)
        assert [it.id for it in todo] == [items[0].id, items[2].id]
        assert tx.labels.items_without_suggestion(1, "text.rules", "1.0", after_id=items[0].id, limit=1) == [todo[1]]


def test_unsupported_and_unknown_backends(sqlite_store: Store) -> None:
    _texts(sqlite_store, ["x"])
    with pytest.raises(BackendUnavailable, match="has no such control"):
        preannotate(sqlite_store, "p", "pointcloud.cuboids")
    with pytest.raises(
        PluginError, match=r"no backend 'nope'; available: .*image\.classify, .*pointcloud\.cuboids, .*text\.rules"
    ):
        preannotate(sqlite_store, "p", "nope")


def test_image_classify_trains_on_project_labels(sqlite_store: Store) -> None:
    make_project(sqlite_store, "p", IMAGE_SCHEMA)
    shades = [220, 30] * 4 + [215, 35]
    items = add_items(
        sqlite_store, "p", "image", [image_ref(sqlite_store, blob_image(s, i)) for i, s in enumerate(shades)]
    )
    with pytest.raises(BackendUnavailable, match="at least two classes"):
        preannotate(sqlite_store, "p", "image.classify")
    labelled = [
        NewAnnotation(it.id, [{"id": "c", "control": "category", "labels": ["light" if s > 100 else "dark"]}], "ann")
        for it, s in zip(items[:8], shades[:8], strict=True)
    ]
    with sqlite_store.transaction() as tx:
        tx.labels.add_annotations(1, labelled)
    r = preannotate(sqlite_store, "p", "image.classify")
    assert r.suggestions == 10 and r.model_version.startswith("1.0+")
    with sqlite_store.read() as tx:
        sugg, _, _ = tx.labels.for_items([items[8].id, items[9].id])
    assert [s.value[0]["labels"] for s in sugg] == [["light"], ["dark"]]
    assert preannotate(sqlite_store, "p", "image.classify").skipped == 10  # same labels: same version


def test_pointcloud_cuboids_end_to_end(sqlite_store: Store) -> None:
    make_project(sqlite_store, "p", CLOUD_SCHEMA)
    scenes = [make_scene(np.random.default_rng(s), n_objects=5, n_points=20_000) for s in range(2)]
    add_items(sqlite_store, "p", "pointcloud", [cloud_ref(sqlite_store, sc.xyz) for sc in scenes])
    r = preannotate(sqlite_store, "p", "pointcloud.cuboids")
    assert (r.suggestions, r.failed) == (2, 0)
    with sqlite_store.read() as tx:
        sugg, _, _ = tx.labels.for_items([1, 2])
    assert all(len(s.value) >= 2 for s in sugg)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    store = Store.open(None, data)
    try:
        _texts(store, ["我在北京", "nothing"])
    finally:
        store.close()
    cfg = tmp_path / "rules.yaml"
    cfg.write_text(yaml.safe_dump(RULES, allow_unicode=True), encoding="utf-8")
    code = main(["--data-dir", str(data), "preannotate", "p", "--backend", "text.rules", "--config", str(cfg)])
    out, err = capsys.readouterr()
    assert code == 0 and "text.rules@1.0: 2 suggestions, 0 failed, 0 already done" in out and "items/s" in out
    store = Store.open(None, data)
    try:
        add_items(store, "p", "text", [text_ref(f"去北京 {i}") for i in range(3)])
    finally:
        store.close()
    code = main(["--data-dir", str(data), "preannotate", "p", "--backend", "text.rules", "--config", str(cfg),
                 "--limit", "2"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0 and "2 suggestions, 0 failed, 2 already done" in out
    code = main(["--data-dir", str(data), "preannotate", "p", "--backend", "text.rules", "--limit", "0"])
    out, err = capsys.readouterr()
    assert code != 0 and "--limit" in err
    code = main(["--data-dir", str(data), "preannotate", "p", "--backend", "text.rulez"])
    out, err = capsys.readouterr()
    assert code == 6 and "error[LL-PLUGIN]: no backend 'text.rulez'; available:" in err


class _NumpyFloats(Scripted):
    """numpy.float64 subclasses float, so isinstance checks pass; storage's JSON writer refuses it."""

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[Any]:
        span: dict[str, Any] = {"id": "s", "control": "entities", "label": "LOC", "start": 0, "end": 1}
        return [
            self.ok(
                it, [span | {"extra_score": np.float64(0.5)}] if it.data["text"].text == "np" else [span], score=0.9
            )
            for it in batch
        ]


def test_numpy_floats_in_values_are_refused_per_item(store: Store) -> None:
    _texts(store, ["a", "np", "b"])
    r = preannotate(store, "p", "", backend=_NumpyFloats())
    assert (r.suggestions, r.failed) == (2, 1)
    reason = str(r.errors[0])
    assert "not plain JSON" in reason or "Extra inputs" in reason
