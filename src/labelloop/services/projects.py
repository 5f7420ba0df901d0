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
from labelloop.errors import InputRejected, InvalidSchema
from labelloop.storage import Store

__all__ = [
    "SchemaProblems",
    "check_project_name",
    "create_from_config",
    "create_project",
    "load_schema",
    "parse_schema",
    "parse_schema_text",
    "project_summary",
    "schema_from_flags",
]


class SchemaProblems(InvalidSchema):
    """An invalid label schema, with one line per problem (``errors`` in the API's answer)."""

    def __init__(self, message: str, lines: list[str]) -> None:
        super().__init__(message)
        self.payload = {"errors": lines}


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
        raise SchemaProblems(f"{source}: invalid label schema: " + "; ".join(lines), lines) from None


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


class _NoAliasLoader(yaml.SafeLoader):
    """The safe loader without anchors and aliases (no "billion laughs" from a pasted config)."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)  # type: ignore[arg-type]


def parse_schema_text(text: str, *, source: str) -> LabelSchema:
    """Validate a label schema given as YAML or JSON text (a form, an API body).

    The same checks as :func:`load_schema`; YAML anchors and aliases are refused.

    Example:
        >>> parse_schema_text("media: [{name: text, kind: text}]", source="config").media[0].name
        'text'
        >>> parse_schema_text("media: [{name: text, kind: txt}]", source="config")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        labelloop.services.projects.SchemaProblems: config: invalid label schema: media.0.kind: Input should be ...

    Raises:
        InvalidSchema: not YAML/JSON, or not a valid schema (one line per problem).
    """
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a safe loader)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidSchema(f"{source}: expected YAML or JSON, got a syntax error: {exc}") from None
    return parse_schema(data, source=source)


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


def create_from_config(store: Store, name: str, config: str | dict[str, Any] | None, actor: str) -> Project:
    """Create a project from a name and a label config given as YAML/JSON text or as a mapping.

    The checks are those of ``labelloop project create``, plus :func:`check_project_name`.

    Raises:
        InputRejected: an unfit name.
        InvalidSchema: no config, or an invalid one (one line per problem).
        Conflict: a project of that name exists.
    """
    name = check_project_name(name)
    if config is None:
        raise InvalidSchema("label config: expected YAML or JSON text (or a schema object), got nothing")
    schema = (
        parse_schema_text(config, source="label config")
        if isinstance(config, str)
        else parse_schema(config, source="label config")
    )
    return create_project(store, name, schema, actor)


def check_project_name(name: str) -> str:
    """A project name for the web: trimmed, 1 to 200 printable characters, not only digits.

    (Digits alone would read as an id where a name or an id is accepted.)

    Raises:
        InputRejected: the name does not qualify.

    Example:
        >>> check_project_name("  street scenes ")
        'street scenes'
    """
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 200 or not cleaned.isprintable() or cleaned.isdigit():
        raise InputRejected("name", "1 to 200 printable characters, not only digits", repr(name[:50]))
    return cleaned


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
