"""``labelloop qc``: run quality control on a project and write its report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from labelloop.cli._common import console, open_store, progress_bar, settings
from labelloop.cli.preannotate import _read_config  # the one YAML/JSON config reader of the CLI
from labelloop.core import Actor
from labelloop.services.qc import gold_from_annotator, run_qc, set_qc_config
from labelloop.services.qc_report import qc_report, write_report


def qc_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="Where qc-PROJECT.json/.html go (default: DATA_DIR/reports).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the run and the report as JSON on stdout.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Check every item, not only those changed since.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML/JSON file with a 'qc:' section; stored for the project.")
    ] = None,
    gold_from: Annotated[
        str | None, typer.Option("--gold-from", help="Use this annotator's labels as gold labels first.")
    ] = None,
) -> None:
    """Check a project's labels (rules, model checks, gold, confident learning) and write a report.

    Findings become correction tasks; later runs only check items changed since the last run.

    Example: ``labelloop qc image-demo --report-dir reports --config qc.yaml``
    """
    store = open_store(ctx)
    actor = Actor.user("cli")
    try:
        if config is not None:
            set_qc_config(store, project, _read_config(config), actor, source=str(config))
        if gold_from is not None:
            n = gold_from_annotator(store, project, gold_from, actor)
            if not json_out:
                console.print(f"gold: {n} items labelled by {gold_from!r}")
        with progress_bar(f"QC {project}", unit="items") as update:
            result = run_qc(store, project, full=full, actor=actor, on_progress=update)
        report = qc_report(store, project)
        out = report_dir or Path(settings(ctx).data_dir) / "reports"
        js, page = write_report(report, out)
    finally:
        store.close()
    if json_out:
        payload = {"run": result.to_dict(), "report": report, "paths": {"json": str(js), "html": str(page)}}
        typer.echo(json.dumps(payload, default=str))
        return
    console.print(
        f"{project}: {result.mode} run #{result.run_id}, {result.items_checked} items checked, "
        f"{result.findings_new} new findings, {result.findings_resolved} resolved, {result.findings_open} open "
        f"({result.label_error_suspects} label-error suspects) in {result.elapsed_s:.2f}s",
        soft_wrap=True,
        markup=False,
    )
    for note in result.notes:
        console.print(f"  note: {note}", soft_wrap=True, markup=False)
    console.print(f"report: {page}\njson:   {js}", soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``qc`` to the root app."""
    app.command("qc")(qc_cmd)
