"""Labelling and reviewing: next task, drafts, submits, reviews, accepting suggestions."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from labelloop.api.deps import ProjectAccess, StoreDep, action
from labelloop.api.responses import FastJSON
from labelloop.services import tasks

router = APIRouter(prefix="/api/projects/{pid}", tags=["work"])

Regions = list[dict[str, Any]]
KeyHeader = Header(alias="Idempotency-Key", min_length=1, max_length=100)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftIn(_In):
    """Work in progress."""

    value: Regions = Field(max_length=10_000)


class SubmitIn(_In):
    """A submitted annotation on top of ``base_version`` (null for the first)."""

    value: Regions = Field(max_length=10_000)
    base_version: int | None = None
    lead_time_s: float | None = Field(default=None, ge=0, le=10**7)


class ReviewIn(_In):
    """A verdict; ``value`` only with ``correct``."""

    annotation_id: int
    verdict: Literal["accept", "reject", "correct"]
    value: Regions | None = Field(default=None, max_length=10_000)
    comment: str = Field(default="", max_length=10_000)


def _task_or_204(task: dict[str, Any] | None) -> Response:
    return Response(status_code=204) if task is None else FastJSON({"task": task})


@router.post("/next", openapi_extra=action("task.next"), response_model=None)
def next_task(access: ProjectAccess, store: StoreDep) -> Any:
    """Lock and return the caller's next task, or 204 when there is none for them."""
    return _task_or_204(tasks.next_task(store, access.project_id, access.user, access.role))


@router.put("/items/{iid}/draft", status_code=204, openapi_extra=action("draft.write"))
def put_draft(iid: int, body: DraftIn, access: ProjectAccess, store: StoreDep) -> Response:
    """Autosave the caller's draft (needs the task)."""
    tasks.save_draft(store, access.project_id, iid, access.user, access.role, body.value)
    return Response(status_code=204)


@router.post("/items/{iid}/annotations", status_code=201, openapi_extra=action("annotation.submit"))
def submit(iid: int, body: SubmitIn, access: ProjectAccess, store: StoreDep, key: str = KeyHeader) -> FastJSON:
    """Submit an annotation; a retry with the same Idempotency-Key returns the same body."""
    done = tasks.submit(
        store, access.project_id, iid, access.user, access.role, body.value,
        base_version=body.base_version, idempotency_key=key, lead_time_s=body.lead_time_s,
    )  # fmt: skip
    return FastJSON({"annotation": done.annotation}, status_code=201)


@router.post("/review/next", openapi_extra=action("review.next"), response_model=None)
def next_review(access: ProjectAccess, store: StoreDep) -> Any:
    """The next annotation to review with its item, or 204."""
    return _task_or_204(tasks.next_review(store, access.project_id, access.user, access.role))


@router.post("/items/{iid}/reviews", status_code=201, openapi_extra=action("review.write"))
def post_review(iid: int, body: ReviewIn, access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """Accept, reject or correct an annotation."""
    return tasks.review(
        store, access.project_id, iid, access.user, access.role, annotation_id=body.annotation_id,
        verdict=body.verdict, value=body.value, comment=body.comment,
    )  # fmt: skip


@router.post("/suggestions/{sid}/accept", status_code=201, openapi_extra=action("suggestion.accept"))
def accept_suggestion(
    sid: int, access: ProjectAccess, store: StoreDep, key: str | None = Header(None, alias="Idempotency-Key")
) -> FastJSON:
    """Turn a suggestion into the caller's annotation (Idempotency-Key optional here)."""
    done = tasks.accept_suggestion(
        store, access.project_id, sid, access.user, access.role, key or f"accept-suggestion-{sid}"
    )
    return FastJSON({"annotation": done.annotation}, status_code=201)
