"""Routing of a project: its quality certificate (tiers, certified thresholds, audited accuracy)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from labelloop.api.deps import ProjectAccess, StoreDep, action
from labelloop.services.live_routing import current_certificate

router = APIRouter(prefix="/api/projects/{pid}", tags=["routing"])


@router.get("/certificate", openapi_extra=action("certificate.read"))
def certificate(access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """The project's quality certificate as of its latest routing run, and that run's certificate.

    ``project``: items per tier and, per model with auto-accepted labels, its thresholds and
    audited accuracy with the Clopper-Pearson interval; ``run``: the latest run's certificate
    (per class, evidence, caveats). Both are null before the first ``labelloop route``.
    """
    return current_certificate(store, access.project_id)
