"""Routing runs and active-learning rounds as background jobs of the server.

The API queues them on the app's :class:`~labelloop.services.jobs.JobRunner`; the work is the
same :func:`~labelloop.services.live_routing.route_project` and
:func:`~labelloop.services.learning.run_learning_round` the ``labelloop route`` and
``labelloop learn`` commands run. A learning round reports the items it has predicted as its
progress and stops between prediction batches when cancelled (the finished batches stay, and
the next round resumes). A job's result is the run's report as JSON.

Example:
    >>> policy = RoutePolicy(target=0.98, confidence=0.95)
    >>> checked_learn_params(batch=50, sampler="margin", policy=policy)
    'margin'
"""

from __future__ import annotations

from typing import Any

from labelloop.errors import InputRejected
from labelloop.services.jobs import CancelFlag, JobCancelled, JobFn, Progress
from labelloop.services.learning import SAMPLERS, RoundReport, Sampler, run_learning_round
from labelloop.services.live_routing import RoutePolicy, RouteReport, route_project
from labelloop.storage import Store

__all__ = ["MAX_BATCH", "checked_learn_params", "learn_job", "round_json", "route_job", "route_json"]

MAX_BATCH = 10_000


def route_json(r: RouteReport) -> dict[str, Any]:
    """A routing run's report as JSON (counts, tiers, both certificates)."""
    return {
        "run_id": r.run_id, "project": r.project, "backend": r.backend, "model_version": r.model_version,
        "message": r.message, "auto_new": r.auto_new, "auto_kept": r.auto_kept, "rerouted": r.rerouted,
        "audit_new": r.audit_new, "held": r.held, "tiers": dict(r.tiers), "certificate": r.certificate,
        "project_certificate": r.project_certificate,
    }  # fmt: skip


def round_json(r: RoundReport) -> dict[str, Any]:
    """A learning round's report as JSON (the batch as item ids; the re-routing run nested)."""
    return {
        "round_id": r.round_id, "backend": r.backend, "model_version": r.model_version, "trained_on": r.trained_on,
        "held_out": r.held_out, "predicted": r.predicted, "failed": r.failed, "batch": list(r.batch),
        "promoted_slots": r.promoted_slots, "kappa": r.kappa, "stop": r.stop, "reason": r.reason,
        "cancelled": r.cancelled, "nothing_new": r.nothing_new,
        "route": None if r.route is None else route_json(r.route),
    }  # fmt: skip


def checked_learn_params(*, batch: int, sampler: str, policy: RoutePolicy) -> Sampler:
    """Check a round's parameters before it is queued (so a bad one is a 422, not a failed job).

    Raises:
        InputRejected: naming the value and what was expected.
    """
    if sampler not in SAMPLERS:
        raise InputRejected("sampler", f"one of {', '.join(sorted(SAMPLERS))}", sampler)
    if not 1 <= batch <= MAX_BATCH:
        raise InputRejected("batch", f"1..{MAX_BATCH}", str(batch))
    policy.check()
    return sampler  # type: ignore[return-value]  # (checked against SAMPLERS above)


def route_job(store: Store, project_id: int, backend: str | None, policy: RoutePolicy, actor: str) -> JobFn:
    """A routing run as a job function (one transaction: a cancel before it starts stops it)."""
    policy.check()

    def work(progress: Progress, cancel: CancelFlag) -> dict[str, Any]:
        cancel.raise_if_set()
        progress(0, None, "routing")
        report = route_project(store, project_id, backend, policy=policy, actor=actor)
        progress(1, 1, "routed")
        return route_json(report)

    return work


def learn_job(
    store: Store, project_id: int, backend: str, *, batch: int, sampler: str, policy: RoutePolicy, actor: str
) -> JobFn:
    """One active-learning round as a job function: fit, re-predict (progress), re-route, promote a batch."""
    chosen = checked_learn_params(batch=batch, sampler=sampler, policy=policy)

    def work(progress: Progress, cancel: CancelFlag) -> dict[str, Any]:
        cancel.raise_if_set()
        progress(0, None, "fitting")

        def predicted(done: int, total: int | None = None) -> None:
            progress(done, total, "predicting")

        report = run_learning_round(
            store, project_id, backend, batch=batch, sampler=chosen, policy=policy, progress=predicted,
            cancelled=cancel.is_set, actor=actor,
        )  # fmt: skip
        if report.cancelled:
            raise JobCancelled("cancelled")  # (finished batches stay: the next round resumes)
        return round_json(report)

    return work
