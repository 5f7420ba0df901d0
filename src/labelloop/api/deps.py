"""Request plumbing shared by the routers: the store, who is asking, and what they may do.

Every project route names its action in ``openapi_extra`` (``x-labelloop-action``, see
:func:`action`); :func:`project_access` reads it from the matched route, so the permission
table and the route list cannot drift apart, and a project route without an action is denied.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from labelloop.core.accounts import User
from labelloop.core.permissions import INSTANCE_ACTIONS, static_decision
from labelloop.errors import NotFound, PermissionDenied
from labelloop.services.accounts import AuthFailed, authenticate, cached_caller, csrf_token
from labelloop.services.jobs import JobRunner
from labelloop.storage import Store

__all__ = [
    "ACTION_KEY",
    "SESSION_COOKIE",
    "Access",
    "Auth",
    "InstanceAuth",
    "JobsDep",
    "ProjectAccess",
    "StoreDep",
    "UserAuth",
    "action",
    "current_auth",
    "get_jobs",
    "get_store",
    "instance_access",
    "project_access",
]

SESSION_COOKIE = "ll_session"
ACTION_KEY = "x-labelloop-action"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def action(name: str) -> dict[str, Any]:
    """The ``openapi_extra`` that names a route's action in the permission table."""
    return {ACTION_KEY: name}


async def get_store(request: Request) -> Store:
    """The app's store (async: FastAPI runs it on the event loop, not in a worker thread)."""
    s = request.app.state.store
    assert isinstance(s, Store)
    return s


StoreDep = Annotated[Store, Depends(get_store)]


async def get_jobs(request: Request) -> JobRunner:
    """The app's job runner (started with the app, see :mod:`labelloop.services.jobs`)."""
    runner = request.app.state.jobs
    assert isinstance(runner, JobRunner)
    return runner


JobsDep = Annotated[JobRunner, Depends(get_jobs)]


@dataclass(frozen=True, slots=True)
class Auth:
    """The caller: a user, and the session token when they came with the cookie."""

    user: User
    session: str | None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # non-browser clients, and same-origin GETs
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def _authenticate(
    request: Request, store: Store, project_id: int = 0, *, cached_only: bool = False
) -> tuple[Auth, str | None] | None:
    """``(Auth, role)`` of the caller; with ``cached_only``, None unless memory has the answer."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        token = header[7:].strip()
        found = cached_caller(store, token, session=False, project_id=project_id)
        if found is None:
            if cached_only:
                return None
            found = authenticate(store, token, session=False, project_id=project_id)
        request.state.caller = found[0]
        return Auth(found[0], None), found[1]
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise AuthFailed("not logged in")
    found = cached_caller(store, cookie, session=True, project_id=project_id)
    if found is None:
        if cached_only:
            return None
        found = authenticate(store, cookie, session=True, project_id=project_id)
    user, role = found
    request.state.caller = user  # (the refusal log names who was refused)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent, csrf_token(request.app.state.secret, cookie)):
            raise PermissionDenied("CSRF token missing or wrong (send the X-CSRF-Token header)")
        if not _same_origin(request):
            raise PermissionDenied("cross-origin request refused")
    return Auth(user, cookie), role


def current_auth(request: Request, store: StoreDep) -> Auth:
    """Authenticate by ``Authorization: Bearer`` token or by session cookie.

    Cookie-authenticated unsafe requests need the session's CSRF token in ``X-CSRF-Token``
    and, when the browser sends one, a same-origin ``Origin``.

    Raises:
        AuthFailed: no valid credentials (401).
        PermissionDenied: CSRF token missing or wrong, or a foreign origin (403).
    """
    found = _authenticate(request, store)
    assert found is not None  # (not cached_only: authenticated, or raised)
    return found[0]


UserAuth = Annotated[Auth, Depends(current_auth)]


@dataclass(frozen=True, slots=True)
class Access:
    """An authenticated caller's role in one project, for one action the role may attempt."""

    user: User
    project_id: int
    role: str
    action: str


async def project_access(request: Request, store: StoreDep, pid: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Access:
    """Authenticate, resolve the caller's role in project ``pid`` and check the route's action.

    Authentication is that of :func:`current_auth`; the role comes from the same query. It runs
    on the event loop when the answer is in memory (:func:`labelloop.services.accounts.cached_caller`),
    and in a worker thread when the database has to be asked.

    Raises:
        NotFound: not a member (or no such project): other projects stay invisible (404).
        PermissionDenied: the role may never do this action (403). Cells that depend on
            relations are decided again by the service, with the relations.
    """
    route = request.scope.get("route")
    name = (getattr(route, "openapi_extra", None) or {}).get(ACTION_KEY)
    found = _authenticate(request, store, pid, cached_only=True)
    if found is None:
        found = await run_in_threadpool(_authenticate, request, store, pid)
        assert found is not None  # (not cached_only: authenticated, or raised)
    auth, role = found
    if role is None:
        raise NotFound("project", pid)
    if name is None or static_decision(role, name) is False:
        raise PermissionDenied(f"role {role} may not {name or 'do this'}")
    return Access(auth.user, pid, role, name)


ProjectAccess = Annotated[Access, Depends(project_access)]


def instance_access(request: Request, auth: UserAuth) -> Auth:
    """Authenticate and check the route's instance-level action against the permission table.

    Instance-level actions are not about an existing project (``project.create``).

    The caller's role for these is ``admin`` for instance admins and none otherwise.

    Raises:
        AuthFailed: no valid credentials (401).
        PermissionDenied: the table does not allow it (403).
    """
    route = request.scope.get("route")
    name = (getattr(route, "openapi_extra", None) or {}).get(ACTION_KEY)
    role = "admin" if auth.user.is_admin else None
    if name not in INSTANCE_ACTIONS or static_decision(role, name) is not True:
        raise PermissionDenied(f"only instance admins may {name or 'do this'}")
    return auth


InstanceAuth = Annotated[Auth, Depends(instance_access)]
