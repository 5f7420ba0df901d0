"""Every route of the app, every kind of caller: 401 without credentials, 404 for
non-members, 403 for a role the permission table denies. A new route that is neither listed
as public/user-level nor names a table action fails here."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from typing import Any

import pytest
from fastapi.routing import APIRoute

from labelloop.api.deps import ACTION_KEY, get_jobs
from labelloop.core.permissions import INSTANCE_ACTIONS, POLICY, static_decision
from labelloop.core.permissions import ROLES as TABLE_ROLES
from tests.api.conftest import ROLES, World

PUBLIC = {("POST", "/api/auth/login"), ("GET", "/api/health"), ("GET", "/"), ("GET", "/app/{path:path}")}
USER_LEVEL = {
    ("GET", "/api/me"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/password"),
    ("GET", "/api/tokens"),
    ("POST", "/api/tokens"),
    ("DELETE", "/api/tokens/{token_id}"),
    ("GET", "/api/projects"),
    ("GET", "/api/media/{sha256}"),
    ("GET", "/api/media/{sha256}/points"),
    ("GET", "/api/formats"),
    ("GET", "/api/samplers"),
}


def _flat(routes: list[Any]) -> list[APIRoute]:
    out: list[APIRoute] = []
    for r in routes:
        if isinstance(r, APIRoute):
            out.append(r)
        elif hasattr(r, "original_router"):  # an included router (FastAPI resolves them lazily)
            out.extend(_flat(r.original_router.routes))
    return out


def _routes(w: World) -> list[tuple[str, str, str | None]]:
    out = []
    for r in _flat(w.app.routes):  # type: ignore[attr-defined]
        for m in sorted(r.methods - {"HEAD"}):
            out.append((m, r.path, (r.openapi_extra or {}).get(ACTION_KEY)))
    assert len(out) > 20
    return out


def _url(w: World, path: str) -> str:
    values = {
        "pid": w.pa, "iid": w.items_a[1], "uid": w.users["viewer"].id, "sid": 1, "tid": 1, "token_id": 1,
        "name": "0" * 32 + ".zip", "other": "v2", "sha256": "0" * 64, "path:path": "x", "jid": 1, "eid": 1,
    }  # fmt: skip
    return re.sub(r"\{([^}]+)\}", lambda m: str(values[m.group(1)]), path)


def test_every_route_is_classified(world: World) -> None:
    for method, path, act in _routes(world):
        if (method, path) in PUBLIC | USER_LEVEL:
            assert act is None, (method, path)
            continue
        assert act in POLICY, f"{method} {path} names no action of the permission table"
        if act in INSTANCE_ACTIONS:
            assert "{pid}" not in path, f"{method} {path}: an instance action is about no project"
            continue
        assert "{pid}" in path, f"{method} {path}: project actions need the project in the path"


def test_unauthenticated_gets_401(world: World) -> None:
    c = world.client()
    for method, path, _act in _routes(world):
        if (method, path) in PUBLIC:
            continue
        r = c.request(method, _url(world, path), json={})
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.json()["error"]["code"] == "LL-AUTH"


def test_non_member_gets_404(world: World) -> None:
    c = world.client("outsider")
    for method, path, act in _routes(world):
        if act is None or act in INSTANCE_ACTIONS:  # (no project to hide: 403 below)
            continue
        r = c.request(method, _url(world, path), json={})
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    # the member of project b sees nothing of project a either
    r = world.client("b_annotator").post(f"/api/projects/{world.pa}/next")
    assert r.status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_denied_role_gets_403(world: World, role: str) -> None:
    c = world.client(role)
    checked = 0
    for method, path, act in _routes(world):
        if act is None or static_decision(role, act) is not False:
            continue
        r = c.request(method, _url(world, path), json={})
        assert r.status_code == 403, (role, method, path, r.status_code, r.text)
        assert r.json()["error"]["code"] == "LL-DENIED"
        checked += 1
    assert checked > 0  # (managers too: creating projects is for instance admins)


def test_instance_actions_are_denied_to_non_admins(world: World) -> None:
    for who in ("outsider", "b_annotator", "manager"):
        c = world.client(who)
        for method, path, act in _routes(world):
            if act in INSTANCE_ACTIONS:
                r = c.request(method, _url(world, path), json={})
                assert r.status_code == 403, (who, method, path, r.status_code, r.text)


def test_admin_is_never_denied_by_role(world: World) -> None:
    c = world.client("admin")
    for method, path, act in _routes(world):
        if act is None:
            continue
        r = c.request(method, _url(world, path), json={})
        assert r.status_code not in (401, 403), (method, path, r.status_code, r.text)


RUNNER_READS = {"get", "list", "cancel"}  # what a route may do with the job runner without starting a job


def _job_starting_actions(w: World) -> set[str]:
    """The actions of the routes whose endpoint hands work to the job runner (``.submit``).

    Read from the code: every route that depends on the runner (:func:`get_jobs`) is parsed; a
    use of the runner other than ``submit`` or a read (passed on whole, say) fails here, so a new
    way of starting jobs gets classified.
    """
    out: set[str] = set()
    for r in _flat(w.app.routes):  # type: ignore[attr-defined]
        names = {d.name for d in r.dependant.dependencies if d.call is get_jobs}
        if not names:
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(r.endpoint)))
        parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        starts = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load):
                use = parents[id(node)]
                assert isinstance(use, ast.Attribute) and use.attr in RUNNER_READS | {"submit"}, (
                    f"{r.path}: the job runner is used as {ast.unparse(use)!r}; say whether that starts a job"
                )
                starts |= use.attr == "submit"
        if starts:
            out.add((r.openapi_extra or {})[ACTION_KEY])
    return out


def test_whoever_may_start_a_job_may_cancel_it(world: World) -> None:
    # job.cancel has no "the starter may cancel" relation: it needs none while every role that
    # may start a job may cancel any job of the project
    starting = _job_starting_actions(world)
    assert {"import.create", "export.create", "route.run", "learn.run"} <= starting, starting  # (the parse works)
    cancellers = {role for role in TABLE_ROLES if static_decision(role, "job.cancel") is True}
    for act in sorted(starting):
        starters = {role for role in TABLE_ROLES if static_decision(role, act) is not False}
        assert starters <= cancellers, (act, starters - cancellers)
