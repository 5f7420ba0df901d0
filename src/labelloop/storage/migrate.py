"""Schema migrations (Alembic), run programmatically.

A database is upgraded to the newest revision when labelloop opens it. A database whose
revision this labelloop does not know (made by a newer version) is refused, never touched.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from labelloop.errors import StorageError

__all__ = ["current_revision", "head_revision", "upgrade"]


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "labelloop.storage:migrations")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """Return the newest revision this labelloop knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the database's revision (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Upgrade the database to the newest revision, atomically where the backend allows.

    Raises:
        StorageError: the database carries a revision this labelloop does not know.
    """
    script = ScriptDirectory.from_config(_config())
    current = current_revision(engine)
    if current is not None:
        try:
            script.get_revision(current)
        except Exception as exc:  # alembic raises several kinds for an unknown revision
            raise StorageError(
                f"database schema revision {current!r} is unknown to this labelloop "
                f"(newest known: {head_revision()!r}); upgrade labelloop instead"
            ) from exc
    with engine.begin() as conn:
        command.upgrade(_config(conn), "head")
    return head_revision()
