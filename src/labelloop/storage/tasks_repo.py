"""The work queue: task slots and their locks, gold items, drafts, idempotency keys, stats.

``candidates`` is one range scan of ``ix_task_slots_queue`` (project, state=queued, item,
slot) that skips slots locked by others and items the asker already holds; on PostgreSQL the
rows are taken ``FOR UPDATE SKIP LOCKED``, on SQLite the write transaction is
``BEGIN IMMEDIATE``, so two askers never get the same slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import aliased

from labelloop.core import Annotation, Suggestion
from labelloop.storage import tables as t
from labelloop.storage import tables_accounts as ta
from labelloop.storage.repositories import _annotation, _insert_ignore, _not_held, _suggestion, now

__all__ = ["DONE", "GOLD", "QUEUED", "Slot", "TaskRepo", "TaskSettings", "UserStats"]

QUEUED, DONE, GOLD = 0, 1, 2
_SYNC_BATCH = 50_000


@dataclass(frozen=True, slots=True)
class TaskSettings:
    """A project's assignment settings."""

    project_id: int
    overlap: int = 1
    gold_rate: float = 0.0
    lock_seconds: int = 900
    synced_item_id: int = 0


@dataclass(frozen=True, slots=True)
class Slot:
    """One (item, overlap slot) of the queue and who holds it."""

    id: int
    item_id: int
    slot: int
    state: int
    user_id: int | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class UserStats:
    """An annotator's counters in one project."""

    submitted: int = 0
    since_gold: int = 0
    gold_seen: int = 0
    gold_score: float = 0.0


def _slot(r: Any) -> Slot:
    return Slot(r.id, r.item_id, r.slot, r.state, r.user_id, r.expires_at)


class TaskRepo:
    """Work-assignment rows of one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"

    # settings and queue filling ------------------------------------------------------------
    def settings(self, project_id: int) -> TaskSettings:
        """The project's settings (defaults when never set)."""
        r = self.conn.execute(select(ta.task_settings).where(ta.task_settings.c.project_id == project_id)).first()
        if r is None:
            return TaskSettings(project_id)
        return TaskSettings(project_id, r.overlap, r.gold_rate, r.lock_seconds, r.synced_item_id)

    def save_settings(self, s: TaskSettings) -> None:
        """Insert or update the settings row."""
        ts = ta.task_settings
        values = {"overlap": s.overlap, "gold_rate": s.gold_rate, "lock_seconds": s.lock_seconds,
                  "synced_item_id": s.synced_item_id}  # fmt: skip
        if self.conn.execute(update(ts).where(ts.c.project_id == s.project_id).values(**values)).rowcount == 0:
            self.conn.execute(insert(ts).values(project_id=s.project_id, **values))

    def _settings_for_update(self, project_id: int) -> TaskSettings:
        d = TaskSettings(project_id)
        self.conn.execute(
            _insert_ignore(self.conn, ta.task_settings).values(
                project_id=project_id, overlap=d.overlap, gold_rate=d.gold_rate, lock_seconds=d.lock_seconds,
                synced_item_id=0,
            )
        )  # fmt: skip
        ts = ta.task_settings
        q = select(ts).where(ts.c.project_id == project_id)
        r = self.conn.execute(q.with_for_update() if self.pg else q).one()
        return TaskSettings(project_id, r.overlap, r.gold_rate, r.lock_seconds, r.synced_item_id)

    def sync(self, s: TaskSettings) -> TaskSettings:
        """Queue ``overlap`` slots for each item added since the last sync (gold items excepted).

        One index probe when nothing is new, so ``next`` can call it every time.
        """
        i = t.items
        top = self.conn.execute(select(func.max(i.c.id)).where(i.c.project_id == s.project_id)).scalar()
        if top is None or top <= s.synced_item_id:
            return s
        s = self._settings_for_update(s.project_id)  # concurrent first askers: one fills the queue
        if top <= s.synced_item_id:
            return s
        lo = s.synced_item_id
        while lo < top:
            hi = min(top, lo + _SYNC_BATCH)
            not_gold = ~exists().where(ta.gold_items.c.item_id == i.c.id)
            for k in range(s.overlap):
                src = select(
                    i.c.project_id, i.c.id, literal(k), literal(QUEUED)
                ).where(i.c.project_id == s.project_id, i.c.id > lo, i.c.id <= hi, not_gold)  # fmt: skip
                self.conn.execute(insert(ta.task_slots).from_select(["project_id", "item_id", "slot", "state"], src))
            lo = hi
        s = TaskSettings(s.project_id, s.overlap, s.gold_rate, s.lock_seconds, int(top))
        self.save_settings(s)
        return s

    def refresh_statistics(self) -> None:
        """Let PostgreSQL's planner see a freshly filled queue (ANALYZE; a no-op on SQLite).

        Without it the planner still believes the queue is empty after a bulk fill and sorts
        every queued slot for ``candidates`` instead of walking the queue index.
        """
        if self.pg:
            self.conn.exec_driver_sql("ANALYZE task_slots")

    # slots ------------------------------------------------------------------------------------
    def held(self, project_id: int, user_id: int) -> Slot | None:
        """The unfinished slot the user holds in the project (to resume), if any; held items never come back."""
        s = ta.task_slots
        r = self.conn.execute(
            select(s).where(s.c.user_id == user_id, s.c.project_id == project_id, s.c.state.in_((QUEUED, GOLD)),
                            _not_held(s.c.item_id))
            .order_by(s.c.id).limit(1)
        ).first()  # fmt: skip
        return None if r is None else _slot(r)

    def candidates(self, project_id: int, user_id: int, at: datetime, limit: int = 32) -> list[Slot]:
        """Free (or expired) queued slots of items the user holds no slot of, in queue order.

        Items held from annotators (awaiting or failing desensitisation) are never offered.
        """
        s = ta.task_slots
        mine = aliased(s)
        q = (
            select(s)
            .where(
                s.c.project_id == project_id,
                s.c.state == QUEUED,
                or_(s.c.user_id.is_(None), s.c.expires_at < at),
                ~exists().where(mine.c.item_id == s.c.item_id, mine.c.user_id == user_id),
                _not_held(s.c.item_id),
            )
            .order_by(s.c.item_id, s.c.slot)
            .limit(limit)
        )
        if self.pg:
            q = q.with_for_update(skip_locked=True, of=s)
        return [_slot(r) for r in self.conn.execute(q)]

    def lock(self, slot_id: int, user_id: int, expires_at: datetime) -> None:
        """Lock a slot to a user until ``expires_at``."""
        s = ta.task_slots
        self.conn.execute(update(s).where(s.c.id == slot_id).values(user_id=user_id, expires_at=expires_at))

    def slot_for(self, item_id: int, user_id: int, *, for_update: bool = False) -> Slot | None:
        """The user's slot of an item (queued-and-held, gold in progress, or done)."""
        s = ta.task_slots
        q = select(s).where(s.c.item_id == item_id, s.c.user_id == user_id).order_by(s.c.id).limit(1)
        if for_update and self.pg:
            q = q.with_for_update()
        r = self.conn.execute(q).first()
        return None if r is None else _slot(r)

    def claim(self, project_id: int, item_id: int, user_id: int) -> None:
        """Record an item as the user's, outside the queue (a reviewer accepting a suggestion)."""
        self.conn.execute(
            insert(ta.task_slots).values(project_id=project_id, item_id=item_id, slot=-2, state=DONE, user_id=user_id)
        )

    def suggestion(self, suggestion_id: int) -> Suggestion | None:
        """One suggestion by id."""
        r = self.conn.execute(select(t.suggestions).where(t.suggestions.c.id == suggestion_id)).first()
        return None if r is None else _suggestion(r)

    def finish(self, slot_id: int) -> None:
        """Mark a slot done."""
        s = ta.task_slots
        self.conn.execute(update(s).where(s.c.id == slot_id).values(state=DONE, expires_at=None))

    def best_scores(self, item_ids: list[int]) -> dict[int, float]:
        """The best suggestion score of each item that has a scored suggestion."""
        if not item_ids:
            return {}
        g = t.suggestions
        q = select(g.c.item_id, func.max(g.c.score)).where(g.c.item_id.in_(item_ids), g.c.score.is_not(None))
        return {r[0]: float(r[1]) for r in self.conn.execute(q.group_by(g.c.item_id))}

    # gold --------------------------------------------------------------------------------------
    def mark_gold(self, project_id: int, item_id: int, value: list[dict[str, Any]]) -> None:
        """Make an item a gold task with a known answer; its free queue slots are withdrawn."""
        g = ta.gold_items
        if self.conn.execute(update(g).where(g.c.item_id == item_id).values(value=value)).rowcount == 0:
            self.conn.execute(insert(g).values(item_id=item_id, project_id=project_id, value=value))
        s = ta.task_slots
        self.conn.execute(delete(s).where(s.c.item_id == item_id, s.c.state == QUEUED, s.c.user_id.is_(None)))

    def gold_value(self, item_id: int) -> list[dict[str, Any]] | None:
        """The gold answer of an item, or None when it is not gold."""
        r = self.conn.execute(select(ta.gold_items.c.value).where(ta.gold_items.c.item_id == item_id)).first()
        return None if r is None else list(r[0])

    def gold_values(self, item_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The gold answers of those of these items that are gold."""
        g = ta.gold_items
        if not item_ids:
            return {}
        q = select(g.c.item_id, g.c.value).where(g.c.item_id.in_(item_ids))
        return {int(r[0]): r[1] for r in self.conn.execute(q)}

    def set_gold_value(self, item_id: int, value: list[dict[str, Any]]) -> None:
        """Rewrite a gold answer (its item stays gold)."""
        g = ta.gold_items
        self.conn.execute(update(g).where(g.c.item_id == item_id).values(value=value))

    def gold_for(self, project_id: int, user_id: int) -> int | None:
        """A gold item of the project the user has not been given yet."""
        g, s = ta.gold_items, ta.task_slots
        q = (
            select(g.c.item_id)
            .where(
                g.c.project_id == project_id,
                ~exists().where(s.c.item_id == g.c.item_id, s.c.user_id == user_id),
                _not_held(g.c.item_id),
            )
            .order_by(g.c.item_id)
            .limit(1)
        )
        return self.conn.execute(q).scalar()

    def add_gold_slot(self, project_id: int, item_id: int, user_id: int, expires_at: datetime) -> Slot:
        """A personal slot on a gold item."""
        sid = self.conn.execute(
            insert(ta.task_slots)
            .values(project_id=project_id, item_id=item_id, slot=-1, state=GOLD, user_id=user_id, expires_at=expires_at)
            .returning(ta.task_slots.c.id)
        ).scalar_one()
        return Slot(sid, item_id, -1, GOLD, user_id, expires_at)

    # stats -------------------------------------------------------------------------------------
    def stats(self, project_id: int, user_id: int) -> UserStats:
        """The user's counters (zeros when none)."""
        a = ta.annotator_stats
        r = self.conn.execute(select(a).where(a.c.project_id == project_id, a.c.user_id == user_id)).first()
        return UserStats() if r is None else UserStats(r.submitted, r.since_gold, r.gold_seen, r.gold_score)

    def save_stats(self, project_id: int, user_id: int, st: UserStats) -> None:
        """Write the user's counters."""
        a = ta.annotator_stats
        values = {"submitted": st.submitted, "since_gold": st.since_gold, "gold_seen": st.gold_seen,
                  "gold_score": st.gold_score}  # fmt: skip
        where = and_(a.c.project_id == project_id, a.c.user_id == user_id)
        if self.conn.execute(update(a).where(where).values(**values)).rowcount == 0:
            self.conn.execute(insert(a).values(project_id=project_id, user_id=user_id, **values))

    def all_stats(self, project_id: int) -> list[tuple[str, UserStats]]:
        """Every annotator's counters in the project, by username."""
        a, u = ta.annotator_stats, ta.users
        rows = self.conn.execute(
            select(a, u.c.username).join(u, u.c.id == a.c.user_id).where(a.c.project_id == project_id)
            .order_by(u.c.username)
        )  # fmt: skip
        return [(r.username, UserStats(r.submitted, r.since_gold, r.gold_seen, r.gold_score)) for r in rows]

    def queue_counts(self, project_id: int) -> dict[str, int]:
        """Slots by state, and how many queued slots are locked now."""
        s = ta.task_slots
        rows = self.conn.execute(
            select(s.c.state, func.count()).where(s.c.project_id == project_id).group_by(s.c.state)
        ).all()
        by = {int(r[0]): int(r[1]) for r in rows}
        locked = self.conn.execute(
            select(func.count()).where(s.c.project_id == project_id, s.c.state == QUEUED, s.c.expires_at > now())
        ).scalar_one()
        return {"queued": by.get(QUEUED, 0), "done": by.get(DONE, 0), "gold_open": by.get(GOLD, 0), "locked": locked}

    # drafts and idempotency ------------------------------------------------------------------
    def put_draft(self, project_id: int, item_id: int, user_id: int, value: list[dict[str, Any]]) -> datetime:
        """Save (replace) the user's draft of an item; return its time."""
        d, when = ta.drafts, now()
        where = and_(d.c.user_id == user_id, d.c.item_id == item_id)
        if self.conn.execute(update(d).where(where).values(value=value, updated_at=when)).rowcount == 0:
            self.conn.execute(
                insert(d).values(user_id=user_id, item_id=item_id, project_id=project_id, value=value, updated_at=when)
            )
        return when

    def draft(self, item_id: int, user_id: int) -> tuple[list[dict[str, Any]], datetime] | None:
        """The user's draft of an item, if any."""
        d = ta.drafts
        r = self.conn.execute(select(d.c.value, d.c.updated_at).where(d.c.user_id == user_id, d.c.item_id == item_id))
        row = r.first()
        return None if row is None else (list(row[0]), row[1])

    def drafts_of(self, item_ids: list[int]) -> list[tuple[int, int, list[dict[str, Any]]]]:
        """``(user_id, item_id, value)`` of every draft of these items."""
        d = ta.drafts
        q = select(d.c.user_id, d.c.item_id, d.c.value).where(d.c.item_id.in_(item_ids)) if item_ids else None
        return [] if q is None else [(int(r[0]), int(r[1]), r[2]) for r in self.conn.execute(q)]

    def set_draft_value(self, item_id: int, user_id: int, value: list[dict[str, Any]]) -> None:
        """Rewrite a draft's value and keep its time (desensitisation, not the user, changed it)."""
        d = ta.drafts
        self.conn.execute(update(d).where(d.c.user_id == user_id, d.c.item_id == item_id).values(value=value))

    def drop_draft(self, item_id: int, user_id: int) -> None:
        """Delete the user's draft of an item."""
        d = ta.drafts
        self.conn.execute(delete(d).where(d.c.user_id == user_id, d.c.item_id == item_id))

    def idempotent(self, user_id: int, key: str) -> int | None:
        """The annotation an earlier request with this key created, if any."""
        k = ta.idempotency_keys
        return self.conn.execute(select(k.c.annotation_id).where(k.c.user_id == user_id, k.c.key == key)).scalar()

    def remember(self, user_id: int, key: str, project_id: int, annotation_id: int) -> None:
        """Record the annotation a key created."""
        self.conn.execute(
            insert(ta.idempotency_keys).values(user_id=user_id, key=key, project_id=project_id,
                                               annotation_id=annotation_id)
        )  # fmt: skip

    # annotation versions and reviews --------------------------------------------------------
    def head(self, item_id: int, annotator: str) -> Annotation | None:
        """The annotator's newest annotation version of an item."""
        a = t.annotations
        r = self.conn.execute(
            select(a).where(a.c.item_id == item_id, a.c.annotator == annotator).order_by(a.c.id.desc()).limit(1)
        ).first()
        return None if r is None else _annotation(r)

    def is_reviewed(self, annotation_id: int) -> bool:
        """Whether the annotation has a review."""
        r = t.reviews
        return self.conn.execute(select(r.c.id).where(r.c.annotation_id == annotation_id).limit(1)).first() is not None

    def next_review(self, project_id: int, reviewer: str, after_id: int = 0) -> Annotation | None:
        """The oldest submitted, unreviewed, unreplaced annotation not written by ``reviewer`` (held items skipped)."""
        a, r = t.annotations, t.reviews
        child = aliased(a)
        q = (
            select(a)
            .where(
                a.c.project_id == project_id,
                a.c.id > after_id,
                a.c.status == "submitted",
                a.c.annotator != reviewer,
                ~exists().where(r.c.annotation_id == a.c.id),
                ~exists().where(child.c.parent_id == a.c.id),
                ~exists().where(r.c.correction_id == a.c.id),
                _not_held(a.c.item_id),
            )
            .order_by(a.c.id)
            .limit(1)
        )
        row = self.conn.execute(q).first()
        return None if row is None else _annotation(row)

    def lock_annotation(self, annotation_id: int) -> None:
        """Serialise writers of one annotation chain (PostgreSQL row lock; SQLite is serial)."""
        if self.pg:
            self.conn.execute(select(t.annotations.c.id).where(t.annotations.c.id == annotation_id).with_for_update())

    def grant(self, project_id: int, sha256s: list[str]) -> None:
        """Let the project's members fetch these blobs."""
        rows = [{"sha256": x, "project_id": project_id} for x in sorted(set(sha256s))]
        if rows:
            self.conn.execute(_insert_ignore(self.conn, ta.media_grants), rows)

    def revoke(self, project_id: int, sha256s: list[str]) -> None:
        """Stop the project's members fetching these blobs (until an item shows them again)."""
        g = ta.media_grants
        for i in range(0, len(sha256s), 500):
            chunk = sorted(set(sha256s[i : i + 500]))
            self.conn.execute(delete(g).where(g.c.project_id == project_id, g.c.sha256.in_(chunk)))
