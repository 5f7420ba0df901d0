"""``labelloop experiment``: A/B experiments of labelling strategies on a live project."""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer
from rich.table import Table

from labelloop.cli._common import console, open_store
from labelloop.core import Actor
from labelloop.services.experiment_readout import experiment_readout
from labelloop.services.experiments import (
    ExperimentInfo,
    create_experiment,
    list_experiments,
    parse_arm_options,
    stop_experiment,
)

app = typer.Typer(help="A/B experiments: two labelling strategies on randomly split items.", no_args_is_help=True)

_ARM_HELP = (
    "A setting of arm {arm}, as key=value; repeat for several: prefill=on|off, backend=NAME[@VERSION] "
    "(pre-fill only its suggestions), guideline=TEXT (shown with the task), accept_threshold=T (0 < T <= 1: a floor "
    "on the calibrated score of the arm's auto-accepted labels; routing still needs the certified threshold)."
)


def _actor() -> str:
    return Actor.user(getpass.getuser())


def _print_experiment(e: ExperimentInfo) -> None:
    doc = e.to_json()
    console.print(
        f"experiment {e.name!r} (#{e.id}, {e.status}): {e.items['a']} items in arm a, {e.items['b']} in arm b "
        f"(scope {e.scope}, seed {e.seed})",
        markup=False,
        soft_wrap=True,
    )
    for arm in ("a", "b"):
        console.print(f"  arm {arm}: {doc['described'][arm]}", markup=False, soft_wrap=True)


@app.command("create")
def create_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    name: Annotated[str, typer.Argument(help="Experiment name (unique in the project).")],
    a: Annotated[list[str], typer.Option("--a", help=_ARM_HELP.format(arm="a"))],
    b: Annotated[list[str], typer.Option("--b", help=_ARM_HELP.format(arm="b"))],
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the random split (default: random).")] = None,
    unlabelled: Annotated[
        bool, typer.Option("--unlabelled", help="Split only the items with no label yet (default: all items).")
    ] = False,
) -> None:
    """Split the project's items at random into arms a and b; ``next`` then applies each item's arm.

    Example: ``labelloop experiment create reviews prefill --a prefill=on --b prefill=off --seed 7``
    """
    store = open_store(ctx)
    try:
        e = create_experiment(
            store, project, name, parse_arm_options("a", a), parse_arm_options("b", b), seed=seed,
            scope="unlabelled" if unlabelled else "all", actor=_actor(),
        )  # fmt: skip
    finally:
        store.close()
    _print_experiment(e)


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The project's experiments, oldest first.

    Example: ``labelloop experiment list reviews``
    """
    store = open_store(ctx)
    try:
        found = list_experiments(store, project)
    finally:
        store.close()
    if json_out:
        console.print_json(json.dumps([e.to_json() for e in found]))
        return
    if not found:
        console.print("no experiments", markup=False)
    for e in found:
        _print_experiment(e)


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:.1%}" if pct else f"{v:.2f}"


def _interval(ci: list[Any], pct: bool = False) -> str:
    return "-" if ci[0] is None else f"[{_fmt(ci[0], pct)}, {_fmt(ci[1], pct)}]"


def _p(test: dict[str, Any], key: str) -> str:
    return test["reason"] if test[key] is None else f"p = {test[key]:.4g}" + (" *" if test["significant"] else "")


def _print_readout(doc: dict[str, Any]) -> None:
    e, arms, tests = doc["experiment"], doc["arms"], doc["tests"]
    conf = f"{doc['confidence']:.0%}"
    t = Table(title=f"experiment {e['name']} ({e['status']}): arm b against arm a, {conf} intervals")
    for col in ("", "arm a", "arm b", "b - a", "test"):
        t.add_column(col, overflow="fold")
    a, b = arms["a"], arms["b"]
    t.add_row("strategy", a["strategy"], b["strategy"], "", "")
    t.add_row("items (done)", f"{a['items']} ({a['items_done']})", f"{b['items']} ({b['items_done']})", "", "")
    t.add_row("tasks", str(a["tasks"]), str(b["tasks"]), "", "")
    for key, label, pct, test, p in (
        ("accuracy", "accuracy", True, tests["accuracy"], "fisher_p"),
        ("seconds", "seconds per task", False, tests["seconds"], "welch_p"),
        ("agreement", "agreement", True, tests["agreement"], "fisher_p"),
    ):
        cells = [f"{_fmt(x[key]['value'], pct)} {_interval(x[key]['ci'], pct)} (n {x[key]['n']})" for x in (a, b)]
        t.add_row(label, *cells, _fmt(test["diff"], pct), _p(test, p))
    t.add_row("time missing", str(a["seconds"]["missing"]), str(b["seconds"]["missing"]), "", "")
    refs = [", ".join(f"{k} {v}" for k, v in x["accuracy"]["reference"].items()) for x in (a, b)]
    t.add_row("accuracy judged by", *refs, "", "")
    if "auto_accept" in doc:
        _auto_rows(t, a["auto_accept"], b["auto_accept"], tests)
    console.print(t)
    console.print(f"reference: {doc['reference_rule']}", markup=False, soft_wrap=True)
    if "auto_accept" in doc:
        console.print(
            "auto-accept: floor = the arm's accept_threshold; effective = the threshold its items had to reach in the "
            f"latest routing run (calibrated score); {doc['auto_accept']['rule']}",
            markup=False,
            soft_wrap=True,
        )
        for note in doc["auto_accept"]["notes"]:
            console.print(f"note: {note}", markup=False, soft_wrap=True)
    console.print(f"unit: {doc['unit']}", markup=False, soft_wrap=True)
    console.print("* significant at the stated level (Fisher's exact test for proportions, Welch's t for time)",
                  markup=False)  # fmt: skip


def _thresholds(eff: dict[str, Any] | None) -> str:
    if not eff:
        return "- (no routing run yet)"
    return ", ".join(f"{k}: {'never' if v is None else f'{v:.4f}'}" for k, v in eff.items())


def _auto_rows(t: Table, a: dict[str, Any], b: dict[str, Any], tests: dict[str, Any]) -> None:
    """The auto-accept rows of threshold arms: floor, effective threshold, share and audited accuracy."""
    floor = ["-" if x["accept_threshold"] is None else f"{x['accept_threshold']:g}" for x in (a, b)]
    t.add_row("floor", *floor, "", "")
    t.add_row("effective", _thresholds(a["effective"]), _thresholds(b["effective"]), "", "")
    for key, label, test in (
        ("share", "auto share", tests["auto_share"]),
        ("audited_accuracy", "auto accuracy", tests["auto_accuracy"]),
    ):
        cells = [f"{_fmt(x[key]['value'], True)} {_interval(x[key]['ci'], True)} (n {x[key]['n']})" for x in (a, b)]
        t.add_row(label, *cells, _fmt(test["diff"], True), _p(test, "fisher_p"))
    t.add_row("audits pending", str(a["pending_audits"]), str(b["pending_audits"]), "", "")


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    name: Annotated[str, typer.Argument(help="Experiment name or id.")],
    confidence: Annotated[float, typer.Option("--confidence", help="Of the intervals; tests at 1 - it.")] = 0.95,
    json_out: Annotated[bool, typer.Option("--json", help="Print the readout as JSON (null where undefined).")] = False,
) -> None:
    """The readout: accuracy, seconds per task and agreement per arm, with intervals and tests.

    Example: ``labelloop experiment show reviews prefill --json``
    """
    store = open_store(ctx)
    try:
        doc = experiment_readout(store, project, name, confidence=confidence).to_json()
    finally:
        store.close()
    if json_out:
        console.print_json(json.dumps(doc, allow_nan=False))
    else:
        _print_readout(doc)


@app.command("stop")
def stop_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    name: Annotated[str, typer.Argument(help="Experiment name or id.")],
) -> None:
    """Stop an experiment: its arms no longer apply to tasks; the split stays for the readout.

    Example: ``labelloop experiment stop reviews prefill``
    """
    store = open_store(ctx)
    try:
        e = stop_experiment(store, project, name, actor=_actor())
    finally:
        store.close()
    _print_experiment(e)
