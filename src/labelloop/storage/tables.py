"""Table definitions (SQLAlchemy Core). The migrations create exactly these.

Suggestions, annotations and reviews are append-only: database triggers refuse UPDATE and
DELETE on them (see the initial migration), so history cannot be rewritten.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

__all__ = [
    "APPEND_ONLY_TABLES",
    "annotations",
    "blobs",
    "import_errors",
    "imports",
    "items",
    "metadata",
    "projects",
    "reviews",
    "suggestions",
]

metadata: MetaData = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JsonType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: labelloop stores UTC-aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Sha256(TypeDecorator[str]):
    """A SHA-256 given as 64 hex characters, stored as its 32 raw bytes.

    Half the size of the hex text in the unique index that de-duplicates items, which keeps
    bulk imports fast as a project grows into the millions.
    """

    impl = LargeBinary(32)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else bytes.fromhex(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else bytes(value).hex()


def _who() -> Column[str]:
    return Column("created_by", String(200), nullable=False)


def _when() -> Column[datetime]:
    return Column("created_at", UTCDateTime(), nullable=False)


projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("schema", JsonType, nullable=False),
    _when(),
    _who(),
)

blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("meta", JsonType, nullable=False),
    _when(),
)

imports = Table(
    "imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False, index=True),
    Column("source", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("items", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("message", Text, nullable=False, default=""),
    Column("finished_at", UTCDateTime(), nullable=True),
    _when(),
    _who(),
)

import_errors = Table(
    "import_errors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("import_id", ForeignKey("imports.id"), nullable=False, index=True),
    Column("source", Text, nullable=False),
    Column("line", Integer, nullable=True),
    Column("code", String(40), nullable=False),
    Column("reason", Text, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("key", String(512), nullable=True),
    Column("content_hash", Sha256(), nullable=False),
    Column("data", JsonType, nullable=False),
    Column("meta", JsonType, nullable=False),
    Column("source", Text, nullable=False),
    Column("import_id", ForeignKey("imports.id"), nullable=True),
    _when(),
    _who(),
    UniqueConstraint("project_id", "content_hash", name="uq_items_project_content"),
    # Partial: most items have no external key, and an entry per item would slow bulk imports.
    Index(
        "ix_items_project_key",
        "project_id",
        "key",
        sqlite_where=text("key IS NOT NULL"),
        postgresql_where=text("key IS NOT NULL"),
    ),
    Index("ix_items_project_id", "project_id", "id"),  # keyset pages of a project
)

suggestions = Table(
    "suggestions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("value", JsonType, nullable=False),
    Column("score", Float, nullable=True),
    Column("backend", String(200), nullable=False),
    Column("model_version", String(200), nullable=False),
    _when(),
    _who(),
    # by item last: the pending-items anti-join of pre-annotation is one range (migration 0015)
    Index("ix_suggestions_project_model", "project_id", "backend", "model_version", "item_id"),
    Index("ix_suggestions_project_item", "project_id", "item_id"),  # labels of a page of items
)

annotations = Table(
    "annotations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False, index=True),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("value", JsonType, nullable=False),
    Column("annotator", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("lead_time_s", Float, nullable=True),
    Column("parent_id", ForeignKey("annotations.id"), nullable=True, index=True),
    Column("suggestion_id", ForeignKey("suggestions.id"), nullable=True),
    _when(),
    _who(),
    Index("ix_annotations_project_item", "project_id", "item_id"),  # labels of a page of items
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("annotation_id", ForeignKey("annotations.id"), nullable=False, index=True),
    Column("reviewer", String(200), nullable=False),
    Column("verdict", String(20), nullable=False),
    Column("correction_id", ForeignKey("annotations.id"), nullable=True),
    Column("comment", Text, nullable=False),
    _when(),
    _who(),
    Index("ix_reviews_project_item", "project_id", "item_id"),  # labels of a page of items
)

APPEND_ONLY_TABLES = ("suggestions", "annotations", "reviews")
from labelloop.storage import tables_accounts as _tables_accounts  # noqa: E402,F401  (web app tables)
from labelloop.storage import tables_experiments as _tables_experiments  # noqa: E402, F401  (A/B experiments)
from labelloop.storage import tables_jobs as _tables_jobs  # noqa: E402, F401  (background jobs)
from labelloop.storage import tables_provenance as _tables_provenance  # noqa: E402, F401  (provenance tables)
from labelloop.storage import tables_quality as _tables_quality  # noqa: E402, F401  (registers on metadata)
from labelloop.storage import tables_releases  # noqa: E402, F401  (releases)
from labelloop.storage import tables_routing as _tables_routing  # noqa: E402, F401  (live routing, learning)
