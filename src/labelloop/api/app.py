"""The FastAPI application factory: the REST API (OpenAPI at /docs) and the browser UI.

Routers live in :mod:`labelloop.api.routes`; who may do what is decided by the permission
table in :mod:`labelloop.core.permissions` (see :mod:`labelloop.api.deps`). Every response
carries the security headers; errors are ``{"error": {"code", "message"}}`` and never a trace.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from labelloop._version import __version__
from labelloop.api.headers import SecurityHeaders
from labelloop.api.limits import MAX_BODY, UPLOAD_PATH, BodyLimit
from labelloop.api.routes import (
    admin,
    auth,
    corrections,
    experiments,
    jobs,
    media,
    projects,
    qc,
    releases,
    routing,
    ui,
    work,
)
from labelloop.config import Settings
from labelloop.errors import InvalidAnnotation, LabelloopError
from labelloop.services.accounts import LoginLimiter, RateLimited, load_secret
from labelloop.services.jobs import JobRunner
from labelloop.services.refusals import RefusalLog
from labelloop.services.web_imports import clean_stale_uploads
from labelloop.storage import Store

__all__ = ["SECURITY_HEADERS", "create_app"]

logger = logging.getLogger("labelloop.api")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}, **extra}, status_code=status)


_REFUSED = frozenset({401, 403, 404, 429})


async def _log_refusal(request: Request, exc: LabelloopError) -> None:
    """Keep a refused API request in the security audit log (never fails the response)."""
    if exc.http_status not in _REFUSED or not request.url.path.startswith("/api/"):
        return
    caller = getattr(request.state, "caller", None)
    try:
        await run_in_threadpool(
            request.app.state.refusals.record, request.app.state.store,
            ip=request.client.host if request.client else "?", method=request.method, path=request.url.path,
            status=exc.http_status, code=exc.code, reason=str(exc),
            user_id=getattr(caller, "id", None),
            username=getattr(caller, "username", None) or getattr(request.state, "login_name", None),
        )  # fmt: skip
    except Exception:  # the log must not turn a refusal into a 500
        logger.exception("could not log a refused request to %s", request.url.path)


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Build the app; the store is opened at start-up (or the given one is used).

    Args:
        settings: Settings; None reads them from ``LABELLOOP_*`` environment variables.
        store: An open store to use (tests); None opens the one the settings name.

    Example:
        >>> app = create_app(Settings(data_dir="/tmp/labelloop-doc"))
        >>> "/api/auth/login" in app.openapi()["paths"]
        True
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        app.state.store = store or Store.open(settings.database_url, settings.data_dir)
        app.state.secret = load_secret(app.state.store.data_dir, settings.secret_key)
        app.state.login_limiter = LoginLimiter(app.state.store)  # one limit for every worker process
        app.state.refusals = RefusalLog()
        clean_stale_uploads(app.state.store)
        app.state.jobs = JobRunner(app.state.store, workers=settings.job_workers).start()
        try:
            yield
        finally:
            app.state.jobs.shutdown()
            if own:
                app.state.store.close()

    app = FastAPI(title="labelloop", version=__version__, lifespan=lifespan)
    app.mount("/static", StaticFiles(packages=[("labelloop.ui", "static")]), name="static")
    app.state.settings = settings
    # (routes are matched in order: the work routes, which annotators call most, go first)
    for router in (work.router, auth.router, admin.router, projects.router, media.router, ui.router):
        app.include_router(router)
    app.include_router(releases.router)
    app.include_router(qc.router)
    app.include_router(corrections.router)
    app.include_router(routing.router)
    app.include_router(routing.samplers_router)
    app.include_router(experiments.router)
    app.include_router(jobs.router)

    @app.get("/api/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness and version (no authentication)."""
        return {"status": "ok", "version": __version__}

    app.add_middleware(SecurityHeaders, headers=SECURITY_HEADERS)
    app.add_middleware(
        BodyLimit, max_bytes=MAX_BODY, headers=SECURITY_HEADERS, larger=[(UPLOAD_PATH, settings.max_upload_bytes)]
    )  # outermost: 413 before anything

    @app.exception_handler(LabelloopError)
    async def labelloop_error(request: Request, exc: LabelloopError) -> JSONResponse:
        await _log_refusal(request, exc)
        extra: dict[str, Any] = dict(getattr(exc, "payload", {}) or {})
        if isinstance(exc, InvalidAnnotation):
            extra["errors"] = exc.problems
        response = _error(exc.http_status, exc.code, str(exc), **extra)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # the offending input is not echoed back: only where and what was expected
        errors = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
        return _error(422, "LL-INPUT", "; ".join(errors[:20]) or "invalid request", errors=errors[:100])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "LL-NOTFOUND", 405: "LL-METHOD"}.get(exc.status_code, "LL-HTTP")
        message = "not found" if exc.status_code == 404 else str(exc.detail)[:200]
        return _error(exc.status_code, code, message)

    @app.exception_handler(RecursionError)
    async def too_deep(_request: Request, _exc: RecursionError) -> JSONResponse:
        return _error(400, "LL-INPUT", "request body nested too deeply")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # the operator's log gets the traceback; the client gets nothing it could learn from
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        # (this handler runs outside the middleware stack, so it sets the security headers itself)
        return JSONResponse(
            {"error": {"code": "LL-INTERNAL", "message": "internal error"}}, status_code=500, headers=SECURITY_HEADERS
        )

    return app
