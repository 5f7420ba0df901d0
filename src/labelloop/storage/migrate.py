"""Schema migrations (Alembic), run programmatically.

A database is upgraded to the newest revision when labelloop opens it. A database whose
revision this labelloop does not know (made by a newer version) is refused, never touched.

Alembic (with Mako and Pygments) is imported only when a database is not at :data:`HEAD`
already: opening an up-to-date database, as every server start does, reads one row instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from labelloop.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD", "current_revision", "head_revision", "upgrade"]

HEAD = "0016"
"""The newest revision in ``migrations/versions`` (the chain is linear; a test checks they agree)."""


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "labelloop.storage:migrations")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """Return the newest revision this labelloop knows (read from the migration scripts)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the database's revision (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _at_head(engine: Engine) -> bool:
    """Whether the database's one recorded revision is :data:`HEAD` (False when it has none)."""
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:  # no alembic_version table yet: a new database
        return False
    return [r[0] for r in rows] == [HEAD]


def upgrade(engine: Engine) -> str:
    """Upgrade the database to the newest revision, atomically where the backend allows.

    Raises:
        StorageError: the database carries a revision this labelloop does not know.
    """
    if _at_head(engine):
        return HEAD
    from alembic import command
    from alembic.script import ScriptDirectory

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
