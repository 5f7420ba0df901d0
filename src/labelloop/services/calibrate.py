"""Calibration use case: fit a per-(project, backend) score calibration on reviewed items, apply it on read.

A backend's stored scores stay raw (suggestions are append-only, and a calibration changes as
reviews arrive). :func:`fit_calibration` pairs each item's newest scored suggestion from the
backend with the item's newest submitted human annotation that no review rejected, and calls the
suggestion *correct* when it agrees with that annotation on every control it filled:

* classification: the same label set;
* spans: the same ``(label, start, end)`` set;
* boxes and polygons (by their bounding boxes), segments: a one-to-one matching at IoU >= 0.5
  with equal labels covering every region on both sides (:mod:`labelloop.quality.geometry_agreement`);
* other kinds: the same multiset of labels.

An annotation made from the suggestion and submitted unchanged is thus an accepted suggestion,
an edited one a rejected suggestion. The calibrator (temperature scaling or isotonic, see
:mod:`labelloop.backends.calibration`) is saved as JSON under the store's data directory, and
:func:`calibrated_scores` / :func:`routing_scores` apply it whenever scores are read for routing.
The report gives the expected calibration error before and after, in-sample and out-of-fold
(5-fold cross-validation), so a calibrator that merely memorises a small review set shows.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema, MediaRef, NewItem, NewSuggestion, NewAnnotation
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> schema = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}], "controls": [
    ...     {"name": "c", "kind": "classification", "target": "t", "labels": ["a", "b"]}]})
    >>> rng = np.random.default_rng(0)
    >>> with store.transaction() as tx:
    ...     p = tx.projects.create("demo", schema, "user:me")
    ...     _ = tx.items.add_many(p.id, [NewItem({"t": MediaRef.from_text(f"x{i}")}, f"{i:064x}")
    ...                                  for i in range(300)], created_by="me")
    ...     ids = [it.id for page in tx.items.iter_all(p.id) for it in page]
    ...     right = rng.random(300) < 0.65                        # the backend is right ~65% of the time
    ...     _ = tx.labels.add_suggestions(p.id, [NewSuggestion(i, [{"id": "c", "control": "c", "labels": ["a"]}],
    ...                                   "m", "1", 0.95) for i in ids])   # ... but always says 0.95
    ...     _ = tx.labels.add_annotations(p.id, [NewAnnotation(i, [{"id": "c", "control": "c",
    ...                                   "labels": ["a" if r else "b"]}], "user:x") for i, r in zip(ids, right)])
    >>> rep = fit_calibration(store, "demo", "m", method="temperature")
    >>> rep.n, rep.ece_before > 0.2, rep.ece_after < 0.05
    (300, True, True)
    >>> bool(abs(calibrated_scores(store, "demo", "m", [0.95])[0] - rep.accuracy) < 0.01)  # 0.95 now means ~65%
    True
    >>> store.close()
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
from numpy.typing import ArrayLike, NDArray

from labelloop.backends.calibration import IsotonicCalibrator, TemperatureScaling, expected_calibration_error
from labelloop.core import Actor, Annotation, AnnotationStatus, ReviewVerdict, Suggestion
from labelloop.errors import InputRejected
from labelloop.quality.geometry_agreement import box_agreement, segment_agreement
from labelloop.storage import Store

__all__ = [
    "CalibrationReport",
    "RoutingScores",
    "calibrated_scores",
    "fit_calibration",
    "load_calibrator",
    "reviewed_pairs",
    "routing_scores",
    "suggestion_agrees",
]

Method = Literal["auto", "temperature", "isotonic"]
Calibrated = TemperatureScaling | IsotonicCalibrator
_ISOTONIC_FROM = 200  # ``auto``: isotonic needs many reviews; fewer get the one-parameter temperature


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """What :func:`fit_calibration` fitted and how much it helped.

    Attributes:
        project: Project name.
        backend: Backend name.
        method: ``temperature`` or ``isotonic``.
        n: Reviewed (score, correct) pairs used.
        accuracy: Share of those suggestions that were correct.
        ece_before: ECE of the raw scores.
        ece_after: ECE of the calibrated scores (in-sample).
        ece_after_cv: ECE of out-of-fold calibrated scores (5-fold), None with fewer than 10 pairs.
        path: Where the calibrator was saved.
    """

    project: str
    backend: str
    method: str
    n: int
    accuracy: float
    ece_before: float
    ece_after: float
    ece_after_cv: float | None
    path: Path


@dataclass(frozen=True, slots=True)
class RoutingScores:
    """Newest scored suggestion of a backend per item, raw and calibrated.

    Attributes:
        item_ids: Items, ascending.
        suggestion_ids: The suggestion read for each item.
        raw: Stored scores.
        calibrated: Scores after the saved calibration (equal to ``raw`` when none is saved).
        calibrated_with: The calibration method applied, or None.
    """

    item_ids: list[int]
    suggestion_ids: list[int]
    raw: NDArray[np.float64]
    calibrated: NDArray[np.float64]
    calibrated_with: str | None


# ---------------------------------------------------------------------- agreement
def _bbox(region: dict[str, Any]) -> list[float]:
    if "xyxy" in region:
        return [float(v) for v in region["xyxy"]]
    pts = np.asarray(region.get("points") or [[0, 0]], np.float64)[:, :2]
    return [float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())]


def _span_key(r: dict[str, Any]) -> tuple[Any, Any, Any]:
    return r.get("label"), r.get("start"), r.get("end")


def _ranges(regions: list[dict[str, Any]]) -> list[list[float]]:
    return [[float(r["start_s"]), float(r["end_s"])] for r in regions]


def _same(machine: list[dict[str, Any]], human: list[dict[str, Any]]) -> bool:
    first = (machine or human)[0]
    if "labels" in first:
        return {frozenset(r.get("labels", [])) for r in machine} == {frozenset(r.get("labels", [])) for r in human}
    if "start" in first and "end" in first:
        return {_span_key(r) for r in machine} == {_span_key(r) for r in human}
    if len(machine) != len(human):
        return False
    labels_m, labels_h = [r.get("label") for r in machine], [r.get("label") for r in human]
    if "xyxy" in first or ("points" in first and "label" in first and "indices" not in first):
        m = box_agreement([_bbox(r) for r in machine], [_bbox(r) for r in human], labels_a=labels_m, labels_b=labels_h)
        return m.fp == 0 and m.fn == 0
    if "start_s" in first:
        m = segment_agreement(_ranges(machine), _ranges(human), labels_a=labels_m, labels_b=labels_h)
        return m.fp == 0 and m.fn == 0
    if "text" in first and "label" not in first:
        return [r.get("text", "").strip() for r in machine] == [r.get("text", "").strip() for r in human]
    return Counter(map(str, labels_m)) == Counter(map(str, labels_h))


def suggestion_agrees(machine: Sequence[dict[str, Any]], human: Sequence[dict[str, Any]]) -> bool:
    """True when the human value agrees with the suggestion on every control the suggestion filled.

    Example:
        >>> m = [{"id": "s", "control": "s", "labels": ["pos"]}]
        >>> suggestion_agrees(m, m + [{"id": "e", "control": "e", "label": "PER", "start": 0, "end": 2}])
        True
        >>> suggestion_agrees(m, [{"id": "s", "control": "s", "labels": ["neg"]}])
        False
    """
    controls = {r.get("control") for r in machine}
    return all(
        _same([r for r in machine if r.get("control") == c], [r for r in human if r.get("control") == c])
        for c in controls
    )


def _truth(annotations: list[Annotation], rejected: set[int]) -> Annotation | None:
    submitted = [
        a
        for a in annotations
        if a.status == AnnotationStatus.SUBMITTED and a.id not in rejected and not Actor.is_machine(a.annotator)
    ]  # an auto-accepted label is the backend's own output, never evidence about it
    return max(submitted, key=lambda a: a.id) if submitted else None


def _latest_scored(suggestions: list[Suggestion], backend: str) -> Suggestion | None:
    mine = [s for s in suggestions if s.backend == backend and s.score is not None and s.value]
    return max(mine, key=lambda s: s.id) if mine else None


def _pages(store: Store, project_id: int) -> Any:
    after = 0
    while True:
        with store.read() as tx:
            items = tx.items.page(project_id, after_id=after, limit=1000)
            if not items:
                return
            labels = tx.labels.for_item_range(project_id, items[0].id, items[-1].id)
        after = items[-1].id
        yield items, labels


def reviewed_pairs(store: Store, project: str | int, backend: str) -> tuple[list[float], list[bool]]:
    """``(scores, correct)`` of the backend's newest scored suggestion on every reviewed item.

    Raises:
        NotFound: no such project.
    """
    with store.read() as tx:
        proj = tx.projects.get(project)
    scores: list[float] = []
    correct: list[bool] = []
    for items, (suggestions, anns_page, reviews) in _pages(store, proj.id):
        rejected = {r.annotation_id for r in reviews if r.verdict == ReviewVerdict.REJECT}
        by_item: dict[int, tuple[list[Suggestion], list[Annotation]]] = {it.id: ([], []) for it in items}
        for s in suggestions:
            by_item[s.item_id][0].append(s)
        for a in anns_page:
            by_item[a.item_id][1].append(a)
        for sugg, anns in by_item.values():
            s, truth = _latest_scored(sugg, backend), _truth(anns, rejected)
            if s is not None and truth is not None and s.score is not None:
                scores.append(float(s.score))
                correct.append(suggestion_agrees(s.value, truth.value))
    return scores, correct


# ---------------------------------------------------------------------- persistence
def _path(store: Store, project_id: int, backend: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in backend)
    return store.data_dir / "calibration" / str(project_id) / f"{safe}.json"


def _dump(cal: Calibrated) -> dict[str, Any]:
    if isinstance(cal, TemperatureScaling):
        return {"method": "temperature", "temperature": cal.temperature_}
    assert cal.x_ is not None and cal.y_ is not None
    return {"method": "isotonic", "x": cal.x_.tolist(), "y": cal.y_.tolist()}


def _load(data: dict[str, Any]) -> Calibrated:
    if data.get("method") == "temperature":
        ts = TemperatureScaling()
        ts.temperature_ = float(data["temperature"])
        return ts
    iso = IsotonicCalibrator()
    iso.x_, iso.y_ = np.asarray(data["x"], np.float64), np.asarray(data["y"], np.float64)
    return iso


def load_calibrator(store: Store, project: str | int, backend: str) -> Calibrated | None:
    """The saved calibrator of (project, backend), or None when none was fitted."""
    with store.read() as tx:
        proj = tx.projects.get(project)
    path = _path(store, proj.id, backend)
    if not path.is_file():
        return None
    return _load(orjson.loads(path.read_bytes())["calibrator"])


# ---------------------------------------------------------------------- use cases
def _new(method: str) -> Calibrated:
    return TemperatureScaling() if method == "temperature" else IsotonicCalibrator()


def _cross_validated_ece(s: NDArray[np.float64], y: NDArray[np.bool_], method: str, folds: int = 5) -> float | None:
    if s.size < 10:
        return None
    order = np.random.default_rng(0).permutation(s.size)
    out = np.empty_like(s)
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        if y[train].all() or not y[train].any():
            out[test] = y[train].mean()
            continue
        out[test] = _new(method).fit(s[train], y[train]).predict(s[test])
    return expected_calibration_error(out, y)


def fit_calibration(
    store: Store, project: str | int, backend: str, *, method: Method = "auto", min_pairs: int = 20
) -> CalibrationReport:
    """Fit and save the calibration of ``backend``'s scores in ``project`` from reviewed items.

    Args:
        store: The store.
        project: Project name or id.
        backend: Backend name (all its model versions count; the newest suggestion per item).
        method: ``temperature``, ``isotonic``, or ``auto`` (isotonic from 200 pairs on).
        min_pairs: Fewest reviewed pairs to fit on.

    Returns:
        The report with ECE before and after (see :class:`CalibrationReport`).

    Raises:
        NotFound: no such project.
        InputRejected: too few reviewed suggestions, or all of them right (or all wrong).
    """
    with store.read() as tx:
        proj = tx.projects.get(project)
    scores, correct = reviewed_pairs(store, proj.id, backend)
    where = f"calibration of {backend!r} in project {proj.name!r}"
    if len(scores) < min_pairs:
        raise InputRejected(where, f"at least {min_pairs} reviewed items with a scored suggestion", f"{len(scores)}")
    s, y = np.asarray(scores, np.float64), np.asarray(correct, bool)
    if y.all() or not y.any():
        raise InputRejected(
            where, "reviewed suggestions both right and wrong", f"all {len(y)} {'right' if y.all() else 'wrong'}"
        )
    chosen = method if method != "auto" else ("isotonic" if s.size >= _ISOTONIC_FROM else "temperature")
    cal = _new(chosen).fit(s, y)
    report = CalibrationReport(
        proj.name,
        backend,
        chosen,
        int(s.size),
        float(y.mean()),
        expected_calibration_error(s, y),
        expected_calibration_error(cal.predict(s), y),
        _cross_validated_ece(s, y, chosen),
        _path(store, proj.id, backend),
    )
    report.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = report.path.with_suffix(".tmp")
    meta = {k: v for k, v in asdict(report).items() if k != "path"}
    tmp.write_bytes(orjson.dumps({"calibrator": _dump(cal), "report": meta}))
    os.replace(tmp, report.path)  # atomic: readers see the old or the new calibration, never half
    return report


def calibrated_scores(store: Store, project: str | int, backend: str, scores: ArrayLike) -> NDArray[np.float64]:
    """``scores`` after the saved calibration of (project, backend); unchanged when none is saved.

    Raises:
        NotFound: no such project.
    """
    raw = np.asarray(scores, np.float64)
    cal = load_calibrator(store, project, backend)
    return raw.copy() if cal is None else np.asarray(cal.predict(raw), np.float64)


def routing_scores(store: Store, project: str | int, backend: str) -> RoutingScores:
    """The backend's newest scored suggestion per item with raw and calibrated scores, for routing.

    Feed ``calibrated`` to :func:`labelloop.services.routing.plan_routing` (with ``calibrate=False``
    when a calibration was saved): the calibration is monotone, so certified thresholds keep
    their meaning while ``manual_below`` reads as a probability.

    Raises:
        NotFound: no such project.
    """
    with store.read() as tx:
        proj = tx.projects.get(project)
    item_ids: list[int] = []
    sugg_ids: list[int] = []
    raw: list[float] = []
    for _, (suggestions, _, _) in _pages(store, proj.id):
        latest: dict[int, Suggestion] = {}
        for s in suggestions:
            if (
                s.backend == backend
                and s.score is not None
                and (s.item_id not in latest or s.id > latest[s.item_id].id)
            ):
                latest[s.item_id] = s
        for item_id in sorted(latest):
            item_ids.append(item_id)
            sugg_ids.append(latest[item_id].id)
            raw.append(float(latest[item_id].score or 0.0))
    cal = load_calibrator(store, proj.id, backend)
    r = np.asarray(raw, np.float64)
    calibrated = r.copy() if cal is None else np.asarray(cal.predict(r), np.float64)
    method = None if cal is None else ("temperature" if isinstance(cal, TemperatureScaling) else "isotonic")
    return RoutingScores(item_ids, sugg_ids, r, calibrated, method)
