"""The auto-accept side of an A/B experiment with ``accept_threshold`` arms: what routing did in each arm.

Read from the certificates of the routing runs made while the experiment ran (their
``experiments`` section, written by :mod:`labelloop.services.live_arms`):

* **Effective thresholds** per run and arm: ``max(cal(certified), T)`` per class on the
  calibrated score (None: that class was never auto-accepted), beside the certified ones.
* **Auto-accepted share** per arm: of the arm's items the latest such run routed, those in tier
  ``auto`` after it. When runs of more than one model (backend and version) were made, the
  latest run of each model is also given apart (``by_model``) and a note says which one the
  headline share is.
* **Audited accuracy of auto-accepted labels** per arm: each run audits a random share of every
  arm's would-be-auto items (blind: the person does not see the suggestion); of those a person
  has labelled, the share whose label agrees with the suggestion, judged as routing judges its
  evidence (the person's final label, :func:`labelloop.services.live_evidence.person_label`,
  against the suggestion, :func:`labelloop.services.calibrate.suggestion_agrees`). Audits not
  labelled yet are counted as ``pending``.
* **Notes** in plain words: when a run's certified threshold was at or above both arms' floor
  (or certified nothing), the arms behaved the same in it.

Both proportions have Wilson intervals and Fisher's exact test between arms
(:func:`labelloop.active.compare_proportions`); differences are ``b - a``.

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
    >>> e = create_experiment(store, "demo", "e", {"accept_threshold": 0.5}, {"accept_threshold": 0.99}, seed=1)
    >>> threshold_readout(store, e, 0.95).notes[0][:60]
    'no routing run (labelloop route) was made while the experime'
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labelloop.active import ProportionComparison, compare_proportions
from labelloop.core import Annotation, ReviewVerdict, Suggestion
from labelloop.services.calibrate import suggestion_agrees
from labelloop.services.experiments import ARMS, ArmStrategy, ExperimentInfo
from labelloop.services.live_evidence import person_label
from labelloop.storage import Store
from labelloop.storage.experiments_repo import ExperimentRepo
from labelloop.storage.routing_repo import RouteRun, RoutingRepo

__all__ = ["RunArms", "ThresholdReadout", "threshold_readout"]

_CHUNK = 1000
RULE = (
    "auto-accepted share: of each arm's items the latest routing run during the experiment routed, those it left "
    "auto-accepted; audited accuracy: of each arm's would-be-auto items sent to a blind audit, those a person "
    "labelled the same as the suggestion (audits not labelled yet are pending)"
)


@dataclass(frozen=True, slots=True)
class RunArms:
    """How one routing run treated the experiment's arms.

    Attributes:
        run_id: The run.
        backend: Its backend.
        model_version: Its model version.
        created_at: When it ran.
        certified: Certified thresholds per class on the raw score (None: never).
        certified_calibrated: The same on the calibrated score.
        effective: Per arm, the effective threshold per class on the calibrated score.
        routed: Per arm, items the run routed.
        auto: Per arm, items auto-accepted after the run.
        same: The arms' effective thresholds were the same.
        note: Why, in words (None when they differed).
    """

    run_id: int
    backend: str
    model_version: str
    created_at: datetime
    certified: dict[str, float | None]
    certified_calibrated: dict[str, float | None]
    effective: dict[str, dict[str, float | None]]
    routed: dict[str, int]
    auto: dict[str, int]
    same: bool
    note: str | None

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "run_id": self.run_id, "backend": self.backend, "model_version": self.model_version,
            "created_at": self.created_at.isoformat(), "certified": self.certified,
            "certified_calibrated": self.certified_calibrated, "effective": self.effective, "routed": self.routed,
            "auto": self.auto, "same": self.same, "note": self.note,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class ThresholdReadout:
    """The auto-accept outcome of an experiment's threshold arms (differences are ``b - a``).

    Attributes:
        floors: Each arm's ``accept_threshold`` (None: the certified threshold alone).
        runs: The routing runs made while the experiment ran, oldest first.
        share: Auto-accepted share of the routed items per arm (latest run), and the test.
        accuracy: Audited accuracy of the would-be-auto labels per arm, and the test.
        pending: Per arm, audited would-be-auto items no person has labelled yet.
        notes: Plain sentences (no run; the arms behaved the same; ...).
        by_model: Per model routed (``backend@version``, oldest first): its latest run's id and
            its auto-accepted share per arm, with the test.
    """

    floors: dict[str, float | None]
    runs: list[RunArms]
    share: ProportionComparison
    accuracy: ProportionComparison
    pending: dict[str, int]
    notes: list[str]
    by_model: dict[str, tuple[int, ProportionComparison]] = field(default_factory=dict)

    def arm_json(self, arm: str) -> dict[str, Any]:
        """One arm's part of the wire form (estimates as the readout writes them, see ``estimate``)."""
        last = self.runs[-1] if self.runs else None
        return {
            "accept_threshold": self.floors[arm],
            "effective": None if last is None else last.effective[arm],
            "effective_by_run": {str(r.run_id): r.effective[arm] for r in self.runs},
            "routed": None if last is None else last.routed[arm],
            "auto": None if last is None else last.auto[arm],
            "pending_audits": self.pending[arm],
        }


def _runs(store: Store, info: ExperimentInfo) -> list[tuple[RouteRun, dict[str, Any]]]:
    with store.read() as tx:
        runs = RoutingRepo(tx.conn).runs_between(info.project_id, info.created_at, info.stopped_at)
    out = []
    for run in runs:
        for section in run.certificate.get("experiments") or []:
            if section.get("experiment_id") == info.id:
                out.append((run, section))
    return out


def _run_arms(run: RouteRun, s: dict[str, Any]) -> RunArms:
    arms = s["arms"]
    return RunArms(
        run.id, run.backend, run.model_version, run.created_at, dict(s["certified"]), dict(s["certified_calibrated"]),
        {a: dict(arms[a]["effective"]) for a in ARMS}, {a: int(arms[a]["routed"]) for a in ARMS},
        {a: int(arms[a]["auto"]) for a in ARMS}, bool(s["same"]), s.get("note"),
    )  # fmt: skip


def _judge(store: Store, pid: int, audits: dict[int, tuple[str, int]]) -> tuple[dict[str, list[bool]], dict[str, int]]:
    """Right or wrong per labelled audit, and the pending ones, per arm."""
    right: dict[str, list[bool]] = {a: [] for a in ARMS}
    pending = dict.fromkeys(ARMS, 0)
    ids = sorted(audits)
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k : k + _CHUNK]
        with store.read() as tx:
            sugg, anns, reviews = tx.labels.for_items(chunk)
            gold = RoutingRepo(tx.conn).gold_labels(pid, chunk[0], chunk[-1])
        by_id: dict[int, Suggestion] = {s.id: s for s in sugg}
        by_item: dict[int, list[Annotation]] = {}
        for a in anns:
            by_item.setdefault(a.item_id, []).append(a)
        rejected = {r.annotation_id for r in reviews if r.verdict == ReviewVerdict.REJECT}
        for item in chunk:
            arm, sid = audits[item]
            truth = person_label(by_item.get(item, []), rejected, gold.get(item))
            s = by_id.get(sid)
            if truth is None or s is None:
                pending[arm] += 1
                continue
            right[arm].append(suggestion_agrees(s.value, truth.value))
    return right, pending


def _notes(info: ExperimentInfo, runs: Sequence[RunArms]) -> list[str]:
    if not runs:
        return [
            "no routing run (labelloop route) was made while the experiment ran: the accept_threshold arms have "
            "not acted yet, and nothing was auto-accepted under them"
        ]
    same = [r for r in runs if r.same]
    if len(same) == len(runs):
        head = (
            f"in every routing run while the experiment ran ({', '.join(str(r.run_id) for r in runs)}) the certified "
            "threshold was at or above both arms' accept_threshold (or nothing was certified): the arms behaved the "
            "same, and a difference between them in auto-accepted share or accuracy is chance"
        )
        return [head, *(r.note for r in same if r.note)]
    out = [r.note for r in same if r.note]
    if same:
        out.append(f"the arms behaved the same in runs {', '.join(str(r.run_id) for r in same)} only")
    return out


def threshold_readout(store: Store, info: ExperimentInfo, confidence: float) -> ThresholdReadout | None:
    """The auto-accept readout of the experiment (see the module docstring); None without threshold arms.

    Args:
        store: The store.
        info: The experiment.
        confidence: Of the intervals.
    """
    floors = {a: ArmStrategy.from_json(info.arms[a]).accept_threshold for a in ARMS}
    if all(t is None for t in floors.values()):
        return None
    found = _runs(store, info)
    runs = [_run_arms(run, s) for run, s in found]
    with store.read() as tx:
        audits = {a.item_id: (a.arm, a.suggestion_id) for a in ExperimentRepo(tx.conn).audits(info.id)}
    right, pending = _judge(store, info.project_id, audits)
    last = runs[-1] if runs else None
    auto = {a: 0 if last is None else last.auto[a] for a in ARMS}
    routed = {a: 0 if last is None else last.routed[a] for a in ARMS}
    share = compare_proportions(auto["a"], routed["a"], auto["b"], routed["b"], confidence, what="auto-accepted share")
    ra, rb = right["a"], right["b"]
    accuracy = compare_proportions(
        sum(ra), len(ra), sum(rb), len(rb), confidence, what="audited accuracy of auto-accepted labels"
    )
    latest = {f"{r.backend}@{r.model_version}": r for r in runs}  # oldest first: each model's latest run wins
    by_model = {
        model: (r.run_id, compare_proportions(
            r.auto["a"], r.routed["a"], r.auto["b"], r.routed["b"], confidence, what=f"auto-accepted share ({model})"
        ))
        for model, r in latest.items()
    }  # fmt: skip
    notes = _notes(info, runs)
    if len(latest) > 1 and last is not None:
        notes.append(
            f"routing runs of {len(latest)} models were made while the experiment ran ({', '.join(latest)}): the "
            f"auto-accepted share is that of the latest run ({last.run_id}, {last.backend}@{last.model_version}); "
            "each model's latest run is given apart"
        )
    return ThresholdReadout(floors, runs, share, accuracy, pending, notes, by_model)
