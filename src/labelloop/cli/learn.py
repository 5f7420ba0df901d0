"""``labelloop learn``: active-learning rounds on a live project (fit, re-predict, re-route, next batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labelloop.cli._common import console, open_store, progress_bar
from labelloop.cli.preannotate import _read_config  # the one YAML/JSON config reader of the CLI
from labelloop.services.learning import SAMPLERS, Sampler, run_learning_round
from labelloop.services.live_routing import RoutePolicy


def learn_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    backend: Annotated[str, typer.Option("--backend", "-b", help="A trainable backend (image.classify, ...).")],
    batch: Annotated[int, typer.Option("--batch", min=1, help="Items to put first in the queue per round.")] = 50,
    sampler: Annotated[str, typer.Option("--sampler", help="margin, entropy, least, kcenter or random.")] = "margin",
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Most rounds to run now.")] = 1,
    config: Annotated[Path | None, typer.Option("--config", help="Backend config (YAML or JSON).")] = None,
    target: Annotated[float, typer.Option("--target", help="Routing: required accuracy of auto labels.")] = 0.98,
    confidence: Annotated[float, typer.Option("--confidence", help="Routing: confidence of that claim.")] = 0.95,
    audit_rate: Annotated[float, typer.Option("--audit-rate", help="Routing: share kept for blind audit.")] = 0.05,
    manual_below: Annotated[
        float, typer.Option("--manual-below", help="Routing: calibrated score below which people label from scratch.")
    ] = 0.0,
) -> None:
    """Fit the backend on people's labels, re-predict, re-route, and put the next batch first in the queue.

    Rounds stop early when the stopping rule says learning is done, or when no label arrived
    since the last round (people label the batch between rounds).

    Example: ``labelloop learn digits --backend image.classify --batch 50 --sampler margin``
    """
    if sampler not in SAMPLERS:
        raise typer.BadParameter(f"expected one of {', '.join(sorted(SAMPLERS))}", param_hint="--sampler")
    chosen: Sampler = sampler  # type: ignore[assignment]
    cfg = _read_config(config)
    policy = RoutePolicy(target, confidence, audit_rate, manual_below)
    store = open_store(ctx)
    try:
        for n in range(1, rounds + 1):
            with progress_bar(f"round {n}: predicting", unit="items") as update:
                r = run_learning_round(
                    store, project, backend, batch=batch, sampler=chosen, config=cfg, policy=policy, progress=update
                )
            if r.nothing_new:
                console.print(f"round {n}: {r.reason}", soft_wrap=True, markup=False)
                break
            kappa = "n/a" if r.kappa is None else f"{r.kappa:.3f}"
            console.print(
                f"round {n} (#{r.round_id}): {backend}@{r.model_version} trained on {r.trained_on} labels "
                f"({r.held_out} audit labels held out), {r.predicted} new suggestions ({r.failed} failed), "
                f"stop-set kappa {kappa}; {r.reason}",
                soft_wrap=True,
                markup=False,
            )
            if r.route is not None:
                console.print(f"  route: {r.route.message}", soft_wrap=True, markup=False)
            if r.stop:
                break
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    """Add ``learn`` to the root app."""
    app.command("learn")(learn_cmd)
