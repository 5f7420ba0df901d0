"""Shared CLI plumbing: settings and store from the context, progress bars, output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from labelloop.config import Settings
from labelloop.storage import Store

__all__ = ["console", "err_console", "open_store", "progress_bar", "settings"]

console = Console(highlight=False)

LinkMedia = Annotated[
    bool,
    typer.Option(
        "--link-media",
        help="Hard-link media files from the store instead of copying them (same file system; much faster). "
        "The export then shares the store's files: do not edit them in place.",
    ),
]
"""The ``--link-media`` option of the export commands."""

NoMedia = Annotated[
    bool,
    typer.Option(
        "--no-media",
        help="Labels only: write no media files (the label files still name them as a full export would).",
    ),
]
"""The ``--no-media`` option of the export commands."""

ZipOut = Annotated[
    bool,
    typer.Option(
        "--zip",
        help="Write one .zip file instead of a folder (the same files; '.zip' is added to the name when missing). "
        "A destination ending in .zip does the same.",
    ),
]
"""The ``--zip`` option of the export commands."""


def zip_target(out: Path, as_zip: bool) -> Path:
    """``out`` with ``.zip`` added when ``as_zip`` asks for a zip and the name lacks it.

    Example:
        >>> zip_target(Path("out/coco"), True).name, zip_target(Path("out/c.zip"), True).name
        ('coco.zip', 'c.zip')
    """
    if as_zip and out.suffix.lower() != ".zip":
        return out.with_name(out.name + ".zip")
    return out


err_console = Console(stderr=True, highlight=False)


def settings(ctx: typer.Context) -> Settings:
    """The settings the root command built."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj


def open_store(ctx: typer.Context) -> Store:
    """Open (and migrate) the store named by the settings."""
    s = settings(ctx)
    return Store.open(s.database_url, s.data_dir)


@contextmanager
def progress_bar(description: str, *, unit: str = "") -> Iterator[Any]:
    """A rich progress bar; yields a ``progress(done, total)`` callback for services."""
    columns = [
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if unit != "bytes" else TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as prog:
        task = prog.add_task(description, total=None)

        def update(done: int, total: int | None) -> None:
            prog.update(task, completed=done, total=total)

        yield update
