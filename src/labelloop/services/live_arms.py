"""Threshold arms of running A/B experiments in a live routing run: floors, per-arm audits, what each arm did.

An arm's ``accept_threshold`` T (:class:`labelloop.services.experiments.ArmStrategy`) is a
**floor**: a routing run (:func:`labelloop.services.live_routing.route_project`) auto-accepts an
item of that arm only when its suggestion passes the run's certified threshold (on the raw score,
as for every item) **and** its calibrated score reaches T. Monotone calibration maps the
certified raw threshold ``t`` to ``cal(t)`` and every raw score ``s >= t`` to ``cal(s) >= cal(t)``,
so the **effective threshold** is ``max(cal(t), T)`` on the calibrated score; a floor never lets
through an item the certificate does not. An item the arm's floor stops goes to people as any item
below the threshold does (an earlier auto label of it is re-routed, its history kept). Items in
no running experiment, or in one without threshold arms, are routed exactly as before.

**Audits per arm.** The audit sample of a run (a random ``audit_rate`` share of the items routed
for the first time or newly passing) is drawn *per stratum* for the items of a running experiment
with threshold arms: its arm and whether the item would have been auto-accepted under that arm's
effective threshold, each at the audit rate and at least one item (:func:`labelloop.active.audit_sample`).
So the auto-accepted share of each arm is audited in proportion, and its accuracy is measured;
other items are sampled as before. The run's certificate says per arm what it did, in counts
(``experiments``); the audited would-be-auto items themselves are stored with the experiment
(``experiment_audits``) for the readout (:mod:`labelloop.services.experiment_arms`).

Example:
    >>> arms = ArmRouting({7: ThresholdExperiment(7, "thr", {"a": 0.5, "b": 0.99})}, {1: (7, "a"), 2: (7, "b")})
    >>> arms.admits(1, 0.9), arms.admits(2, 0.9), arms.admits(3, 0.1)
    (True, False, True)
    >>> effective({"*": 0.8}, {"*": 0.8}, 0.99), effective({"*": None}, {"*": None}, 0.5)
    ({'*': 0.99}, {'*': None})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelloop.active import audit_sample
from labelloop.services.experiments import ARMS, ArmStrategy
from labelloop.services.live_evidence import ItemView
from labelloop.storage import UnitOfWork
from labelloop.storage.experiments_repo import RUNNING, AuditRow, ExperimentRepo

__all__ = [
    "ArmRouting",
    "ThresholdExperiment",
    "arm_routing",
    "audit_pick",
    "effective",
    "experiments_section",
    "save_audits",
    "summary",
]

_CAVEAT = (
    "items of running A/B experiments with accept_threshold arms are audited per arm (at the audit rate, at least "
    "one item, among each arm's would-be-auto items and among its others); an arm's floor only raises its threshold"
)


@dataclass(frozen=True, slots=True)
class ThresholdExperiment:
    """A running experiment with at least one ``accept_threshold`` arm.

    Attributes:
        id: Experiment id.
        name: Experiment name.
        floors: The floor T of each arm (None: the certified threshold alone).
    """

    id: int
    name: str
    floors: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class ArmRouting:
    """The threshold arms a routing run applies.

    Attributes:
        experiments: Running experiments with threshold arms, by id.
        arm_of: Item id -> ``(experiment id, arm)`` for the routed items in those experiments.
    """

    experiments: dict[int, ThresholdExperiment] = field(default_factory=dict)
    arm_of: dict[int, tuple[int, str]] = field(default_factory=dict)

    def floor(self, item_id: int) -> float | None:
        """The item's floor on the calibrated score (None: none)."""
        where = self.arm_of.get(item_id)
        return None if where is None else self.experiments[where[0]].floors.get(where[1])

    def admits(self, item_id: int, calibrated: float) -> bool:
        """Whether the item's arm lets its calibrated score be auto-accepted (the certificate decides as well)."""
        t = self.floor(item_id)
        return t is None or calibrated >= t

    @property
    def caveats(self) -> list[str]:
        """What the certificate must say about per-arm audits (nothing without threshold arms)."""
        return [_CAVEAT] if self.arm_of else []


def arm_routing(tx: UnitOfWork, project_id: int, views: Sequence[ItemView]) -> ArmRouting:
    """The threshold arms of the project's running experiments, and which routed item is in which.

    Args:
        tx: An open unit of work (read).
        project_id: The project.
        views: The items being routed (their ``arm`` is the running arm read with them).
    """
    found: dict[int, ThresholdExperiment] = {}
    for row in ExperimentRepo(tx.conn).of_project(project_id):
        if row.status != RUNNING:
            continue
        floors = {arm: ArmStrategy.from_json(row.arms.get(arm, {})).accept_threshold for arm in ARMS}
        if any(t is not None for t in floors.values()):
            found[row.id] = ThresholdExperiment(row.id, row.name, floors)
    arm_of = {
        v.item_id: (v.arm.experiment_id, v.arm.arm) for v in views if v.arm is not None and v.arm.experiment_id in found
    }
    return ArmRouting(found, arm_of)


def audit_pick(
    fresh: Sequence[int], rate: float, seed: int, arms: ArmRouting, passing: set[int]
) -> list[int]:  # fmt: skip
    """The items to audit among ``fresh``: uniformly outside threshold arms, per stratum inside them.

    A stratum is an experiment's arm and whether the item passes its effective threshold
    (``passing``); each is sampled at ``rate`` with at least one item.

    Example:
        >>> arms = ArmRouting({1: ThresholdExperiment(1, "e", {"a": None, "b": 0.9})},
        ...                   {i: (1, "ab"[i % 2]) for i in range(100, 140)})
        >>> picked = audit_pick(list(range(140)), 0.05, 3, arms, passing=set(range(100, 140, 4)))
        >>> len([i for i in picked if i < 100]), sorted({"ab"[i % 2] for i in picked if i >= 100})
        (5, ['a', 'b'])
    """
    if rate <= 0 or not fresh:
        return []
    rest = [i for i in fresh if i not in arms.arm_of]
    out = [int(i) for i in audit_sample(np.array(rest, np.int64), rate, seed=seed)] if rest else []
    strata: dict[tuple[int, str, bool], list[int]] = {}
    for i in fresh:
        if i in arms.arm_of:
            strata.setdefault((*arms.arm_of[i], i in passing), []).append(i)
    for k, (_key, pool) in enumerate(sorted(strata.items())):
        out.extend(int(i) for i in audit_sample(np.array(pool, np.int64), rate, seed=seed + 1 + k))
    return out


def effective(
    certified: Mapping[str, float | None], calibrated: Mapping[str, float | None], floor: float | None
) -> dict[str, float | None]:
    """The effective threshold per class on the calibrated score: ``max(cal(certified), floor)``; None: never."""
    out: dict[str, float | None] = {}
    for k, t in certified.items():
        c = calibrated.get(k)
        out[k] = None if t is None or c is None else (c if floor is None else max(c, floor))
    return out


def _finite(v: float | None) -> float | None:
    return None if v is None or math.isinf(v) else v


def _same_note(name: str, thresholds: Mapping[str, float | None], floors: Mapping[str, float | None]) -> str | None:
    """Why the arms behaved the same in this run, or None when their effective thresholds differ."""
    top = max((t or 0.0) for t in floors.values())
    listed = ", ".join(f"{a} {'none' if t is None else f'{t:g}'}" for a, t in floors.items())
    certified = [t for t in thresholds.values() if t is not None]
    if not certified:
        return (
            f"experiment {name!r}: this run certified no threshold, so neither arm auto-accepted anything "
            "(the arms behaved the same)"
        )
    if all(t >= top for t in certified):
        shown = ", ".join(f"{k}: {t:.4f}" for k, t in thresholds.items() if t is not None)
        return (
            f"experiment {name!r}: the certified threshold ({shown}, calibrated score) was at or above both arms' "
            f"accept_threshold ({listed}): both arms auto-accepted on the certified threshold alone, so the arms "
            "behaved the same"
        )
    return None


def experiments_section(
    arms: ArmRouting,
    views: Sequence[ItemView],
    tiers: Mapping[int, str],
    passing: set[int],
    audited: set[int],
    held: set[int],
    thresholds: Mapping[str, float | None],
    calibrate: Callable[[float], float],
) -> list[dict[str, Any]]:
    """What each threshold experiment's arms did in this run, for its certificate (``experiments``).

    Args:
        arms: The run's threshold arms.
        views: The items routed (this model version's).
        tiers: Each item's tier after the run.
        passing: Items that passed their effective threshold (would be auto-accepted).
        audited: Items newly sent to a blind audit by this run.
        held: Would-be-auto items left with the person holding them.
        thresholds: The certified thresholds on the raw score (None: never).
        calibrate: Raw score -> calibrated score (the identity without a calibration).

    Returns:
        One entry per experiment: its certified and effective thresholds per arm, routed items,
        tiers, auto-accepted items, new audits (of which would-be-auto), and a note when the arms
        behaved the same. Counts only: which items were audited is stored apart
        (:func:`save_audits`).
    """
    raw = {k: _finite(v) for k, v in thresholds.items()}
    cal = {k: None if v is None else float(calibrate(v)) for k, v in raw.items()}
    by_arm: dict[tuple[int, str], list[ItemView]] = {}
    for v in views:
        where = arms.arm_of.get(v.item_id)
        if where is not None and v.item_id in tiers:
            by_arm.setdefault(where, []).append(v)
    out = []
    for eid, exp in sorted(arms.experiments.items()):
        section: dict[str, Any] = {}
        for arm in ARMS:
            mine = by_arm.get((eid, arm), [])
            counts = {t: sum(1 for v in mine if tiers[v.item_id] == t) for t in ("auto", "review", "manual", "audit")}
            would_auto = sum(1 for v in mine if v.item_id in audited and v.item_id in passing)
            section[arm] = {
                "accept_threshold": exp.floors.get(arm), "effective": effective(raw, cal, exp.floors.get(arm)),
                "routed": len(mine), "tiers": counts, "auto": counts["auto"],
                "audit_new": sum(1 for v in mine if v.item_id in audited),
                "held": sum(1 for v in mine if v.item_id in held), "audited_would_auto": would_auto,
            }  # fmt: skip
        note = _same_note(exp.name, cal, exp.floors)
        out.append({
            "experiment_id": eid, "name": exp.name, "certified": raw, "certified_calibrated": cal,
            "same": note is not None, "note": note, "arms": section,
        })  # fmt: skip
    return out


def save_audits(
    tx: UnitOfWork, run_id: int, arms: ArmRouting, views: Sequence[ItemView], audited: set[int], passing: set[int]
) -> int:
    """Record the would-be-auto items this run sent to a blind audit, per experiment arm; return how many.

    The readout (:mod:`labelloop.services.experiment_arms`) judges each arm's auto-accepted
    accuracy by the person's label of these items.
    """
    rows: dict[int, list[AuditRow]] = {}
    for v in views:
        where = arms.arm_of.get(v.item_id)
        if where is None or v.item_id not in audited or v.item_id not in passing or v.suggestion is None:
            continue
        rows.setdefault(where[0], []).append(AuditRow(v.item_id, where[1], run_id, v.suggestion.id))
    repo = ExperimentRepo(tx.conn)
    for eid, found in sorted(rows.items()):
        repo.add_audits(eid, found)
    return sum(len(r) for r in rows.values())


def summary(sections: Sequence[Mapping[str, Any]]) -> str:
    """One line for the run's message: each threshold experiment's auto-accepted items and thresholds per arm.

    Example:
        >>> arm = {"auto": 3, "routed": 10, "effective": {"*": 0.99}}
        >>> summary([{"name": "thr", "arms": {"a": {**arm, "effective": {"*": 0.9}}, "b": arm}, "same": False}])
        "experiment 'thr': arm a 3 of 10 auto-accepted (effective *: 0.9000), arm b 3 of 10 (effective *: 0.9900)"
    """
    parts = []
    for s in sections:
        arms = []
        for k, arm in enumerate(ARMS):
            d = s["arms"][arm]
            eff = ", ".join(f"{c}: {'never' if t is None else f'{t:.4f}'}" for c, t in d["effective"].items())
            what = " auto-accepted" if k == 0 else ""
            arms.append(f"arm {arm} {d['auto']} of {d['routed']}{what} (effective {eff or 'never'})")
        same = " - the arms behaved the same" if s["same"] else ""
        parts.append(f"experiment {s['name']!r}: {', '.join(arms)}{same}")
    return "; ".join(parts)
