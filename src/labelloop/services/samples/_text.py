"""The text demo: short English and Chinese lines with sentiment, entities and relations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from labelloop.services.samples._common import SampleProject, data_file, fresh_dir, gold, meta, write_manifest

__all__ = ["TEXT_SCHEMA", "load_sentences", "write_text"]

TEXT_SCHEMA: dict[str, Any] = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [
        {
            "name": "sentiment",
            "kind": "classification",
            "target": "text",
            "labels": ["positive", "negative", "neutral"],
            "description": "The writer's attitude; 'neutral' for news-like statements.",
        },
        {
            "name": "entities",
            "kind": "spans",
            "target": "text",
            "labels": ["PER", "ORG", "LOC"],
            "description": "Names of people (PER), organisations (ORG) and places (LOC).",
        },
        {
            "name": "relations",
            "kind": "relations",
            "target": "entities",
            "labels": ["works_for", "located_in"],
            "description": "works_for: PER -> ORG; located_in: ORG -> LOC.",
        },
    ],
    "guidelines": "Mark whole names without titles ('Coach', '教授'); offsets count Unicode code points.",
}


def load_sentences() -> list[dict[str, Any]]:
    """Return the bundled sentences (``data/text.jsonl``), one dict per line.

    Each dict has ``key``, ``lang`` (``en``/``zh``), ``text`` and, for about half of them,
    ``gold`` = ``{"sentiment": str, "entities": [[start, end, label, surface], ...],
    "relations": [[from, to, label], ...]}`` with code-point offsets.

    Example:
        >>> rows = load_sentences()
        >>> sorted({r["lang"] for r in rows})
        ['en', 'zh']
    """
    raw = data_file("text.jsonl").read_text(encoding="utf-8")
    return [orjson.loads(line) for line in raw.splitlines() if line.strip()]


def _gold_value(text: str, g: dict[str, Any]) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = [{"id": "sentiment", "control": "sentiment", "labels": [g["sentiment"]]}]
    for i, (start, end, label, surface) in enumerate(g["entities"], 1):
        if text[start:end] != surface:  # guards the bundled data file against hand edits
            raise ValueError(f"data/text.jsonl: {surface!r} is not at [{start}:{end}] of {text!r}")
        value.append(
            {"id": f"e{i}", "control": "entities", "label": label, "start": start, "end": end, "text": surface}
        )
    for i, (src, dst, label) in enumerate(g["relations"], 1):
        value.append(
            {"id": f"r{i}", "control": "relations", "label": label, "from_id": f"e{src + 1}", "to_id": f"e{dst + 1}"}
        )
    return value


def write_text(dest: Path) -> SampleProject:
    """Write ``dest/text/items.jsonl`` and return the ``text-demo`` project."""
    folder = fresh_dir(dest / "text")
    lines = []
    for row in load_sentences():
        line: dict[str, Any] = {"key": row["key"], "text": row["text"], "meta": meta("CC0-1.0", lang=row["lang"])}
        if "gold" in row:
            line["annotations"] = [gold(_gold_value(row["text"], row["gold"]))]
        lines.append(line)
    manifest = folder / "items.jsonl"
    n, annotated = write_manifest(manifest, lines)
    return SampleProject(
        name="text-demo",
        schema=TEXT_SCHEMA,
        source=manifest,
        description="Short English and Chinese reviews and news lines: sentiment, PER/ORG/LOC spans, relations.",
        items=n,
        annotated=annotated,
    )
