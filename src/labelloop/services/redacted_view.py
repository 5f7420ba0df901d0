"""What people are shown of a desensitised item's label history.

Label rows are append-only, so the versions written before an item was desensitised still hold
offsets into, and quotes of, the original text. Desensitisation gives every chain head a
redacted successor and every changed suggestion a redacted copy
(:mod:`labelloop.services.desensitise_labels`); this view then withholds, for items with a
stored original, what was written before the redaction moment (the original's ``created_at``):

* an **annotation version** that another version replaces (a pre-redaction head that redaction
  left unchanged stays: it carries nothing of the original);
* a **suggestion** of a backend and model version that the desensitisation re-wrote for the item
  (its redacted copy is shown instead);
* the **comment** of a review (the review itself stays; its text becomes :data:`WITHHELD_COMMENT`).

The rows stay in the database for managers (who may read originals) and for the audit.

Example:
    >>> # sugg, anns, revs = visible_labels(tx, *tx.labels.for_items([item_id]))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime

from labelloop.core import Annotation, Review, Suggestion
from labelloop.storage import UnitOfWork

__all__ = ["REDACTOR", "WITHHELD_COMMENT", "visible_labels"]

REDACTOR = "system:desensitise"
"""The ``created_by`` of the rows desensitisation writes."""
WITHHELD_COMMENT = "(comment withheld: written before the item was desensitised)"


def visible_labels(
    tx: UnitOfWork,
    sugg: Sequence[Suggestion],
    anns: Sequence[Annotation],
    revs: Sequence[Review],
    *,
    redacted_at: Mapping[int, datetime] | None = None,
) -> tuple[list[Suggestion], list[Annotation], list[Review]]:
    """Filter label records (of any items) to what people may be shown; order is kept.

    ``redacted_at`` gives when each of the items was desensitised, when the caller has read it
    already (items missing from it were not); otherwise it is read here.
    """
    items = sorted({s.item_id for s in sugg} | {a.item_id for a in anns} | {r.item_id for r in revs})
    since = dict(redacted_at) if redacted_at is not None else tx.compliance.redacted_at(items) if items else {}
    if not since:
        return list(sugg), list(anns), list(revs)

    def before(item_id: int, created: object) -> bool:
        moment = since.get(item_id)
        return moment is not None and created < moment  # type: ignore[operator]

    replaced = {a.parent_id for a in anns if a.parent_id is not None}
    rewritten = {(s.item_id, s.backend, s.model_version) for s in sugg if s.created_by == REDACTOR}
    shown_a = [a for a in anns if not (before(a.item_id, a.created_at) and a.id in replaced)]
    shown_s = [
        s
        for s in sugg
        if not (before(s.item_id, s.created_at) and (s.item_id, s.backend, s.model_version) in rewritten)
    ]
    shown_r = [
        dataclasses.replace(r, comment=WITHHELD_COMMENT) if r.comment and before(r.item_id, r.created_at) else r
        for r in revs
    ]
    return shown_s, shown_a, shown_r
