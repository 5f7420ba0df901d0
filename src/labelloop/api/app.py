"""The FastAPI application factory: read-only API and viewer pages.

Accounts, roles and the labelling UI come with the web-app capability; until then the server
binds to loopback by default and offers read-only browsing of projects, items and media.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from labelloop._version import __version__
from labelloop.api import pages
from labelloop.config import Settings
from labelloop.errors import LabelloopError
from labelloop.services.browse import MAX_PAGE, item_page, list_projects, media_file
from labelloop.storage import Store

__all__ = ["create_app"]

logger = logging.getLogger("labelloop.api")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Build the app; the store is opened at start-up (or the given one is used).

    Args:
        settings: Settings; None reads them from ``LABELLOOP_*`` environment variables.
        store: An open store to use (tests); None opens the one the settings name.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        app.state.store = store or Store.open(settings.database_url, settings.data_dir)
        try:
            yield
        finally:
            if own:
                app.state.store.close()

    app = FastAPI(title="labelloop", version=__version__, lifespan=lifespan)
    app.mount("/static", StaticFiles(packages=[("labelloop.ui", "static")]), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    @app.exception_handler(LabelloopError)
    async def labelloop_error(_request: Request, exc: LabelloopError) -> JSONResponse:
        return JSONResponse({"error": {"code": exc.code, "message": str(exc)}}, status_code=exc.http_status)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # the operator's log gets the traceback; the client gets nothing it could learn from
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        # (this handler runs outside the middleware stack, so it sets the security headers itself)
        return JSONResponse(
            {"error": {"code": "LL-INTERNAL", "message": "internal error"}}, status_code=500, headers=SECURITY_HEADERS
        )

    def the_store(request: Request) -> Store:
        s = request.app.state.store
        assert isinstance(s, Store)
        return s

    @app.get("/api/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/api/projects")
    def api_projects(request: Request) -> list[dict[str, Any]]:
        return [
            {"id": p.id, "name": p.name, "media": [m.kind.value for m in p.schema.media], **counts}
            for p, counts in list_projects(the_store(request))
        ]

    @app.get("/api/projects/{project_id}/items")
    def api_items(
        request: Request, project_id: int, after: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=MAX_PAGE)
    ) -> dict[str, Any]:
        _p, items, latest = item_page(the_store(request), project_id, after=after, limit=limit)
        return {
            "items": [
                {
                    "id": it.id,
                    "key": it.key,
                    "data": {k: v.to_json() for k, v in it.data.items()},
                    "meta": it.meta,
                    "annotation": getattr(latest.get(it.id, {}).get("annotation"), "value", None),
                    "suggestion": getattr(latest.get(it.id, {}).get("suggestion"), "value", None),
                }
                for it in items
            ],
            "next_after": items[-1].id if len(items) == limit else None,
        }

    @app.get("/api/media/{sha256}")
    def api_media(request: Request, sha256: str) -> FileResponse:
        mf = media_file(the_store(request), sha256)
        inline = mf.media_type.startswith(("image/png", "image/jpeg", "image/webp", "image/bmp", "audio/"))
        return FileResponse(
            mf.path,
            media_type=mf.media_type,
            content_disposition_type="inline" if inline else "attachment",
            filename=sha256,
            headers={
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "Cache-Control": "private, max-age=3600",
            },
        )

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        return HTMLResponse(pages.index_page(list_projects(the_store(request))))

    @app.get("/projects/{project_id}", response_class=HTMLResponse)
    def project_view(request: Request, project_id: int, after: int = Query(0, ge=0)) -> HTMLResponse:
        p, items, latest = item_page(the_store(request), project_id, after=after, limit=50)
        return HTMLResponse(pages.project_page(p, items, latest, 50))

    return app
