"""The work queue: task slots and their locks, gold items, drafts, idempotency keys, stats, review locks.

``candidates`` is one range scan of ``ix_task_slots_queue`` (project, state=queued, queue rank,
item, slot) that skips slots locked by others and items the asker already holds. It locks nothing:
the chosen slot is taken by :meth:`TaskRepo.take`, an update that re-checks the slot is still
free (on PostgreSQL under a ``FOR UPDATE SKIP LOCKED`` row lock; on SQLite the write transaction
is ``BEGIN IMMEDIATE``), so two askers never get the same slot and a concurrent asker is never
kept from the slots it did not choose. On PostgreSQL one asker's ``next`` calls are serialised
(:meth:`TaskRepo.queue_state` with ``asker``), so they cannot take two slots of one item either.

Review locks (``review_locks``) follow the same pattern: ``review/next`` reads the oldest
reviewable annotation no one else holds a live lock on, then takes it with one upsert
(:meth:`TaskRepo.take_review`) that succeeds only when the lock is free, expired or the asker's
own; on PostgreSQL a second taker of the same annotation waits on the first's unique-key entry
and then finds it held, so two reviewers never get the same annotation.

The statements of ``next`` and ``submit`` are plain SQL run on the driver's cursor
(:mod:`labelloop.storage.rawsql`): they run on every request, where SQLAlchemy's statement
building would cost more than the indexed look-ups themselves. On PostgreSQL they travel in
few round trips (:meth:`Raw.batch`): ``next`` reads its state with one (:meth:`TaskRepo.next_state`:
the asker's lock, then what must be read after it) and takes a slot together with the task's
rows with another (:mod:`labelloop.storage.task_view`); ``submit`` reads its facts with one
(:meth:`TaskRepo.submit_facts`) and sends its last writes with the commit (:meth:`Raw.defer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, literal, select, update

from labelloop.core import Annotation, Suggestion
from labelloop.storage import tables as t
from labelloop.storage import tables_accounts as ta
from labelloop.storage.rawsql import Raw, Sql, Step
from labelloop.storage.repositories import (
    ANNOTATION_COLUMNS,
    NOT_HELD_I,
    WITH_PROJECT_COLUMNS,
    _annotation,
    _insert_ignore,
    _not_held,
    _suggestion,
    annotation_from_raw,
    now,
)
from labelloop.storage.skills_repo import Evidence, evidence_of, evidence_step

__all__ = [
    "DONE",
    "GOLD",
    "QUEUED",
    "NextState",
    "QueuedSlot",
    "Slot",
    "SubmitFacts",
    "TaskRepo",
    "TaskSettings",
    "UserStats",
]

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


_SLOT = "s.id, s.item_id, s.slot, s.state, s.user_id, s.expires_at"
# items held from annotators (awaiting or failing desensitisation) are never offered nor resumed
_NOT_HELD = "(SELECT 1 FROM item_holds h WHERE h.item_id = s.item_id) IS NULL"

_SETTINGS_AND_TOP_COLS = (
    "ts.overlap, ts.gold_rate, ts.lock_seconds, ts.synced_item_id,"
    " (SELECT max(i.id) FROM items i WHERE i.project_id = ?)"
    " FROM (SELECT 1 AS one) AS o LEFT JOIN task_settings ts ON ts.project_id = ?"
)
_SETTINGS_AND_TOP = Sql("SELECT " + _SETTINGS_AND_TOP_COLS)
# PostgreSQL: the asker's advisory lock (serialising one user's next calls) in the same round
# trip; what must be read after it (the held slot) is read by the next statement.
_LOCKED_SETTINGS_AND_TOP = Sql("SELECT pg_advisory_xact_lock(?, ?) IS NULL, " + _SETTINGS_AND_TOP_COLS)
# One index probe per state (user, project, state): with ``state IN (...)`` PostgreSQL walked all of
# the user's slots in the project, done ones included, and sorted them.
_HELD_IN = (
    "SELECT {cols} FROM task_slots s WHERE s.user_id = ? AND s.project_id = ? AND s.state = {state}"  # noqa: S608
    f" AND {_NOT_HELD} ORDER BY s.id LIMIT 1"
)
_HELD = Sql(
    f"SELECT * FROM ({_HELD_IN.format(cols=_SLOT, state=QUEUED)}) AS q"  # noqa: S608 (constants only)
    f" UNION ALL SELECT * FROM ({_HELD_IN.format(cols=_SLOT, state=GOLD)}) AS g ORDER BY 1 LIMIT 1"
)
_HELD_AND_STANDING = Sql(
    f"SELECT {_SLOT.replace('s.', 'h.')}, a.submitted, a.since_gold, a.gold_seen, a.gold_score, m.quota"  # noqa: S608 (constants only)
    f" FROM (SELECT 1 AS one) AS o LEFT JOIN ({_HELD.sqlite}) AS h ON 1 = 1"
    " LEFT JOIN annotator_stats a ON a.project_id = ? AND a.user_id = ?"
    " LEFT JOIN memberships m ON m.project_id = ? AND m.user_id = ?"
)
_STANDING = Sql(
    "SELECT a.submitted, a.since_gold, a.gold_seen, a.gold_score, m.quota FROM (SELECT 1 AS one) AS o"
    " LEFT JOIN annotator_stats a ON a.project_id = ? AND a.user_id = ?"
    " LEFT JOIN memberships m ON m.project_id = ? AND m.user_id = ?"
)
_STATS = Sql(
    "SELECT submitted, since_gold, gold_seen, gold_score FROM annotator_stats WHERE project_id = ? AND user_id = ?"
)
_SAVE_STATS = Sql(
    "INSERT INTO annotator_stats (project_id, user_id, submitted, since_gold, gold_seen, gold_score)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, user_id) DO UPDATE SET submitted = excluded.submitted,"
    " since_gold = excluded.since_gold, gold_seen = excluded.gold_seen, gold_score = excluded.gold_score"
)
# Free (or expired) queued slots in queue order, each with its item's best suggestion score.
# Unlocked: only the chosen one is taken (_TAKE). Locking all of them (FOR UPDATE SKIP LOCKED)
# would hide up to `limit` free slots from every concurrent asker until this transaction ends.
# "The asker holds no slot of the item" is a scalar subquery, not NOT EXISTS: PostgreSQL turned
# NOT EXISTS into an anti-join that walked ix_task_slots_item_user from the first item, through
# every finished slot (O(done) per next); this way the plan is a range of ix_task_slots_queue in
# queue order with one (item, user) index probe per candidate, O(log n) however far work has got.
# The item's label type: "control label" of the first region of its best suggestion (a control
# name has no space); NULL when unknown. One more probe of ix_suggestions_item_id per candidate,
# and no sort on SQLite: a bare column next to max() comes from the row holding the max (any
# suggestion when none is scored); PostgreSQL sorts the item's few suggestions (unscored last).
_FIRST_LABEL = (
    "json_extract({v}, '$[0].control') || ' ' || coalesce(json_extract({v}, '$[0].labels[0]'),"
    " json_extract({v}, '$[0].label'))"
)
_FIRST_LABEL_PG = "({v}->0->>'control') || ' ' || coalesce({v}->0->'labels'->>0, {v}->0->>'label')"
_BEST_LABEL = (
    "(SELECT " + _FIRST_LABEL.format(v="b.v") + " FROM"  # noqa: S608 (constants only)
    " (SELECT g.value AS v, max(g.score) AS best FROM suggestions g WHERE g.item_id = s.item_id) AS b)"
)
_BEST_LABEL_PG = (
    "(SELECT " + _FIRST_LABEL_PG.format(v="g.value") + " FROM suggestions g WHERE g.item_id = s.item_id"  # noqa: S608 (constants only)
    " ORDER BY g.score DESC NULLS LAST, g.id DESC LIMIT 1)"
)
_CANDIDATES_SQL = (
    f"SELECT {_SLOT}, (SELECT max(g.score) FROM suggestions g WHERE g.item_id = s.item_id AND g.score IS NOT NULL),"  # noqa: S608 (constants only)
    " {best_label}, s.queue_rank"
    f" FROM task_slots s WHERE s.project_id = ? AND s.state = {QUEUED} AND (s.user_id IS NULL OR s.expires_at < ?)"
    " AND (SELECT 1 FROM task_slots m WHERE m.item_id = s.item_id AND m.user_id = ? LIMIT 1) IS NULL"
    f" AND {_NOT_HELD}"
    " ORDER BY s.queue_rank, s.item_id, s.slot LIMIT ?"
)
_CANDIDATES = Sql(_CANDIDATES_SQL.format(best_label=_BEST_LABEL), pg=_CANDIDATES_SQL.format(best_label=_BEST_LABEL_PG))
_LOCK = Sql("UPDATE task_slots SET user_id = ?, expires_at = ? WHERE id = ?")
_DROP_DRAFT_SQL = "DELETE FROM drafts WHERE user_id = ? AND item_id = ?"
_FREE = f"state = {QUEUED} AND (user_id IS NULL OR expires_at < ?)"
_FREE_ROW_LOCKED = f"SELECT id FROM task_slots WHERE id = ? AND {_FREE} FOR UPDATE SKIP LOCKED"  # noqa: S608 (constants only)
_TAKE = Sql(
    f"UPDATE task_slots SET user_id = ?, expires_at = ? WHERE id = ? AND {_FREE}",  # noqa: S608 (constants only)
    pg=f"UPDATE task_slots SET user_id = ?, expires_at = ? WHERE id = ({_FREE_ROW_LOCKED})",  # noqa: S608 (constants only)
)
# PostgreSQL: the first of the given slots (in the asker's order of preference) that is still free,
# taken in one statement. Concurrent askers mostly want the same first slots: losing one to another
# asker moves on to the next inside the statement, not with another round trip. (The slots come as an
# array with their rank; ≤ 32 primary-key probes, locked in rank order, skipping those being taken.)
_TAKE_FIRST_FREE = Sql(
    "UPDATE task_slots SET user_id = ?, expires_at = ? WHERE id = (SELECT s.id"  # noqa: S608 (constants only)
    " FROM unnest(CAST(? AS integer[])) WITH ORDINALITY AS c(id, rank) JOIN task_slots s ON s.id = c.id"
    f" WHERE s.state = {QUEUED} AND (s.user_id IS NULL OR s.expires_at < ?)"
    " ORDER BY c.rank LIMIT 1 FOR UPDATE OF s SKIP LOCKED) RETURNING id"
)
# After a submit, in one statement on PostgreSQL: the idempotency key, the draft dropped, and
# (when the slot was not finished yet) the slot finished and the annotator's counters advanced.
_REMEMBER_SQL = "INSERT INTO idempotency_keys (user_id, key, project_id, annotation_id) VALUES (?, ?, ?, ?)"
_FINISH_SQL = f"UPDATE task_slots SET state = {DONE}, expires_at = NULL WHERE id = ?"  # noqa: S608 (constants only)
_COUNT_SQL = (
    "INSERT INTO annotator_stats (project_id, user_id, submitted, since_gold, gold_seen, gold_score)"
    " VALUES (?, ?, 1, 1, 0, 0.0) ON CONFLICT (project_id, user_id) DO UPDATE"
    " SET submitted = annotator_stats.submitted + 1, since_gold = annotator_stats.since_gold + 1"
)
_COUNT = Sql(_COUNT_SQL)
_AFTER_SUBMIT_PG = {
    finish: Sql(
        f"WITH k AS ({_REMEMBER_SQL}), d AS ({_DROP_DRAFT_SQL})"
        + (f", f AS ({_FINISH_SQL}) {_COUNT_SQL}" if finish else " SELECT 1")
    )
    for finish in (False, True)
}
_ASKER_LOCK_CLASS = 0x4C4C4E  # "LLN": the advisory-lock namespace of one user's next calls
_SLOT_FOR = Sql(
    f"SELECT {_SLOT} FROM task_slots s WHERE s.item_id = ? AND s.user_id = ? ORDER BY s.id LIMIT 1"  # noqa: S608 (constants only)
)
_SLOT_FOR_UPDATE = Sql(
    f"SELECT {_SLOT} FROM task_slots s WHERE s.item_id = ? AND s.user_id = ? ORDER BY s.id LIMIT 1",  # noqa: S608 (constants only)
    pg_tail=" FOR UPDATE",
)
_FINISH = Sql(f"UPDATE task_slots SET state = {DONE}, expires_at = NULL WHERE id = ?")  # noqa: S608 (constants only)
_DRAFT = Sql("SELECT value, updated_at FROM drafts WHERE user_id = ? AND item_id = ?")
_DROP_DRAFT = Sql(_DROP_DRAFT_SQL)
_IDEMPOTENT = Sql("SELECT annotation_id FROM idempotency_keys WHERE user_id = ? AND key = ?")
_REMEMBER = Sql("INSERT INTO idempotency_keys (user_id, key, project_id, annotation_id) VALUES (?, ?, ?, ?)")
_HEAD = Sql(
    f"SELECT {ANNOTATION_COLUMNS} FROM annotations WHERE item_id = ? AND annotator = ? ORDER BY id DESC LIMIT 1"  # noqa: S608 (constants only)
)
_IS_REVIEWED = Sql("SELECT 1 FROM reviews WHERE annotation_id = ? LIMIT 1")
# submit: the annotator's newest version, whether it was reviewed, row-locked on PostgreSQL (writers of
# one chain are serialised: a reviewer's correction and this submit). Sent after the slot's row lock
# in the same round trip, it starts once that lock is held, so it reads what committed meanwhile.
# submit: the item with its project (held items left out) and the annotation the idempotency key made
_SUBMIT_ITEM = Sql(
    f"SELECT {WITH_PROJECT_COLUMNS},"  # noqa: S608 (constants only)
    " (SELECT k.annotation_id FROM idempotency_keys k WHERE k.user_id = ? AND k.key = ?)"
    f" FROM items i JOIN projects p ON p.id = i.project_id WHERE i.id = ? AND i.project_id = ? AND {NOT_HELD_I}"
)
_HEAD_LOCKED = Sql(
    f"SELECT {ANNOTATION_COLUMNS}, (SELECT 1 FROM reviews r WHERE r.annotation_id = a.id LIMIT 1)"  # noqa: S608 (constants only)
    " FROM annotations a WHERE a.item_id = ? AND a.annotator = ? ORDER BY a.id DESC LIMIT 1",
    pg_tail=" FOR UPDATE OF a",
)
_LOCK_ANNOTATION = Sql("SELECT id FROM annotations WHERE id = ? FOR UPDATE")
_REVIEWER_LOCK_CLASS = 0x4C4C52  # "LLR": the advisory-lock namespace of one reviewer's review/next calls
_REVIEWER_LOCK = Sql("SELECT pg_advisory_xact_lock(?, ?) IS NULL")
# insert the lock, or take it over when it is the asker's own or expired; no row: another holds it
_TAKE_REVIEW = Sql(
    "INSERT INTO review_locks (annotation_id, project_id, user_id, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (annotation_id) DO UPDATE SET user_id = excluded.user_id, expires_at = excluded.expires_at"
    " WHERE review_locks.user_id = excluded.user_id OR review_locks.expires_at < ?"
)
_REVIEW_LOCK = Sql("SELECT user_id, expires_at FROM review_locks WHERE annotation_id = ?", pg_tail=" FOR UPDATE")
_RELEASE_REVIEW = Sql("DELETE FROM review_locks WHERE annotation_id = ?")
_GRANT = Sql("INSERT INTO media_grants (sha256, project_id) VALUES (?, ?) ON CONFLICT DO NOTHING")


def _reviewable(a: Any, reviewer: str) -> list[Any]:
    """Conditions on annotations ``a`` to review: submitted, not by ``reviewer``, open, item not held.

    Open: not reviewed, not replaced by a newer version, not itself a reviewer's correction.
    """
    r = t.reviews
    child = a.alias()
    return [
        a.c.status == "submitted",
        a.c.annotator != reviewer,
        ~exists().where(r.c.annotation_id == a.c.id),
        ~exists().where(child.c.parent_id == a.c.id),
        ~exists().where(r.c.correction_id == a.c.id),
        _not_held(a.c.item_id),
    ]


@dataclass(frozen=True, slots=True)
class QueuedSlot:
    """A free queued slot with its item's best suggestion score and label type.

    ``best_score`` is None without a scored suggestion; ``label`` is the ``(control, label)`` of
    the first region of the item's best suggestion (None: unknown).
    """

    slot: Slot
    best_score: float | None
    label: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class NextState:
    """What ``next`` reads first (:meth:`TaskRepo.next_state`).

    ``candidates`` is None when they were not read ahead (SQLite: no round trip to save).
    """

    settings: TaskSettings
    top: int | None
    held: Slot | None
    stats: UserStats
    quota: int | None
    evidence: Evidence
    candidates: list[QueuedSlot] | None


@dataclass(frozen=True, slots=True)
class SubmitFacts:
    """What ``submit`` reads first (:meth:`TaskRepo.submit_facts`).

    ``item_row`` is the raw row of the item and its project (None: not there, or held);
    ``done_before`` the annotation an earlier use of the idempotency key created; ``slot`` the
    user's slot of the item (row-locked on PostgreSQL); ``head`` their newest version of it
    (row-locked too) and ``reviewed`` whether that version has a review.
    """

    item_row: Any
    done_before: int | None
    slot: Slot | None
    head: Annotation | None
    reviewed: bool


def _label_key(text: Any) -> tuple[str, str] | None:
    if not isinstance(text, str) or " " not in text:
        return None
    control, label = text.split(" ", 1)
    return control, label


class TaskRepo:
    """Work-assignment rows of one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.raw = Raw(conn)

    def _slot(self, r: Any) -> Slot:
        return Slot(r[0], r[1], r[2], r[3], r[4], self.raw.time_out(r[5]))

    # settings and queue filling ------------------------------------------------------------
    def settings(self, project_id: int) -> TaskSettings:
        """The project's settings (defaults when never set)."""
        return self.queue_state(project_id)[0]

    def queue_state(self, project_id: int, *, asker: int | None = None) -> tuple[TaskSettings, int | None]:
        """The project's settings and its newest item id (None: no items), in one query.

        With ``asker`` (a user id), that user's concurrent ``next`` calls are serialised from here
        to the end of the transaction (PostgreSQL advisory lock; SQLite writers are serial).
        """
        if asker is not None and self.pg:
            r = self.raw.one(_LOCKED_SETTINGS_AND_TOP, (_ASKER_LOCK_CLASS, asker, project_id, project_id))[1:]
        else:
            r = self.raw.one(_SETTINGS_AND_TOP, (project_id, project_id))
        return self._queue_state_of(project_id, r)

    @staticmethod
    def _queue_state_of(project_id: int, r: Any) -> tuple[TaskSettings, int | None]:
        top = None if r[4] is None else int(r[4])
        if r[0] is None:
            return TaskSettings(project_id), top
        return TaskSettings(project_id, r[0], r[1], r[2], r[3]), top

    def next_state(self, project_id: int, user_id: int, at: datetime, limit: int = 32) -> NextState:
        """``next``'s first reads: settings and newest item, held slot, standing, evidence, candidates.

        Serialises the user's ``next`` calls first (as :meth:`queue_state` with ``asker``). On
        PostgreSQL one round trip: the lock, then the reads, which the server starts only once
        the lock is held; the free candidates (:meth:`candidates`) come too, for the caller to
        use when it goes on to take a new slot.
        """
        raw = self.raw
        if self.pg:
            first: Step = (_LOCKED_SETTINGS_AND_TOP, (_ASKER_LOCK_CLASS, user_id, project_id, project_id))
        else:
            first = (_SETTINGS_AND_TOP, (project_id, project_id))
        steps = [
            first,
            (_HELD_AND_STANDING, (user_id, project_id, user_id, project_id, project_id, user_id, project_id, user_id)),
            evidence_step(project_id, user_id),
        ]
        if self.pg:
            steps.append(self._candidates_step(project_id, user_id, at, limit))
        done = raw.batch(steps)
        settings, top = self._queue_state_of(project_id, done[0].first()[1:] if self.pg else done[0].first())
        held, stats, quota = self._held_and_standing_of(done[1].first())
        found = self._candidates_of(done[3].rows) if self.pg else None
        return NextState(settings, top, held, stats, quota, evidence_of(done[2].rows), found)

    def submit_facts(self, project_id: int, item_id: int, user_id: int, username: str, key: str) -> SubmitFacts:
        """``submit``'s first reads, in one round trip on PostgreSQL.

        The item with its project (held items left out), the idempotency key's annotation, the
        user's slot of the item (row lock: a concurrent submit of the same slot waits here) and,
        read after that lock, their newest version (row lock) and whether it was reviewed.
        """
        raw = self.raw
        done = raw.batch([
            (_SUBMIT_ITEM, (user_id, key, item_id, project_id)),
            (_SLOT_FOR_UPDATE, (item_id, user_id)),
            (_HEAD_LOCKED, (item_id, username)),
        ])  # fmt: skip
        item_row, slot_row, head_row = done[0].first(), done[1].first(), done[2].first()
        if item_row is None:  # no such item (or held): the caller answers 404, nothing else counts
            return SubmitFacts(None, None, None, None, False)
        key_annotation = item_row[-1]
        return SubmitFacts(
            item_row,
            None if key_annotation is None else int(key_annotation),
            None if slot_row is None else self._slot(slot_row),
            None if head_row is None else annotation_from_raw(raw, head_row),
            head_row is not None and head_row[-1] is not None,
        )

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

    def sync(self, s: TaskSettings, top: int | None = None) -> TaskSettings:
        """Queue ``overlap`` slots for each item added since the last sync (gold items excepted).

        ``top`` is the project's newest item id when the caller has it (:meth:`queue_state`);
        otherwise one index probe finds it, so ``next`` can call this every time.
        """
        i = t.items
        if top is None:
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
        r = self.raw.one(_HELD, (user_id, project_id, user_id, project_id))
        return None if r is None else self._slot(r)

    def candidates(self, project_id: int, user_id: int, at: datetime, limit: int = 32) -> list[QueuedSlot]:
        """Free (or expired) queued slots of items the user holds no slot of, in queue order.

        Items held from annotators (awaiting or failing desensitisation) are never offered.
        Each comes with its item's best suggestion score and label type. Only slots of the first
        queue rank found come back (an active-learning batch ranks first), so choosing among them
        by skill never passes over the batch. Nothing is locked: take one with :meth:`take`.
        """
        return self._candidates_of(self.raw.all(*self._candidates_step(project_id, user_id, at, limit)))

    def _candidates_step(self, project_id: int, user_id: int, at: datetime, limit: int) -> Step:
        return _CANDIDATES, (project_id, self.raw.time_in(at), user_id, limit)

    def _candidates_of(self, rows: list[Any]) -> list[QueuedSlot]:
        return [
            QueuedSlot(self._slot(r), None if r[6] is None else float(r[6]), _label_key(r[7]))
            for r in rows
            if r[8] == rows[0][8]
        ]

    def lock(self, slot_id: int, user_id: int, expires_at: datetime) -> None:
        """Lock a slot to a user until ``expires_at`` (renewing the lock the user holds)."""
        self.raw.run(_LOCK, (user_id, self.raw.time_in(expires_at), slot_id))

    def take(self, slot_id: int, user_id: int, expires_at: datetime, at: datetime) -> bool:
        """Take a queued slot that is free (or whose lock expired before ``at``) until ``expires_at``.

        False when another asker took it first, or holds it in an unfinished transaction.
        """
        return self.raw.run(*self.take_step(slot_id, user_id, expires_at, at)) == 1

    def take_step(self, slot_id: int, user_id: int, expires_at: datetime, at: datetime) -> Step:
        """The statement of :meth:`take`, for :meth:`Raw.batch` (taken: its rowcount is 1)."""
        t_in = self.raw.time_in
        return _TAKE, (user_id, t_in(expires_at), slot_id, t_in(at))

    def take_first_step(self, slot_ids: list[int], user_id: int, expires_at: datetime, at: datetime) -> Step:
        """PostgreSQL: take the first of ``slot_ids`` still free, for :meth:`Raw.batch` (its row: the slot id).

        No row: every one was taken (or is being taken) by another asker.
        """
        if not self.pg:
            raise ValueError("take_first_step: PostgreSQL only (SQLite writers are serial: take() the first)")
        t_in = self.raw.time_in
        return _TAKE_FIRST_FREE, (user_id, t_in(expires_at), slot_ids, t_in(at))

    def lock_step(self, slot_id: int, user_id: int, expires_at: datetime) -> Step:
        """The statement of :meth:`lock`, for :meth:`Raw.batch`."""
        return _LOCK, (user_id, self.raw.time_in(expires_at), slot_id)

    def held_and_standing(self, project_id: int, user_id: int) -> tuple[Slot | None, UserStats, int | None]:
        """:meth:`held` and :meth:`standing` in one query."""
        r = self.raw.one(
            _HELD_AND_STANDING,
            (user_id, project_id, user_id, project_id, project_id, user_id, project_id, user_id),
        )
        return self._held_and_standing_of(r)

    def _held_and_standing_of(self, r: Any) -> tuple[Slot | None, UserStats, int | None]:
        held = None if r[0] is None else self._slot(r)
        st = UserStats() if r[6] is None else UserStats(r[6], r[7], r[8], r[9])
        return held, st, r[10]

    def slot_for(self, item_id: int, user_id: int, *, for_update: bool = False) -> Slot | None:
        """The user's slot of an item (queued-and-held, gold in progress, or done)."""
        r = self.raw.one(_SLOT_FOR_UPDATE if for_update else _SLOT_FOR, (item_id, user_id))
        return None if r is None else self._slot(r)

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
        self.raw.run(_FINISH, (slot_id,))

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
        r = self.raw.one(_STATS, (project_id, user_id))
        return UserStats() if r is None else UserStats(r[0], r[1], r[2], r[3])

    def standing(self, project_id: int, user_id: int) -> tuple[UserStats, int | None]:
        """The user's counters and their quota in the project (None: no limit), in one query."""
        r = self.raw.one(_STANDING, (project_id, user_id, project_id, user_id))
        st = UserStats() if r[0] is None else UserStats(r[0], r[1], r[2], r[3])
        return st, r[4]

    def after_submit(
        self, user_id: int, key: str, project_id: int, annotation_id: int, item_id: int, *, finish: Slot | None
    ) -> None:
        """Record the idempotency key, drop the user's draft; finish ``finish`` and count the submit.

        Counting adds one to ``submitted`` and ``since_gold`` (a gold slot's counters are the
        caller's, with :meth:`save_stats`, and it passes ``finish=None`` then finishes it itself).
        One statement on PostgreSQL, sent with the commit (:meth:`Raw.defer`); one per step on SQLite.
        """
        if self.pg:  # sent with the commit (nothing reads it back)
            params: tuple[Any, ...] = (user_id, key, project_id, annotation_id, user_id, item_id)
            if finish is not None:
                params += (finish.id, project_id, user_id)
            self.raw.defer(_AFTER_SUBMIT_PG[finish is not None], params)
            return
        self.remember(user_id, key, project_id, annotation_id)
        self.drop_draft(item_id, user_id)
        if finish is not None:
            self.finish(finish.id)
            self.raw.run(_COUNT, (project_id, user_id))

    def save_stats(self, project_id: int, user_id: int, st: UserStats) -> None:
        """Write the user's counters (insert or update)."""
        self.raw.run(_SAVE_STATS, (project_id, user_id, st.submitted, st.since_gold, st.gold_seen, st.gold_score))

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
        return self.draft_of(self.raw.one(*self.draft_step(item_id, user_id)))

    @staticmethod
    def draft_step(item_id: int, user_id: int) -> Step:
        """The statement of :meth:`draft`, for :meth:`Raw.batch` (parse with :meth:`draft_of`)."""
        return _DRAFT, (user_id, item_id)

    def draft_of(self, row: Any) -> tuple[list[dict[str, Any]], datetime] | None:
        """A draft from the row of :meth:`draft_step` (None: no draft)."""
        if row is None:
            return None
        when = self.raw.time_out(row[1])
        assert when is not None
        return list(self.raw.json_out(row[0])), when

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
        self.raw.run(_DROP_DRAFT, (user_id, item_id))

    def idempotent(self, user_id: int, key: str) -> int | None:
        """The annotation an earlier request with this key created, if any."""
        r = self.raw.one(_IDEMPOTENT, (user_id, key))
        return None if r is None else int(r[0])

    def remember(self, user_id: int, key: str, project_id: int, annotation_id: int) -> None:
        """Record the annotation a key created."""
        self.raw.run(_REMEMBER, (user_id, key, project_id, annotation_id))

    # annotation versions and reviews --------------------------------------------------------
    def head(self, item_id: int, annotator: str) -> Annotation | None:
        """The annotator's newest annotation version of an item."""
        r = self.raw.one(_HEAD, (item_id, annotator))
        return None if r is None else annotation_from_raw(self.raw, r)

    def is_reviewed(self, annotation_id: int) -> bool:
        """Whether the annotation has a review."""
        return self.raw.one(_IS_REVIEWED, (annotation_id,)) is not None

    def next_review(
        self, project_id: int, reviewer: str, after_id: int = 0, *, user_id: int | None = None,
        at: datetime | None = None,
    ) -> Annotation | None:  # fmt: skip
        """The oldest submitted, unreviewed, unreplaced annotation not written by ``reviewer`` (held items skipped).

        With ``user_id`` and ``at``, annotations whose review lock another user holds past ``at``
        are skipped too. Nothing is locked: take it with :meth:`take_review`.
        """
        a, lk = t.annotations, ta.review_locks
        where = [a.c.project_id == project_id, a.c.id > after_id, *_reviewable(a, reviewer)]
        if user_id is not None and at is not None:
            where.append(~exists().where(lk.c.annotation_id == a.c.id, lk.c.user_id != user_id, lk.c.expires_at >= at))
        row = self.conn.execute(select(a).where(*where).order_by(a.c.id).limit(1)).first()
        return None if row is None else _annotation(row)

    # review locks ------------------------------------------------------------------------------
    def serialise_reviewer(self, user_id: int) -> None:
        """Serialise one reviewer's ``review/next`` calls to the end of the transaction.

        PostgreSQL advisory lock; SQLite writers are serial already.
        """
        if self.pg:
            self.raw.one(_REVIEWER_LOCK, (_REVIEWER_LOCK_CLASS, user_id))

    def held_review(self, project_id: int, user_id: int, reviewer: str) -> Annotation | None:
        """The annotation whose review lock the user holds (expired or not), if still to review."""
        a, lk = t.annotations, ta.review_locks
        q = (
            select(a)
            .join(lk, lk.c.annotation_id == a.c.id)
            .where(lk.c.user_id == user_id, lk.c.project_id == project_id, *_reviewable(a, reviewer))
            .order_by(a.c.id)
            .limit(1)
        )
        row = self.conn.execute(q).first()
        return None if row is None else _annotation(row)

    def take_review(
        self, annotation_id: int, project_id: int, user_id: int, expires_at: datetime, at: datetime
    ) -> bool:
        """Lock an annotation for review to the user until ``expires_at``.

        True when it was free, its lock expired before ``at``, or the user held it (renewed);
        False when another user holds it. On PostgreSQL a concurrent taker of the same
        annotation waits for this transaction and then finds it held.
        """
        t_in = self.raw.time_in
        params = (annotation_id, project_id, user_id, t_in(expires_at), t_in(at))
        return self.raw.run(_TAKE_REVIEW, params) == 1

    def review_lock(self, annotation_id: int) -> tuple[int, datetime] | None:
        """Who holds an annotation's review lock and until when (None: never locked or released)."""
        r = self.raw.one(_REVIEW_LOCK, (annotation_id,))
        if r is None:
            return None
        until = self.raw.time_out(r[1])
        assert until is not None
        return int(r[0]), until

    def release_review(self, annotation_id: int) -> None:
        """Drop an annotation's review lock (it was reviewed)."""
        self.raw.run(_RELEASE_REVIEW, (annotation_id,))

    def lock_annotation(self, annotation_id: int) -> None:
        """Serialise writers of one annotation chain (PostgreSQL row lock; SQLite is serial)."""
        if self.pg:
            self.raw.one(_LOCK_ANNOTATION, (annotation_id,))

    def grant(self, project_id: int, sha256s: list[str]) -> None:
        """Let the project's members fetch these blobs."""
        for x in sorted(set(sha256s)):  # (sent with the next statement or the commit on PostgreSQL)
            self.raw.defer(_GRANT, (x, project_id))

    def revoke(self, project_id: int, sha256s: list[str]) -> None:
        """Stop the project's members fetching these blobs (until an item shows them again)."""
        g = ta.media_grants
        for i in range(0, len(sha256s), 500):
            chunk = sorted(set(sha256s[i : i + 500]))
            self.conn.execute(delete(g).where(g.c.project_id == project_id, g.c.sha256.in_(chunk)))
