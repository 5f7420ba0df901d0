"""``labelloop db``: schema migrations."""

from __future__ import annotations

import typer

from labelloop.cli._common import console, settings
from labelloop.storage import Store
from labelloop.storage.migrate import current_revision, head_revision

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(ctx: typer.Context) -> None:
    """Upgrade the database to the newest schema revision.

    Example: ``labelloop db upgrade``
    """
    s = settings(ctx)
    store = Store.open(s.database_url, s.data_dir, migrate=True)
    console.print(f"database at revision {current_revision(store.engine)}")
    store.close()


@app.command("current")
def current_cmd(ctx: typer.Context) -> None:
    """Print the database's schema revision and the newest known one."""
    s = settings(ctx)
    store = Store.open(s.database_url, s.data_dir, migrate=False)
    console.print(f"current: {current_revision(store.engine)}  head: {head_revision()}")
    store.close()
