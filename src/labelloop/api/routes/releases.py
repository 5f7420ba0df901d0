"""Dataset releases: list, create, show, diff, lineage (JSON lines) and signed exports as zips."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.types import Receive, Scope, Send

from labelloop.api.deps import ProjectAccess, StoreDep, action
from labelloop.core import Actor
from labelloop.services import release_web
from labelloop.services.releases import AUTO, create_release, diff_releases, list_releases, signing_key

router = APIRouter(prefix="/api/projects/{pid}/releases", tags=["releases"])

NDJSON = "application/x-ndjson"


class ReleaseIn(BaseModel):
    """A release to make: its name, and optionally the moment to freeze, its parent and a certificate."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Letters, digits and . _ + - (starts alphanumeric).")
    as_of: datetime | None = Field(default=None, description="A past moment with a time zone; default now.")
    parent: str | None = Field(default=None, max_length=200, description="Parent release; default the newest.")
    no_parent: bool = Field(default=False, description="Start a new lineage (no parent).")
    quality: dict[str, Any] | None = Field(default=None, description="A quality certificate, signed with it.")

    @model_validator(mode="after")
    def _one_parent_choice(self) -> ReleaseIn:
        if self.no_parent and self.parent is not None:
            raise ValueError("give parent or no_parent, not both")
        return self


class ZipDownload(StreamingResponse):
    """A release export streamed as a zip; its temporary folder goes however the response ends.

    (Done, failed, or cut off by a client that went away: the removal is shielded from the
    cancellation that a disconnect brings.)
    """

    def __init__(self, download: release_web.ReleaseDownload) -> None:
        super().__init__(
            download.chunks(),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
        )
        self.download = download

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream, then remove the folder."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.download.cleanup)


def _key_file(request: Request) -> Path | None:
    settings = getattr(request.app.state, "settings", None)
    key = getattr(settings, "release_key", None)
    return key if isinstance(key, Path) else None


@router.get("", openapi_extra=action("release.read"))
def list_(access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """The project's releases, oldest first (counts, parent, Merkle root; no signature check)."""
    releases = list_releases(store, access.project_id)
    names = {r.id: r.name for r in releases}
    return {
        "releases": [
            release_web.release_json(r, None if r.parent_id is None else names.get(r.parent_id)) for r in releases
        ],
        "formats": release_web.export_formats(),
    }


@router.post("", status_code=201, openapi_extra=action("release.create"))
def create(body: ReleaseIn, request: Request, access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """Freeze every item's current label as a signed release; 409 when the name is taken."""
    rel = create_release(
        store, access.project_id, body.name, Actor.user(access.user.username), as_of=body.as_of,
        parent=None if body.no_parent else (body.parent or AUTO), quality=body.quality,
        key=signing_key(store, _key_file(request)),
    )  # fmt: skip
    return release_web.show(store, access.project_id, rel.name, _key_file(request))


@router.get("/{name}", openapi_extra=action("release.read"))
def show(name: str, request: Request, access: ProjectAccess, store: StoreDep) -> dict[str, Any]:
    """A release: counts, per-class regions, parent and its root, Merkle root, and whether the signature holds."""
    return release_web.show(store, access.project_id, name, _key_file(request))


@router.get("/{name}/diff/{other}", openapi_extra=action("release.read"))
def diff(
    name: str,
    other: str,
    access: ProjectAccess,
    store: StoreDep,
    rows: int = Query(100, ge=0, le=1000, description="How many differing items to list."),
) -> dict[str, Any]:
    """Labels added, removed and changed from release ``name`` to release ``other``, per item and class.

    The counts cover every item; ``rows`` lists the first differing items and ``truncated`` says
    whether more differed.
    """
    return release_web.diff_json(diff_releases(store, access.project_id, name, other, max_rows=rows))


@router.get("/{name}/lineage", openapi_extra=action("release.lineage"), response_model=None)
def lineage(
    name: str,
    access: ProjectAccess,
    store: StoreDep,
    after: int = Query(0, ge=0, le=2**63 - 1, description="Start after this item id (a keyset cursor)."),
    limit: int | None = Query(None, ge=1, le=10_000, description="One page of at most this many; default all."),
) -> Response:
    """Per item, who or what produced its frozen label, as JSON lines (``application/x-ndjson``).

    With ``limit``, one page: the ``X-Next-After`` header holds the cursor of the next page
    when this one is full. Without, the whole release streams, read page by page.
    """
    page = limit or release_web.LINEAGE_PAGE
    first, cursor = release_web.lineage_lines(store, access.project_id, name, after=after, limit=page)
    if limit is not None:
        headers = {} if cursor is None else {"X-Next-After": str(cursor)}
        return Response(first, media_type=NDJSON, headers=headers)

    def rest(cursor: int | None) -> Iterator[bytes]:
        yield first
        while cursor is not None:
            body, cursor = release_web.lineage_lines(store, access.project_id, name, after=cursor, limit=page)
            yield body

    return StreamingResponse(rest(cursor), media_type=NDJSON)


@router.get("/{name}/export", openapi_extra=action("release.export"), response_model=None)
def export(
    name: str,
    request: Request,
    access: ProjectAccess,
    store: StoreDep,
    fmt: str = Query("native", alias="format", max_length=50, description="native, coco, yolo, voc, ..."),
) -> StreamingResponse:
    """The release exported in ``format``, signed, as a zip named ``<project>-<release>-<format>.zip``.

    The export is written to a temporary folder, streamed as a zip and removed; it is an
    ``export`` event in the project's provenance log, recorded by the caller.
    """
    download = release_web.prepare_download(
        store, access.project_id, name, fmt, Actor.user(access.user.username), key_file=_key_file(request)
    )
    return ZipDownload(download)
