"""``labelloop preannotate``: run a pre-annotation backend over a project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from labelloop.cli._common import console, err_console, open_store, progress_bar, settings
from labelloop.errors import InvalidSchema
from labelloop.plugins import PluginManager
from labelloop.services.preannotate import preannotate

MAX_SHOWN_ERRORS = 10


def _read_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidSchema(f"{path}: expected a readable YAML or JSON backend config, got {exc}") from None
    if not isinstance(data, dict):
        raise InvalidSchema(f"{path}: expected a mapping, got {type(data).__name__}")
    return data


def preannotate_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    backend: Annotated[str, typer.Option("--backend", "-b", help="Backend name, e.g. text.rules.")],
    config: Annotated[Path | None, typer.Option("--config", help="Backend config (YAML or JSON).")] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Items per batch (default: the backend's).")
    ] = None,
    engine: Annotated[str, typer.Option("--engine", help="local (this process) or ray.")] = "local",
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster address (default: start a local one).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="At most N of the items still to do (try a slow backend on a sample)."),
    ] = None,
) -> None:
    """Pre-annotate every item that has no suggestion from the backend's model version yet.

    Re-running resumes: done items are skipped and failed ones retried; with ``--limit N`` a run
    stops after N items and the next run goes on from there.

    Example: ``labelloop preannotate reviews --backend text.rules --config rules.yaml``
    """
    if engine not in ("local", "ray"):
        raise InvalidSchema(f"--engine: expected 'local' or 'ray', got {engine!r}")
    plugins = PluginManager()
    settings_config = _read_config(config)
    allow = list(settings(ctx).outbound_allow)
    store = open_store(ctx)
    try:
        with progress_bar(f"pre-annotating with {backend}") as progress:
            r = preannotate(
                store,
                project,
                backend,
                plugins=plugins,
                config=settings_config,
                batch_size=batch_size,
                progress=progress,
                engine="ray" if engine == "ray" else "local",
                ray_address=ray_address,
                options={"outbound_allow": allow},
                limit=limit,
            )
    finally:
        store.close()
    console.print(
        f"{r.backend}@{r.model_version}: {r.suggestions} suggestions, {r.failed} failed, "
        f"{r.skipped} already done; {r.items_per_s:.1f} items/s in {r.batches} batches"
    )
    if r.usage:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(r.usage.items()))
        console.print(f"usage ({r.engine}): {shown}", markup=False)
    for e in r.errors[:MAX_SHOWN_ERRORS]:
        err_console.print(f"  failed {e}", soft_wrap=True, markup=False)
    if r.failed > MAX_SHOWN_ERRORS:
        err_console.print(f"  … and {r.failed - MAX_SHOWN_ERRORS} more")


def register(app: typer.Typer) -> None:
    """Add the command to the root app."""
    app.command("preannotate")(preannotate_cmd)
