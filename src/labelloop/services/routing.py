"""Routing use case: calibrate confidence on an audit, certify an accept threshold, route items.

The audit is a uniform random sample of the items that could be auto-accepted, labelled by
people without seeing the suggestion. Confidence is calibrated by temperature scaling
(:class:`labelloop.backends.calibration.TemperatureScaling`, Guo et al. 2017) fitted on the
audit and used for the manual cut only. The accept threshold is certified on the raw
confidence, or on a finer ranking score when one is given (e.g. the log-ratio of the two most
probable classes, which keeps apart items whose probabilities all round to 1.0): calibration is
monotone, so it could not change which items pass, and clipping in the calibrator would merge
near-1 scores into ties and cost power.

Example:
    >>> rng = np.random.default_rng(0)
    >>> conf = rng.uniform(0.5, 1.0, 3000)
    >>> audit = rng.choice(3000, 600, replace=False)
    >>> ok = rng.random(600) < conf[audit] ** 0.2
    >>> plan = plan_routing(conf, audit, ok, target=0.95, manual_below=0.6)
    >>> plan.result.certified, plan.tiers.count(Tier.AUTO) > 0
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelloop.active import RoutingPolicy, ThresholdResult, Tier, certified_threshold, route, sequential_threshold
from labelloop.backends.calibration import TemperatureScaling
from labelloop.errors import InputRejected

__all__ = ["RoutingPlan", "plan_routing"]


@dataclass(frozen=True, slots=True)
class RoutingPlan:
    """A certified routing of a pool.

    Attributes:
        calibrated: Calibrated confidence of every item.
        policy: ``accept_at`` on the ranking score (raw confidence unless a ``score`` was
            given; ``inf`` if uncertified), ``manual_below`` on calibrated confidence.
        tiers: Tier of every item.
        result: The certification outcome (threshold, evidence, clean audits still needed).
        temperature: Fitted temperature (``None`` when calibration was off or impossible).
    """

    calibrated: NDArray[np.float64]
    policy: RoutingPolicy
    tiers: list[Tier]
    result: ThresholdResult
    temperature: float | None


def plan_routing(
    confidence: ArrayLike,
    audit_idx: ArrayLike,
    audit_correct: ArrayLike,
    *,
    target: float,
    confidence_level: float = 0.95,
    manual_below: float = 0.0,
    calibrate: bool = True,
    step: int = 1,
    score: ArrayLike | None = None,
    breakpoints: bool = False,
    first_look: int | None = None,
) -> RoutingPlan:
    """Certify an auto-accept threshold on an audit and route every item.

    Args:
        confidence: Raw model confidence of every item in the pool, in [0, 1].
        audit_idx: Positions of the audited items (a uniform random sample).
        audit_correct: Whether the audit found each machine label right.
        target: Required accuracy of auto-accepted labels.
        confidence_level: Confidence of that claim.
        manual_below: Calibrated confidence below which people label from scratch.
        calibrate: Fit temperature scaling on the audit first.
        step: Coarseness of the threshold scan (see :func:`~labelloop.active.certified_threshold`).
        score: Ranking score of every item for the accept threshold (any finite score that
            orders items like their confidence or better); raw confidence by default.
        breakpoints: Scan only where one more audit error becomes tolerable (see
            :func:`~labelloop.active.certified_threshold`).
        first_look: The audit was drawn in a uniform random order of the candidates, in the
            order of ``audit_idx``, and looked at after this many items: certify with the
            two-look test of :func:`~labelloop.active.sequential_threshold` instead
            (``step``/``breakpoints`` are then unused).

    Returns:
        A :class:`RoutingPlan`; audited items are routed like the others (callers keep
        their human labels).
    """
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    idx = np.asarray(audit_idx, dtype=np.int64).ravel()
    ok = np.asarray(audit_correct, dtype=bool).ravel()
    if idx.size != ok.size or (idx.size and (idx.min() < 0 or idx.max() >= conf.size)):
        raise InputRejected(
            "plan_routing", "one verdict per audited position inside the pool", f"{idx.size} vs {ok.size}"
        )
    rank = conf if score is None else np.asarray(score, dtype=np.float64).ravel()
    if rank.shape != conf.shape:
        raise InputRejected("plan_routing", "one score per item", f"{rank.size} scores for {conf.size} items")
    temperature = None
    cal: NDArray[np.float64] = conf
    if calibrate and idx.size >= 2 and 0 < ok.sum() < ok.size:
        ts = TemperatureScaling().fit(conf[idx], ok)
        cal, temperature = ts.predict(conf), ts.temperature_
    if first_look is None:
        res = certified_threshold(rank[idx], ok, target, confidence_level, step=step, breakpoints=breakpoints)
    else:
        res = sequential_threshold(rank[idx], ok, first_look, target, confidence_level)
    policy = RoutingPolicy(accept_at=math.inf if res.threshold is None else res.threshold, manual_below=manual_below)
    tiers = route(rank, RoutingPolicy(accept_at=policy.accept_at))
    tiers = [Tier.MANUAL if t is Tier.REVIEW and c < manual_below else t for t, c in zip(tiers, cal, strict=True)]
    return RoutingPlan(cal, policy, tiers, res, temperature)
