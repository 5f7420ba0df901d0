"""One item as the work views show it (item, labels, routing tier, draft), read in one round trip.

``next``, ``get_item`` and ``review/next`` answer with an item, its suggestions, annotations and
reviews, when it was desensitised (what of its history may be shown), whether it is labelled
blind (routed ``manual`` or ``audit``) and the asker's draft. On PostgreSQL these reads go
together (:meth:`labelloop.storage.rawsql.Raw.batch`), after any statements the caller sends
ahead in the same round trip: ``next`` sends the take of the slot it chose, and the server reads
the item once the slot is taken.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema, MediaRef, NewItem
    >>> from labelloop.storage import Store
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> schema = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}]})
    >>> with store.transaction() as tx:
    ...     pid = tx.projects.create("p", schema, "me").id
    ...     (iid,) = tx.items.add_many(pid, [NewItem({"text": MediaRef.from_text("hi")}, "h1")], created_by="me")
    ...     _, view = read_item_view(tx.conn, pid, iid, user_id=1)
    >>> view.item.key, view.suggestions, view.blind, view.draft
    ('h1', [], False, None)
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from labelloop.core import Annotation, Item, Review, Suggestion
from labelloop.storage.rawsql import Done, Raw, Sql, Step
from labelloop.storage.repositories import item_from_raw, item_step, labels_from_rows, labels_step
from labelloop.storage.routing_repo import BLIND_TIERS, blind_step
from labelloop.storage.tasks_repo import TaskRepo

__all__ = ["ItemView", "read_item_view"]

_REDACTED_AT = Sql("SELECT created_at FROM item_originals WHERE item_id = ?")


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item with everything a work view shows of it, as stored (nothing filtered yet).

    ``redacted_at`` is when the item was desensitised (None: never); ``draft`` the asker's
    draft value and its time.
    """

    item: Item
    suggestions: list[Suggestion]
    annotations: list[Annotation]
    reviews: list[Review]
    redacted_at: datetime | None
    blind: bool
    draft: tuple[list[dict[str, Any]], datetime] | None


def read_item_view(
    conn: Connection, project_id: int, item_id: int, user_id: int, *, ahead: Sequence[Step] = ()
) -> tuple[list[Done], ItemView | None]:
    """Run ``ahead``, then read the item's view for ``user_id``; one round trip on PostgreSQL.

    Returns what the ``ahead`` statements gave, and the view (None when the item is not in the
    project or is held from annotators).
    """
    raw = Raw(conn)
    tasks = TaskRepo(conn)
    steps = [
        *ahead,
        item_step(project_id, item_id, visible_only=True),
        labels_step([item_id]),
        (_REDACTED_AT, (item_id,)),
        blind_step(item_id),
        tasks.draft_step(item_id, user_id),
    ]
    done = raw.batch(steps)
    first, (item_d, labels_d, redacted_d, blind_d, draft_d) = done[: len(ahead)], done[len(ahead) :]
    row = item_d.first()
    if row is None:
        return first, None
    sugg, anns, revs = labels_from_rows(raw, labels_d.rows)
    redacted = redacted_d.first()
    tier = blind_d.first()
    view = ItemView(
        item_from_raw(raw, row),
        sugg,
        anns,
        revs,
        None if redacted is None else raw.time_out(redacted[0]),
        tier is not None and tier[0] in BLIND_TIERS,
        tasks.draft_of(draft_d.first()),
    )
    return first, view
