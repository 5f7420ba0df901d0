"""``labelloop serve``: the HTTP API and web pages."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from labelloop.cli._common import console, settings


def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8000).")] = None,
) -> None:
    """Serve the REST API and the browser UI.

    Example: ``labelloop serve --port 8000``
    """
    import uvicorn

    s = settings(ctx)
    s = s.model_copy(update={k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    # The app factory reads the same settings from the environment: cli and api never import each other.
    os.environ["LABELLOOP_DATA_DIR"] = str(s.data_dir)
    if s.database_url:
        os.environ["LABELLOOP_DATABASE_URL"] = s.database_url
    console.print(f"serving labelloop on http://{s.host}:{s.port}/ (API docs: /docs; Ctrl+C stops)")
    uvicorn.run("labelloop.api.app:create_app", factory=True, host=s.host, port=s.port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root app."""
    app.command("serve")(serve_cmd)
