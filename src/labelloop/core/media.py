"""Media kinds and references to media content.

Text is kept inline; binary media live in the content-addressed blob store and are referenced
by their SHA-256.

Example:
    >>> ref = MediaRef.from_text("你好 world")
    >>> ref.kind, ref.text
    (<Medium.TEXT: 'text'>, '你好 world')
    >>> MediaRef.from_json(ref.to_json()) == ref
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from labelloop.core.hashing import sha256_text

__all__ = ["MediaRef", "Medium"]


class Medium(StrEnum):
    """The media a project item can hold. Video is planned as frame sequences."""

    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    POINTCLOUD = "pointcloud"


_KIND_VALUES = {m: m.value for m in Medium}  # a dict look-up is cheaper than Enum.value
_KINDS_BY_VALUE = {m.value: m for m in Medium}  # ... and than calling Medium(value)


@dataclass(slots=True)
class MediaRef:
    """One piece of media inside an item.

    A value: treat it as immutable. It is not frozen only because a frozen dataclass costs three
    times as much to construct, and imports build millions of them.

    Attributes:
        kind: The medium.
        sha256: The blob address (binary media) or the hash of the text.
        media_type: An IANA media type (``image/png``) or a labelloop one
            (``application/x-pcd``).
        text: The text itself, for text media.
        meta: Probed facts: ``width``/``height`` for images; ``duration_s``,
            ``sample_rate``, ``channels`` for audio; ``points``, ``fields``,
            ``format`` for point clouds; ``chars`` for text.
    """

    kind: Medium
    sha256: str
    media_type: str
    text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_text(cls, text: str) -> MediaRef:
        """Build a text reference (hash computed here)."""
        return cls(Medium.TEXT, sha256_text(text), "text/plain", text, {"chars": len(text)})

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict (inverse of :meth:`from_json`)."""
        out: dict[str, Any] = {"kind": _KIND_VALUES[self.kind], "sha256": self.sha256, "media_type": self.media_type}
        if self.text is not None:
            out["text"] = self.text
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MediaRef:
        """Parse what :meth:`to_json` wrote."""
        kind = data["kind"]
        return cls(
            _KINDS_BY_VALUE.get(kind) or Medium(kind),
            str(data["sha256"]),
            str(data["media_type"]),
            data.get("text"),
            dict(data.get("meta") or {}),
        )
