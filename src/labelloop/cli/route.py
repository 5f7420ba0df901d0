"""``labelloop route``: tier a project's suggestions with a certified auto-accept threshold."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from labelloop.cli._common import console, open_store
from labelloop.services.live_routing import RoutePolicy, current_certificate, route_project


def _pct(v: Any) -> str:
    return "-" if v is None else f"{float(v):.4f}"


def _ci(v: Any) -> str:
    return "-" if not v else f"[{float(v[0]):.4f}, {float(v[1]):.4f}]"


def print_run(out: Console, cert: dict[str, Any]) -> None:
    """A run's certificate as rich tables: tiers and evidence, then per class."""
    head = Table(title=f"route run {cert.get('run_id')}: {cert.get('backend')} @ {cert.get('model_version')}")
    head.add_column("what")
    head.add_column("value", overflow="fold")
    tiers = cert.get("tiers", {})
    head.add_row("tiers", ", ".join(f"{k} {v}" for k, v in tiers.items()))
    head.add_row("target", f"{cert['target']:.0%} accuracy at {cert['confidence']:.0%} confidence ({cert['mode']})")
    ts = cert.get("thresholds", {})
    head.add_row("thresholds", ", ".join(f"{k}: {_pct(v) if v is not None else 'never'}" for k, v in ts.items()))
    ev = cert.get("evidence", {})
    head.add_row("evidence", ", ".join(f"{k} {v}" for k, v in ev.items()))
    head.add_row(
        "audited",
        f"{cert['audited_correct']}/{cert['audited']} right ({cert['basis']}), accuracy {_pct(cert['accuracy'])}",
    )
    head.add_row(f"{cert['confidence']:.0%} interval", _ci(cert["ci"]))
    head.add_row("lower bound", f"{_pct(cert['lower'])} ({'holds' if cert['holds'] else 'not certified'})")
    if not cert["certified"]:
        head.add_row("to unlock", f"{cert['needed']} more clean audited items")
    out.print(head)
    per = cert.get("per_class", {})
    if per:
        t = Table(title="per class")
        for col in ("class", "threshold", "auto", "audited", "right", "accuracy", "interval"):
            t.add_column(col)
        for name, c in per.items():
            t.add_row(
                name, _pct(c["threshold"]), str(c["auto"]), str(c["audited"]), str(c["correct"]),
                _pct(c["accuracy"]), _ci(c["ci"]),
            )  # fmt: skip
        out.print(t)
    for note in cert.get("caveats", []):
        out.print(f"  note: {note}", soft_wrap=True, markup=False)


def print_project(out: Console, cert: dict[str, Any]) -> None:
    """A project's certificate as a rich table: tiers, then each model with auto-accepted labels."""
    t = Table(
        title=f"project {cert['project']}: {cert['auto_labels']} auto-accepted labels (as of run {cert['as_of_run']})"
    )
    for col in ("model", "auto", "thresholds", "audited", "accuracy", "interval", "lower", "holds"):
        t.add_column(col, overflow="fold")
    for m in cert.get("models", []):
        ts = ", ".join(f"{k}: {_pct(v)}" for k, v in (m.get("thresholds") or {}).items())
        t.add_row(
            f"{m['backend']}@{m['model_version']}", str(m["auto"]), ts,
            f"{m.get('audited_correct')}/{m.get('audited')}", _pct(m.get("accuracy")), _ci(m.get("ci")),
            _pct(m.get("lower")), str(m.get("holds")),
        )  # fmt: skip
    out.print(t)
    out.print("tiers (items as last routed): " + (", ".join(f"{k} {v}" for k, v in cert["tiers"].items()) or "none"))


def route_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    backend: Annotated[
        str | None, typer.Option("--backend", "-b", help="Backend whose suggestions to route (default: the newest).")
    ] = None,
    target: Annotated[float, typer.Option("--target", help="Required accuracy of auto-accepted labels.")] = 0.98,
    confidence: Annotated[float, typer.Option("--confidence", help="Confidence of that claim.")] = 0.95,
    audit_rate: Annotated[
        float, typer.Option("--audit-rate", help="Share of newly routed items kept for people, blind.")
    ] = 0.05,
    manual_below: Annotated[
        float, typer.Option("--manual-below", help="Calibrated score below which people label from scratch.")
    ] = 0.0,
    evidence: Annotated[
        str, typer.Option("--evidence", help="clean (blind labels only) or all (also reviews of pre-filled ones).")
    ] = "clean",
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="Route this model version (default: the newest).")
    ] = None,
    certificate: Annotated[
        bool, typer.Option("--certificate", help="Show the current certificate instead of routing.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the certificates as JSON.")] = False,
) -> None:
    """Route suggestions to auto-accept, review or manual, with a certified accuracy bound.

    With too little clean evidence nothing is auto-accepted and the run says how many more blind
    audited items would unlock it (149 for 98% at 95% confidence).

    Example: ``labelloop route reviews --backend text.classify --target 0.98 --confidence 0.95``
    """
    if evidence not in ("clean", "all"):
        raise typer.BadParameter("expected clean or all", param_hint="--evidence")
    store = open_store(ctx)
    try:
        if certificate:
            doc = current_certificate(store, project)
        else:
            policy = RoutePolicy(target, confidence, audit_rate, manual_below, "all" if evidence == "all" else "clean")
            r = route_project(store, project, backend, policy=policy, model_version=model_version)
            doc = {"project": r.project_certificate, "run": r.certificate, "message": r.message}
    finally:
        store.close()
    if json_out:
        typer.echo(json.dumps(doc, default=str))
        return
    if doc["run"] is not None:
        print_run(console, doc["run"])
    if doc["project"] is not None:
        print_project(console, doc["project"])
    console.print(doc["message"], soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``route`` to the root app."""
    app.command("route")(route_cmd)
