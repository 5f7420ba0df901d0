"""The active-learning loop on a live project, one round at a time (``labelloop learn``, server jobs).

A round (:func:`run_learning_round`):

1. **fit** the backend on the project's labels by people (gold answers first, else the newest
   submitted annotation no review rejected; auto-accepted labels never: they are the model's
   own output). Items routed to the blind *audit* tier are held out: never trained on, their
   labels stay clean evidence for every later model version;
2. **re-predict** the items without a person's label, the held-out audit items and the stopping
   rule's stop set with the new model version (suggestions stamped with it; batches commit one
   by one, so a cancelled round keeps its finished batches and a re-run resumes);
3. **re-route** on the new version (:func:`labelloop.services.live_routing.route_project`);
4. **pick** the next batch among the items still left to people (not auto-accepted, not held
   for audit) with a sampler — ``margin``, ``entropy``, ``least`` (least confidence),
   ``kcenter`` (k-center greedy over the most uncertain, Sener & Savarese 2018) or ``random`` —
   and put their queue slots first, so ``next`` serves them before anything else (earlier
   batches go back to normal order);
5. **stop** when the stopping rule of Bloodgood & Vijay-Shanker (2009) says so: predictions on a
   fixed stop set agree between consecutive rounds (Cohen's kappa >= 0.99 for three rounds).
   The rounds are stored, so the rule carries over between runs of the command or the job.

Samplers use every class's probability where the backend gives it
(:class:`labelloop.backends.base.ClassScorer`: ``image.classify``, ``text.classify``); otherwise
the stored suggestion score is the top class's probability and the rest is spread evenly over
the other labels (least confidence is then exact; margin and entropy are its monotone images).

``progress(done, total)`` is called after each predicted batch; ``cancelled()`` is polled
between batches and before routing: a cancelled round records nothing but its suggestions.

Example:
    >>> sorted(SAMPLERS)
    ['entropy', 'kcenter', 'least', 'margin', 'random']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from labelloop.active import StoppingRule, diverse_batch, random_batch, select
from labelloop.backends.base import ClassScorer
from labelloop.core import Actor, Control, ControlKind, Item, LabelSchema
from labelloop.core.plugins import Backend, BackendContext, TrainableBackend
from labelloop.errors import BackendUnavailable, InputRejected, PluginError
from labelloop.plugins import PluginManager
from labelloop.services._batch import close_backend, run_batch
from labelloop.services.live_evidence import ItemView, item_views, predicted_class
from labelloop.services.live_routing import RoutePolicy, RouteReport, route_project
from labelloop.services.preannotate import StoreMedia, commit_batch, start_report
from labelloop.storage import Store
from labelloop.storage.routing_repo import LearnRound, RoutingRepo

__all__ = ["SAMPLERS", "SAMPLER_NOTES", "RoundReport", "Sampler", "run_learning_round", "sampler_choices"]

Sampler = Literal["margin", "entropy", "least", "kcenter", "random"]
SAMPLERS: dict[str, str] = {
    "margin": "margin",
    "entropy": "entropy",
    "least": "least_confidence",
    "kcenter": "margin",
    "random": "random",
}
SAMPLER_NOTES: dict[str, str] = {
    "margin": "margin: smallest gap between the two likeliest classes",
    "entropy": "entropy: most uncertain overall",
    "least": "least confidence",
    "kcenter": "k-center (falls back to margin)",
    "random": "random (a baseline)",
}
"""What each sampler of :data:`SAMPLERS` picks, in the words the browser's menu shows."""
STOP_SET = 200
ProgressFn = Callable[[int, int | None], None]


@dataclass(slots=True)
class RoundReport:
    """What a round did.

    Attributes:
        round_id: The stored round (None when nothing was recorded: nothing new, or cancelled).
        backend: Backend name.
        model_version: The version the round fitted.
        trained_on: Labels it trained on.
        held_out: Audit labels kept out of training.
        predicted: Suggestions it stored.
        failed: Items the backend could not predict.
        batch: Items put first in the queue.
        promoted_slots: Queue slots that now rank first.
        kappa: Agreement with the previous round on the stop set.
        stop: The stopping rule says learning is done (no batch is promoted then).
        reason: One line for people.
        route: The re-routing run.
        cancelled: ``cancelled()`` said stop.
        nothing_new: No label arrived since the last round (the same model version).
    """

    round_id: int | None
    backend: str
    model_version: str
    trained_on: int = 0
    held_out: int = 0
    predicted: int = 0
    failed: int = 0
    batch: list[int] = field(default_factory=list)
    promoted_slots: int = 0
    kappa: float | None = None
    stop: bool = False
    reason: str = ""
    route: RouteReport | None = None
    cancelled: bool = False
    nothing_new: bool = False


def _classification(schema: LabelSchema, backend: Backend) -> Control:
    for c in schema.controls:
        if c.kind == ControlKind.CLASSIFICATION and backend.capabilities.supports(c, schema):
            return c
    raise BackendUnavailable(f"backend {backend.name!r} has no classification control to learn in this project")


def _views(store: Store, pid: int, backend: str, version: str) -> list[ItemView]:
    return [v for page in item_views(store, pid, backend, version, trainable=True) for v in page]


def _fallback_proba(scores: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """Top class at ``score``, the rest spread evenly (the most uncertain completion)."""
    k = max(k, 2)
    rest = (1.0 - scores) / (k - 1)
    return np.column_stack([scores, *([rest] * (k - 1))])


def _scores(
    backend: Backend, pool: Sequence[ItemView], control: Control, size: int, sampler: str
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Class probabilities (and features) of the pool, from the backend or the stored scores."""
    if isinstance(backend, ClassScorer):
        probs, feats = [], []
        for i in range(0, len(pool), size):
            out = backend.class_probabilities([v.item for v in pool[i : i + size]], control)
            probs.append(out.proba)
            feats.append(out.features)
        proba = np.vstack(probs) if probs else np.empty((0, len(control.labels)))
        has = bool(feats) and all(f is not None for f in feats)
        return proba, (np.vstack([f for f in feats if f is not None]) if has else None)
    if sampler == "kcenter":
        raise InputRejected("sampler kcenter", f"a backend that gives features ({backend.name!r} does not)", "kcenter")
    s = np.array([float(v.suggestion.score or 0.0) if v.suggestion else 0.0 for v in pool], np.float64)
    return _fallback_proba(s, len(control.labels)), None


def _pick(
    proba: NDArray[np.float64], feats: NDArray[np.float64] | None, k: int, sampler: str, seed: int
) -> NDArray[np.int64]:
    if sampler == "random":
        return random_batch(proba.shape[0], k, seed)
    if sampler == "kcenter":
        if feats is None:
            raise InputRejected("sampler kcenter", "features from the backend", "none")
        return diverse_batch(proba, feats, k, strategy="margin", seed=seed)
    return select(proba, k, SAMPLERS[sampler], seed)


def _stop(
    rounds: Sequence[LearnRound], current: list[str], kappa: float, window: int
) -> tuple[bool, float | None, list[float]]:
    """Replay the stored rounds through the stopping rule, then this one."""
    names = sorted({x for r in rounds for x in r.stop_predictions} | set(current))
    code = {n: i for i, n in enumerate(names)}
    rule = StoppingRule(kappa=kappa, window=window)
    for r in rounds:
        if len(r.stop_predictions) == len(current):
            rule.update(np.array([code[x] for x in r.stop_predictions]))
    stop = rule.update(np.array([code[x] for x in current]))
    return stop, (rule.history[-1] if rule.history else None), list(rule.history)


def _setup(store: Store, backend: Backend) -> None:
    try:
        backend.setup(BackendContext(media=StoreMedia(store), options={"cache_dir": str(store.data_dir / "cache")}))
    except (BackendUnavailable, PluginError):
        raise
    except Exception as exc:
        raise BackendUnavailable(f"backend {backend.name!r} failed to set up: {type(exc).__name__}: {exc}") from exc


def run_learning_round(
    store: Store,
    project: str | int,
    backend_name: str,
    *,
    batch: int = 50,
    sampler: Sampler = "margin",
    plugins: PluginManager | None = None,
    config: Mapping[str, Any] | None = None,
    backend: Backend | None = None,
    policy: RoutePolicy | None = None,
    progress: ProgressFn | None = None,
    cancelled: Callable[[], bool] | None = None,
    actor: str | None = None,
    seed: int = 0,
    stop_kappa: float = 0.99,
    stop_window: int = 3,
) -> RoundReport:
    """Run one active-learning round (see the module docstring).

    Args:
        store: The store.
        project: Project name or id.
        backend_name: A trainable backend (``image.classify``, ``text.classify``).
        batch: Items to put first in the queue.
        sampler: ``margin``, ``entropy``, ``least``, ``kcenter`` or ``random``.
        plugins: The plugin manager (default: the installed plugins).
        config: The backend's config.
        backend: An already built backend (tests); ``setup`` is still called here.
        policy: How to re-route (see :class:`~labelloop.services.live_routing.RoutePolicy`).
        progress: Called with (items predicted, items to predict) after each batch.
        cancelled: Polled between batches; True ends the round early.
        actor: Who runs it (default ``system:learn``).
        seed: Seed of the stop set and the samplers (each round adds its number).
        stop_kappa: Agreement between rounds that counts as stable.
        stop_window: Stable rounds in a row that stop learning.

    Returns:
        The round's report.

    Raises:
        NotFound: no such project.
        InputRejected: a bad batch size or sampler.
        BackendUnavailable: the backend does not train, has no classification control here, or
            has too few labels to fit.
    """
    if batch < 1:
        raise InputRejected("batch", "a batch size of at least 1", str(batch))
    if sampler not in SAMPLERS:
        raise InputRejected("sampler", f"one of {', '.join(sorted(SAMPLERS))}", repr(sampler))
    who = actor or Actor.system("learn")
    stopped = cancelled or (lambda: False)
    with store.read() as tx:
        proj = tx.projects.get(project)
        rounds = RoutingRepo(tx.conn).rounds(proj.id, backend_name)
    model = backend or (plugins or PluginManager()).create_backend(backend_name, config)
    if not model.capabilities.trainable or not isinstance(model, TrainableBackend):
        raise BackendUnavailable(f"backend {model.name!r} does not learn from labels (not trainable)")
    control = _classification(proj.schema, model)
    controls = [c for c in proj.schema.controls if model.capabilities.supports(c, proj.schema)]
    views = _views(store, proj.id, model.name, rounds[-1].model_version if rounds else "")
    train = [v for v in views if v.truth is not None and not (v.route is not None and v.route.tier == "audit")]
    held_out = [v for v in views if v.truth is not None and v.route is not None and v.route.tier == "audit"]
    report = RoundReport(None, model.name, "", trained_on=len(train), held_out=len(held_out))
    if stopped():
        report.cancelled, report.reason = True, "cancelled before fitting"
        return report
    _setup(store, model)
    try:
        model.fit([v.item for v in train], [v.truth.value for v in train if v.truth is not None], proj.schema)
        report.model_version = model.model_version
        if rounds and rounds[-1].model_version == model.model_version:
            report.nothing_new = True
            report.reason = f"no new labels since round {rounds[-1].id}: nothing to learn yet"
            return report
        stop_set = rounds[0].stop_set if rounds else _stop_set(views, seed)
        todo = _to_predict(store, proj.id, model, views, set(stop_set))
        if not _predict(store, proj.id, model, proj.schema, controls, todo, report, progress, stopped):
            return report
        trained_ids = {v.item_id for v in train}
        route = route_project(
            store, proj.id, model.name, policy=policy, model_version=model.model_version, trainable=True,
            trained_on=trained_ids, actor=who,
        )  # fmt: skip
        report.route = route
        after = {v.item_id: v for v in _views(store, proj.id, model.name, model.model_version)}
        current = [_class_of(after.get(i)) for i in stop_set]
        report.stop, report.kappa, history = _stop(rounds, current, stop_kappa, stop_window)
        pool = [
            v
            for v in after.values()
            if v.truth is None and not v.gold_task and (v.route is None or v.route.tier not in ("auto", "audit"))
        ]
        picks: list[int] = []
        if not report.stop and pool:
            proba, feats = _scores(model, pool, control, model.capabilities.batch_size, sampler)
            chosen = _pick(proba, feats, min(batch, len(pool)), sampler, seed + len(rounds) + 1)
            picks = sorted(pool[int(i)].item_id for i in chosen)
    finally:
        close_backend(model)
    report.batch = picks
    report.reason = (
        f"stop: predictions on the {len(stop_set)}-item stop set agreed (kappa {report.kappa:.3f}) "
        f"for {stop_window} rounds"
        if report.stop
        else f"{len(picks)} items picked by {sampler} go first in the queue"
    )
    with store.transaction() as tx:
        repo = RoutingRepo(tx.conn)
        report.promoted_slots = repo.promote(proj.id, picks) if picks else 0
        report.round_id = repo.add_round(
            proj.id, model.name, model.model_version, sampler, trained_on=sorted(trained_ids), batch=picks,
            stop_set=stop_set, stop_predictions=current, kappa=report.kappa, stop=report.stop,
            report={
                "trained_on": report.trained_on, "held_out": report.held_out, "predicted": report.predicted,
                "failed": report.failed, "pool": len(pool), "promoted_slots": report.promoted_slots,
                "route_run": route.run_id, "kappa_history": history, "reason": report.reason,
            },
            created_by=who,
        )  # fmt: skip
    return report


def _class_of(v: ItemView | None) -> str:
    if v is None or v.suggestion is None:
        return ""
    return predicted_class(v.suggestion.value) or ""


def _stop_set(views: Sequence[ItemView], seed: int) -> list[int]:
    """A fixed random sample of the items without a person's label (the stopping rule's yardstick)."""
    ids = np.array([v.item_id for v in views if v.truth is None and not v.gold_task], np.int64)
    if ids.size == 0:
        return []
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(ids, size=min(STOP_SET, ids.size), replace=False))


def _to_predict(store: Store, pid: int, model: Backend, views: Sequence[ItemView], stop: set[int]) -> list[Item]:
    """Items without a person's label, held-out audits and the stop set, lacking this version's suggestion."""
    done: set[int] = set()
    missing: set[int] = set()
    after = 0
    while True:
        with store.read() as tx:
            page = tx.labels.items_without_suggestion(pid, model.name, model.model_version, after_id=after, limit=1000)
        if not page:
            break
        missing.update(it.id for it in page)
        after = page[-1].id
    for v in views:
        audit = v.route is not None and v.route.tier == "audit"
        if v.item_id in missing and not v.gold_task and (v.truth is None or audit or v.item_id in stop):
            done.add(v.item_id)
    return [v.item for v in views if v.item_id in done]


def _predict(
    store: Store,
    pid: int,
    model: Backend,
    schema: LabelSchema,
    controls: Sequence[Control],
    todo: Sequence[Item],
    report: RoundReport,
    progress: ProgressFn | None,
    stopped: Callable[[], bool],
) -> bool:
    """Predict ``todo`` batch by batch (each its own transaction); False when cancelled."""
    pre = start_report(store, pid, model, None)
    pre.todo = len(todo)
    size = model.capabilities.batch_size
    if progress:
        progress(0, len(todo))
    for i in range(0, len(todo), size):
        if stopped():
            report.cancelled, report.reason = True, f"cancelled after {pre.suggestions} suggestions"
            return False
        good, errors, retried = run_batch(model, todo[i : i + size], schema, controls)
        commit_batch(store, pid, pre, good, errors, retried, progress)
        report.predicted, report.failed = pre.suggestions, pre.failed
    if stopped():
        report.cancelled, report.reason = True, f"cancelled after {pre.suggestions} suggestions, before routing"
        return False
    return True


def sampler_choices() -> list[dict[str, str]]:
    """The samplers a learning round accepts, each with what it picks (``GET /api/samplers``).

    Example:
        >>> [c["name"] for c in sampler_choices()]
        ['margin', 'entropy', 'least', 'kcenter', 'random']
    """
    return [{"name": name, "description": SAMPLER_NOTES[name]} for name in SAMPLERS]
