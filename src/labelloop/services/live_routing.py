"""Route a live project's suggestions into tiers with a certified auto-accept threshold.

One run of :func:`route_project` (``labelloop route``) takes every item that annotators may see,
has a scored suggestion from the backend's model version and no person's label yet, and:

1. **certifies** thresholds on the evidence (:mod:`labelloop.services.live_evidence`: by
   default only *clean* pairs, labels made without seeing the suggestion that the model cannot
   have learnt from) with :func:`labelloop.services.live_certificate.certify`, on the raw score
   (a saved calibration, :mod:`labelloop.services.calibrate`, is monotone: it could not change
   which items pass, and its ties would cost power). With too little evidence nothing is
   auto-accepted and the run says how many more clean audited items would unlock it (at least
   149 for 98% at 95% confidence);
2. **routes** each item: *auto* at or above its threshold (a label is written from the
   suggestion by the annotator ``auto:<backend>@<version>`` with an ``accept`` review by the
   run's actor — so reviewers are not offered it — and the item's free queue slots are
   withdrawn; an item a person holds right now stays with them), *manual* below
   ``manual_below`` on the calibrated score (the task shows no suggestion: people label from
   scratch), *review* otherwise (the task pre-fills the suggestion, as the queue always did).
   An item in an arm of a running A/B experiment with an ``accept_threshold`` T must also reach
   T on its calibrated score to be *auto* (effective threshold ``max(certified, T)``; a floor can
   only hold labels back, :mod:`labelloop.services.live_arms`);
3. **audits continuously**: a random ``audit_rate`` share of the items routed for the first
   time and of the items newly passing a threshold go to tier *audit* instead: people label them
   blind, so their labels become clean evidence for the next run (items of threshold arms are
   sampled per arm, would-be-auto or not, so each arm's auto-accepted accuracy is measured);
4. **re-routes**: an item this model version auto-accepted that no longer passes (the audit broke
   the bound and the threshold tightened) gets a ``reject`` review on its auto label (the label
   stays in the history) and fresh queue slots;
5. writes the run's **certificate** and the project's (``route_runs``), one provenance event,
   and the new tiers (``item_routes``) in one transaction.

Items auto-accepted by another backend or an older model version keep their labels: their
certificate is that of the run that accepted them (the project certificate lists each).

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema, MediaRef, NewItem, NewSuggestion
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> schema = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}], "controls": [
    ...     {"name": "c", "kind": "classification", "target": "t", "labels": ["a", "b"]}]})
    >>> with store.transaction() as tx:
    ...     p = tx.projects.create("demo", schema, "user:me")
    ...     _ = tx.items.add_many(p.id, [NewItem({"t": MediaRef.from_text(f"x{i}")}, f"{i:064x}")
    ...                                  for i in range(20)], created_by="me")
    ...     ids = [it.id for page in tx.items.iter_all(p.id) for it in page]
    ...     _ = tx.labels.add_suggestions(p.id, [NewSuggestion(i, [{"id": "c", "control": "c", "labels": ["a"]}],
    ...                                   "m", "1", 0.9) for i in ids])
    >>> r = route_project(store, "demo", "m", trainable=False)
    >>> r.certificate["certified"], r.certificate["needed"], r.auto_new
    (False, 149, 0)
    >>> store.close()
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import orjson
from numpy.typing import NDArray

from labelloop.core import Actor, LabelSchema, NewAnnotation, NewReview, ReviewVerdict
from labelloop.errors import InputRejected, LabelloopError
from labelloop.plugins import PluginManager
from labelloop.services.calibrate import Calibrated, load_calibrator
from labelloop.services.live_arms import (
    ArmRouting,
    arm_routing,
    audit_pick,
    experiments_section,
    save_audits,
    summary,
)
from labelloop.services.live_certificate import Certification, certify, run_certificate
from labelloop.services.live_evidence import ItemView, item_views, predicted_class
from labelloop.storage import Store, UnitOfWork, now
from labelloop.storage.routing_repo import ItemRoute, RoutingRepo
from labelloop.storage.tasks_repo import TaskRepo

__all__ = [
    "Evidence",
    "RoutePolicy",
    "RouteReport",
    "backend_trainable",
    "current_certificate",
    "route_project",
    "tier_counts",
]

Evidence = Literal["clean", "all"]
_PREFILLED_CAVEAT = (
    "evidence includes reviews of pre-filled suggestions; people shown a suggestion lean toward accepting it, "
    "so the bound may be optimistic"
)
_SAMPLE_CAVEAT = (
    "the bound holds for items like the audited ones: audits are drawn uniformly at random from the items each run "
    "routes for the first time or newly passes, and gold answers are taken as made independently of the machine"
)


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """What a run is asked to guarantee.

    Attributes:
        target: Required accuracy of auto-accepted labels.
        confidence: Confidence of that claim.
        audit_rate: Share of newly routed (and newly passing) items kept for people, blind.
        manual_below: Calibrated score below which people label from scratch.
        evidence: ``clean`` (labels made without seeing the suggestion) or ``all`` (also
            reviews of pre-filled suggestions: more evidence, biased toward acceptance).
    """

    target: float = 0.98
    confidence: float = 0.95
    audit_rate: float = 0.05
    manual_below: float = 0.0
    evidence: Evidence = "clean"

    def check(self) -> None:
        """Refuse values out of range.

        Raises:
            InputRejected: naming the value and its range.
        """
        for name, v in (("target", self.target), ("confidence", self.confidence)):
            if not 0.0 < v < 1.0:
                raise InputRejected(name, "a value strictly between 0 and 1", str(v))
        if not 0.0 <= self.audit_rate <= 1.0:
            raise InputRejected("audit_rate", "a share between 0 and 1", str(self.audit_rate))
        if not 0.0 <= self.manual_below <= 1.0:
            raise InputRejected("manual_below", "a score between 0 and 1", str(self.manual_below))
        if self.evidence not in ("clean", "all"):
            raise InputRejected("evidence", "clean or all", repr(self.evidence))


@dataclass(slots=True)
class RouteReport:
    """What a run did.

    Attributes:
        run_id: The run's id.
        project: Project name.
        backend: Backend name.
        model_version: The model version routed.
        certificate: The run's certificate (see :func:`~labelloop.services.live_certificate.run_certificate`).
        project_certificate: The project's certificate as of this run.
        message: One line for people.
        auto_new: Items auto-accepted by this run.
        auto_kept: Items this version had auto-accepted that still pass.
        rerouted: Auto-accepted items sent back to people.
        audit_new: Items newly kept for a blind audit.
        held: Would-be-auto items left with the person who holds them.
    """

    run_id: int
    project: str
    backend: str
    model_version: str
    certificate: dict[str, Any]
    project_certificate: dict[str, Any]
    message: str
    auto_new: int = 0
    auto_kept: int = 0
    rerouted: int = 0
    audit_new: int = 0
    held: int = 0
    tiers: dict[str, int] = field(default_factory=dict)


def backend_trainable(plugins: PluginManager, backend: str) -> bool:
    """Whether a registered backend learns from labels (True when it cannot be told: the safe side).

    Example:
        >>> backend_trainable(PluginManager(), "text.rules"), backend_trainable(PluginManager(), "no.such")
        (False, True)
    """
    try:
        spec = plugins.backend_spec(backend)
        return bool(plugins.create_backend(backend, spec.example_config).capabilities.trainable)
    except LabelloopError:
        return True


@dataclass(slots=True)
class _Gathered:
    ev_scores: list[float] = field(default_factory=list)
    ev_correct: list[bool] = field(default_factory=list)
    ev_classes: list[str | None] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    candidates: list[ItemView] = field(default_factory=list)


def _gather(
    store: Store, pid: int, backend: str, version: str, policy: RoutePolicy, trainable: bool, trained: set[int] | None
) -> _Gathered:
    g = _Gathered()
    use = {"clean"} if policy.evidence == "clean" else {"clean", "prefilled"}
    for page in item_views(store, pid, backend, version, trainable=trainable, trained_on=trained):
        for v in page:
            if v.suggestion is None:
                continue
            if v.truth is not None:
                g.counts[v.evidence or "in_sample"] += 1
                if v.evidence in use and v.correct is not None and v.suggestion.score is not None:
                    g.ev_scores.append(float(v.suggestion.score))
                    g.ev_correct.append(v.correct)
                    g.ev_classes.append(predicted_class(v.suggestion.value))
            elif not v.gold_task:
                g.candidates.append(v)
    return g


def _covers_required(schema: LabelSchema, value: list[dict[str, Any]]) -> bool:
    filled = {r.get("control") for r in value}
    return all(c.name in filled for c in schema.controls if c.required)


@dataclass(slots=True)
class _Plan:
    tier: dict[int, str] = field(default_factory=dict)  # item -> tier after the run
    fresh: list[int] = field(default_factory=list)  # audit pool
    new_auto: list[int] = field(default_factory=list)
    kept_auto: list[int] = field(default_factory=list)
    reroute: list[int] = field(default_factory=list)
    untouched: set[int] = field(default_factory=set)  # routes left as they are
    other_auto: set[int] = field(default_factory=set)  # auto-accepted by another backend or version
    passing: set[int] = field(default_factory=set)  # pass their (effective) threshold
    audited: set[int] = field(default_factory=set)  # newly sent to a blind audit
    held: set[int] = field(default_factory=set)  # would-be-auto items left with the person holding them


def _plan(
    cands: Sequence[ItemView],
    cert: Certification,
    cal: NDArray[np.float64],
    backend: str,
    version: str,
    policy: RoutePolicy,
    schema: LabelSchema,
    arms: ArmRouting,
) -> _Plan:
    p = _Plan()
    for v, c in zip(cands, cal, strict=True):
        s = v.suggestion
        assert s is not None and s.score is not None
        prev = v.route
        base = "manual" if c < policy.manual_below else "review"
        ok = (
            cert.passes(float(s.score), predicted_class(s.value))
            and _covers_required(schema, s.value)
            and arms.admits(v.item_id, float(c))  # an experiment arm's floor only ever raises the threshold
        )
        if ok:
            p.passing.add(v.item_id)
        if prev is not None and prev.tier == "audit":
            p.tier[v.item_id] = "audit"
            p.untouched.add(v.item_id)
        elif prev is not None and prev.tier == "auto":
            if (prev.backend, prev.model_version) != (backend, version):
                p.tier[v.item_id] = "auto"
                p.untouched.add(v.item_id)
                p.other_auto.add(v.item_id)
            elif ok:
                p.tier[v.item_id] = "auto"
                p.untouched.add(v.item_id)
                p.kept_auto.append(v.item_id)
            else:
                p.tier[v.item_id] = base
                p.reroute.append(v.item_id)
        else:
            p.tier[v.item_id] = "auto" if ok else base
            if p.tier[v.item_id] != "manual" and (prev is None or ok):
                p.fresh.append(v.item_id)
    return p


def _caveats(
    policy: RoutePolicy, schema: LabelSchema, cands: Sequence[ItemView], runs: int, arms: ArmRouting
) -> list[str]:
    out = [_SAMPLE_CAVEAT, *arms.caveats]
    if policy.evidence == "all":
        out.append(_PREFILLED_CAVEAT)
    filled = {r.get("control") for v in cands if v.suggestion is not None for r in v.suggestion.value}
    empty = [c.name for c in schema.controls if c.name not in filled]
    if empty:
        out.append(f"auto-accepted labels hold only the controls the backend fills; {', '.join(empty)} stay empty")
    if runs > 1:
        out.append(f"run {runs} on this model version: each run re-tests on the evidence so far")
    return out


def _message(cert: dict[str, Any], r: RouteReport) -> str:
    goal = f"{cert['target']:.0%} accuracy at {cert['confidence']:.0%} confidence"
    if not cert["certified"]:
        head = (
            f"nothing auto-accepted: {cert['needed']} more clean audited items would unlock auto-accept at {goal} "
            f"(at least {cert['unlock_minimum']} clean items, none wrong)"
        )
    else:
        ts = ", ".join(f"{k}: {v:.4f}" if v is not None else f"{k}: never" for k, v in cert["thresholds"].items())
        head = f"auto-accepted {r.auto_new} new labels at {goal} (thresholds {ts}; lower bound {cert['lower']:.4f})"
    return f"{head}; {r.auto_kept} kept, {r.rerouted} re-routed to people, {r.audit_new} new blind audits" + (
        f", {r.held} left with the person holding them" if r.held else ""
    )


def _model_entry(b: str, v: str, n: int, cert: dict[str, Any]) -> dict[str, Any]:
    keys = ("run_id", "thresholds", "audited", "audited_correct", "accuracy", "ci", "lower", "holds", "target")
    return {"backend": b, "model_version": v, "auto": n, **{k: cert.get(k) for k in (*keys, "confidence")}}


def _project_certificate(
    repo: RoutingRepo, project: str, pid: int, run_id: int, backend: str, version: str, cert: dict[str, Any]
) -> dict[str, Any]:
    models = []
    for (b, v), n in sorted(repo.auto_counts(pid).items()):
        if (b, v) == (backend, version):
            models.append(_model_entry(b, v, n, cert))
            continue
        run = repo.latest_run(pid, backend=b, model_version=v)
        models.append(_model_entry(b, v, n, run.certificate if run is not None else {}))
    return {
        "project": project,
        "project_id": pid,
        "as_of_run": run_id,
        "created_at": now().isoformat(),
        "tiers": repo.tier_counts(pid),
        "auto_labels": sum(m["auto"] for m in models),
        "models": models,
        "holds": all(bool(m["holds"]) for m in models) if models else None,
        "latest_run": {
            k: cert.get(k)
            for k in ("run_id", "backend", "model_version", "certified", "needed", "target", "confidence")
        },
    }


def route_project(
    store: Store,
    project: str | int,
    backend: str | None = None,
    *,
    policy: RoutePolicy | None = None,
    model_version: str | None = None,
    plugins: PluginManager | None = None,
    trainable: bool | None = None,
    trained_on: set[int] | None = None,
    actor: str | None = None,
    seed: int | None = None,
) -> RouteReport:
    """Route the project's items on ``backend``'s suggestions (see the module docstring).

    Args:
        store: The store.
        project: Project name or id.
        backend: Backend name (default: that of the project's newest scored suggestion).
        policy: Target, confidence, audit rate, manual cut, evidence kind.
        model_version: The model version to route on (default: that of the backend's newest suggestion).
        plugins: To tell whether the backend trains (default: the installed plugins).
        trainable: Say it directly (skips the plugin look-up).
        trained_on: The items whose labels fitted this model version (default: what a learning
            round recorded for it, if any).
        actor: Who runs it (default ``system:route``); reviews and the provenance event name it.
        seed: Seed of the audit sample (default: the run's id).

    Returns:
        The run's report with both certificates.

    Raises:
        NotFound: no such project.
        InputRejected: a policy value out of range, or no suggestion of the backend.
    """
    policy = policy or RoutePolicy()
    policy.check()
    who = actor or Actor.system("route")
    with store.read() as tx:
        proj = tx.projects.get(project)
        repo = RoutingRepo(tx.conn)
        backend = backend or repo.newest_backend(proj.id)
        version = None if backend is None else model_version or repo.newest_model_version(proj.id, backend)
        trained = trained_on
        if trained is None and backend is not None and version is not None:
            trained = repo.trained_on(proj.id, backend, version)
    if backend is None or version is None:
        raise InputRejected(
            f"routing of project {proj.name!r}",
            f"scored suggestions from {repr(backend) if backend else 'any backend'} (run labelloop preannotate first)",
            "none",
        )
    learns = trainable if trainable is not None else backend_trainable(plugins or PluginManager(), backend)
    g = _gather(store, proj.id, backend, version, policy, learns, trained)
    cands = g.candidates
    cert = certify(
        g.ev_scores, g.ev_correct, g.ev_classes,
        [predicted_class(v.suggestion.value) for v in cands if v.suggestion is not None] or [None],
        target=policy.target, confidence=policy.confidence,
    )  # fmt: skip
    raw = np.array([float(v.suggestion.score or 0.0) for v in cands if v.suggestion is not None], np.float64)
    calibrator = load_calibrator(store, proj.id, backend)
    cal = raw if calibrator is None else np.asarray(calibrator.predict(raw), np.float64)
    with store.read() as tx:
        arms = arm_routing(tx, proj.id, cands)
    plan = _plan(cands, cert, cal, backend, version, policy, proj.schema, arms)
    with store.transaction() as tx:
        run_id, report = _apply(tx, proj.id, proj.name, backend, version, policy, who, cands, plan, seed, arms)
        runs = RoutingRepo(tx.conn).run_count(proj.id, backend, version)
        mine = {i: t for i, t in plan.tier.items() if i not in plan.other_auto}  # this version's items
        classes = {v.item_id: predicted_class(v.suggestion.value) if v.suggestion else None for v in cands}
        auto_by_class = Counter(classes[i] or "-" for i, t in mine.items() if t == "auto")
        report.tiers = {t: sum(1 for x in mine.values() if x == t) for t in ("auto", "review", "manual", "audit")}
        thresholds = {k: (None if v is None or math.isinf(v) else v) for k, v in cert.thresholds.items()}
        mapped = _calibrated(calibrator)
        meta = {
            "run_id": run_id, "project": proj.name, "backend": backend, "model_version": version,
            "created_at": now().isoformat(), "policy": _policy_json(policy), "trainable_backend": learns,
            "calibration": None if calibrator is None else type(calibrator).__name__,
            "evidence": {**{k: int(v) for k, v in g.counts.items()}, "used": len(g.ev_scores)},
            "changes": {"auto_new": report.auto_new, "auto_kept": report.auto_kept, "rerouted": report.rerouted,
                        "audit_new": report.audit_new, "held_by_people": report.held},
        }  # fmt: skip
        sections = []
        if arms.experiments:
            routed = [v for v in cands if v.item_id in mine]
            meta["experiments"] = sections = experiments_section(
                arms, routed, plan.tier, plan.passing, plan.audited, plan.held, thresholds, mapped
            )
            save_audits(tx, run_id, arms, routed, plan.audited, plan.passing)
        certificate = run_certificate(
            cert, g.ev_scores, g.ev_correct, g.ev_classes, tiers=report.tiers, auto_by_class=auto_by_class,
            target=policy.target, confidence=policy.confidence, meta=meta,
            caveats=_caveats(policy, proj.schema, cands, runs, arms),
        )  # fmt: skip
        report.message = _message(certificate, report)
        if sections:
            report.message += "; " + summary(sections)
        certificate["message"] = report.message
        repo = RoutingRepo(tx.conn)
        project_cert = _project_certificate(repo, proj.name, proj.id, run_id, backend, version, certificate)
        repo.finish_run(run_id, thresholds, certificate, project_cert, report.message)
        tx.provenance.append(
            "route",
            actor=who,
            project_id=proj.id,
            subject={"table": "route_runs", "ids": [[run_id, run_id]]},
            payload={
                "backend": backend, "model_version": version, "thresholds": thresholds,
                "changes": meta["changes"], "certificate_sha256": _sha256(certificate),
            },
        )  # fmt: skip
    report.certificate, report.project_certificate = certificate, project_cert
    return report


def _calibrated(calibrator: Calibrated | None) -> Callable[[float], float]:
    """Raw score -> calibrated score (the identity without a calibration)."""
    if calibrator is None:
        return float
    return lambda x: float(np.asarray(calibrator.predict(np.array([x], np.float64)), np.float64)[0])


def _sha256(doc: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _policy_json(p: RoutePolicy) -> dict[str, Any]:
    return {
        "target": p.target, "confidence": p.confidence, "audit_rate": p.audit_rate, "manual_below": p.manual_below,
        "evidence": p.evidence,
    }  # fmt: skip


def _apply(
    tx: UnitOfWork, pid: int, project: str, backend: str, version: str, policy: RoutePolicy, who: str,
    cands: Sequence[ItemView], plan: _Plan, seed: int | None, arms: ArmRouting,
) -> tuple[int, RouteReport]:  # fmt: skip
    tasks = TaskRepo(tx.conn)
    settings = tasks.sync(*tasks.queue_state(pid))  # every item has its slots before any are withdrawn
    repo = RoutingRepo(tx.conn)
    run_id = repo.add_run(pid, backend, version, _policy_json(policy), who)
    report = RouteReport(run_id, project, backend, version, {}, {}, "")
    by_id = {v.item_id: v for v in cands}
    for i in audit_pick(plan.fresh, policy.audit_rate, run_id if seed is None else seed, arms, plan.passing):
        plan.tier[i] = "audit"
        plan.audited.add(i)
    report.audit_new = sum(1 for i in plan.fresh if plan.tier[i] == "audit")
    at = now()
    new_auto = [i for i in plan.fresh if plan.tier[i] == "auto"]
    slots = repo.slots(new_auto + plan.reroute, for_update=True)
    take: list[int] = []
    for i in new_auto:
        if all(s.free(at) for s in slots[i]):
            take.append(i)
        else:  # a person holds or finished it: it stays theirs
            plan.tier[i] = "review"
            plan.held.add(i)
            report.held += 1
    repo.withdraw([s.id for i in take for s in slots[i]])
    auto_ids = _write_auto(tx, pid, backend, version, who, run_id, [by_id[i] for i in take])
    back: list[int] = []
    for i in plan.reroute:
        if any(not s.free(at) for s in slots[i]):  # a person already took it up (or finished it)
            continue
        back.append(i)
    repo.requeue(pid, [i for i in back if not slots[i]], settings.overlap)
    _reject_auto(tx, pid, who, run_id, [by_id[i] for i in back])
    report.auto_new, report.auto_kept, report.rerouted = len(take), len(plan.kept_auto), len(back)
    routes = []
    for i, tier in plan.tier.items():
        if i in plan.untouched:
            continue
        s = by_id[i].suggestion
        assert s is not None and s.score is not None
        routes.append(ItemRoute(i, run_id, tier, backend, version, s.id, float(s.score), auto_ids.get(i), at))
    repo.save_routes(pid, routes)
    return run_id, report


def _write_auto(
    tx: UnitOfWork, pid: int, backend: str, version: str, who: str, run_id: int, views: Sequence[ItemView]
) -> dict[int, int]:
    """The auto-accepted labels and their ``accept`` reviews; item id -> annotation id."""
    if not views:
        return {}
    annotator = Actor.auto(backend, version)
    new = []
    for v in views:
        assert v.suggestion is not None
        new.append(NewAnnotation(v.item_id, v.suggestion.value, annotator, suggestion_id=v.suggestion.id))
    ids = tx.labels.add_annotations(pid, new, created_by=[annotator] * len(new))
    note = f"certified auto-accept, route run {run_id}"
    tx.labels.add_reviews(
        pid, [NewReview(a, who, ReviewVerdict.ACCEPT, None, note) for a in ids], [v.item_id for v in views],
        created_by=[who] * len(ids),
    )  # fmt: skip
    return {v.item_id: a for v, a in zip(views, ids, strict=True)}


def _reject_auto(tx: UnitOfWork, pid: int, who: str, run_id: int, views: Sequence[ItemView]) -> None:
    """``reject`` reviews on re-routed auto labels (the labels stay in the history)."""
    rows = [(v.route.annotation_id, v.item_id) for v in views if v.route is not None and v.route.annotation_id]
    if not rows:
        return
    note = f"re-routed to people by route run {run_id}: no longer passes the certified threshold"
    tx.labels.add_reviews(
        pid, [NewReview(a, who, ReviewVerdict.REJECT, None, note) for a, _ in rows], [i for _, i in rows],
        created_by=[who] * len(rows),
    )  # fmt: skip


def tier_counts(store: Store, project_id: int) -> dict[str, int]:
    """Items per tier as last routed (empty before the first run).

    Example:
        >>> import tempfile, pathlib
        >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
        >>> tier_counts(store, 1)
        {}
        >>> store.close()
    """
    with store.read() as tx:
        return RoutingRepo(tx.conn).tier_counts(project_id)


def current_certificate(store: Store, project: str | int) -> dict[str, Any]:
    """The project's certificate as of its latest routing run, and that run's certificate.

    Returns:
        ``{"project": ..., "run": ...}``; both None before the first run.

    Raises:
        NotFound: no such project.
    """
    with store.read() as tx:
        proj = tx.projects.get(project)
        run = RoutingRepo(tx.conn).latest_run(proj.id)
    if run is None:
        return {"project": None, "run": None, "message": f"project {proj.name!r} was never routed (labelloop route)"}
    return {"project": run.project_certificate, "run": run.certificate, "message": run.message}
