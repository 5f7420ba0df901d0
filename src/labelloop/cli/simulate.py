"""``labelloop simulate``: human-effort simulation of labelling strategies."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from labelloop.cli._common import console
from labelloop.services.sim_ab import SimArm, parse_arm, simulate_ab
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
    arm_a: Annotated[
        str | None,
        typer.Option("--arm-a", help="A/B: arm A as key=value pairs (strategy, target, confidence, model, ...)."),
    ] = None,
    arm_b: Annotated[str | None, typer.Option("--arm-b", help="A/B: arm B, as --arm-a.")] = None,
) -> None:
    """Simulate people labelling a dataset with each strategy; report human time and accuracy.

    With ``--arm-a`` and ``--arm-b``, an A/B experiment instead: the items are split at random,
    each arm runs on its half, and the readout compares accuracy, seconds per item and agreement.

    Example: ``labelloop simulate --dataset digits --strategy manual --strategy active``;
    ``labelloop simulate --arm-a strategy=tiered,target=0.9 --arm-b strategy=tiered,target=0.95``
    """
    if (arm_a is None) != (arm_b is None):
        raise typer.BadParameter("give both --arm-a and --arm-b", param_hint="--arm-b")
    if arm_a is not None and arm_b is not None:
        _ab(dataset, parse_arm(arm_a), parse_arm(arm_b), seed)
        return
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


def _ab(dataset: str, a: SimArm, b: SimArm, seed: int) -> None:
    r = simulate_ab(dataset, a, b, seed=seed)
    ro = r.readout
    table = Table("arm", "strategy", "items", "accuracy (CI)", "s/item (CI)", "agreement (CI)")
    for name, arm, s in (("A", a, ro.a), ("B", b, ro.b)):
        agr = "n/a" if s.agreement is None or s.agreement_ci is None else (
            f"{s.agreement:.3f} ({s.agreement_ci[0]:.3f}-{s.agreement_ci[1]:.3f})"
        )  # fmt: skip
        table.add_row(
            name, Text(arm.spec or arm.strategy), str(s.n),
            f"{s.accuracy:.4f} ({s.accuracy_ci[0]:.4f}-{s.accuracy_ci[1]:.4f})",
            f"{s.mean_seconds:.2f} ({s.seconds_ci[0]:.2f}-{s.seconds_ci[1]:.2f})", agr,
        )  # fmt: skip
    console.print(table)
    agr_p = "n/a" if ro.agreement_p is None else f"{ro.agreement_p:.3g}"
    console.print(
        f"B - A: accuracy {ro.accuracy_diff:+.4f} (z p={ro.accuracy_p:.3g}, Fisher p={ro.accuracy_fisher_p:.3g}); "
        f"seconds per item {ro.time_diff:+.2f} (Welch p={ro.time_p:.3g}); agreement p={agr_p}"
    )


def register(app: typer.Typer) -> None:
    """Add the command to the root app."""
    app.command("simulate")(simulate_cmd)
