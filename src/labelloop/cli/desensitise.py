"""``labelloop desensitise``: PII out of texts, faces and plates out of images, before annotators see them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from labelloop.cli._common import console, err_console, open_store
from labelloop.core import Actor
from labelloop.errors import InputRejected
from labelloop.services.desensitise import configure, desensitise

__all__ = ["register"]

MAX_SHOWN = 10


def desensitise_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    config: Annotated[
        Path | None,
        typer.Option("--config", help="YAML/JSON with a 'compliance' mapping (pii, faces, plates) to store first."),
    ] = None,
) -> None:
    """Desensitise every item not yet processed; failures stay hidden from annotators.

    Example: ``labelloop desensitise reviews --config compliance.yaml``
    """
    import getpass

    store = open_store(ctx)
    try:
        if config is not None:
            try:
                text = config.read_text(encoding="utf-8")
                data = json.loads(text) if config.suffix.lower() == ".json" else yaml.safe_load(text)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
                raise InputRejected(str(config), "a readable YAML or JSON file", str(exc)) from None
            if isinstance(data, dict) and "compliance" in data:
                data = data["compliance"]
            configure(store, project, data, actor=Actor.user(getpass.getuser()))
        report = desensitise(store, project)
    finally:
        store.close()
    ents = ", ".join(f"{k} {v}" for k, v in sorted(report.entities.items())) or "none"
    console.print(
        f"desensitised {report.items} items: {report.redactions} redactions ({ents}), {report.faces} faces hidden, "
        f"{report.plates} plates hidden, {report.label_texts} redactions in label texts, "
        f"{len(report.failed)} failed (kept hidden)"
    )
    for item_id, reason in list(report.failed.items())[:MAX_SHOWN]:
        err_console.print(f"  item {item_id}: {reason}", soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    """Add the command to the root app."""
    app.command("desensitise")(desensitise_cmd)
