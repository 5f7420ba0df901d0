"""Instance administration: the security audit log of refused requests (instance admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labelloop.api.deps import InstanceAuth, StoreDep, action
from labelloop.services import refusals

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/refusals", openapi_extra=action("refusals.read"))
def list_refusals(
    _admin: InstanceAuth,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    username: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """Refused requests, newest first (401, 403, 404 outside one's reach, 429); ``before_id`` pages back."""
    rows = refusals.latest(store, limit, before_id=before_id, username=username)
    return {"refusals": rows, "next_before_id": rows[-1]["id"] if len(rows) == limit else None}
