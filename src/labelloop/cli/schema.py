"""``labelloop schema``: check schema files and print their JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from labelloop.cli._common import console
from labelloop.services.projects import load_schema

app = typer.Typer(help="Label schemas.", no_args_is_help=True)


@app.command("check")
def check_cmd(path: Annotated[Path, typer.Argument(help="Schema file (YAML or JSON).")]) -> None:
    """Validate a schema file; prints its media and controls.

    Example: ``labelloop schema check schema.yaml``
    """
    s = load_schema(path)
    console.print(f"{path}: valid; media {[m.name for m in s.media]}, controls {[c.name for c in s.controls]}")


@app.command("json-schema")
def json_schema_cmd(path: Annotated[Path, typer.Argument(help="Schema file (YAML or JSON).")]) -> None:
    """Print the JSON Schema that annotations of this schema must satisfy."""
    console.print_json(json.dumps(load_schema(path).json_schema()))
