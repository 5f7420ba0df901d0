"""Desensitisation state: project settings, item originals (append-only) and item holds.

Example:
    >>> # with store.transaction() as tx: tx.compliance.hold(pid, [7], "awaiting desensitisation")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from labelloop.core import Item, MediaRef
from labelloop.storage import tables as t
from labelloop.storage.repositories import _item, now
from labelloop.storage.tables_provenance import item_holds, item_originals, project_settings

__all__ = ["ComplianceRepo"]


class ComplianceRepo:
    """Settings, originals and holds of desensitised projects."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def setting(self, project_id: int, key: str) -> Any | None:
        """Return a project setting, or None."""
        q = select(project_settings.c.value).where(
            project_settings.c.project_id == project_id, project_settings.c.key == key
        )
        row = self.conn.execute(q).first()
        return None if row is None else row[0]

    def set_setting(self, project_id: int, key: str, value: Any, actor: str) -> None:
        """Create or replace a project setting."""
        where = (project_settings.c.project_id == project_id, project_settings.c.key == key)
        done = self.conn.execute(
            update(project_settings).where(*where).values(value=value, updated_at=now(), updated_by=actor)
        )
        if not done.rowcount:
            self.conn.execute(
                insert(project_settings).values(
                    project_id=project_id, key=key, value=value, updated_at=now(), updated_by=actor
                )
            )

    def pending(self, project_id: int, *, after_id: int = 0, limit: int = 200) -> list[Item]:
        """Items with id > ``after_id`` that have no stored original yet (not desensitised)."""
        done = select(item_originals.c.item_id).where(item_originals.c.item_id == t.items.c.id).exists()
        q = (
            select(t.items)
            .where(t.items.c.project_id == project_id, t.items.c.id > after_id, ~done)
            .order_by(t.items.c.id)
            .limit(limit)
        )
        return [_item(r) for r in self.conn.execute(q)]

    def add_originals(self, project_id: int, originals: Mapping[int, dict[str, MediaRef]], actor: str) -> list[Any]:
        """Store the original media of items; return the rows written (for the provenance digest)."""
        when = now()
        rows = [
            {
                "item_id": item_id,
                "project_id": project_id,
                "data": {k: v.to_json() for k, v in data.items()},
                "created_at": when,
                "created_by": actor,
            }
            for item_id, data in sorted(originals.items())
        ]
        if rows:
            self.conn.execute(insert(item_originals), rows)
        return rows

    def original(self, project_id: int, item_id: int) -> dict[str, MediaRef] | None:
        """The original media of a desensitised item, or None."""
        row = self.conn.execute(
            select(item_originals.c.data).where(
                item_originals.c.item_id == item_id, item_originals.c.project_id == project_id
            )
        ).first()
        return None if row is None else {k: MediaRef.from_json(v) for k, v in row[0].items()}

    def redacted_at(self, item_ids: Sequence[int]) -> dict[int, datetime]:
        """When each desensitised item among ``item_ids`` was redacted (its original's ``created_at``)."""
        o = item_originals
        out: dict[int, datetime] = {}
        for i in range(0, len(item_ids), 500):
            chunk = list(item_ids[i : i + 500])
            q = select(o.c.item_id, o.c.created_at).where(o.c.item_id.in_(chunk))
            out.update({int(r[0]): r[1] for r in self.conn.execute(q)})
        return out

    def replace_data(self, project_id: int, data: Mapping[int, dict[str, MediaRef]]) -> None:
        """Replace the working media of items."""
        for item_id, refs in data.items():
            self.conn.execute(
                update(t.items)
                .where(t.items.c.id == item_id, t.items.c.project_id == project_id)
                .values(data={k: v.to_json() for k, v in refs.items()})
            )

    def hold(self, project_id: int, item_ids: Sequence[int], reason: str) -> None:
        """Keep items from annotators (existing holds take the new reason)."""
        ids = sorted(set(item_ids))
        if not ids:
            return
        known = {r[0] for r in self.conn.execute(select(item_holds.c.item_id).where(item_holds.c.item_id.in_(ids)))}
        if known:
            self.conn.execute(
                update(item_holds).where(item_holds.c.item_id.in_(sorted(known))).values(reason=reason[:2000])
            )
        rows = [
            {"item_id": i, "project_id": project_id, "reason": reason[:2000], "created_at": now()}
            for i in ids
            if i not in known
        ]
        if rows:
            self.conn.execute(insert(item_holds), rows)

    def release(self, item_ids: Sequence[int]) -> None:
        """Show items to annotators again."""
        if item_ids:
            self.conn.execute(delete(item_holds).where(item_holds.c.item_id.in_(list(item_ids))))

    def holds(self, project_id: int) -> dict[int, str]:
        """Held items of a project and why."""
        q = select(item_holds.c.item_id, item_holds.c.reason).where(item_holds.c.project_id == project_id)
        return {int(r[0]): str(r[1]) for r in self.conn.execute(q)}
