"""``labelloop audit verify``: check the tamper-evident provenance log."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from labelloop.cli._common import console, err_console, open_store
from labelloop.services.audit import TamperDetected, verify

__all__ = ["app"]

MAX_SHOWN = 20

app = typer.Typer(help="Audit the provenance log.", no_args_is_help=True)


@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Argument(help="Project name or id (default: every chain).")] = None,
    expect_head: Annotated[
        str | None, typer.Option("--expect-head", help="The chain head hash recorded elsewhere (catches a cut tail).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute the hash chain and the row digests; exit 9 (LL-TAMPER) naming the first bad event on tamper.

    Every chain head anchored in the data dir's anchor file must still be in its chain, so a cut
    tail is caught without ``--expect-head``; a log without an anchor file passes with a warning.

    Example: ``labelloop audit verify reviews``
    """
    store = open_store(ctx)
    try:
        report = verify(store, project)
    finally:
        store.close()
    head_ok = True
    if expect_head is not None:
        heads = [c.head for c in report.chains]
        head_ok = expect_head in heads
    if as_json:
        console.print_json(json.dumps({**report.to_dict(), "expected_head_found": head_ok}))
    else:
        for c in report.chains:
            extra = f", {c.unlogged_before_log} rows from before the log" if c.unlogged_before_log else ""
            state = "ok" if not c.problems else f"{len(c.problems)} problem(s)"
            console.print(
                f"chain {c.chain}: {c.events} events, {c.rows} rows checked{extra}, {c.anchors} anchors, "
                f"head {c.head}: {state}",
                soft_wrap=True,
            )
    for w in report.warnings:
        err_console.print(f"warning: {w}", soft_wrap=True, markup=False)
    if not report.ok:
        for p in report.problems[1:MAX_SHOWN]:
            err_console.print(f"  also: {p}", soft_wrap=True, markup=False)
        raise TamperDetected(f"TAMPERED: first bad: {report.first_bad}")
    if not head_ok:
        raise TamperDetected(f"TAMPERED: no chain ends at the expected head {expect_head} (events were cut)")
