"""``labelloop import`` / ``export`` / ``restore``: data in and out of projects."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from labelloop.cli._common import LinkMedia, NoMedia, ZipOut, console, err_console, open_store, progress_bar, zip_target
from labelloop.core import Actor
from labelloop.errors import InputRejected
from labelloop.formats import takes_option
from labelloop.services.exports import export_dataset
from labelloop.services.ingest import import_source
from labelloop.services.native import export_native, restore_native

MAX_SHOWN_ERRORS = 20


def import_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    source: Annotated[Path, typer.Argument(help="A folder, a .zip, or a JSONL/CSV manifest.")],
    errors_file: Annotated[Path | None, typer.Option("--errors-file", help="Write every item error here.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit non-zero if any item was refused.")] = False,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Format of SOURCE: native, coco, yolo, voc, conll2003, ...")
    ] = None,
) -> None:
    """Import items (and labels in manifests) into a project.

    Per-item problems are listed while the rest imports; a failure of the whole import
    rolls back everything.

    Example: ``labelloop import reviews data/reviews.jsonl``
    """
    store = open_store(ctx)
    try:
        with progress_bar(f"importing {source.name}") as progress:
            report = import_source(
                store, project, source, actor=Actor.user(getpass.getuser()), fmt=fmt, progress=progress
            )
    finally:
        store.close()
    console.print(
        f"import {report.import_id}: {report.items} items, {report.duplicates} duplicates skipped, "
        f"{report.annotations} annotations, {report.suggestions} suggestions, {len(report.errors)} refused"
    )
    for e in report.errors[:MAX_SHOWN_ERRORS]:
        err_console.print(f"  refused {e}", soft_wrap=True, markup=False)
    if len(report.errors) > MAX_SHOWN_ERRORS:
        err_console.print(f"  … and {len(report.errors) - MAX_SHOWN_ERRORS} more (see --errors-file)")
    if errors_file is not None:
        errors_file.write_text("".join(f"{e}\n" for e in report.errors), encoding="utf-8")
    if strict and report.errors:
        raise InputRejected(source.name, "every item to import", f"{len(report.errors)} refused")


def export_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    out: Annotated[Path, typer.Argument(help="A new (or empty) folder, or a new .zip file.")],
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", help="Export the state at this time (ISO 8601, UTC if no zone).")
    ] = None,
    no_media: NoMedia = False,
    fmt: Annotated[
        str, typer.Option("--format", help="native (lossless), coco, yolo, voc, conll2003 or csv.")
    ] = "native",
    link_media: LinkMedia = False,
    as_zip: ZipOut = False,
) -> None:
    """Export a project: losslessly (native JSONL + media) or in a training format.

    Example: ``labelloop export reviews backups/reviews-2026-11-23``;
    ``labelloop export pets out/coco --format coco``; ``labelloop export pets out/coco.zip --format coco``
    """
    out = zip_target(out, as_zip)
    if fmt == "native" and as_zip:
        raise InputRejected("--zip", "a training format (a native export is a folder)", "--format native")
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    store = open_store(ctx)
    if fmt != "native":
        try:
            with progress_bar(f"exporting {project} as {fmt}") as progress:
                options: dict[str, Any] = {"link": True} if link_media and takes_option(fmt, "link") else {}
                if no_media and takes_option(fmt, "with_media"):
                    options["with_media"] = False
                rep = export_dataset(store, project, fmt, out, as_of=as_of, progress=progress, **options)
        finally:
            store.close()
        console.print(f"exported {rep.items} items, {rep.regions} regions as {fmt} to {out}; {len(rep.errors)} skipped")
        for e in rep.errors[:MAX_SHOWN_ERRORS]:
            err_console.print(f"  skipped {e}", soft_wrap=True, markup=False)
        return
    try:
        with progress_bar(f"exporting {project}") as progress:
            r = export_native(store, project, out, as_of=as_of, include_media=not no_media, progress=progress)
    finally:
        store.close()
    console.print(
        f"exported {r.items} items, {r.suggestions} suggestions, {r.annotations} annotations, {r.reviews} reviews, "
        f"{r.media_files} media files to {out}"
    )


def restore_cmd(
    ctx: typer.Context,
    src: Annotated[Path, typer.Argument(help="A folder written by 'labelloop export'.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Name of the new project (default: the exported one).")
    ] = None,
) -> None:
    """Restore a native export as a new project, all or nothing.

    Example: ``labelloop restore backups/reviews-2026-11-23 --name reviews-copy``
    """
    store = open_store(ctx)
    try:
        with progress_bar(f"restoring {src.name}") as progress:
            r = restore_native(store, src, name=name, progress=progress)
    finally:
        store.close()
    console.print(
        f"restored project {r.project!r}: {r.items} items, {r.suggestions} suggestions, "
        f"{r.annotations} annotations, {r.reviews} reviews"
    )


def register(app: typer.Typer) -> None:
    """Add the data commands to the root app."""
    app.command("import")(import_cmd)
    app.command("export")(export_cmd)
    app.command("restore")(restore_cmd)
