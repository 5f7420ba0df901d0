"""Projects (list, create, show), items, members, settings, gold tasks and statistics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from labelloop.api.deps import InstanceAuth, ProjectAccess, StoreDep, UserAuth, action
from labelloop.core import Actor
from labelloop.core.accounts import Role
from labelloop.services import accounts, projects, tasks, web
from labelloop.services.browse import MAX_PAGE

router = APIRouter(prefix="/api", tags=["projects"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberIn(_In):
    """A member to add, or a new role for one."""

    username: str = Field(max_length=100)
    role: Role
    quota: int | None = Field(default=None, ge=0)


class SettingsIn(_In):
    """Assignment settings; omitted fields stay."""

    overlap: int | None = Field(default=None, ge=1, le=20)
    gold_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    lock_seconds: int | None = Field(default=None, ge=30, le=86_400)


class GoldIn(_In):
    """The known answer of a gold item."""

    item_id: int = Field(ge=1)
    value: list[dict[str, Any]] = Field(max_length=10_000)


class ProjectIn(_In):
    """A new project: its name and label config (YAML or JSON text, or the schema as an object)."""

    name: str = Field(min_length=1, max_length=200)
    label_config: str | None = Field(default=None, max_length=1_000_000, description="YAML or JSON text.")
    schema_: dict[str, Any] | None = Field(default=None, alias="schema", description="The schema as an object.")


@router.get("/projects")
def list_projects(auth: UserAuth, store: StoreDep) -> dict[str, Any]:
    """The caller's projects with role and progress counts."""
    return {"projects": web.projects_for(store, auth.user)}


@router.post("/projects", status_code=201, openapi_extra=action("project.create"))
def create_project(body: ProjectIn, auth: InstanceAuth, store: StoreDep) -> dict[str, Any]:
    """Create a project (instance admins); the label config is checked as ``labelloop project create`` does.

    An invalid config is 422 with ``errors``, one line per problem; a taken name is 409.
    """
    p = projects.create_from_config(
        store, body.name, body.label_config if body.schema_ is None else body.schema_, Actor.user(auth.user.username)
    )
    return web.project_detail(store, p.id, "admin")


@router.get("/projects/{pid}", openapi_extra=action("project.read"))
def get_project(access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """A project's schema, guidelines and the caller's role."""
    return web.project_detail(store, access.project_id, access.role)


@router.get("/projects/{pid}/items", openapi_extra=action("item.list"))
def list_items(
    access: ProjectAccess,
    store: StoreDep,
    after: int = Query(0, ge=0, le=2**63 - 1),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> dict[str, Any]:
    """A keyset page of items with their status; ``next`` is the ``after`` of the next page."""
    return web.item_list(store, access.project_id, after=after, limit=limit)


@router.get("/projects/{pid}/items/{iid}", openapi_extra=action("item.read"))
def get_item(iid: int, access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """An item with suggestions, the annotation, the caller's draft and reviews."""
    return tasks.get_item(store, access.project_id, iid, access.user, access.role)


@router.get("/projects/{pid}/stats", openapi_extra=action("project.stats"))
def stats(access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """Progress, per-annotator counters and skill, and the assignment settings."""
    return tasks.project_stats(store, access.project_id)


@router.get("/projects/{pid}/settings", openapi_extra=action("project.settings"))
def get_settings(access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """Assignment settings: overlap, gold rate, lock seconds."""
    return tasks.get_settings(store, access.project_id)


@router.put("/projects/{pid}/settings", openapi_extra=action("project.settings"))
def put_settings(body: SettingsIn, access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """Change assignment settings."""
    return tasks.set_settings(store, access.project_id, **body.model_dump())


@router.get("/projects/{pid}/members", openapi_extra=action("members.read"))
def get_members(access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """The project's members."""
    return {
        "members": [
            {"user_id": m.user_id, "username": m.username, "role": m.role.value, "quota": m.quota}
            for m in accounts.list_members(store, access.project_id)
        ]
    }


@router.post("/projects/{pid}/members", status_code=201, openapi_extra=action("members.manage"))
def add_member(body: MemberIn, access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """Add a member or change their role."""
    m = accounts.add_member(store, access.project_id, body.username, body.role, body.quota)
    return {"user_id": m.user_id, "username": m.username, "role": m.role.value, "quota": m.quota}


@router.delete("/projects/{pid}/members/{uid}", status_code=204, openapi_extra=action("members.manage"))
def remove_member(uid: int, access: ProjectAccess, store: StoreDep) -> Response:
    """Remove a member."""
    accounts.remove_member(store, access.project_id, uid)
    return Response(status_code=204)


@router.post("/projects/{pid}/gold", status_code=201, openapi_extra=action("gold.manage"))
def add_gold(body: GoldIn, access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """Make an item a gold task with a known answer."""
    tasks.mark_gold(store, access.project_id, body.item_id, body.value)
    return {"item_id": body.item_id, "gold": True}
