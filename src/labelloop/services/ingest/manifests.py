"""JSONL and CSV manifests: one item per line (JSONL) or row (CSV).

A manifest names each media field of the project's schema: text inline, other media as a path
relative to the manifest's folder. Reserved keys: ``key`` (or ``id``), ``meta``,
``annotations`` and ``suggestions`` (JSONL only). Other keys go into ``meta``.

Example line (schema with media ``image`` and ``caption``)::

    {"key": "a1", "image": "files/a1.jpg", "caption": "一只猫", "meta": {"licence": "CC0-1.0"}}
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from labelloop.core import ItemError, LabelSchema, Medium
from labelloop.errors import InputRejected
from labelloop.services.ingest.candidates import Candidate, FileRef
from labelloop.services.ingest.lines import LineTooLong, iter_lines
from labelloop.services.ingest.paths import safe_join

__all__ = ["read_csv", "read_jsonl", "read_manifest"]

_RESERVED = {"key", "id", "meta", "annotations", "suggestions", "data"}


def _decode(raw: bytes, source: str, first: bool) -> str:
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputRejected(source, "UTF-8 text", f"invalid UTF-8 at byte {exc.start}") from None


def _media_fields(schema: LabelSchema) -> list[tuple[str, bool]]:
    """(name, is_text) of each media field, computed once per manifest."""
    return [(m.name, m.kind == Medium.TEXT) for m in schema.media]


def _to_candidate(
    obj: Any, media: list[tuple[str, bool]], root: Path, source: str, line: int, file: str, plain: frozenset[str]
) -> Candidate:
    """Build a candidate from a manifest line's object (the import's hot path: keep it lean).

    ``plain`` holds the keys that never go into ``meta`` (media fields and reserved keys).
    """
    if not isinstance(obj, dict):
        raise InputRejected(source, "a JSON object per line", type(obj).__name__)
    data = obj.get("data")
    if data is None:
        fields_src: dict[str, Any] = obj
    elif isinstance(data, dict):
        fields_src = data
    else:
        raise InputRejected(source, "'data' to be an object", type(data).__name__)
    fields: dict[str, str | FileRef] = {}
    for name, is_text in media:
        value = fields_src.get(name)
        if type(value) is not str:
            if value is None:
                raise InputRejected(source, f"a value for media field {name!r}", f"keys {sorted(fields_src)}")
            if not isinstance(value, str):
                raise InputRejected(source, f"{name!r} to be a string", type(value).__name__)
        fields[name] = value if is_text else FileRef(safe_join(root, value, source=source), value)
    key = obj.get("key")
    if key is None:
        key = obj.get("id")
    if key is not None and not isinstance(key, str | int):
        raise InputRejected(source, "'key' to be a string or integer", type(key).__name__)
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise InputRejected(source, "'meta' to be an object", type(meta).__name__)
    if data is None and not obj.keys() <= plain:
        extra = {k: v for k, v in obj.items() if k not in plain}
        meta = {**extra, **meta}
    annotations = obj.get("annotations") or []
    suggestions = obj.get("suggestions") or obj.get("predictions") or []
    if not isinstance(annotations, list) or not isinstance(suggestions, list):
        raise InputRejected(source, "'annotations' and 'suggestions' to be lists", "something else")
    return Candidate(
        source,
        line,
        fields,
        None if key is None else str(key),
        meta,
        annotations,
        suggestions,
        file,
    )


def _plain_keys(media: list[tuple[str, bool]]) -> frozenset[str]:
    return frozenset(_RESERVED | {"predictions"} | {name for name, _ in media})


def read_jsonl(
    f: BinaryIO, *, name: str, root: Path, schema: LabelSchema, max_line_bytes: int
) -> Iterator[Candidate | ItemError]:
    """Yield a candidate or an error for every non-blank line of a JSONL manifest."""
    media = _media_fields(schema)
    plain = _plain_keys(media)
    loads = orjson.loads
    for number, raw in iter_lines(f, max_bytes=max_line_bytes):
        if isinstance(raw, LineTooLong):
            yield ItemError(name, f"line is {raw.size} bytes, over the limit of {max_line_bytes}", line=number)
            continue
        if not raw or raw.isspace():
            continue
        source = f"{name}:{number}"
        try:
            data = raw[3:] if number == 1 and raw.startswith(b"\xef\xbb\xbf") else raw
            try:
                obj = loads(data)  # validates UTF-8 itself; decode only to explain a failure
            except orjson.JSONDecodeError as exc:
                _decode(data, name, first=False)
                raise InputRejected(source, "a JSON object", f"malformed JSON ({exc})") from None
            yield _to_candidate(obj, media, root, source, number, name, plain)
        except InputRejected as exc:
            yield ItemError(name, f"expected {exc.expected}, got {exc.got}", line=number)


def read_csv(
    f: BinaryIO, *, name: str, root: Path, schema: LabelSchema, max_line_bytes: int
) -> Iterator[Candidate | ItemError]:
    """Yield a candidate or an error for every data row of a CSV manifest (header first)."""
    state = {"line": 0}
    bad: list[ItemError] = []

    def physical_lines() -> Iterator[str]:
        for number, raw in iter_lines(f, max_bytes=max_line_bytes):
            state["line"] = number
            if isinstance(raw, LineTooLong):
                bad.append(
                    ItemError(name, f"line is {raw.size} bytes, over the limit of {max_line_bytes}", line=number)
                )
                continue
            try:
                yield _decode(raw, name, number == 1) + "\n"
            except InputRejected as exc:
                bad.append(ItemError(name, f"expected {exc.expected}, got {exc.got}", line=number))

    media = _media_fields(schema)
    plain = _plain_keys(media)
    csv.field_size_limit(max_line_bytes)
    reader = csv.reader(physical_lines(), strict=True)
    header: list[str] | None = None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield ItemError(name, f"malformed CSV row ({exc})", line=state["line"])
            continue
        finally:
            yield from bad
            bad.clear()
        line = state["line"]
        if header is None:
            header = [h.strip() for h in row]
            missing = [m.name for m in schema.media if m.name not in header]
            if missing:
                yield ItemError(name, f"expected CSV columns for media {missing}, got header {header}", line=line)
                return
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield ItemError(name, f"expected {len(header)} columns, got {len(row)}", line=line)
            continue
        obj = dict(zip(header, row, strict=True))
        try:
            yield _to_candidate(obj, media, root, f"{name}:{line}", line, name, plain)
        except InputRejected as exc:
            yield ItemError(name, f"expected {exc.expected}, got {exc.got}", line=line)


def read_manifest(
    f: BinaryIO, *, name: str, root: Path, schema: LabelSchema, max_line_bytes: int
) -> Iterator[Candidate | ItemError]:
    """Read a manifest as CSV (``.csv``/``.tsv``) or JSONL (anything else), by its name."""
    reader = read_csv if name.lower().endswith((".csv", ".tsv")) else read_jsonl
    return reader(f, name=name, root=root, schema=schema, max_line_bytes=max_line_bytes)
