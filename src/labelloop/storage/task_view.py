"""One item as the work views show it (item, labels, routing tier, draft), read in one round trip.

``next``, ``get_item`` and ``review/next`` answer with an item, its suggestions, annotations and
reviews, when it was desensitised (what of its history may be shown), its routing tier and
experiment arm (blind, which suggestions, whose guideline) and the asker's draft. On PostgreSQL these reads go
together (:meth:`labelloop.storage.rawsql.Raw.batch`), after any statements the caller sends
ahead in the same round trip: ``next`` sends the take of the slot it chose, and the server reads
the item once the slot is taken.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema, MediaRef, NewItem
    >>> from labelloop.storage import Store
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> schema = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}]})
    >>> ref = MediaRef.from_text("hi")
    >>> with store.transaction() as tx:
    ...     pid = tx.projects.create("p", schema, "me").id
    ...     (iid,) = tx.items.add_many(pid, [NewItem({"text": ref}, ref.sha256)], created_by="me")
    ...     _, view = read_item_view(tx.conn, pid, iid, user_id=1)
    >>> view.item.data["text"].text, view.suggestions, view.rules.tier_blind, view.draft
    ('hi', [], False, None)
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from labelloop.core import Annotation, Item, Review, Suggestion
from labelloop.storage.experiments_repo import TaskRules, task_rules_of, task_rules_step
from labelloop.storage.rawsql import Done, Raw, Sql, Step
from labelloop.storage.repositories import ITEM_COLUMNS_I, NOT_HELD_I, item_from_raw, labels_from_rows, labels_step
from labelloop.storage.tasks_repo import TaskRepo

__all__ = ["ItemView", "read_item_view"]

# The item (held items left out) with when it was desensitised and the asker's draft: primary-key
# probes of item_originals and drafts, in one statement.
_ITEM_EXTRAS = (
    "SELECT {item},"
    " (SELECT o.created_at FROM item_originals o WHERE o.item_id = i.id),"
    " (SELECT d.value FROM drafts d WHERE d.user_id = ? AND d.item_id = i.id),"
    " (SELECT d.updated_at FROM drafts d WHERE d.user_id = ? AND d.item_id = i.id)"
    " FROM items i WHERE i.id = ? AND i.project_id = ? AND {not_held}"
)
_ITEM_VIEW = Sql(_ITEM_EXTRAS.format(item=ITEM_COLUMNS_I, not_held=NOT_HELD_I))
_N_ITEM = len(ITEM_COLUMNS_I.split(", "))


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item with everything a work view shows of it, as stored (nothing filtered yet).

    ``redacted_at`` is when the item was desensitised (None: never); ``rules`` its routing tier
    and experiment arm (what a person's task applies); ``draft`` the asker's draft value and its time.
    """

    item: Item
    suggestions: list[Suggestion]
    annotations: list[Annotation]
    reviews: list[Review]
    redacted_at: datetime | None
    rules: TaskRules
    draft: tuple[list[dict[str, Any]], datetime] | None


def read_item_view(
    conn: Connection, project_id: int, item_id: int, user_id: int, *, ahead: Sequence[Step] = ()
) -> tuple[list[Done], ItemView | None]:
    """Run ``ahead``, then read the item's view for ``user_id``; one round trip on PostgreSQL.

    Returns what the ``ahead`` statements gave, and the view (None when the item is not in the
    project or is held from annotators).
    """
    raw = Raw(conn)
    steps = [
        *ahead,
        (_ITEM_VIEW, (user_id, user_id, item_id, project_id)),
        labels_step([item_id]),
        task_rules_step(item_id),
    ]
    done = raw.batch(steps)
    first, (item_d, labels_d, rules_d) = done[: len(ahead)], done[len(ahead) :]
    row = item_d.first()
    if row is None:
        return first, None
    redacted, draft_value, draft_at = row[_N_ITEM:]
    sugg, anns, revs = labels_from_rows(raw, labels_d.rows)
    view = ItemView(
        item_from_raw(raw, row),
        sugg,
        anns,
        revs,
        None if redacted is None else raw.time_out(redacted),
        task_rules_of(raw, rules_d.first()),
        None if draft_value is None else TaskRepo(conn).draft_of((draft_value, draft_at)),
    )
    return first, view
