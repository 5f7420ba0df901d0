"""Correction tasks opened by QC: list, take the next one, show one, fix or dismiss it.

``correction.resolve`` (next, lock, resolve) carries the ``author`` fact, decided by the service
against the caller (``access.user``, ``access.role``): a reviewer is never handed, and may not
lock or resolve (403), a task about an annotation they wrote; managers may. Tasks with no single
author (item-level findings, findings on model suggestions) are open to every reviewer.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from labelloop.api.deps import ProjectAccess, StoreDep, action
from labelloop.services import corrections

router = APIRouter(prefix="/api/projects/{pid}/corrections", tags=["corrections"])

TaskId = Path(ge=1, le=2**31 - 1)


class NextIn(BaseModel):
    """Which task to take: the oldest free one with an id above ``after`` (null: resume the one held)."""

    model_config = ConfigDict(extra="forbid")

    after: int | None = Field(default=None, ge=0, le=2**31 - 1)
    rule: str | None = Field(default=None, min_length=1, max_length=100)
    severity: Literal["error", "warning", "info"] | None = None


class ResolveIn(BaseModel):
    """``fixed`` with the corrected ``value`` made on ``base_version``, or ``dismissed`` with a ``reason``."""

    model_config = ConfigDict(extra="forbid")

    resolution: Literal["fixed", "dismissed"]
    value: list[dict[str, Any]] | None = Field(default=None, max_length=10_000)
    base_version: int | None = None
    reason: str = Field(default="", max_length=corrections.MAX_REASON)


@router.get("", openapi_extra=action("correction.read"))
def list_tasks(
    access: ProjectAccess,
    store: StoreDep,
    rule: str | None = Query(default=None, min_length=1, max_length=100),
    severity: Literal["error", "warning", "info"] | None = None,
    after: int = Query(default=0, ge=0, le=2**31 - 1),
    limit: int = Query(default=50, ge=1, le=200),
) -> dict[str, Any]:
    """Open correction tasks, oldest first (keyset: pass ``next`` as ``after``), and open counts per rule."""
    return corrections.list_tasks(store, access.project_id, rule=rule, severity=severity, after=after, limit=limit)


@router.post("/next", openapi_extra=action("correction.resolve"), response_model=None)
def next_task(access: ProjectAccess, store: StoreDep, body: NextIn | None = None) -> Any:
    """Lock the caller's next correction task and return it, or 204 when none is free.

    A reviewer's own annotations are skipped: they get another task, or 204.
    """
    b = body or NextIn()
    task = corrections.next_task(
        store, access.project_id, access.user, access.role, after=b.after, rule=b.rule, severity=b.severity
    )
    return Response(status_code=204) if task is None else task


@router.get("/{tid}", openapi_extra=action("correction.read"))
def show(access: ProjectAccess, store: StoreDep, tid: int = TaskId) -> dict[str, Any]:
    """A task with its finding, its item, the current label version and the editor's starting value."""
    return corrections.show(store, access.project_id, tid, access.user, access.role)


@router.post("/{tid}/lock", openapi_extra=action("correction.resolve"))
def claim(access: ProjectAccess, store: StoreDep, tid: int = TaskId) -> dict[str, Any]:
    """Lock this task to the caller (409 when resolved or held by someone else) and return it.

    403 for a reviewer when the finding is about their own annotation.
    """
    return corrections.claim(store, access.project_id, tid, access.user, access.role)


@router.post("/{tid}/resolve", openapi_extra=action("correction.resolve"))
def resolve(body: ResolveIn, access: ProjectAccess, store: StoreDep, tid: int = TaskId) -> dict[str, Any]:
    """Fix (a new annotation version; 409 on a stale ``base_version``) or dismiss (with a reason).

    403 for a reviewer when the finding is about their own annotation.
    """
    return corrections.resolve(
        store, access.project_id, tid, access.user, access.role, resolution=body.resolution,
        value=body.value, base_version=body.base_version, reason=body.reason,
    )  # fmt: skip
