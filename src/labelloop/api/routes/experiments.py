"""A/B experiments of a project: list, start, read out, stop (``labelloop experiment`` on the API).

An arm is an object of settings: ``prefill`` (true/false, or ``"on"``/``"off"``), ``backend``
(``"name"`` or ``"name@model_version"``: only its suggestions are pre-filled) and ``guideline``
(text the task carries as ``guidelines``) and ``accept_threshold`` (a number in (0, 1]: a floor on
the calibrated score of the arm's auto-accepted labels; routing still requires its certified
threshold, see :mod:`labelloop.services.live_arms`). The readout gives, per arm, accuracy against
the stated reference, seconds per task and agreement, with intervals, and the tests between the
arms; with threshold arms also the effective thresholds, the auto-accepted share and the audited
accuracy of auto-accepted labels (``auto_accept``); what cannot be estimated is ``null`` beside a
``reason``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from labelloop.api.deps import ProjectAccess, StoreDep, action
from labelloop.core import Actor
from labelloop.services.experiment_readout import experiment_readout
from labelloop.services.experiments import create_experiment, list_experiments, stop_experiment

router = APIRouter(prefix="/api/projects/{pid}/experiments", tags=["experiments"])

ExperimentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_ARM = (
    "An arm's settings: prefill (bool), backend (name or name@model_version), guideline (text), accept_threshold "
    "(a number in (0, 1]: a floor on the certified auto-accept threshold)."
)


class ExperimentIn(BaseModel):
    """An experiment to start: its name, its two arms, and how to split."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Letters, digits and . _ + - (not all digits).")
    a: dict[str, Any] = Field(max_length=10, description=_ARM)
    b: dict[str, Any] = Field(max_length=10, description=_ARM)
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Seed of the random split (default: random).")
    scope: Literal["all", "unlabelled"] = Field("all", description="Split all items, or those with no label yet.")


@router.get("", openapi_extra=action("experiment.read"))
def list_(access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """The project's experiments, oldest first: arms, seed, items per arm, status."""
    return {"experiments": [e.to_json() for e in list_experiments(store, access.project_id)]}


@router.post("", status_code=201, openapi_extra=action("experiment.create"))
def create(body: ExperimentIn, access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """Start an experiment: the items are split at random into the arms, and ``next`` applies each item's arm.

    A bad arm, a taken name, or items already in a running experiment are refused (422 / 409)
    and nothing is written.
    """
    e = create_experiment(
        store, access.project_id, body.name, body.a, body.b, seed=body.seed, scope=body.scope,
        actor=Actor.user(access.user.username),
    )  # fmt: skip
    return {"experiment": e.to_json()}


@router.get("/{eid}", openapi_extra=action("experiment.read"))
def readout(
    eid: ExperimentId,
    access: ProjectAccess,
    store: StoreDep,
    confidence: float = Query(0.95, gt=0.0, lt=1.0, description="Of the intervals; tests at 1 - confidence."),
) -> dict[str, Any]:
    """The readout: per arm accuracy (and its reference), seconds per task, agreement; the tests between arms."""
    return experiment_readout(store, access.project_id, eid, confidence=confidence).to_json()


@router.post("/{eid}/stop", openapi_extra=action("experiment.stop"))
def stop(eid: ExperimentId, access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """Stop a running experiment: its arms no longer apply; the split stays for the readout (409 if stopped)."""
    return {
        "experiment": stop_experiment(store, access.project_id, eid, actor=Actor.user(access.user.username)).to_json()
    }
