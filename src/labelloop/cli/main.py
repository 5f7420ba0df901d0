"""The ``labelloop`` command: a root app with one sub-app or command per module.

Errors print one line, ``error[CODE]: message``, and exit with the error's exit code; no
traceback reaches the user unless ``LABELLOOP_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from labelloop.cli import (
    audit,
    calibrate,
    data,
    db,
    demo,
    desensitise,
    experiment,
    learn,
    preannotate,
    project,
    route,
    schema,
    serve,
    simulate,
)
from labelloop.cli import qc as qc_cli
from labelloop.cli import release as release_cli
from labelloop.cli import user as user_cli
from labelloop.cli._common import err_console
from labelloop.config import Settings
from labelloop.errors import LabelloopError

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="labelloop",
    help="Automated data annotation: import, pre-annotate, review, measure and export labels.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data folder (blobs, default SQLite). Env: LABELLOOP_DATA_DIR.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="SQLAlchemy URL. Env: LABELLOOP_DATABASE_URL.")
    ] = None,
) -> None:
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    ctx.obj = Settings(**overrides)  # type: ignore[arg-type]


app.add_typer(project.app, name="project")
app.add_typer(schema.app, name="schema")
app.add_typer(db.app, name="db")
app.add_typer(user_cli.app, name="user")
app.add_typer(release_cli.app, name="release")
app.add_typer(audit.app, name="audit")
app.add_typer(experiment.app, name="experiment")
data.register(app)
demo.register(app)
serve.register(app)
preannotate.register(app)
simulate.register(app)
qc_cli.register(app)
calibrate.register(app)
route.register(app)
learn.register(app)
desensitise.register(app)

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (never raises)."""
    try:
        app(args=argv, prog_name="labelloop", standalone_mode=False)
    except LabelloopError as exc:
        err_console.print(f"[red]error[{exc.code}][/red]: {exc}", markup=True, highlight=False, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        return EXIT_INTERRUPTED
    except typer.TyperException as exc:  # usage errors (the CLI library's own exceptions)
        fmt = getattr(exc, "format_message", None)
        message = fmt() if callable(fmt) else str(exc)
        err_console.print(f"error[LL-USAGE]: {message}", soft_wrap=True, markup=False)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        err_console.print("interrupted: the running transaction was rolled back")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("LABELLOOP_DEBUG"):
            raise
        err_console.print(
            f"error[LL-INTERNAL]: unexpected {type(exc).__name__}: {exc} (set LABELLOOP_DEBUG=1 for the traceback)",
            soft_wrap=True,
        )
        return EXIT_INTERNAL
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
