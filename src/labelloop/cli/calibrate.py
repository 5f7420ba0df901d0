"""``labelloop calibrate``: fit a backend's score calibration on a project's reviewed items."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from labelloop.cli._common import console, open_store
from labelloop.services.calibrate import fit_calibration


def calibrate_cmd(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    backend: Annotated[str, typer.Option("--backend", "-b", help="Backend whose scores to calibrate.")],
    method: Annotated[
        str, typer.Option("--method", help="auto (isotonic from 200 reviewed items), temperature or isotonic.")
    ] = "auto",
    min_pairs: Annotated[int, typer.Option("--min-pairs", min=2, help="Fewest reviewed items to fit on.")] = 20,
) -> None:
    """Fit the calibration of a backend's scores and print the calibration error before and after.

    Example: ``labelloop calibrate reviews --backend text.classify``
    """
    if method not in ("auto", "temperature", "isotonic"):
        raise typer.BadParameter("expected auto, temperature or isotonic", param_hint="--method")
    chosen: Literal["auto", "temperature", "isotonic"] = method  # type: ignore[assignment]
    store = open_store(ctx)
    try:
        r = fit_calibration(store, project, backend, method=chosen, min_pairs=min_pairs)
    finally:
        store.close()
    cv = "n/a" if r.ece_after_cv is None else f"{r.ece_after_cv:.3f}"
    console.print(
        f"{r.backend} in {r.project}: {r.method} on {r.n} reviewed items (accuracy {r.accuracy:.3f}); "
        f"ECE {r.ece_before:.3f} → {r.ece_after:.3f} (5-fold: {cv}); saved to {r.path}"
    )


def register(app: typer.Typer) -> None:
    """Add the command to the root app."""
    app.command("calibrate")(calibrate_cmd)
