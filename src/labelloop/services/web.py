"""Read models for the web app: a user's projects, item pages with status, point clouds.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.storage import Store
    >>> from labelloop.services.accounts import create_user
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> projects_for(store, create_user(store, "v", "long enough password"))
    []
    >>> store.close()
"""

from __future__ import annotations

from typing import Any

from labelloop.core import Medium
from labelloop.core.accounts import User
from labelloop.core.permissions import static_decision
from labelloop.errors import NotFound
from labelloop.services.browse import MAX_PAGE
from labelloop.storage import Store
from labelloop.storage.accounts_repo import AccountRepo

__all__ = [
    "can_fetch_media",
    "item_list",
    "point_bytes",
    "project_detail",
    "projects_for",
    "role_in",
]


def role_in(store: Store, project_id: int, user: User) -> str | None:
    """The user's role in the project: ``admin`` for admins, None for non-members (or no project)."""
    with store.read() as tx:
        if user.is_admin:
            try:
                tx.projects.get(project_id)
            except NotFound:
                return None
            return "admin"
        role = AccountRepo(tx.conn).role(project_id, user.id)
    return None if role is None else role.value


def can_fetch_media(store: Store, user: User, sha256: str) -> bool:
    """Whether a blob was shown in a project where the user may read items."""
    with store.read() as tx:
        repo = AccountRepo(tx.conn)
        projects = repo.media_projects(sha256)
        if user.is_admin:
            return bool(projects)
        roles = repo.roles_of(user.id)
    return any(static_decision(roles[p].value, "item.read") is not False for p in projects if p in roles)


def projects_for(store: Store, user: User) -> list[dict[str, Any]]:
    """The projects the user belongs to (all for admins), with their role and progress counts."""
    with store.read() as tx:
        roles = {p: r.value for p, r in AccountRepo(tx.conn).roles_of(user.id).items()}
        out = []
        for p in tx.projects.list():
            role = "admin" if user.is_admin else roles.get(p.id)
            if role is None:
                continue
            c = tx.projects.counts(p.id)
            out.append({
                "id": p.id, "name": p.name, "media": [m.kind.value for m in p.schema.media], "role": role,
                "counts": {"items": c["items"], "annotated": c["annotations"], "reviewed": c["reviews"]},
            })  # fmt: skip
    return out


def project_detail(store: Store, project_id: int, role: str) -> dict[str, Any]:
    """A project's schema and the caller's role."""
    with store.read() as tx:
        p = tx.projects.get(project_id)
    return {
        "id": p.id,
        "name": p.name,
        "schema": p.schema.model_dump(mode="json", exclude_defaults=True),
        "role": role,
        "guidelines": p.schema.guidelines,
    }


def item_list(store: Store, project_id: int, *, after: int = 0, limit: int = 50) -> dict[str, Any]:
    """A keyset page of items with their status (new, annotated, reviewed); ``limit`` ≤ 200.

    Held items (awaiting or failing desensitisation) are left out: their preview is the original text.
    """
    limit = max(1, min(limit, MAX_PAGE))
    with store.read() as tx:
        tx.projects.get(project_id)
        items = tx.items.page(project_id, after_id=max(0, after), limit=limit, visible_only=True)
        if items:
            _s, anns, revs = tx.labels.for_item_range(project_id, items[0].id, items[-1].id)
        else:
            anns, revs = [], []
    annotated = {a.item_id for a in anns if a.status.value == "submitted"}
    reviewed = {r.item_id for r in revs}
    rows = [
        {
            "id": it.id,
            "key": it.key,
            "media": {n: {k: v for k, v in ref.to_json().items() if k != "text"} for n, ref in it.data.items()},
            "preview": next(((ref.text or "")[:200] for ref in it.data.values() if ref.kind == Medium.TEXT), None),
            "status": "reviewed" if it.id in reviewed else "annotated" if it.id in annotated else "new",
        }
        for it in items
    ]
    return {"items": rows, "next": items[-1].id if len(items) == limit else None}


def point_bytes(store: Store, sha256: str) -> bytes:
    """A stored point cloud as little-endian float32 x, y, z triples (12 bytes a point).

    Raises:
        NotFound: no such blob, or it is not a point cloud.
        InputRejected: the file cannot be read as a point cloud.
    """
    with store.read() as tx:
        row = tx.items.blob(sha256)
    if row is None or row.kind != Medium.POINTCLOUD.value or not store.blobs.exists(sha256):
        raise NotFound("point cloud", sha256)
    from labelloop.modalities.pointcloud import load_pointcloud  # numpy and readers: only when asked

    cloud = load_pointcloud(store.blobs.path(sha256), source=f"blob {sha256[:12]}")
    return bytes(cloud.xyz.astype("<f4", copy=False).tobytes())
