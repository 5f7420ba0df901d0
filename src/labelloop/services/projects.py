"""Project use cases: label schemas from files or flags, project creation and summaries.

Example:
    >>> s = schema_from_flags(["text"], ["sentiment:classification:text:pos,neg"])
    >>> [c.name for c in s.controls]
    ['sentiment']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from labelloop.core import LabelSchema, Project
from labelloop.errors import InvalidSchema
from labelloop.storage import Store

__all__ = ["create_project", "load_schema", "parse_schema", "project_summary", "schema_from_flags"]


def parse_schema(data: Any, *, source: str) -> LabelSchema:
    """Validate a schema dict; errors name the source and the field path.

    Raises:
        InvalidSchema: one line per problem.
    """
    if not isinstance(data, dict):
        raise InvalidSchema(f"{source}: expected a mapping with 'media' and 'controls', got {type(data).__name__}")
    try:
        return LabelSchema.model_validate(data)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"])
            msg = e["msg"].removeprefix("Value error, ")
            lines.append(f"{loc}: {msg}" if loc else msg)
        raise InvalidSchema(f"{source}: invalid label schema: " + "; ".join(lines)) from None


def load_schema(path: Path) -> LabelSchema:
    """Read a YAML or JSON label schema file (safe loader only).

    Raises:
        InvalidSchema: unreadable, not YAML/JSON, or not a valid schema.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSchema(f"{path}: expected a readable UTF-8 schema file, got {exc}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidSchema(f"{path}: expected YAML or JSON, got a syntax error: {exc}") from None
    return parse_schema(data, source=str(path))


def schema_from_flags(media: list[str], controls: list[str]) -> LabelSchema:
    """Build a schema from CLI flags.

    Args:
        media: ``KIND`` or ``NAME:KIND`` (``text``, ``photo:image``).
        controls: ``NAME:KIND:TARGET[:LABEL,LABEL...]``
            (``objects:boxes:image:car,person``).

    Raises:
        InvalidSchema: a flag is malformed.
    """
    m = []
    for flag in media:
        name, _, kind = flag.rpartition(":")
        m.append({"name": name or kind, "kind": kind})
    c = []
    for flag in controls:
        parts = flag.split(":")
        if len(parts) not in (3, 4):
            raise InvalidSchema(f"--control {flag!r}: expected NAME:KIND:TARGET[:LABELS], got {len(parts)} parts")
        entry: dict[str, Any] = {"name": parts[0], "kind": parts[1], "target": parts[2]}
        if len(parts) == 4:
            entry["labels"] = [x.strip() for x in parts[3].split(",") if x.strip()]
        c.append(entry)
    return parse_schema({"media": m, "controls": c}, source="command-line flags")


def create_project(store: Store, name: str, schema: LabelSchema, actor: str) -> Project:
    """Create a project (name must be new)."""
    with store.transaction() as tx:
        return tx.projects.create(name, schema, actor)


def project_summary(store: Store, project: str | int) -> dict[str, Any]:
    """Name, media, controls and record counts of a project."""
    with store.read() as tx:
        p = tx.projects.get(project)
        counts = tx.projects.counts(p.id)
    return {
        "id": p.id,
        "name": p.name,
        "media": {m.name: m.kind.value for m in p.schema.media},
        "controls": {c.name: c.kind.value for c in p.schema.controls},
        "created_at": p.created_at.isoformat(),
        "created_by": p.created_by,
        **counts,
    }
