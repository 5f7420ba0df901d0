"""The browser UI: one HTML page for every client-side route; its scripts come from /static."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from labelloop.errors import NotFound

router = APIRouter(tags=["ui"], include_in_schema=False)


def _index() -> str:
    page = resources.files("labelloop.ui") / "static" / "index.html"
    if not page.is_file():
        raise NotFound("ui page", "index.html")
    return page.read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    """The single-page app."""
    return HTMLResponse(_index(), headers={"Cache-Control": "no-cache"})


@router.get("/app/{path:path}", response_class=HTMLResponse)
def app_page(path: str) -> HTMLResponse:
    """Deep links into the app get the same page (the client routes them)."""
    return HTMLResponse(_index(), headers={"Cache-Control": "no-cache"})
