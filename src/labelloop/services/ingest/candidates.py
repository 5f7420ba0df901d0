"""What a source yields before it is stored: candidates (one per future item) or errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Candidate", "FileRef"]


@dataclass(frozen=True, slots=True)
class FileRef:
    """A media file on disk, already checked to lie inside the import root."""

    path: Path
    display: str


@dataclass(slots=True)
class Candidate:
    """One future item: its media (inline text or files), metadata and attached labels.

    Attributes:
        source: Human name of where it came from (``items.jsonl:12``, ``images/a.png``).
        line: Line number in a manifest, if any.
        fields: Media field name to inline text (``str``) or a file (:class:`FileRef`).
    """

    source: str
    line: int | None
    fields: dict[str, str | FileRef]
    key: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    annotations: list[Any] = field(default_factory=list)
    suggestions: list[Any] = field(default_factory=list)
    file: str = ""

    @property
    def origin(self) -> str:
        """The file an error about this candidate should name."""
        return self.file or self.source
