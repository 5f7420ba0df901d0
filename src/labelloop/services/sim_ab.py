"""A/B experiments of labelling strategies in the simulator (the live form is ``labelloop experiment``).

The pool is split at random into two halves (:func:`labelloop.active.split_arms`, seeded); each
arm's strategy runs with simulated people on its own half only (its model never sees the other
half), and :func:`labelloop.active.ab_readout` compares the arms item by item: accuracy of the
final labels against gold, human seconds spent per item (every phase: seed labels, audits,
reviews, ...), and agreement — on a random ``agreement_sample`` of each arm's items another
simulated person labels blind, and agreement is whether that label equals the arm's final
label (a measurement, like an inter-annotator check, not booked as the arm's time).

An arm is a strategy (``manual``, ``review``, ``tiered``, ``active``) with its knobs, so the
comparisons of the issue are: pre-annotation on vs off (``review`` vs ``manual``), backend A vs B
(``model=spreading`` vs ``model=logreg``), threshold 0.9 vs 0.95 (``target=0.9`` vs
``target=0.95``).

Example:
    >>> r = simulate_ab("digits", parse_arm("strategy=review"), parse_arm("strategy=manual"), n_items=400)
    >>> r.readout.time_diff > 0, r.a.n_items + r.b.n_items
    (True, 400)
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from labelloop.active import ABReadout, ArmData, ab_readout, split_arms
from labelloop.errors import InputRejected
from labelloop.services.simulate import STRATEGIES, CostModel, SimConfig, SimResult, load_dataset, simulate

__all__ = ["SimABResult", "SimArm", "parse_arm", "simulate_ab"]

_KNOBS = {"target": float, "confidence": float, "model": str, "seed_labels": int, "batch": int}


@dataclass(frozen=True, slots=True)
class SimArm:
    """One arm: a strategy and its knobs (``spec`` is how it was written, for the readout)."""

    strategy: str = "active"
    config: SimConfig = field(default_factory=SimConfig)
    spec: str = ""


@dataclass(frozen=True, slots=True)
class SimABResult:
    """Both arms' simulation results and the readout (differences are ``b - a``)."""

    a: SimResult
    b: SimResult
    arm_a: SimArm
    arm_b: SimArm
    readout: ABReadout


def parse_arm(spec: str) -> SimArm:
    """An arm from ``key=value`` pairs separated by commas: ``strategy`` and the knobs of :data:`_KNOBS`.

    Raises:
        InputRejected: an unknown key, a bad value, or a bad strategy.

    Example:
        >>> parse_arm("strategy=tiered,target=0.95").config.target
        0.95
    """
    strategy, knobs = "active", {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise InputRejected("arm", "key=value pairs separated by commas", part)
        if key == "strategy":
            if value not in STRATEGIES:
                raise InputRejected("arm strategy", f"one of {', '.join(STRATEGIES)}", value)
            strategy = value
        elif key in _KNOBS:
            try:
                knobs[key] = _KNOBS[key](value)
            except ValueError:
                raise InputRejected(f"arm {key}", _KNOBS[key].__name__, value) from None
        else:
            raise InputRejected("arm key", f"strategy or one of {', '.join(_KNOBS)}", key)
    for name in ("target", "confidence"):
        if name in knobs and not 0.0 < knobs[name] < 1.0:
            raise InputRejected(f"arm {name}", "a share in (0, 1)", str(knobs[name]))
    config = dataclasses.replace(SimConfig(), **knobs)
    config.check()
    return SimArm(strategy, config, spec)


def _agreement(res: SimResult, y: NDArray[np.int64], share: float, cost: CostModel, seed: int) -> NDArray[np.bool_]:
    """Whether a second blind label agrees with the final label, on a random share of the items."""
    rng = np.random.default_rng(seed + 7919)
    n = y.size
    pick = rng.choice(n, size=max(1, round(share * n)), replace=False)
    k = int(y.max()) + 1
    right = rng.random(pick.size) < cost.human_accuracy
    second = np.where(right, y[pick], (y[pick] + rng.integers(1, k, pick.size)) % k)
    final_right = res.item_correct[pick]
    # the final label is gold where right; where wrong, a second label agrees only by chance of
    # the same wrong class, which the simulated people never share (independent draws)
    return np.asarray((second == y[pick]) & final_right, dtype=bool)


def simulate_ab(
    dataset: str,
    a: SimArm,
    b: SimArm,
    *,
    seed: int = 0,
    n_items: int | None = None,
    cost: CostModel | None = None,
    agreement_sample: float = 0.1,
    confidence: float = 0.95,
) -> SimABResult:
    """Run arm ``a`` and arm ``b`` on the two random halves of the pool and compare them.

    Raises:
        InputRejected: a bad arm or ``agreement_sample`` outside (0, 1].
    """
    if not 0.0 < agreement_sample <= 1.0:
        raise InputRejected("agreement_sample", "in (0, 1]", str(agreement_sample))
    cst = cost or CostModel()
    x, y = load_dataset(dataset)
    if n_items is not None and n_items < y.size:
        keep = np.sort(np.random.default_rng(seed).choice(y.size, n_items, replace=False))
        x, y = x[keep], y[keep]
    in_b = split_arms(y.size, seed)
    results, data = [], []
    for arm, mask in ((a, ~in_b), (b, in_b)):
        res = simulate(dataset, arm.strategy, config=arm.config, cost=cst, seed=seed, data=(x[mask], y[mask]))
        agreed = _agreement(res, y[mask], agreement_sample, cst, seed)
        results.append(res)
        data.append(ArmData(res.item_correct, res.item_seconds, agreed))
    with warnings.catch_warnings():  # (an arm of constant seconds, e.g. all manual, has no variance)
        warnings.simplefilter("ignore", RuntimeWarning)
        readout = ab_readout(data[0], data[1], confidence)
    return SimABResult(results[0], results[1], a, b, readout)
