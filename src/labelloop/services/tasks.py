"""Labelling work: next task, drafts, idempotent versioned submits, reviews, gold, progress.

Each function runs one transaction, checks the relations the permission table needs
(``assignee``, ``author``, ``reviewed``) inside it and calls :func:`labelloop.core.permissions.decide`,
so a check and the write it guards see the same rows.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema
    >>> from labelloop.storage import Store
    >>> from labelloop.services.accounts import create_user
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> schema = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}]})
    >>> with store.transaction() as tx:
    ...     pid = tx.projects.create("p", schema, "user:me").id
    >>> u = create_user(store, "ann", "long enough password")
    >>> next_task(store, pid, u, "annotator") is None  # an empty project
    True
    >>> store.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from labelloop.assignment import (
    Candidate,
    LabelEvidence,
    LabelKey,
    candidate_skills,
    difficulty,
    gold_agreement,
    label_skill,
    outcomes,
    preference_order,
    quota_reached,
    review_outcomes,
    skill,
    wants_gold,
)
from labelloop.core import (
    Annotation,
    AnnotationStatus,
    Item,
    Medium,
    NewAnnotation,
    NewReview,
    Project,
    Review,
    ReviewVerdict,
    Suggestion,
)
from labelloop.core.accounts import User
from labelloop.core.permissions import author_fact, decide
from labelloop.errors import Conflict, InputRejected, InvalidAnnotation, NotFound, PermissionDenied
from labelloop.services.experiments import arm_view
from labelloop.services.redacted_view import visible_labels
from labelloop.services.versions import current_annotation
from labelloop.storage import Store, UnitOfWork, now
from labelloop.storage.accounts_repo import AccountRepo
from labelloop.storage.routing_repo import RoutingRepo
from labelloop.storage.skills_repo import Evidence, SkillRepo
from labelloop.storage.task_view import ItemView, read_item_view
from labelloop.storage.tasks_repo import GOLD, QUEUED, QueuedSlot, Slot, TaskRepo, TaskSettings, UserStats

__all__ = [
    "StaleVersion",
    "accept_suggestion",
    "annotation_json",
    "get_item",
    "get_settings",
    "label_skills",
    "mark_gold",
    "next_review",
    "next_task",
    "project_stats",
    "review",
    "save_draft",
    "set_settings",
    "skill_by_label",
    "submit",
]

Value = list[dict[str, Any]]


class StaleVersion(Conflict):
    """The submit was based on an older version; ``current`` is the server's copy."""

    def __init__(self, current: dict[str, Any] | None) -> None:
        super().__init__("the annotation changed since you loaded it (stale base_version)")
        self.payload = {"current": current}


def annotation_json(a: Annotation) -> dict[str, Any]:
    """The wire form of an annotation version."""
    return {
        "id": a.id, "version_id": a.id, "item_id": a.item_id, "value": a.value, "status": a.status.value,
        "annotator": a.annotator, "parent_id": a.parent_id, "suggestion_id": a.suggestion_id,
        "lead_time_s": a.lead_time_s, "created_at": a.created_at.isoformat(),
    }  # fmt: skip


def _suggestion_json(s: Suggestion) -> dict[str, Any]:
    return {"id": s.id, "backend": s.backend, "model_version": s.model_version, "score": s.score, "value": s.value}


def _review_json(r: Review) -> dict[str, Any]:
    return {
        "id": r.id, "annotation_id": r.annotation_id, "reviewer": r.reviewer, "verdict": r.verdict.value,
        "correction_id": r.correction_id, "comment": r.comment, "created_at": r.created_at.isoformat(),
    }  # fmt: skip


def _item_json(item: Item) -> dict[str, Any]:
    text = next((ref.text for ref in item.data.values() if ref.kind == Medium.TEXT), None)
    return {
        "id": item.id,
        "key": item.key,
        "media": {name: ref.to_json() for name, ref in item.data.items()},
        "meta": item.meta,
        "text": text,
    }


def _payload(
    tx: UnitOfWork, tasks: TaskRepo, project_id: int, view: ItemView, user: User, own_only: bool
) -> dict[str, Any]:
    item = view.item
    redacted = {} if view.redacted_at is None else {item.id: view.redacted_at}
    sugg, anns, revs = visible_labels(tx, view.suggestions, view.annotations, view.reviews, redacted_at=redacted)
    # routed manual/audit, or an experiment arm without prefill: label without suggestions
    sugg, blind, guideline = arm_view(view.rules if own_only else None, sugg)
    if own_only:
        mine = [a for a in anns if a.annotator == user.username]
        ann = mine[-1] if mine else None
    else:
        ann = current_annotation(anns) or (anns[-1] if anns else None)
    draft = view.draft
    tasks.grant(project_id, [ref.sha256 for ref in item.data.values() if ref.kind != Medium.TEXT])
    shown = {ann.id} if ann else set()
    return {
        "item": _item_json(item),
        "suggestions": [_suggestion_json(s) for s in sugg],
        "annotation": None if ann is None else annotation_json(ann),
        "draft": None if draft is None else {"value": draft[0], "updated_at": draft[1].isoformat()},
        "reviews": [_review_json(r) for r in revs if not own_only or r.annotation_id in shown],
        "blind": blind,
        "guidelines": guideline,  # an experiment arm's (None: the project's)
    }


def _view(tx: UnitOfWork, project_id: int, item_id: int, user: User) -> ItemView:
    """The item's view (:func:`read_item_view`).

    Raises:
        NotFound: no such item in the project, or it is held.
    """
    _done, view = read_item_view(tx.conn, project_id, item_id, user.id)
    if view is None:
        raise NotFound("item", item_id)
    return view


def _facts(tasks: TaskRepo, item_id: int, user: User) -> tuple[frozenset[str], Slot | None, Annotation | None]:
    slot = tasks.slot_for(item_id, user.id, for_update=True)
    head = tasks.head(item_id, user.username)
    facts = set()
    if slot is not None:
        facts.add("assignee")
    if head is not None:
        facts.add("author")
        if tasks.is_reviewed(head.id):
            facts.add("reviewed")
    return frozenset(facts), slot, head


def _shown(tx: UnitOfWork, a: Annotation) -> Annotation | None:
    """``a`` as it may be shown, or None.

    A version withheld since its item was desensitised gives way to the newest visible version
    that descends from it (desensitisation gives each chain head it changed a successor).
    """
    versions = tx.labels.for_items([a.item_id])[1]
    visible = {v.id for v in visible_labels(tx, [], versions, [])[1]}
    children: dict[int, list[Annotation]] = {}
    for v in versions:
        if v.parent_id is not None:
            children.setdefault(v.parent_id, []).append(v)
    todo, found = [a], []
    while todo:
        v = todo.pop()
        if v.id in visible:
            found.append(v)
        else:
            todo.extend(children.get(v.id, []))
    return max(found, key=lambda v: v.id, default=None)


def _require(role: str, action: str, facts: frozenset[str]) -> None:
    d = decide(role, action, facts)
    if not d.allowed:
        raise PermissionDenied(d.reason)


def get_item(store: Store, project_id: int, item_id: int, user: User, role: str) -> dict[str, Any]:
    """An item with its suggestions, the relevant annotation, the user's draft and reviews.

    Annotators see only items assigned to them, and only their own annotation.

    Raises:
        NotFound: no such item in the project.
        PermissionDenied: the role may not read it.
    """
    with store.transaction() as tx:
        item = tx.items.get(project_id, item_id, visible_only=True)
        tasks = TaskRepo(tx.conn)
        facts, _slot, _head = _facts(tasks, item_id, user)
        _require(role, "item.read", facts)
        return _payload(tx, tasks, project_id, _view(tx, project_id, item.id, user), user, own_only=role == "annotator")


def _task(
    tx: UnitOfWork, tasks: TaskRepo, project_id: int, slot: Slot, user: User, view: ItemView | None
) -> dict[str, Any]:
    """The task answer for a slot the user now holds; ``view`` is its item's (None: not there).

    Raises:
        NotFound: the item is gone or held (the transaction, and so the lock, is rolled back).
    """
    if view is None:
        raise NotFound("item", slot.item_id)
    payload = _payload(tx, tasks, project_id, view, user, own_only=True)
    head = payload["annotation"]  # own_only: the caller's newest version
    assert slot.expires_at is not None
    return {
        **payload,
        "lock_expires_at": slot.expires_at.isoformat(),
        "base_version": None if head is None else head["id"],
        "is_gold": False,  # never revealed
    }


_ANALYZE_AFTER = 1000  # newly queued items that make the planner statistics stale


def next_task(store: Store, project_id: int, user: User, role: str) -> dict[str, Any] | None:
    """Lock the next task for ``user`` and return it (None when there is nothing for them).

    Order of choice: the task they already hold (its lock is renewed); a gold task when the
    gold rate says so; else among the first free queued slots the one whose difficulty best
    matches their skill on its label type (the label of the item's best suggestion; their
    overall skill where they have no evidence for it, see :mod:`labelloop.assignment.evidence`).
    Quotas end the work with None. On PostgreSQL the usual case is three round trips: the
    state (:meth:`TaskRepo.next_state`), the take with the task's rows, the commit.

    Raises:
        PermissionDenied: the role may not take tasks.
    """
    _require(role, "task.next", frozenset())
    at = now()
    with store.transaction() as tx:
        tasks = TaskRepo(tx.conn)
        state = tasks.next_state(project_id, user.id, at)  # one user's nexts: one at a time
        before = state.settings
        settings = tasks.sync(before, state.top)
        if settings.synced_item_id - before.synced_item_id >= _ANALYZE_AFTER:
            tasks.refresh_statistics()  # (PostgreSQL counts this transaction's own new rows)
        expires = at + timedelta(seconds=settings.lock_seconds)
        held, stats = state.held, state.stats
        if held is not None:
            lock = tasks.lock_step(held.id, user.id, expires)
            _done, view = read_item_view(tx.conn, project_id, held.item_id, user.id, ahead=[lock])
            return _task(tx, tasks, project_id, _renew(held, expires), user, view)
        if quota_reached(stats.submitted, state.quota):
            return None
        if wants_gold(settings.gold_rate, stats.since_gold):
            gold_item = tasks.gold_for(project_id, user.id)
            if gold_item is not None:
                slot = tasks.add_gold_slot(project_id, gold_item, user.id, expires)
                return _task(tx, tasks, project_id, slot, user, _view(tx, project_id, gold_item, user))
        overall = skill(stats.gold_seen, stats.gold_score)
        ahead = state.candidates if settings == before else None  # (a sync queued new slots: read again)
        return _claim_next(tx, tasks, project_id, user, (at, expires), overall, _evidence(state.evidence), ahead)


def _evidence(rows: Evidence) -> dict[LabelKey, LabelEvidence]:
    return {k: LabelEvidence(seen, correct) for k, (seen, correct) in rows.items()}


_CLAIM_ROUNDS = 20


def _claim_next(
    tx: UnitOfWork, tasks: TaskRepo, project_id: int, user: User, times: tuple[datetime, datetime], overall: float,
    evidence: dict[LabelKey, LabelEvidence], found: list[QueuedSlot] | None,
) -> dict[str, Any] | None:  # fmt: skip
    """Take the best-matching free slot and answer with its task; when another asker took it, the next best.

    ``times`` is ``(now, lock expiry)``; ``found`` the candidates when the caller read them
    already. The take goes with the read of the first choice's item (one round trip on
    PostgreSQL, where the take moves down the asker's order of preference by itself; on SQLite
    writers are serial and the first choice is free). Every lost choice means another asker
    just took it, so the rounds only go on while the queue is moving; None when nothing is free.
    """
    at, expires = times
    for _ in range(_CLAIM_ROUNDS):
        if found is None:
            found = tasks.candidates(project_id, user.id, at)
        if not found:
            return None
        cands = [Candidate(c.slot.id, c.slot.item_id, difficulty(c.best_score), c.label) for c in found]
        order = preference_order(cands, candidate_skills(cands, overall, evidence))
        slots = {c.slot.id: c.slot for c in found}
        first = order[0]
        if tasks.pg:
            take = tasks.take_first_step([c.slot_id for c in order], user.id, expires, at)
            done, view = read_item_view(tx.conn, project_id, first.item_id, user.id, ahead=[take])
            row = done[0].first()
            if row is not None:
                slot = slots[int(row[0])]
                if slot.id != first.slot_id:  # the first choice went to another asker: read the one taken
                    view = read_item_view(tx.conn, project_id, slot.item_id, user.id)[1]
                return _task(tx, tasks, project_id, _renew(slot, expires, user.id), user, view)
        else:
            for c in order:
                take = tasks.take_step(c.slot_id, user.id, expires, at)
                done, view = read_item_view(tx.conn, project_id, c.item_id, user.id, ahead=[take])
                if done[0].count == 1:
                    return _task(tx, tasks, project_id, _renew(slots[c.slot_id], expires, user.id), user, view)
        found = None
    return None


def _renew(slot: Slot, expires: Any, user_id: int | None = None) -> Slot:
    return Slot(slot.id, slot.item_id, slot.slot, slot.state, user_id or slot.user_id, expires)


def _validate(project: Project, item: Item, value: Any) -> Value:
    if not isinstance(value, list):
        raise InvalidAnnotation([f"value: expected a list of regions, got {type(value).__name__}"])
    problems = project.schema.validate_value(value, item.data)
    if problems:
        raise InvalidAnnotation(problems)
    return value


def save_draft(store: Store, project_id: int, item_id: int, user: User, role: str, value: Value) -> str:
    """Autosave the user's draft of an item they hold; return its time (ISO).

    Drafts are not validated against the schema (work in progress), only size-limited by the API.

    Raises:
        PermissionDenied: the item is not assigned to the user, or already reviewed.
    """
    with store.transaction() as tx:
        tx.items.get(project_id, item_id, visible_only=True)
        tasks = TaskRepo(tx.conn)
        facts, _slot, _head = _facts(tasks, item_id, user)
        _require(role, "draft.write", facts)
        if not isinstance(value, list):
            raise InvalidAnnotation([f"value: expected a list of regions, got {type(value).__name__}"])
        return tasks.put_draft(project_id, item_id, user.id, value).isoformat()


@dataclass(frozen=True, slots=True)
class Submitted:
    """A submit's result: the annotation and whether this request created it."""

    annotation: dict[str, Any]
    created: bool


def submit(
    store: Store,
    project_id: int,
    item_id: int,
    user: User,
    role: str,
    value: Any,
    *,
    base_version: int | None,
    idempotency_key: str,
    lead_time_s: float | None = None,
    suggestion_id: int | None = None,
) -> Submitted:
    """Submit the user's annotation of an item: a new version on top of ``base_version``.

    A retried request with the same ``idempotency_key`` returns the first result and writes
    nothing. A ``base_version`` that is not the user's newest version gets :class:`StaleVersion`.

    Raises:
        InputRejected: a missing or malformed idempotency key.
        PermissionDenied: not the assignee, or the annotation was already reviewed.
        StaleVersion: ``base_version`` is outdated.
        InvalidAnnotation: the value breaks the label schema.
    """
    if not idempotency_key or len(idempotency_key) > 100:
        raise InputRejected("Idempotency-Key header", "1-100 characters", repr(idempotency_key[:20]))
    with store.transaction() as tx:
        tasks = TaskRepo(tx.conn)
        # one round trip on PostgreSQL; the slot and the head come row-locked
        f = tasks.submit_facts(project_id, item_id, user.id, user.username, idempotency_key)
        project, item = tx.items.with_project_or_raise(f.item_row, project_id, item_id)
        done_before = f.done_before
        if done_before is not None:
            prior = tx.labels.annotation(done_before)
            if prior.project_id != project_id or prior.item_id != item_id:
                raise Conflict("Idempotency-Key was already used for another item")
            shown = _shown(tx, prior)
            if shown is None:  # replaced since, and withheld: what it returned is no longer shown
                raise StaleVersion(None)
            return Submitted(annotation_json(shown), created=False)
        slot, head = f.slot, f.head
        facts = {"assignee"} if slot is not None else set()
        if head is not None:
            facts |= {"author", "reviewed"} if f.reviewed else {"author"}
        _require(role, "annotation.submit", frozenset(facts))
        assert slot is not None
        if base_version != (head.id if head else None):
            current = None if head is None else _shown(tx, head)
            raise StaleVersion(None if current is None else annotation_json(current))
        clean = _validate(project, item, value)
        stored = tx.labels.add_annotation(
            project_id,
            NewAnnotation(item_id, clean, user.username, AnnotationStatus.SUBMITTED, lead_time_s,
                          head.id if head else None, suggestion_id),
        )  # fmt: skip
        # the key, the draft, and for a slot not finished yet: finished and counted
        if slot.state == GOLD:
            _count_gold(tasks, project_id, user, slot, clean)
            tasks.finish(slot.id)
        counted = slot if slot.state == QUEUED else None
        tasks.after_submit(user.id, idempotency_key, project_id, stored.id, item_id, finish=counted)
        return Submitted(annotation_json(stored), created=True)


def _count_gold(tasks: TaskRepo, project_id: int, user: User, slot: Slot, value: Value) -> None:
    """Score a gold answer: the overall counters, and the evidence per label type."""
    st = tasks.stats(project_id, user.id)
    gold = tasks.gold_value(slot.item_id) or []
    st = type(st)(st.submitted, 0, st.gold_seen + 1, st.gold_score + gold_agreement(value, gold))
    tasks.save_stats(project_id, user.id, st)
    SkillRepo(tasks.conn).add(project_id, user.id, outcomes(value, gold))


def accept_suggestion(
    store: Store, project_id: int, suggestion_id: int, user: User, role: str, idempotency_key: str
) -> Submitted:
    """Accept a model suggestion: the user's new annotation version carries its value.

    Annotators must hold the item's task; reviewers and managers may accept on any item (the
    item is then recorded as theirs, without counting toward annotator quotas).

    Raises:
        NotFound: no such suggestion in the project.
        PermissionDenied: the role may not accept it.
    """
    with store.transaction() as tx:
        tasks = TaskRepo(tx.conn)
        s = tasks.suggestion(suggestion_id)
        if s is None or s.project_id != project_id:
            raise NotFound("suggestion", suggestion_id)
        tx.items.get(project_id, s.item_id, visible_only=True)  # a held item is not there to accept on
        if tasks.slot_for(s.item_id, user.id) is None:
            _require(role, "suggestion.accept", frozenset())
            tasks.claim(project_id, s.item_id, user.id)
        head = tasks.head(s.item_id, user.username)
    return submit(
        store, project_id, s.item_id, user, role, s.value,
        base_version=head.id if head else None, idempotency_key=idempotency_key, suggestion_id=s.id,
    )  # fmt: skip


def next_review(store: Store, project_id: int, user: User, role: str) -> dict[str, Any] | None:
    """Lock the next annotation to review to ``user`` and return it with its item (None: nothing).

    The annotation the reviewer already holds comes back first (its lock renewed); else the
    oldest unreviewed submitted annotation (not their own) that no other reviewer holds a live
    lock on. Locks last the project's ``lock_seconds``; ``lock_expires_at`` says until when.
    Two concurrent reviewers never get the same annotation.

    Raises:
        PermissionDenied: the role may not review.
    """
    _require(role, "review.next", frozenset())
    at = now()
    with store.transaction() as tx:
        tasks = TaskRepo(tx.conn)
        tasks.serialise_reviewer(user.id)
        expires = at + timedelta(seconds=tasks.settings(project_id).lock_seconds)
        ann = tasks.held_review(project_id, user.id, user.username)
        if ann is None or not tasks.take_review(ann.id, project_id, user.id, expires, at):  # renewed, or
            ann = _take_next_review(tasks, project_id, user, at, expires)  # (expired and just taken over)
        if ann is None:
            return None
        payload = _payload(tx, tasks, project_id, _view(tx, project_id, ann.item_id, user), user, own_only=False)
        payload["annotation"] = annotation_json(ann)
        payload["lock_expires_at"] = expires.isoformat()
        return payload


_REVIEW_ROUNDS = 50


def _take_next_review(
    tasks: TaskRepo, project_id: int, user: User, at: datetime, expires: datetime
) -> Annotation | None:
    """Lock the oldest reviewable annotation no one else holds; on a lost race, the next one."""
    after = 0
    for _ in range(_REVIEW_ROUNDS):
        ann = tasks.next_review(project_id, user.username, after, user_id=user.id, at=at)
        if ann is None:
            return None
        # (a concurrent review may have committed since the read: re-check once the lock is ours)
        if tasks.take_review(ann.id, project_id, user.id, expires, at) and not tasks.is_reviewed(ann.id):
            return ann
        after = ann.id
    return None


def review(
    store: Store,
    project_id: int,
    item_id: int,
    user: User,
    role: str,
    *,
    annotation_id: int,
    verdict: str,
    value: Any = None,
    comment: str = "",
) -> dict[str, Any]:
    """Record a verdict; ``correct`` stores the reviewer's value as a new version first.

    Raises:
        NotFound: the annotation is not of this item and project.
        PermissionDenied: reviewing one's own annotation, or a role that may not review.
        Conflict: the annotation was already reviewed or replaced.
        InvalidAnnotation: a correction breaks the schema, or a value came without ``correct``.
    """
    try:
        v = ReviewVerdict(verdict)
    except ValueError:
        raise InputRejected("verdict", "accept, reject or correct", repr(verdict)) from None
    with store.transaction() as tx:
        project = tx.projects.get(project_id)
        item = tx.items.get(project_id, item_id, visible_only=True)
        tasks = TaskRepo(tx.conn)
        ann = tx.labels.annotation(annotation_id)
        if ann.project_id != project_id or ann.item_id != item_id:
            raise NotFound("annotation", annotation_id)
        _require(role, "review.write", author_fact(ann.annotator, user.username))
        tasks.lock_annotation(ann.id)
        if tasks.is_reviewed(ann.id):
            raise Conflict(f"annotation {ann.id} was already reviewed")
        _check_review_lock(tasks, ann.id, user)
        correction_id = None
        if v is ReviewVerdict.CORRECT:
            clean = _validate(project, item, value)
            (correction_id,) = tx.labels.add_annotations(
                project_id, [NewAnnotation(item_id, clean, user.username, AnnotationStatus.SUBMITTED, None, ann.id)]
            )
        elif value is not None:
            raise InvalidAnnotation([f"value: only a 'correct' verdict carries a value, got verdict {v.value!r}"])
        new = NewReview(ann.id, user.username, v, correction_id, comment)
        (rid,) = tx.labels.add_reviews(project_id, [new], [item_id])
        tasks.release_review(ann.id)
        if ann.annotator != user.username:  # (a manager reviewing their own work earns nothing by it)
            _count_review(tx, project_id, ann, v, None if correction_id is None else clean)
        _s, _a, revs = tx.labels.for_items([item_id])
        fixed = None if correction_id is None else annotation_json(tx.labels.annotation(correction_id))
        return {"review": next(_review_json(r) for r in revs if r.id == rid), "correction": fixed}


def _check_review_lock(tasks: TaskRepo, annotation_id: int, user: User) -> None:
    """Refuse a review of an annotation another reviewer holds a live review lock on."""
    lock = tasks.review_lock(annotation_id)
    if lock is not None and lock[0] != user.id and lock[1] > now():
        raise Conflict(
            f"annotation {annotation_id} is locked for review by another reviewer until "
            f"{lock[1].isoformat()}; ask review/next for another one"
        )


def _count_review(
    tx: UnitOfWork, project_id: int, ann: Annotation, verdict: ReviewVerdict, fixed: Value | None
) -> None:
    """Credit the reviewed annotation's author per label type (authors who are no user, e.g. imported: none)."""
    author = AccountRepo(tx.conn).user_by_name(ann.annotator)
    if author is None:
        return
    credits = review_outcomes(ann.value, verdict.value, fixed)
    SkillRepo(tx.conn).add(project_id, author[0].id, credits)


def mark_gold(store: Store, project_id: int, item_id: int, value: Any) -> None:
    """Make an item a gold task whose answer is ``value`` (validated against the schema).

    Raises:
        NotFound: no such item.
        InvalidAnnotation: the answer breaks the schema.
    """
    with store.transaction() as tx:
        project = tx.projects.get(project_id)
        item = tx.items.get(project_id, item_id, visible_only=True)
        TaskRepo(tx.conn).mark_gold(project_id, item_id, _validate(project, item, value))


def get_settings(store: Store, project_id: int) -> dict[str, Any]:
    """The project's assignment settings."""
    with store.read() as tx:
        s = TaskRepo(tx.conn).settings(project_id)
    return {"overlap": s.overlap, "gold_rate": s.gold_rate, "lock_seconds": s.lock_seconds}


def set_settings(
    store: Store, project_id: int, *, overlap: int | None = None, gold_rate: float | None = None,
    lock_seconds: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Change the assignment settings; a new overlap applies to items queued from now on.

    Raises:
        InputRejected: a value out of range.
    """
    with store.transaction() as tx:
        tasks = TaskRepo(tx.conn)
        s = tasks.settings(project_id)
        new = TaskSettings(
            project_id,
            s.overlap if overlap is None else overlap,
            s.gold_rate if gold_rate is None else gold_rate,
            s.lock_seconds if lock_seconds is None else lock_seconds,
            s.synced_item_id,
        )
        if not 1 <= new.overlap <= 20:
            raise InputRejected("overlap", "1..20", str(new.overlap))
        if not 0.0 <= new.gold_rate <= 1.0:
            raise InputRejected("gold_rate", "0..1", str(new.gold_rate))
        if not 30 <= new.lock_seconds <= 86_400:
            raise InputRejected("lock_seconds", "30..86400", str(new.lock_seconds))
        tasks.save_settings(new)
    return get_settings(store, project_id)


def skill_by_label(evidence: Evidence, overall: float) -> dict[str, dict[str, dict[str, float]]]:
    """Control → label → ``{seen, accuracy, skill}`` of one annotator's evidence per label type.

    ``accuracy`` is ``correct / seen``; ``skill`` is what task assignment uses for that label
    type (:func:`labelloop.assignment.label_skill`: the accuracy shrunk toward ``overall``).

    Example:
        >>> skill_by_label({("sentiment", "pos"): (6, 6.0)}, 0.5)
        {'sentiment': {'pos': {'seen': 6, 'accuracy': 1.0, 'skill': 0.8}}}
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (control, label), (seen, correct) in sorted(evidence.items()):
        ev = LabelEvidence(seen, correct)
        out.setdefault(control, {})[label] = {
            "seen": seen,
            "accuracy": round(ev.accuracy or 0.0, 4),
            "skill": round(label_skill(ev, overall), 4),
        }
    return out


def label_skills(store: Store, project_id: int) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Username → :func:`skill_by_label`, for every annotator with evidence per label type in the project."""
    with store.read() as tx:
        people = dict(TaskRepo(tx.conn).all_stats(project_id))
        by_label = SkillRepo(tx.conn).of_project(project_id)
    out = {}
    for name, evidence in by_label.items():
        st = people.get(name) or UserStats()
        out[name] = skill_by_label(evidence, skill(st.gold_seen, st.gold_score))
    return out


def project_stats(store: Store, project_id: int) -> dict[str, Any]:
    """Progress (items, queue states, labels), per-annotator counters and skill (overall and per label), settings.

    ``skill_by_label`` is :func:`skill_by_label` of the annotator's evidence from gold and reviews.
    """
    with store.read() as tx:
        counts = tx.projects.counts(project_id)
        tasks = TaskRepo(tx.conn)
        queue = tasks.queue_counts(project_id)
        people = dict(tasks.all_stats(project_id))
        by_label = SkillRepo(tx.conn).of_project(project_id)
        tiers = RoutingRepo(tx.conn).tier_counts(project_id)  # items per routing tier (labelloop route)
    rows = []
    for name in sorted(people.keys() | by_label.keys()):
        st = people.get(name) or UserStats()
        overall = skill(st.gold_seen, st.gold_score)
        rows.append({
            "username": name,
            "submitted": st.submitted,
            "gold_seen": st.gold_seen,
            "skill": round(overall, 4),
            "skill_by_label": skill_by_label(by_label.get(name, {}), overall),
        })  # fmt: skip
    return {
        "progress": {**counts, **queue},
        "annotators": rows,
        "tiers": tiers,
        "settings": get_settings(store, project_id),
    }
