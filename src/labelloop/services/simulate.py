"""Human-effort simulation: how much human time each labelling strategy needs, and at what quality.

Simulated people answer from the gold labels. The model is a plain multinomial logistic
regression (scikit-learn) on the 64 pixel features of scikit-learn's 8 x 8 ``digits`` (1,797
images, 10 classes) scaled to [0, 1] — not :mod:`labelloop.backends.image_classify`, whose HOG
features are built for larger images and are slower to refit every round. No real text
classification set ships inside an installed package (scikit-learn's offline loaders hold only
iris, digits, wine, breast cancer, diabetes and linnerud; ``fetch_20newsgroups`` downloads), so
only digits is offered.

Strategies (every item of the pool ends with a label):

* ``manual``: people label every item from scratch.
* ``review``: people label a random seed set, a model is fitted, people review every suggestion.
* ``tiered``: as ``review``, then a blind random audit certifies an auto-accept threshold
  (:mod:`labelloop.services.routing`); items above it are accepted unseen, the rest reviewed
  (or labelled from scratch below ``manual_below``); a share of the auto-accepted items is
  audited again and a broken bound tightens the threshold and re-routes items.
* ``active``: a small random seed, then rounds of pick a batch by margin (Settles, 2009) →
  people review its suggestions → refit → re-predict, until the stopping rule or the label
  budget; then certified tiered routing of the rest.

Cost defaults are ASSUMPTIONS, not measurements: 4.0 s to pick one of ten classes from scratch,
1.5 s to confirm a correct suggestion, 5.0 s to reject and relabel a wrong one. Their ordering
follows published studies — verifying a proposal is several times faster than producing it
(Papadopoulos et al., 2016, "We don't need no bounding-boxes", CVPR: ~1.6 s to verify a box vs
~7 s to draw one; Krishna et al., 2016, "Embracing error to enable rapid crowdsourcing", CHI) —
but the absolute seconds for 8 x 8 digits are our guess. People are right 99% of the time from
scratch, and catch 90% of wrong suggestions when reviewing (automation bias; an assumption).
Audits are blind (the auditor does not see the suggestion); a disagreement with the
suggestion is adjudicated by a second person (``correct_s``) who is right with the same 99%.

Example:
    >>> r = simulate("digits", "manual", n_items=200, seed=0)
    >>> r.time_fraction, r.actions["label"]
    (1.0, 200)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelloop.active import (
    QualityCertificate,
    StoppingRule,
    Tier,
    audit_sample,
    build_certificate,
    diverse_batch,
    reaudit,
    select,
)
from labelloop.errors import InputRejected
from labelloop.services.routing import plan_routing

__all__ = [
    "DATASETS",
    "STRATEGIES",
    "CostModel",
    "SimConfig",
    "SimResult",
    "labels_to_reach",
    "load_dataset",
    "simulate",
]

DATASETS = ("digits",)
STRATEGIES = ("manual", "review", "tiered", "active")
Arr = NDArray[Any]


@dataclass(frozen=True, slots=True)
class CostModel:
    """Seconds per human action and human accuracy (defaults: see the module docstring)."""

    label_s: float = 4.0
    confirm_s: float = 1.5
    correct_s: float = 5.0
    human_accuracy: float = 0.99
    catch_rate: float = 0.9


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Knobs of the strategies.

    Attributes:
        target: Required accuracy of auto-accepted labels.
        confidence: Confidence of the certified bound.
        seed_labels: Random items people label first (``review``/``tiered``: the training set).
        initial: Random seed set of ``active`` before uncertainty sampling.
        batch: Items per active-learning round.
        budget: Most labels the active loop may ask for (seed included).
        sampler: ``margin``, ``entropy``, ``least_confidence``, ``random`` or ``diverse``.
        audit_size: Blind audit before auto-accepting.
        audit_floor: Only items with raw confidence >= this can be audited / auto-accepted.
        reaudit_fraction: Share of auto-accepted items audited again.
        manual_below: Calibrated confidence below which people label from scratch.
        scan_step: Coarseness of the certified threshold scan (audited items per step).
    """

    target: float = 0.98
    confidence: float = 0.95
    seed_labels: int = 200
    initial: int = 20
    batch: int = 10
    budget: int = 250
    sampler: str = "margin"
    audit_size: int = 200
    audit_floor: float = 0.9
    reaudit_fraction: float = 0.05
    manual_below: float = 0.2
    scan_step: int = 25


@dataclass(slots=True)
class SimResult:
    """Outcome of one simulated strategy.

    Attributes:
        strategy: Its name.
        n_items: Items in the pool.
        actions: Human actions by kind (``label``, ``confirm``, ``correct``, ``adjudicate``).
        human_seconds: Simulated human time.
        time_fraction: ``human_seconds`` over the time of labelling everything by hand.
        action_fraction: Human actions over ``n_items``.
        accuracy: Final labels vs gold.
        auto_accepted: Items accepted without a person.
        auto_accuracy: Their accuracy vs gold (``None`` if none).
        bound_held: Whether that accuracy met the target (``None`` if nothing was auto-accepted).
        certificate: The quality certificate (tiered strategies).
        rounds: Active-learning rounds run.
    """

    strategy: str
    n_items: int
    actions: dict[str, int] = field(default_factory=dict)
    human_seconds: float = 0.0
    time_fraction: float = 0.0
    action_fraction: float = 0.0
    accuracy: float = 0.0
    auto_accepted: int = 0
    auto_accuracy: float | None = None
    bound_held: bool | None = None
    certificate: QualityCertificate | None = None
    rounds: int = 0


def load_dataset(name: str) -> tuple[Arr, Arr]:
    """Features in [0, 1] and integer gold labels.

    Example:
        >>> x, y = load_dataset("digits")
        >>> x.shape, int(y.max())
        ((1797, 64), 9)
    """
    if name != "digits":
        raise InputRejected("dataset", f"one of {list(DATASETS)}", name)
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.asarray(d.data, dtype=np.float64) / 16.0, np.asarray(d.target, dtype=np.int64)


def _model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=1000)


class _Crowd:
    """Simulated people: every action draws from one seeded generator and is booked."""

    def __init__(self, truth: Arr, cost: CostModel, seed: int) -> None:
        self.truth, self.cost = truth, cost
        self.k = int(truth.max()) + 1
        self.rng = np.random.default_rng(seed)
        self.seconds = 0.0
        self.actions = {"label": 0, "confirm": 0, "correct": 0, "adjudicate": 0}

    def _answer(self, idx: Arr) -> Arr:
        t = self.truth[idx]
        right = self.rng.random(idx.size) < self.cost.human_accuracy
        wrong = (t + self.rng.integers(1, self.k, idx.size)) % self.k
        return np.where(right, t, wrong)

    def label(self, idx: Arr) -> Arr:
        self.actions["label"] += idx.size
        self.seconds += idx.size * self.cost.label_s
        return self._answer(idx)

    def review(self, idx: Arr, suggestion: Arr) -> Arr:
        bad = suggestion != self.truth[idx]
        caught = bad & (self.rng.random(idx.size) < self.cost.catch_rate)
        out = suggestion.copy()
        out[caught] = self._answer(idx[caught])
        n_fix = int(caught.sum())
        self.actions["correct"] += n_fix
        self.actions["confirm"] += idx.size - n_fix
        self.seconds += n_fix * self.cost.correct_s + (idx.size - n_fix) * self.cost.confirm_s
        return out

    def audit(self, idx: Arr, suggestion: Arr) -> tuple[Arr, Arr]:
        """Blind label, adjudicated on disagreement; returns (verdict correct, final label)."""
        blind = self.label(idx)
        dis = blind != suggestion
        self.actions["adjudicate"] += int(dis.sum())
        self.seconds += int(dis.sum()) * self.cost.correct_s
        final = blind.copy()
        final[dis] = self._answer(idx[dis])
        return final == suggestion, final


def _fit_predict(x: Arr, labelled: Arr, labels: Arr, pool: Arr) -> tuple[Arr, Arr, Any]:
    m = _model().fit(x[labelled], labels)
    proba = np.asarray(m.predict_proba(x[pool]), dtype=np.float64)
    pred = np.asarray(m.classes_)[proba.argmax(axis=1)]
    return proba, pred, m


def _certified_finish(
    x: Arr, crowd: _Crowd, final: Arr, labelled: Arr, cfg: SimConfig, res: SimResult, seed: int
) -> None:
    """Audit, certify, route and finish every unlabelled item; fills ``res``."""
    n = x.shape[0]
    pool = np.setdiff1d(np.arange(n), labelled)
    proba, pred, _ = _fit_predict(x, labelled, final[labelled], pool)
    conf = proba.max(axis=1)
    rng = np.random.default_rng(seed + 1)
    cand = np.flatnonzero(conf >= cfg.audit_floor)  # depends on scores only
    a_pos = np.sort(rng.choice(cand, size=min(cfg.audit_size, cand.size), replace=False))
    verdict, a_final = crowd.audit(pool[a_pos], pred[a_pos])
    final[pool[a_pos]] = a_final
    sub = cand  # the population the audit is uniform over
    plan = plan_routing(
        conf[sub],
        np.searchsorted(sub, a_pos),
        verdict,
        target=cfg.target,
        confidence_level=cfg.confidence,
        manual_below=cfg.manual_below,
        step=cfg.scan_step,
    )
    cal = conf  # thresholds live on raw confidence (see services.routing)
    tiers = np.array([Tier.REVIEW] * pool.size, dtype=object)
    tiers[sub] = np.asarray(plan.tiers, dtype=object)
    tiers[(conf < cfg.audit_floor) & (conf < cfg.manual_below)] = Tier.MANUAL
    tiers[np.flatnonzero(np.isin(np.arange(pool.size), a_pos))] = Tier.REVIEW  # already human-labelled
    audit_scores, audit_ok = cal[a_pos], verdict
    auto = np.flatnonzero(tiers == Tier.AUTO)
    if auto.size:  # continuous audit of the auto-accepted, then re-certify
        re_pos = audit_sample(auto, cfg.reaudit_fraction, seed=seed + 2)
        re_ok, re_final = crowd.audit(pool[re_pos], pred[re_pos])
        final[pool[re_pos]] = re_final
        tiers[re_pos] = Tier.REVIEW
        audit_scores, audit_ok = np.r_[audit_scores, cal[re_pos]], np.r_[audit_ok, re_ok]
        a_pos = np.r_[a_pos, re_pos]
        auto = np.flatnonzero(tiers == Tier.AUTO)
        out = reaudit(
            plan.policy, audit_scores, audit_ok, auto, cal[auto], target=cfg.target, confidence=cfg.confidence
        )
        tiers[out.reroute] = Tier.REVIEW
        policy_t = out.policy.accept_at
    else:
        policy_t = plan.policy.accept_at
    human = np.isin(np.arange(pool.size), a_pos)
    rev = np.flatnonzero((tiers == Tier.REVIEW) & ~human)
    man = np.flatnonzero(tiers == Tier.MANUAL)
    auto = np.flatnonzero(tiers == Tier.AUTO)
    final[pool[rev]] = crowd.review(pool[rev], pred[rev])
    final[pool[man]] = crowd.label(pool[man])
    final[pool[auto]] = pred[auto]
    res.auto_accepted = int(auto.size)
    if auto.size:
        acc = float(np.mean(pred[auto] == crowd.truth[pool[auto]]))
        res.auto_accuracy, res.bound_held = acc, acc >= cfg.target
    thr = None if not isinstance(policy_t, float) or not np.isfinite(policy_t) else float(policy_t)
    res.certificate = build_certificate(
        audit_scores,
        audit_ok,
        pred[a_pos].tolist(),
        [Tier(t) for t in tiers],
        pred.tolist(),
        threshold=thr,
        target=cfg.target,
        confidence=cfg.confidence,
    )


def _active_labels(x: Arr, crowd: _Crowd, final: Arr, cfg: SimConfig, seed: int) -> tuple[Arr, int]:
    """The active loop; returns the labelled positions and the rounds run."""
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    labelled = np.sort(rng.choice(n, size=cfg.initial, replace=False))
    final[labelled] = crowd.label(labelled)
    rule = StoppingRule(kappa=0.99, window=3)
    stop_set = np.sort(rng.choice(np.setdiff1d(np.arange(n), labelled), size=min(200, n // 5), replace=False))
    rounds = 0
    while labelled.size < cfg.budget:
        pool = np.setdiff1d(np.arange(n), labelled)
        proba, pred, model = _fit_predict(x, labelled, final[labelled], pool)
        rounds += 1
        if rule.update(model.predict(x[stop_set])):
            break
        k = min(cfg.batch, cfg.budget - labelled.size)
        if cfg.sampler == "diverse":
            pick = diverse_batch(proba, x[pool], k, seed=seed + rounds)
        else:
            pick = select(proba, k, cfg.sampler, seed=seed + rounds)
        final[pool[pick]] = crowd.review(pool[pick], pred[pick])
        labelled = np.sort(np.r_[labelled, pool[pick]])
    return labelled, rounds


def simulate(
    dataset: str = "digits",
    strategy: str = "tiered",
    *,
    config: SimConfig | None = None,
    cost: CostModel | None = None,
    n_items: int | None = None,
    seed: int = 0,
) -> SimResult:
    """Run one strategy on a dataset with simulated people.

    Args:
        dataset: ``digits``.
        strategy: ``manual``, ``review``, ``tiered`` or ``active``.
        config: Strategy knobs.
        cost: Human costs and accuracy.
        n_items: Use a random subset of this size (all items by default).
        seed: Seed of every random draw.

    Returns:
        A :class:`SimResult`.
    """
    if strategy not in STRATEGIES:
        raise InputRejected("strategy", f"one of {list(STRATEGIES)}", strategy)
    cfg, cst = config or SimConfig(), cost or CostModel()
    x, y = load_dataset(dataset)
    if n_items is not None and n_items < x.shape[0]:
        keep = np.sort(np.random.default_rng(seed).choice(x.shape[0], n_items, replace=False))
        x, y = x[keep], y[keep]
    n = x.shape[0]
    crowd = _Crowd(y, cst, seed)
    final = np.full(n, -1, dtype=np.int64)
    res = SimResult(strategy, n)
    if strategy == "manual":
        final[:] = crowd.label(np.arange(n))
    elif strategy in ("review", "tiered"):
        labelled = np.sort(np.random.default_rng(seed).choice(n, size=min(cfg.seed_labels, n), replace=False))
        final[labelled] = crowd.label(labelled)
        if strategy == "review":
            pool = np.setdiff1d(np.arange(n), labelled)
            _, pred, _ = _fit_predict(x, labelled, final[labelled], pool)
            final[pool] = crowd.review(pool, pred)
        else:
            _certified_finish(x, crowd, final, labelled, cfg, res, seed)
    else:
        labelled, res.rounds = _active_labels(x, crowd, final, cfg, seed)
        _certified_finish(x, crowd, final, labelled, cfg, res, seed)
    res.actions = dict(crowd.actions)
    res.human_seconds = crowd.seconds
    res.time_fraction = round(crowd.seconds / (n * cst.label_s), 6)
    res.action_fraction = round(sum(crowd.actions.values()) / n, 6)
    res.accuracy = float(np.mean(final == y))
    return res


def labels_to_reach(
    accuracy: float = 0.95,
    sampler: str = "margin",
    *,
    dataset: str = "digits",
    test_size: int = 597,
    initial: int = 10,
    batch: int = 10,
    max_labels: int = 1000,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> int | None:
    """Gold labels an active learner needs to reach ``accuracy`` on a held-out test split.

    Learning-curve experiment with noise-free labels (the usual active-learning benchmark):
    ``initial`` random labels, then batches by ``sampler`` until the test accuracy reaches the
    goal. Returns ``None`` if ``max_labels`` is not enough.
    """
    x, y = load_dataset(dataset)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(x.shape[0])
    test, train = perm[:test_size], perm[test_size:]
    labelled = np.sort(rng.choice(train, size=initial, replace=False))
    rnd = 0
    while labelled.size <= max_labels:
        m = _model().fit(x[labelled], y[labelled])
        acc = float(m.score(x[test], y[test]))
        if progress is not None:
            progress(int(labelled.size), acc)
        if acc >= accuracy:
            return int(labelled.size)
        pool = np.setdiff1d(train, labelled)
        proba = m.predict_proba(x[pool])
        rnd += 1
        if sampler == "diverse":
            pick = diverse_batch(proba, x[pool], batch, seed=seed + rnd)
        else:
            pick = select(proba, batch, sampler, seed=seed + rnd)
        labelled = np.sort(np.r_[labelled, pool[pick]])
    return None
