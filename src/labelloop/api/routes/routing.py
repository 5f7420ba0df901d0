"""Routing of a project: its quality certificate, and routing runs and learning rounds as jobs.

``POST .../routing/runs`` and ``POST .../learning/rounds`` answer ``202`` with a job at once
(``GET .../jobs/{id}`` shows its progress, then the run's report as its result): the server's
background form of ``labelloop route`` and ``labelloop learn``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from labelloop.api.deps import JobsDep, ProjectAccess, StoreDep, UserAuth, action
from labelloop.api.routes.jobs import job_json
from labelloop.core import Actor
from labelloop.services.learning import sampler_choices
from labelloop.services.learning_jobs import MAX_BATCH, learn_job, route_job
from labelloop.services.live_routing import RoutePolicy, current_certificate

router = APIRouter(prefix="/api/projects/{pid}", tags=["routing"])
samplers_router = APIRouter(prefix="/api", tags=["routing"])


@samplers_router.get("/samplers")
def samplers(_auth: UserAuth) -> dict[str, Any]:
    """The samplers a learning round accepts (``sampler``), each with what it picks."""
    return {"samplers": sampler_choices()}


class PolicyIn(BaseModel):
    """What a routing run must guarantee (see ``labelloop route --help``)."""

    model_config = ConfigDict(extra="forbid")

    target: float = Field(0.98, gt=0.0, lt=1.0)
    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    audit_rate: float = Field(0.05, ge=0.0, le=1.0)
    manual_below: float = Field(0.0, ge=0.0, le=1.0)
    evidence: Literal["clean", "all"] = "clean"

    def policy(self) -> RoutePolicy:
        """The service's policy object."""
        return RoutePolicy(self.target, self.confidence, self.audit_rate, self.manual_below, self.evidence)


class RouteIn(PolicyIn):
    """A routing run: the backend whose suggestions are routed (default: the newest scored one)."""

    backend: str | None = Field(None, max_length=100)


class LearnIn(PolicyIn):
    """An active-learning round: a trainable backend, the batch to put first, the sampler."""

    backend: str = Field(max_length=100)
    batch: int = Field(50, ge=1, le=MAX_BATCH)
    sampler: str = Field("margin", max_length=20)


@router.get("/certificate", openapi_extra=action("certificate.read"))
def certificate(access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """The project's quality certificate as of its latest routing run, and that run's certificate.

    ``project``: items per tier and, per model with auto-accepted labels, its thresholds and
    audited accuracy with the Clopper-Pearson interval; ``run``: the latest run's certificate
    (per class, evidence, caveats). Both are null before the first ``labelloop route``.
    """
    return current_certificate(store, access.project_id)


@router.post("/routing/runs", status_code=202, openapi_extra=action("route.run"))
def start_route(body: RouteIn, access: ProjectAccess, store: StoreDep, jobs: JobsDep) -> dict[str, Any]:
    """Route the project's items (auto / review / manual / blind audit) as a job; its result is the report."""
    actor = Actor.user(access.user.username)
    work = route_job(store, access.project_id, body.backend, body.policy(), actor)
    params = body.model_dump()
    return {"job": job_json(jobs.submit(access.project_id, "route", actor, work, params=params, dedupe=True))}


@router.post("/learning/rounds", status_code=202, openapi_extra=action("learn.run"))
def start_round(body: LearnIn, access: ProjectAccess, store: StoreDep, jobs: JobsDep) -> dict[str, Any]:
    """One active-learning round as a job: fit on people's labels, re-predict, re-route, promote a batch.

    A bad sampler, batch or policy is refused (422) before anything is queued.
    """
    actor = Actor.user(access.user.username)
    work = learn_job(
        store, access.project_id, body.backend, batch=body.batch, sampler=body.sampler, policy=body.policy(),
        actor=actor,
    )  # fmt: skip
    params = body.model_dump()
    return {"job": job_json(jobs.submit(access.project_id, "learn", actor, work, params=params, dedupe=True))}
