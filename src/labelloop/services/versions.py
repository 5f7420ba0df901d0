"""Which annotation version of an item counts: the newest submitted one nothing replaces.

An auto-accepted label (written by a machine actor, ``auto:<backend>@<version>``) that a
``reject`` review withdrew — routing re-routed it to people, or a reviewer rejected it — no
longer counts: exports and releases then carry the item's previous label, or none, until a
person labels it. A person's rejected annotation still counts (as in Label Studio's exports:
the review is part of its history, and a correction replaces it).

Its own small module so the web server's task path does not import the export formats.

Example:
    >>> current_annotation([]) is None
    True
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from labelloop.core import Actor, Annotation, AnnotationStatus, Review, ReviewVerdict

__all__ = ["current_annotation", "withdrawn_auto_labels"]


def withdrawn_auto_labels(annotations: Iterable[Annotation], reviews: Iterable[Review]) -> set[int]:
    """Ids of the machine-written (auto-accepted) annotations that a ``reject`` review withdrew.

    Example:
        >>> withdrawn_auto_labels([], [])
        set()
    """
    rejected = {r.annotation_id for r in reviews if r.verdict is ReviewVerdict.REJECT}
    return {a.id for a in annotations if a.id in rejected and Actor.is_machine(a.annotator)}


def current_annotation(versions: Sequence[Annotation], withdrawn: Collection[int] = ()) -> Annotation | None:
    """Return the newest submitted annotation version that no other version replaces.

    Args:
        versions: The item's annotation versions.
        withdrawn: Ids that do not count (:func:`withdrawn_auto_labels`).

    Example:
        >>> current_annotation([]) is None
        True
    """
    replaced = {a.parent_id for a in versions if a.parent_id is not None}
    leaves = [
        a for a in versions if a.status is AnnotationStatus.SUBMITTED and a.id not in replaced and a.id not in withdrawn
    ]
    return max(leaves, key=lambda a: (a.created_at, a.id), default=None)
