"""Which annotation version of an item counts: the newest submitted one nothing replaces.

Its own small module so the web server's task path does not import the export formats.

Example:
    >>> current_annotation([]) is None
    True
"""

from __future__ import annotations

from collections.abc import Sequence

from labelloop.core import Annotation, AnnotationStatus

__all__ = ["current_annotation"]


def current_annotation(versions: Sequence[Annotation]) -> Annotation | None:
    """Return the newest submitted annotation version that no other version replaces.

    Example:
        >>> current_annotation([]) is None
        True
    """
    replaced = {a.parent_id for a in versions if a.parent_id is not None}
    leaves = [a for a in versions if a.status is AnnotationStatus.SUBMITTED and a.id not in replaced]
    return max(leaves, key=lambda a: (a.created_at, a.id), default=None)
