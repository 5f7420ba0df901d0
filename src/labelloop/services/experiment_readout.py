"""The readout of a live A/B experiment: accuracy, human time and agreement per arm, and the tests.

The unit is a **task**: one person's work on one item of the experiment, begun while it ran
(their first submitted version of the item is at or after its start, and before its stop). Its
value is their newest version made while the experiment ran. Auto-accepted labels (machine
output) and reviewers' corrections are nobody's task.

* **Accuracy** of a task against the best reference available, in this order: the item's **gold**
  answer (a QC gold label, else the answer of a gold task of the queue); else the **review** of
  the task's value (``accept`` = right, ``correct`` or ``reject`` = wrong); else the **consensus**
  of the other tasks on the item (the value a strict majority of them agree on). A task with
  none of these has no reference and is left out of accuracy; the readout says how many tasks
  each reference judged. Two values agree when each agrees with the other on every control it
  fills (:func:`labelloop.services.calibrate.suggestion_agrees`, both ways: boxes by IoU, spans
  by offsets, classes as sets).
* **Human time** of a task: the sum of ``lead_time_s`` of its versions (the browser sends the
  seconds from showing the task to the submit). A task with a version that carries none is
  **missing**, not zero: left out of the mean and counted.
* **Agreement** of an item with two tasks or more: all of them agree.
* With ``accept_threshold`` arms, the **auto-accept** side per arm
  (:mod:`labelloop.services.experiment_arms`): the effective thresholds the routing runs used,
  the auto-accepted share, and the audited accuracy of auto-accepted labels, with its test; and
  plain notes when the certified threshold was above both arms' threshold (the arms then
  behaved the same).

Per arm: Wilson (1927) intervals for the proportions, a Student t interval for the mean time;
between arms: a two-proportion z test and Fisher's exact test, and Welch's (1947) t test
(:mod:`labelloop.active.experiments`). Too few observations give NaN (``null`` on the wire) with
a reason, never an error.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema, MediaRef, NewItem
    >>> from labelloop.services.experiments import create_experiment
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> with store.transaction() as tx:
    ...     p = tx.projects.create("demo", LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]}),
    ...                            "user:me")
    ...     _ = tx.items.add_many(p.id, [NewItem({"t": MediaRef.from_text(f"x{i}")}, f"{i:064x}")
    ...                                  for i in range(4)], created_by="me")
    >>> _ = create_experiment(store, "demo", "e", {"prefill": "on"}, {"prefill": "off"}, seed=1)
    >>> r = experiment_readout(store, "demo", "e")
    >>> r.arms["a"].items, r.time.reason
    (2, 'seconds per task: arms a and b have fewer than 2 observations')
    >>> store.close()
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labelloop.active import (
    Estimate,
    MeanComparison,
    ProportionComparison,
    compare_means,
    compare_proportions,
)
from labelloop.core import Actor, Annotation, AnnotationStatus, Review, ReviewVerdict
from labelloop.errors import InputRejected
from labelloop.services.calibrate import suggestion_agrees
from labelloop.services.experiment_arms import RULE as AUTO_RULE
from labelloop.services.experiment_arms import ThresholdReadout, threshold_readout
from labelloop.services.experiments import ARMS, ArmStrategy, ExperimentInfo, experiment_key
from labelloop.storage import Store
from labelloop.storage.experiments_repo import ExperimentRepo
from labelloop.storage.routing_repo import RoutingRepo
from labelloop.storage.tasks_repo import TaskRepo

__all__ = ["REFERENCES", "ArmOutcome", "ExperimentReadout", "experiment_readout"]

Value = list[dict[str, Any]]
REFERENCES = ("gold", "review", "consensus", "none")
REFERENCE_RULE = (
    "each task is judged against the item's gold answer where it has one, else the review of the task "
    "(accept = right, correct or reject = wrong), else the consensus of the other tasks on the item "
    "(what a strict majority of them agree on); tasks with none of these are left out of accuracy"
)
UNIT = (
    "a task is one person's work on one item, begun while the experiment ran; its time is the sum of the "
    "lead_time_s of its versions, missing (not zero) when a version carries none; reviewers' time is not counted"
)
_PAGE = 1000


@dataclass(slots=True)
class ArmOutcome:
    """What one arm's tasks came to (the raw observations behind the estimates).

    Attributes:
        items: Items split into the arm.
        items_done: Items with at least one task.
        tasks: Tasks (one person's work on one item).
        correct: Right or wrong, per task with a reference.
        reference: Tasks judged by each reference (``gold``, ``review``, ``consensus``, ``none``).
        seconds: Seconds per task (NaN: missing).
        agreed: Per item with two tasks or more: all of them agree.
    """

    items: int = 0
    items_done: int = 0
    tasks: int = 0
    correct: list[bool] = field(default_factory=list)
    reference: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    agreed: list[bool] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExperimentReadout:
    """Per-arm outcomes and the comparisons between arms (differences are ``b - a``).

    ``thresholds`` is the auto-accept side of ``accept_threshold`` arms (None without them).
    """

    experiment: ExperimentInfo
    confidence: float
    arms: dict[str, ArmOutcome]
    accuracy: ProportionComparison
    time: MeanComparison
    agreement: ProportionComparison
    thresholds: ThresholdReadout | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire form: NaN becomes ``null`` beside its ``reason``."""
        alpha = 1.0 - self.confidence
        arms: dict[str, Any] = {}
        for name in ARMS:
            o = self.arms[name]
            acc, secs, agr = (getattr(c, name) for c in (self.accuracy, self.time, self.agreement))
            arms[name] = {
                "strategy": ArmStrategy.from_json(self.experiment.arms[name]).describe(),
                "items": o.items, "items_done": o.items_done, "tasks": o.tasks,
                "accuracy": {**_estimate(acc), "correct": acc.k, "reference": {r: o.reference[r] for r in REFERENCES}},
                "seconds": {**_estimate(secs), "missing": secs.missing,
                            "total": float(sum(s for s in o.seconds if math.isfinite(s)))},
                "agreement": {**_estimate(agr), "agreed": agr.k},
            }  # fmt: skip
            th = self.thresholds
            if th is not None:
                share, right = getattr(th.share, name), getattr(th.accuracy, name)
                arms[name]["auto_accept"] = {
                    **th.arm_json(name), "share": {**_estimate(share), "auto": share.k},
                    "audited_accuracy": {**_estimate(right), "correct": right.k},
                }  # fmt: skip
        tests = {
            "accuracy": _proportion_test(self.accuracy, alpha),
            "seconds": {
                "diff": _num(self.time.diff),
                "welch_p": _num(self.time.welch_p),
                "significant": _significant(self.time.welch_p, alpha),
                "reason": self.time.reason,
            },
            "agreement": _proportion_test(self.agreement, alpha),
        }
        out: dict[str, Any] = {
            "experiment": self.experiment.to_json(),
            "confidence": self.confidence,
            "reference_rule": REFERENCE_RULE,
            "unit": UNIT,
            "arms": arms,
            "tests": tests,
        }
        if self.thresholds is not None:
            tests["auto_share"] = _proportion_test(self.thresholds.share, alpha)
            tests["auto_accuracy"] = _proportion_test(self.thresholds.accuracy, alpha)
            out["auto_accept"] = {
                "rule": AUTO_RULE, "notes": self.thresholds.notes, "runs": [r.to_json() for r in self.thresholds.runs],
                "by_model": {
                    model: {
                        "run_id": run_id, "a": {**_estimate(c.a), "auto": c.a.k},
                        "b": {**_estimate(c.b), "auto": c.b.k}, "test": _proportion_test(c, alpha),
                    }
                    for model, (run_id, c) in self.thresholds.by_model.items()
                },
            }  # fmt: skip
        return out


def _num(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _significant(p: float, alpha: float) -> bool | None:
    return None if not math.isfinite(p) else p < alpha


def _estimate(e: Estimate) -> dict[str, Any]:
    return {"value": _num(e.value), "ci": [_num(e.ci[0]), _num(e.ci[1])], "n": e.n, "reason": e.reason}


def _proportion_test(c: ProportionComparison, alpha: float) -> dict[str, Any]:
    return {
        "diff": _num(c.diff), "z_p": _num(c.z_p), "fisher_p": _num(c.fisher_p),
        "significant": _significant(c.fisher_p, alpha), "reason": c.reason,
    }  # fmt: skip


def _agree(x: Value, y: Value) -> bool:
    return suggestion_agrees(x, y) and suggestion_agrees(y, x)


@dataclass(frozen=True, slots=True)
class _Task:
    annotator: str
    value: Value
    head_id: int
    seconds: float


def _tasks(anns: list[Annotation], corrections: set[int], start: datetime, end: datetime | None) -> list[_Task]:
    """The item's tasks (see the module docstring), by annotator."""
    chains: dict[str, list[Annotation]] = {}
    for a in sorted(anns, key=lambda x: x.id):
        if a.status != AnnotationStatus.SUBMITTED or Actor.is_machine(a.annotator) or a.id in corrections:
            continue
        chains.setdefault(a.annotator, []).append(a)
    out = []
    for who, versions in sorted(chains.items()):
        first = versions[0].created_at
        if first < start or (end is not None and first > end):
            continue  # begun before the experiment (or after it stopped): not this experiment's work
        during = [v for v in versions if end is None or v.created_at <= end]
        times = [v.lead_time_s for v in during]
        ok = all(t is not None and math.isfinite(t) and t >= 0 for t in times)
        secs = float(sum(t for t in times if t is not None)) if ok else math.nan
        out.append(_Task(who, during[-1].value, during[-1].id, secs))
    return out


def _consensus(others: list[_Task]) -> Value | None:
    """The value a strict majority of ``others`` agree on, or None."""
    best, support = None, 0
    for t in others:
        n = sum(1 for u in others if _agree(t.value, u.value))
        if n > support:
            best, support = t.value, n
    return best if best is not None and 2 * support > len(others) else None


def _judge(task: _Task, others: list[_Task], gold: Value | None, review: Review | None) -> tuple[str, bool | None]:
    if gold is not None:
        return "gold", _agree(task.value, gold)
    if review is not None:
        return "review", review.verdict == ReviewVerdict.ACCEPT
    ref = _consensus(others)
    if ref is not None:
        return "consensus", _agree(task.value, ref)
    return "none", None


def _pages(store: Store, pid: int, eid: int) -> Iterator[tuple[list[tuple[int, str]], Any]]:
    """Pages of the experiment's ``(item, arm)`` with their labels and gold answers."""
    after = 0
    while True:
        with store.read() as tx:
            page = ExperimentRepo(tx.conn).items_page(eid, after, _PAGE)
            if not page:
                return
            lo, hi = page[0][0], page[-1][0]
            labels = tx.labels.for_item_range(pid, lo, hi)
            qc_gold = RoutingRepo(tx.conn).gold_labels(pid, lo, hi)
            queue_gold = TaskRepo(tx.conn).gold_values([i for i, _ in page])
        after = hi
        gold = queue_gold | {i: v for i, (v, _when) in qc_gold.items()}
        yield page, (labels, gold)


def experiment_readout(
    store: Store, project: str | int, key: int | str, *, confidence: float = 0.95
) -> ExperimentReadout:
    """Read an experiment out (see the module docstring).

    Args:
        store: The store.
        project: Project name or id.
        key: Experiment id or name.
        confidence: Of the intervals; tests are called significant below ``1 - confidence``.

    Raises:
        NotFound: no such project or experiment.
        InputRejected: a confidence outside (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        raise InputRejected("confidence", "a value strictly between 0 and 1", str(confidence))
    with store.read() as tx:
        proj = tx.projects.get(project)
        repo = ExperimentRepo(tx.conn)
        row = repo.get(proj.id, experiment_key(key))
        info = ExperimentInfo.of(row, repo.arm_counts(row.id))
    out = {arm: ArmOutcome(items=info.items[arm]) for arm in ARMS}
    for page, ((_s, anns, reviews), gold) in _pages(store, proj.id, row.id):
        corrections = {r.correction_id for r in reviews if r.correction_id is not None}
        newest_review: dict[int, Review] = {}
        for r in reviews:
            newest_review[r.annotation_id] = r  # (id order: the newest wins)
        by_item: dict[int, list[Annotation]] = {}
        for a in anns:
            by_item.setdefault(a.item_id, []).append(a)
        for item, arm in page:
            tasks = _tasks(by_item.get(item, []), corrections, row.created_at, row.stopped_at)
            if not tasks:
                continue
            o = out[arm]
            o.items_done += 1
            o.tasks += len(tasks)
            for t in tasks:
                kind, right = _judge(t, [u for u in tasks if u is not t], gold.get(item), newest_review.get(t.head_id))
                o.reference[kind] += 1
                if right is not None:
                    o.correct.append(right)
                o.seconds.append(t.seconds)
            if len(tasks) >= 2:
                o.agreed.append(_all_pairs(tasks))
    a, b = out["a"], out["b"]
    return ExperimentReadout(
        info,
        confidence,
        out,
        compare_proportions(sum(a.correct), len(a.correct), sum(b.correct), len(b.correct), confidence,
                            what="accuracy"),
        compare_means(a.seconds, b.seconds, confidence, what="seconds per task"),
        compare_proportions(sum(a.agreed), len(a.agreed), sum(b.agreed), len(b.agreed), confidence,
                            what="agreement"),
        threshold_readout(store, info, confidence),
    )  # fmt: skip


def _all_pairs(tasks: list[_Task]) -> bool:
    return all(_agree(x.value, y.value) for i, x in enumerate(tasks) for y in tasks[i + 1 :])
