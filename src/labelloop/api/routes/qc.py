"""Quality control of a project: its QC report (JSON) and a run on demand."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from labelloop.api.deps import ProjectAccess, StoreDep, action
from labelloop.core import Actor
from labelloop.services import qc_web

router = APIRouter(prefix="/api/projects/{pid}/qc", tags=["qc"])


class RunIn(BaseModel):
    """How to run QC: ``full`` checks every item, not only those changed since the last run."""

    model_config = ConfigDict(extra="forbid")

    full: bool = Field(default=False, description="Check every item, not only those changed since the last run.")


@router.get("", openapi_extra=action("qc.read"))
def report(access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """The project's QC report from the stored findings (``last_run`` is null before QC first ran).

    Summary, error distribution, annotator scores, agreement, confusion matrices, open
    findings, and ``open_tasks``: the open findings per rule with their correction tasks.
    """
    return qc_web.dashboard_report(store, access.project_id)


@router.post("/runs", status_code=201, openapi_extra=action("qc.run"))
def run(body: RunIn, access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """Run QC now (incremental unless ``full``), then answer ``{"run", "report"}``."""
    return qc_web.run_and_report(store, access.project_id, Actor.user(access.user.username), full=body.full)
