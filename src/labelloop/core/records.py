"""The records of a project: items, and three kinds of label record that are never mixed.

* :class:`Suggestion` — machine output (value, score, backend, model version).
* :class:`Annotation` — human work (value, annotator, draft/submitted, lead time). An edit is a
  new annotation whose ``parent_id`` points at the version it replaces.
* :class:`Review` — a verdict on an annotation (accept / reject / correct).

Rows are append-only; each says who or what made it (``created_by``) and when.

Example:
    >>> Actor.user("alice"), Actor.backend("text.rules", "1.0")
    ('user:alice', 'backend:text.rules@1.0')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from labelloop.core.media import MediaRef
from labelloop.core.schema import LabelSchema

__all__ = [
    "Actor",
    "Annotation",
    "AnnotationStatus",
    "ImportReport",
    "Item",
    "ItemError",
    "NewAnnotation",
    "NewItem",
    "NewReview",
    "NewSuggestion",
    "Project",
    "Review",
    "ReviewVerdict",
    "Suggestion",
]

Value = list[dict[str, Any]]


class Actor:
    """Builds the ``created_by`` strings that say who or what made a row."""

    @staticmethod
    def user(name: str) -> str:
        """A person."""
        return f"user:{name}"

    @staticmethod
    def backend(name: str, model_version: str) -> str:
        """A pre-annotation backend at a model version."""
        return f"backend:{name}@{model_version}"

    @staticmethod
    def system(what: str) -> str:
        """Labelloop itself (an import, a migration)."""
        return f"system:{what}"

    @staticmethod
    def auto(backend: str, model_version: str) -> str:
        """The annotator of a label auto-accepted from a backend's suggestion (no person saw it).

        Example:
            >>> Actor.auto("text.classify", "1.0"), Actor.is_machine(Actor.auto("text.classify", "1.0"))
            ('auto:text.classify@1.0', True)
        """
        return f"auto:{backend}@{model_version}"

    @staticmethod
    def is_machine(annotator: str) -> bool:
        """Whether an annotation's annotator is a machine (an auto-accepted label), not a person."""
        return annotator.startswith("auto:")


class AnnotationStatus(StrEnum):
    """Whether a person is still working on an annotation."""

    DRAFT = "draft"
    SUBMITTED = "submitted"


class ReviewVerdict(StrEnum):
    """A reviewer's verdict on an annotation."""

    ACCEPT = "accept"
    REJECT = "reject"
    CORRECT = "correct"


@dataclass(frozen=True, slots=True)
class Project:
    """A labelling project: a name and the label schema that governs it."""

    id: int
    name: str
    schema: LabelSchema
    created_at: datetime
    created_by: str


@dataclass(slots=True)
class NewItem:
    """An item about to be stored.

    Treat it as immutable. It is not frozen only because imports build millions of them and a
    frozen dataclass costs three times as much to construct.

    Attributes:
        data: Media field name to media reference.
        content_hash: Hash over the item's media; items are unique per project by it.
        key: An external id (manifest id or relative path), if any.
        source: Where it came from (``file.jsonl:12``, ``images/a.png``).
        meta: Free metadata (licence, slice attributes, ...).
    """

    data: dict[str, MediaRef]
    content_hash: str
    key: str | None = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Item:
    """A stored item."""

    id: int
    project_id: int
    data: dict[str, MediaRef]
    content_hash: str
    key: str | None
    source: str
    meta: dict[str, Any]
    import_id: int | None
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class NewSuggestion:
    """Machine output for one item, validated against the schema before storing."""

    item_id: int
    value: Value
    backend: str
    model_version: str
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A stored suggestion."""

    id: int
    project_id: int
    item_id: int
    value: Value
    score: float | None
    backend: str
    model_version: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class NewAnnotation:
    """Human work for one item. ``parent_id`` set means this edits that version."""

    item_id: int
    value: Value
    annotator: str
    status: AnnotationStatus = AnnotationStatus.SUBMITTED
    lead_time_s: float | None = None
    parent_id: int | None = None
    suggestion_id: int | None = None


@dataclass(frozen=True, slots=True)
class Annotation:
    """A stored annotation version."""

    id: int
    project_id: int
    item_id: int
    value: Value
    annotator: str
    status: AnnotationStatus
    lead_time_s: float | None
    parent_id: int | None
    suggestion_id: int | None
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class NewReview:
    """A verdict on an annotation; a correction names the annotation that corrects it."""

    annotation_id: int
    reviewer: str
    verdict: ReviewVerdict
    correction_id: int | None = None
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Review:
    """A stored review."""

    id: int
    project_id: int
    item_id: int
    annotation_id: int
    reviewer: str
    verdict: ReviewVerdict
    correction_id: int | None
    comment: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class ItemError:
    """Why one input (file, line, member) was not imported."""

    source: str
    reason: str
    code: str = "LL-INPUT"
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    """What an import did: counts and one error per refused input."""

    import_id: int | None = None
    items: int = 0
    duplicates: int = 0
    suggestions: int = 0
    annotations: int = 0
    blobs_new: int = 0
    errors: list[ItemError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was refused."""
        return not self.errors
