"""``labelloop audit verify`` checks the tamper-evident provenance log; ``audit refusals`` lists refused requests."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from labelloop.cli._common import console, err_console, open_store
from labelloop.services import refusals
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


@app.command("refusals")
def refusals_cmd(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="How many (newest first), 1..1000.")] = 50,
    user: Annotated[str | None, typer.Option("--user", help="Only this username.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Requests the web API refused (401, 403, 404 outside one's reach, 429), newest first.

    Example: ``labelloop audit refusals --user alice``
    """
    store = open_store(ctx)
    try:
        rows = refusals.latest(store, limit, username=user)
    finally:
        store.close()
    if as_json:
        for r in rows:
            console.print_json(json.dumps(r))
        return
    table = Table("at", "user", "ip", "request", "status", "reason", "suppressed")
    for r in rows:
        cells = (
            r["at"], r["username"] or "-", r["ip"], f"{r['method']} {r['path']}", r["status"], r["reason"],
            r["suppressed"] or "",
        )  # fmt: skip
        table.add_row(*(Text(str(c)) for c in cells))  # (Text: no markup from request paths or names)
    console.print(table)
