"""L0 pure domain: media references, records, geometry and the label schema."""

from __future__ import annotations

from labelloop.core.hashing import content_hash, sha256_bytes, sha256_text
from labelloop.core.media import MediaRef, Medium
from labelloop.core.records import (
    Actor,
    Annotation,
    AnnotationStatus,
    ImportReport,
    Item,
    ItemError,
    NewAnnotation,
    NewItem,
    NewReview,
    NewSuggestion,
    Project,
    Review,
    ReviewVerdict,
    Suggestion,
)
from labelloop.core.schema import Attribute, Control, ControlKind, LabelSchema, MediaField

__all__ = [
    "Actor",
    "Annotation",
    "AnnotationStatus",
    "Attribute",
    "Control",
    "ControlKind",
    "ImportReport",
    "Item",
    "ItemError",
    "LabelSchema",
    "MediaField",
    "MediaRef",
    "Medium",
    "NewAnnotation",
    "NewItem",
    "NewReview",
    "NewSuggestion",
    "Project",
    "Review",
    "ReviewVerdict",
    "Suggestion",
    "content_hash",
    "sha256_bytes",
    "sha256_text",
]
