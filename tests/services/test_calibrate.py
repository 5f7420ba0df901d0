"""Calibration service: pairs from reviewed items, fit + save, applied when scores are read for routing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labelloop.core import (
    AnnotationStatus,
    LabelSchema,
    MediaRef,
    NewAnnotation,
    NewItem,
    NewReview,
    NewSuggestion,
    ReviewVerdict,
)
from labelloop.errors import InputRejected
from labelloop.services.calibrate import (
    calibrated_scores,
    fit_calibration,
    load_calibrator,
    reviewed_pairs,
    routing_scores,
    suggestion_agrees,
)
from labelloop.services.routing import plan_routing
from labelloop.storage import Store

SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "t", "kind": "text"}],
        "controls": [{"name": "c", "kind": "classification", "target": "t", "labels": ["a", "b"]}],
    }
)


def _region(label: str) -> list[dict[str, Any]]:
    return [{"id": "c", "control": "c", "labels": [label]}]


def _project(store: Store, n: int, scores: np.ndarray, right: np.ndarray) -> list[int]:
    """n items, one suggestion each (label ``a`` with ``scores``), a human label agreeing where ``right``."""
    with store.transaction() as tx:
        p = tx.projects.create("p", SCHEMA, "user:t")
        tx.items.add_many(
            p.id, [NewItem({"t": MediaRef.from_text(f"x{i}")}, f"{i:064x}") for i in range(n)], created_by="t"
        )
        ids = [it.id for page in tx.items.iter_all(p.id) for it in page]
        tx.labels.add_suggestions(
            p.id, [NewSuggestion(i, _region("a"), "m", "1", float(s)) for i, s in zip(ids, scores, strict=True)]
        )
        tx.labels.add_annotations(
            p.id, [NewAnnotation(i, _region("a" if r else "b"), "user:x") for i, r in zip(ids, right, strict=True)]
        )
    return ids


def test_fit_reports_ece_and_routing_reads_calibrated_scores(store: Store) -> None:
    rng = np.random.default_rng(1)
    true_p = rng.uniform(0.3, 1.0, 400)
    right = rng.random(400) < true_p
    scores = true_p**0.25  # over-confident
    ids = _project(store, 400, scores, right)
    before = routing_scores(store, "p", "m")
    assert before.calibrated_with is None and np.array_equal(before.raw, before.calibrated)
    rep = fit_calibration(store, "p", "m")
    assert rep.method == "isotonic" and rep.n == 400  # auto: isotonic from 200 reviewed pairs
    assert rep.ece_before > 0.1 and rep.ece_after < 0.05
    assert rep.ece_after_cv is not None and rep.ece_after_cv < rep.ece_before
    assert rep.path.is_file()
    after = routing_scores(store, "p", "m")
    assert after.item_ids == ids and after.calibrated_with == "isotonic"
    order = np.argsort(after.raw)
    assert np.all(np.diff(after.calibrated[order]) >= -1e-12)  # monotone: certified thresholds keep meaning
    assert np.allclose(after.calibrated, calibrated_scores(store, "p", "m", after.raw))
    audit = np.arange(0, 400, 2)
    plan = plan_routing(after.calibrated, audit, right[audit], target=0.9, calibrate=False)
    assert len(plan.tiers) == 400
    temp = fit_calibration(store, "p", "m", method="temperature")
    assert temp.method == "temperature" and temp.ece_after < temp.ece_before
    assert type(load_calibrator(store, "p", "m")).__name__ == "TemperatureScaling"


def test_reviews_and_drafts_decide_which_annotation_is_truth(store: Store) -> None:
    ids = _project(store, 3, np.array([0.9, 0.8, 0.7]), np.array([True, True, True]))
    with store.transaction() as tx:
        p = tx.projects.get("p")
        _, anns, _ = tx.labels.for_items(ids)
        # item 0: the agreeing annotation is rejected by a reviewer -> no truth left
        tx.labels.add_reviews(p.id, [NewReview(anns[0].id, "user:rev", ReviewVerdict.REJECT)], [ids[0]])
        # item 1: a newer submitted version disagrees -> the suggestion counts as wrong
        tx.labels.add_annotations(p.id, [NewAnnotation(ids[1], _region("b"), "user:x", parent_id=anns[1].id)])
        # item 2: a newer *draft* disagrees -> ignored, the submitted one still agrees
        tx.labels.add_annotations(
            p.id, [NewAnnotation(ids[2], _region("b"), "user:x", status=AnnotationStatus.DRAFT, parent_id=anns[2].id)]
        )
    scores, correct = reviewed_pairs(store, "p", "m")
    assert scores == [0.8, 0.7] and correct == [False, True]


def test_too_few_or_one_sided_reviews_are_refused(store: Store) -> None:
    _project(store, 30, np.full(30, 0.9), np.ones(30, bool))
    with pytest.raises(InputRejected, match="both right and wrong"):
        fit_calibration(store, "p", "m")
    with pytest.raises(InputRejected, match="at least 50 reviewed"):
        fit_calibration(store, "p", "m", min_pairs=50)
    with pytest.raises(InputRejected, match="at least 20"):
        fit_calibration(store, "p", "other-backend")


BOX = {"id": "b", "control": "o", "label": "car", "xyxy": [0, 0, 10, 10]}


@pytest.mark.parametrize(
    ("machine", "human", "agrees"),
    [
        (
            [{"id": "s", "control": "s", "labels": ["x", "y"]}],
            [{"id": "s", "control": "s", "labels": ["y", "x"]}],
            True,
        ),
        ([{"id": "s", "control": "s", "labels": ["x"]}], [{"id": "s", "control": "s", "labels": ["x", "y"]}], False),
        (
            [{"id": "e", "control": "e", "label": "PER", "start": 0, "end": 3}],
            [{"id": "z", "control": "e", "label": "PER", "start": 0, "end": 3, "text": "Bob"}],
            True,
        ),
        (
            [{"id": "e", "control": "e", "label": "PER", "start": 0, "end": 3}],
            [{"id": "e", "control": "e", "label": "PER", "start": 0, "end": 4}],
            False,
        ),
        ([BOX], [BOX | {"xyxy": [1, 1, 10, 11]}], True),  # IoU 0.81
        ([BOX], [BOX | {"xyxy": [5, 5, 15, 15]}], False),  # IoU 0.14
        ([BOX], [BOX | {"label": "bus"}], False),
        ([BOX], [BOX, BOX | {"id": "b2", "xyxy": [20, 20, 30, 30]}], False),  # a missed object
        (
            [{"id": "p", "control": "o", "label": "car", "points": [[0, 0], [10, 0], [10, 10], [0, 10]]}],
            [{"id": "p", "control": "o", "label": "car", "points": [[0, 0], [10, 0], [10, 9], [0, 9]]}],
            True,
        ),
        (
            [{"id": "g", "control": "a", "label": "speech", "start_s": 0.0, "end_s": 2.0}],
            [{"id": "g", "control": "a", "label": "speech", "start_s": 0.1, "end_s": 2.0}],
            True,
        ),
        ([{"id": "t", "control": "t", "text": "Total 42"}], [{"id": "t", "control": "t", "text": "Total 42 "}], True),
        ([{"id": "t", "control": "t", "text": "Total 42"}], [{"id": "t", "control": "t", "text": "Total 43"}], False),
        ([{"id": "s", "control": "s", "labels": ["x"]}], [], False),  # the person removed it
    ],
)
def test_suggestion_agrees(machine: list[dict[str, Any]], human: list[dict[str, Any]], agrees: bool) -> None:
    assert suggestion_agrees(machine, human) is agrees
