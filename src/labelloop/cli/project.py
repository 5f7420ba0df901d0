"""``labelloop project``: create, list and inspect projects."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from labelloop.cli._common import console, open_store
from labelloop.core import Actor
from labelloop.errors import InvalidSchema
from labelloop.services.projects import create_project, load_schema, project_summary, schema_from_flags

app = typer.Typer(help="Projects.", no_args_is_help=True)


@app.command("create")
def create_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A new project name.")],
    schema_file: Annotated[Path | None, typer.Option("--schema", help="Label schema file (YAML or JSON).")] = None,
    media: Annotated[list[str] | None, typer.Option("--media", help="KIND or NAME:KIND (repeatable).")] = None,
    control: Annotated[
        list[str] | None, typer.Option("--control", help="NAME:KIND:TARGET[:LABELS] (repeatable).")
    ] = None,
) -> None:
    """Create a project from a schema file or flags.

    Example: ``labelloop project create reviews --media text --control sentiment:classification:text:pos,neg``
    """
    if schema_file is not None and (media or control):
        raise InvalidSchema("give either --schema or --media/--control, not both")
    if schema_file is not None:
        schema = load_schema(schema_file)
    elif media:
        schema = schema_from_flags(media, control or [])
    else:
        raise InvalidSchema("a project needs --schema FILE or at least one --media flag")
    store = open_store(ctx)
    try:
        p = create_project(store, name, schema, Actor.user(getpass.getuser()))
    finally:
        store.close()
    console.print(f"created project {p.name!r} (id {p.id}) with media {[m.name for m in schema.media]}")


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """List projects with their item and label counts."""
    store = open_store(ctx)
    try:
        with store.read() as tx:
            rows = [(p, tx.projects.counts(p.id)) for p in tx.projects.list()]
    finally:
        store.close()
    table = Table("id", "name", "media", "items", "suggestions", "annotations", "reviews")
    for p, c in rows:
        table.add_row(
            str(p.id),
            p.name,
            ",".join(m.kind.value for m in p.schema.media),
            *(str(c[k]) for k in ("items", "suggestions", "annotations", "reviews")),
        )
    console.print(table)


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    json_schema: Annotated[bool, typer.Option("--json-schema", help="Print the annotation JSON Schema.")] = False,
) -> None:
    """Show a project's summary (or the JSON Schema of its annotations)."""
    store = open_store(ctx)
    try:
        if json_schema:
            with store.read() as tx:
                console.print_json(json.dumps(tx.projects.get(project).schema.json_schema()))
            return
        console.print_json(json.dumps(project_summary(store, project)))
    finally:
        store.close()
