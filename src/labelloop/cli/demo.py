"""``labelloop demo``: a demo workspace with sample data of all four media."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labelloop.cli._common import console, err_console, open_store, settings
from labelloop.cli.serve import serve_cmd
from labelloop.services.demo import run_demo


def demo_cmd(
    ctx: typer.Context,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Where the demo workspace goes.")] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after building the workspace.")] = False,
) -> None:
    """Build the demo workspace (text, images, audio, point clouds, multimodal), then serve it.

    Example: ``labelloop demo --data-dir demo-data --no-serve``
    """
    if data_dir is not None:
        root = ctx.find_root()
        root.obj = settings(ctx).model_copy(update={"data_dir": data_dir})
    s = settings(ctx)
    store = open_store(ctx)
    try:
        report = run_demo(
            store,
            Path(s.data_dir) / "demo",
            on_step=lambda n, d: console.print(f"[bold]{n:>10}[/] {d}", soft_wrap=True),
        )
    finally:
        store.close()
    for p in report.problems:
        err_console.print(f"  problem: {p}", markup=False, soft_wrap=True)
    console.print(f"demo ready: {len(report.projects)} projects in {s.data_dir}")
    if report.login is not None:
        url = f"http://{s.host}:{s.port}{report.start_path}"
        console.print(f"open {url} and log in as {report.login[0]} / {report.login[1]}", markup=False, soft_wrap=True)
    if not no_serve:
        serve_cmd(ctx)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root app."""
    app.command("demo")(demo_cmd)
