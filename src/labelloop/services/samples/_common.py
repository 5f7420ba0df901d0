"""Shared types and helpers of the sample writers: the returned records and the JSONL manifest."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import orjson

from labelloop.errors import Conflict

__all__ = [
    "DEMO_SOURCE",
    "GOLD_ANNOTATOR",
    "SampleProject",
    "SampleSet",
    "data_file",
    "fresh_dir",
    "gold",
    "meta",
    "write_manifest",
]

#: ``meta.source`` of every demo item.
DEMO_SOURCE = "labelloop demo"
#: The annotator name of the bundled gold annotations.
GOLD_ANNOTATOR = "demo-gold"
_MARKER = ".labelloop-samples"


@dataclass(frozen=True, slots=True)
class SampleProject:
    """One demo project: its label schema and what to import.

    Attributes:
        name: The project name, such as ``text-demo``.
        schema: A label-schema dict that :class:`labelloop.core.schema.LabelSchema` accepts.
        source: The JSONL manifest to import (media paths in it are relative to its folder).
        description: One sentence for listings.
        items: How many items the manifest holds.
        annotated: How many of them carry a gold annotation.
    """

    name: str
    schema: dict[str, Any]
    source: Path
    description: str
    items: int = 0
    annotated: int = 0


@dataclass(frozen=True, slots=True)
class SampleSet:
    """What :func:`labelloop.services.samples.write_samples` wrote.

    Attributes:
        root: The destination folder.
        projects: The demo projects, in a stable order.
        files: Every file written, relative to ``root``.
    """

    root: Path
    projects: tuple[SampleProject, ...]
    files: tuple[Path, ...] = field(default=())

    def __iter__(self) -> Iterator[SampleProject]:
        return iter(self.projects)

    def __len__(self) -> int:
        return len(self.projects)

    @property
    def names(self) -> list[str]:
        """The project names."""
        return [p.name for p in self.projects]

    def project(self, name: str) -> SampleProject:
        """Return the project called ``name``.

        Raises:
            KeyError: naming the projects that exist.
        """
        for p in self.projects:
            if p.name == name:
                return p
        raise KeyError(f"no sample project {name!r}; projects: {self.names}")

    @property
    def total_bytes(self) -> int:
        """The size of all files written, in bytes."""
        return sum((self.root / f).stat().st_size for f in self.files)


def data_file(*parts: str) -> Traversable:
    """Return a file bundled in ``labelloop/services/samples/data``."""
    node = resources.files("labelloop.services.samples").joinpath("data")
    for part in parts:
        node = node.joinpath(part)
    return node


def fresh_dir(path: Path) -> Path:
    """Create ``path`` empty; replace it only when an earlier sample run wrote it.

    Raises:
        Conflict: ``path`` holds files that this module did not write.
    """
    if path.exists():
        if (path / _MARKER).is_file():
            shutil.rmtree(path)
        elif not path.is_dir() or any(path.iterdir()):
            raise Conflict(f"{path}: expected an empty folder or earlier sample data, got other files")
    path.mkdir(parents=True, exist_ok=True)
    (path / _MARKER).write_text("written by labelloop.services.samples; safe to delete\n", encoding="utf-8")
    return path


def gold(value: list[dict[str, Any]], *, lead_time_s: float | None = None) -> dict[str, Any]:
    """Wrap a list of regions as one gold annotation of a manifest line."""
    out: dict[str, Any] = {"annotator": GOLD_ANNOTATOR, "value": value}
    if lead_time_s is not None:
        out["lead_time_s"] = lead_time_s
    return out


def meta(licence: str, **extra: Any) -> dict[str, Any]:
    """Return an item's ``meta``: licence and source first, then ``extra``."""
    return {"licence": licence, "source": DEMO_SOURCE, **extra}


def write_manifest(path: Path, lines: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """Write one JSON object per line; return (items, items with annotations)."""
    n = annotated = 0
    with path.open("wb") as fh:
        for line in lines:
            fh.write(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))
            n += 1
            annotated += bool(line.get("annotations"))
    return n, annotated
