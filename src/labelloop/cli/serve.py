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
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Server processes (default 1). More use more cores; they share the database, the secret "
            "key and the log-in rate limit, and each runs background jobs.",
        ),
    ] = 1,
) -> None:
    """Serve the REST API and the browser UI.

    Example: ``labelloop serve --port 8000 --workers 2``
    """
    import uvicorn

    from labelloop.services.accounts import load_secret
    from labelloop.storage import Store

    s = settings(ctx)
    s = s.model_copy(update={k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    # Once, before any server process starts: the schema upgrade and the generated secret key,
    # so processes starting together neither migrate at once nor make keys of their own.
    Store.open(s.database_url, s.data_dir).close()
    load_secret(s.data_dir, s.secret_key)
    # The app factory reads the same settings from the environment: cli and api never import each other.
    os.environ["LABELLOOP_DATA_DIR"] = str(s.data_dir)
    if s.database_url:
        os.environ["LABELLOOP_DATABASE_URL"] = s.database_url
    many = f", {workers} processes" if workers > 1 else ""
    console.print(f"serving labelloop on http://{s.host}:{s.port}/{many} (API docs: /docs; Ctrl+C stops)")
    uvicorn.run(
        "labelloop.api.app:create_app", factory=True, host=s.host, port=s.port, log_level="warning", workers=workers
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root app."""
    app.command("serve")(serve_cmd)
