"""``labelloop simulate``: human-effort simulation of labelling strategies."""

from __future__ import annotations

from typing import Annotated

import typer

from labelloop.cli._common import console
from labelloop.services.simulate import STRATEGIES, SimConfig, simulate


def simulate_cmd(
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset: digits.")] = "digits",
    strategy: Annotated[
        list[str] | None, typer.Option("--strategy", "-s", help=f"One of {', '.join(STRATEGIES)}; repeatable.")
    ] = None,
    target: Annotated[float, typer.Option("--target", help="Required accuracy of auto-accepted labels.")] = 0.98,
    model: Annotated[str, typer.Option("--model", help="Routing model: spreading or logreg.")] = "spreading",
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the quality certificates as JSON.")] = False,
) -> None:
    """Simulate people labelling a dataset with each strategy; report human time and accuracy.

    Example: ``labelloop simulate --dataset digits --strategy manual --strategy active``
    """
    cfg = SimConfig(target=target, model=model)
    for name in strategy or list(STRATEGIES):
        r = simulate(dataset, name, config=cfg, seed=seed)
        held = "n/a" if r.bound_held is None else ("held" if r.bound_held else "BROKEN")
        auto = "" if r.auto_accuracy is None else f" ({r.auto_accuracy:.4f} right vs gold)"
        console.print(
            f"{name:>7}: human time {r.time_fraction:.3f} of manual, actions {r.action_fraction:.3f}/item, "
            f"accuracy {r.accuracy:.4f}, auto-accepted {r.auto_accepted}{auto}, bound {held}"
        )
        if json_out and r.certificate is not None:
            console.print_json(r.certificate.to_json())


def register(app: typer.Typer) -> None:
    """Add the command to the root app."""
    app.command("simulate")(simulate_cmd)
