"""Correction tasks: the reviewer's side of QC. List them, take the next one, show it, fix or dismiss it.

QC (:mod:`labelloop.services.qc`) opens one correction task per finding. Here people work
through them:

* :func:`list_tasks`: a keyset page of a project's open tasks (by rule and severity), and the
  open count per rule;
* :func:`next_task`: the oldest open task nobody else holds, locked to the caller for the
  project's task-lock time (``lock_seconds`` of the assignment settings). A person holds one
  task at a time: taking another releases the previous one; ``after`` skips to the next;
* :func:`claim`: lock one named task (opened from the QC dashboard);
* :func:`show`: the task, its finding, the item through the labelling view's own read
  (:func:`labelloop.services.tasks.get_item`: held items are 404, pre-redaction label versions
  are withheld), the **current version** of the label in question and what the editor starts from;
* :func:`resolve`: ``fixed`` stores the corrected value as a new annotation version on top of
  the current version (schema-validated; a stale ``base_version`` is a 409 carrying the
  server's copy), ``dismissed`` needs a reason. Either is one ``correction`` provenance event
  with the person as actor (a fix also writes the ``annotation`` event of its new version).

The current version of a finding's label is the newest version descending from the annotation
the finding names (a human label), else the item's current annotation
(:func:`labelloop.services.versions.current_annotation`). Findings raised before an item was
desensitised may quote its original text: their message and fix are withheld.

Who may resolve a task is the permission table's ``correction.resolve`` with the ``author``
fact: the caller wrote the annotation the finding names (:attr:`labelloop.core.findings.Finding.author`,
through :func:`labelloop.core.permissions.author_fact`, as reviews do). A reviewer may not take
(``next`` skips it), lock or resolve a task about their own annotation (403); a manager may. A
task with no single author (an item-level finding, or one about a model's suggestion) is open
to every reviewer.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema
    >>> from labelloop.storage import Store
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> schema = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]})
    >>> with store.transaction() as tx:
    ...     pid = tx.projects.create("p", schema, "me").id
    >>> list_tasks(store, pid)
    {'tasks': [], 'next': None, 'rules': []}
    >>> store.close()
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from labelloop.core import Actor, Annotation, AnnotationStatus, NewAnnotation
from labelloop.core.accounts import User
from labelloop.core.findings import LabelSource, Severity
from labelloop.core.permissions import Decision, author_fact, decide, static_decision
from labelloop.errors import Conflict, InputRejected, InvalidAnnotation, PermissionDenied
from labelloop.services.browse import MAX_PAGE
from labelloop.services.redacted_view import visible_labels
from labelloop.services.tasks import StaleVersion, annotation_json, get_item
from labelloop.services.versions import current_annotation
from labelloop.storage import Store, UnitOfWork, now
from labelloop.storage.corrections_repo import CorrectionRepo, CorrectionTask
from labelloop.storage.tasks_repo import TaskRepo

__all__ = [
    "RESOLUTIONS",
    "WITHHELD_FINDING",
    "claim",
    "current_version",
    "list_tasks",
    "next_task",
    "resolve",
    "show",
]

RESOLUTIONS = ("fixed", "dismissed")
WITHHELD_FINDING = "(withheld: raised before the item was desensitised)"
MAX_REASON = 2000
_SEVERITIES = tuple(s.value for s in Severity)
RESOLVE = "correction.resolve"


def _require(role: str, action: str) -> None:
    """Refuse a role the table denies ``action`` whatever the relations (a task's come later)."""
    if static_decision(role, action) is False:
        raise PermissionDenied(decide(role, action, frozenset()).reason)


def _may_resolve(task: CorrectionTask, user: User, role: str) -> Decision:
    """The table's answer for ``user`` resolving ``task``, with the ``author`` fact."""
    return decide(role, RESOLVE, author_fact(task.record.finding.author, user.username))


def _require_resolve(task: CorrectionTask, user: User, role: str) -> None:
    """Refuse a task the caller may not resolve (as a reviewer: one about their own annotation).

    Raises:
        PermissionDenied: with the reason.
    """
    d = _may_resolve(task, user, role)
    if d.allowed:
        return
    f = task.record.finding
    if f.author == user.username:
        raise PermissionDenied(
            f"correction task {task.id} is about your own annotation {f.record_id}: a {role} does not "
            f"resolve findings on their own work ({d.reason}); leave it to someone else"
        )
    raise PermissionDenied(d.reason)


def _check_filters(rule: str | None, severity: str | None) -> None:
    if severity is not None and severity not in _SEVERITIES:
        raise InputRejected("severity", f"one of {', '.join(_SEVERITIES)}", repr(severity))
    if rule is not None and not 0 < len(rule) <= 100:
        raise InputRejected("rule", "a rule id of 1-100 characters", repr(rule[:20]))


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _withheld(task: CorrectionTask, redacted: dict[int, datetime]) -> bool:
    moment = redacted.get(task.item_id)
    return moment is not None and task.record.created_at < moment


def _task_json(task: CorrectionTask, at: datetime, redacted: dict[int, datetime]) -> dict[str, Any]:
    """The wire form of a task with its finding (message and fix withheld when they predate redaction)."""
    f = task.record.finding
    hidden = _withheld(task, redacted)
    locked = task.locked_by is not None and task.lock_expires_at is not None and task.lock_expires_at > at
    return {
        "id": task.id,
        "item_id": f.item_id,
        "status": task.status,
        "resolution": task.record.resolution,
        "resolved_by": task.resolved_by,
        "resolved_at": _iso(task.resolved_at),
        "note": task.note,
        "created_at": task.record.created_at.isoformat(),
        "lock": {"user": task.locked_by_name, "expires_at": _iso(task.lock_expires_at)} if locked else None,
        "finding": {
            "id": task.record.id,
            "run_id": task.record.run_id,
            "rule_id": f.rule_id,
            "severity": f.severity.value,
            "message": WITHHELD_FINDING if hidden else f.message,
            "region_id": f.region_id,
            "control": f.control,
            "label": f.label,
            "fix": None if hidden else f.fix,
            "detector": f.detector.value,
            "label_source": f.label_source.value,
            "annotator": f.annotator,
            "record_id": f.record_id,
            "score": f.score,
        },
    }


def list_tasks(
    store: Store,
    project_id: int,
    *,
    rule: str | None = None,
    severity: str | None = None,
    after: int = 0,
    limit: int = 50,
) -> dict[str, Any]:
    """A keyset page of the project's open correction tasks, oldest first, and the open count per rule.

    Tasks of held items are left out. ``next`` is the ``after`` of the next page (None: the last).

    Raises:
        NotFound: no such project.
        InputRejected: an unknown severity or a malformed rule.
    """
    _check_filters(rule, severity)
    limit = max(1, min(limit, MAX_PAGE))
    at = now()
    with store.read() as tx:
        tx.projects.get(project_id)
        repo = CorrectionRepo(tx.conn)
        page = repo.page(project_id, rule=rule, severity=severity, after_id=max(0, after), limit=limit)
        counts = repo.rule_counts(project_id)
        redacted = tx.compliance.redacted_at(sorted({t.item_id for t in page})) if page else {}
    return {
        "tasks": [_task_json(t, at, redacted) for t in page],
        "next": page[-1].id if len(page) == limit else None,
        "rules": [{"rule": r, "severity": s, "open": n} for r, s, n in counts],
    }


def current_version(versions: Sequence[Annotation], label_source: str, record_id: int | None) -> Annotation | None:
    """The current version of the label a finding is about.

    For a human label: the newest submitted version descending from annotation ``record_id``
    (itself when nothing replaced it). Otherwise, or when that annotation is not among
    ``versions``: the item's current annotation.

    Example:
        >>> current_version([], "human", 3) is None
        True
    """
    submitted = [a for a in versions if a.status is AnnotationStatus.SUBMITTED]
    start = next((a for a in submitted if a.id == record_id), None)
    if label_source != LabelSource.HUMAN.value or start is None:
        return current_annotation(submitted)
    children: dict[int, list[Annotation]] = defaultdict(list)
    for a in submitted:
        if a.parent_id is not None:
            children[a.parent_id].append(a)
    todo, leaves = [start], []
    while todo:
        v = todo.pop()
        kids = children.get(v.id)
        if kids:
            todo.extend(kids)
        else:
            leaves.append(v)
    return max(leaves, key=lambda a: (a.created_at, a.id))


def _lock_for(tx: UnitOfWork, project_id: int, at: datetime) -> datetime:
    return at + timedelta(seconds=TaskRepo(tx.conn).settings(project_id).lock_seconds)


def next_task(
    store: Store,
    project_id: int,
    user: User,
    role: str,
    *,
    after: int | None = None,
    rule: str | None = None,
    severity: str | None = None,
) -> dict[str, Any] | None:
    """Lock the caller's next correction task and :func:`show` it; None when none is free.

    Without ``after`` the task the caller already holds comes back (its lock renewed), if it
    matches the filters. Otherwise the oldest free open task with an id above ``after`` (going
    round to the start when there is none above). Taking a task releases the caller's others.
    Tasks the caller may not resolve (a reviewer's own annotations) are never handed out.

    Raises:
        PermissionDenied: the role may not resolve correction tasks.
        InputRejected: an unknown severity or a malformed rule.
    """
    _require(role, RESOLVE)
    _check_filters(rule, severity)
    at = now()
    taken: int | None = None
    # does the table close a task about the caller's own annotation to them? then the query
    # leaves those out (and each candidate is decided again below: the table has the last word)
    skip_own = not decide(role, RESOLVE, author_fact(user.username, user.username)).allowed
    with store.transaction() as tx:
        tx.projects.get(project_id)
        repo = CorrectionRepo(tx.conn)
        expires = _lock_for(tx, project_id, at)
        held = repo.held(project_id, user.id, at) if after is None else None
        if held is not None:
            task = repo.get(project_id, held)
            f = task.record.finding
            wanted = (rule is None or f.rule_id == rule) and (severity is None or f.severity.value == severity)
            if wanted and _may_resolve(task, user, role).allowed:
                repo.take(held, user.id, at, expires)
                taken = held
        starts = [after, 0] if after else [0]
        for start in starts:
            if taken is not None:
                break
            found = repo.candidates(
                project_id, user.id, at, after_id=start, rule=rule, severity=severity,
                not_by=user.username if skip_own else None,
            )  # fmt: skip
            for tid in found:
                if skip_own and not _may_resolve(repo.get(project_id, tid), user, role).allowed:
                    continue
                if repo.take(tid, user.id, at, expires):  # False: another reviewer took it just now
                    taken = tid
                    break
        if taken is None:
            return None
        repo.release(project_id, user.id, keep=taken)
    return show(store, project_id, taken, user, role)


def claim(store: Store, project_id: int, task_id: int, user: User, role: str) -> dict[str, Any]:
    """Lock one open task to the caller (releasing their others) and :func:`show` it.

    Raises:
        NotFound: no such task in the project, or its item is held.
        Conflict: the task is resolved, or someone else holds it.
        PermissionDenied: the role may not resolve correction tasks, or not this one (a
            reviewer's own annotation).
    """
    _require(role, RESOLVE)
    at = now()
    with store.transaction() as tx:
        repo = CorrectionRepo(tx.conn)
        task = repo.get(project_id, task_id)
        tx.items.get(project_id, task.item_id, visible_only=True)
        _require_resolve(task, user, role)
        _refuse_closed(task, user, at)
        if not repo.take(task_id, user.id, at, _lock_for(tx, project_id, at)):
            _refuse_closed(repo.get(project_id, task_id), user, at)
            raise Conflict(f"correction task {task_id} could not be taken")  # (a race the re-read missed)
        repo.release(project_id, user.id, keep=task_id)
    return show(store, project_id, task_id, user, role)


def _refuse_closed(task: CorrectionTask, user: User, at: datetime) -> None:
    if task.status != "open":
        raise Conflict(
            f"correction task {task.id} was already resolved ({task.record.resolution} by {task.resolved_by})"
        )
    if task.held_by_other(user.id, at):
        assert task.lock_expires_at is not None
        raise Conflict(
            f"correction task {task.id} is being worked on by {task.locked_by_name} "
            f"until {task.lock_expires_at.isoformat()}"
        )


def show(store: Store, project_id: int, task_id: int, user: User, role: str) -> dict[str, Any]:
    """A correction task with its finding, its item, the current version and the editor's start.

    The item comes from :func:`labelloop.services.tasks.get_item` (the labelling view's read):
    ``item``, ``suggestions``, ``annotation``, ``draft``, ``reviews``. Added: ``task`` (with
    ``finding`` and ``lock``), ``version`` (the current version of the label in question, or
    null), ``base_version`` (its id: send it back with a fix), ``prefill`` (``source``
    annotation / suggestion / empty and ``value``) and ``region`` (the finding's region in
    the prefill, or null).

    Raises:
        NotFound: no such task in the project, or its item is held (awaiting desensitisation).
        PermissionDenied: the role may not read correction tasks.
    """
    _require(role, "correction.read")
    with store.read() as tx:
        task = CorrectionRepo(tx.conn).get(project_id, task_id)
    payload = get_item(store, project_id, task.item_id, user, role)  # 404 for a held item
    at = now()
    with store.read() as tx:
        task = CorrectionRepo(tx.conn).get(project_id, task_id)
        sugg, versions, _r = tx.labels.for_items([task.item_id])
        shown_s = visible_labels(tx, sugg, [], [])[0]
        redacted = tx.compliance.redacted_at([task.item_id])
    f = task.record.finding
    version = current_version(versions, f.label_source.value, f.record_id)
    prefill: dict[str, Any]
    if version is not None:
        prefill = {"source": "annotation", "value": version.value}
    else:
        machine = next((s for s in shown_s if s.id == f.record_id), None)
        if f.label_source is not LabelSource.HUMAN and machine is not None:
            prefill = {"source": "suggestion", "value": machine.value}
        else:
            prefill = {"source": "empty", "value": []}
    region = next((r for r in prefill["value"] if f.region_id is not None and r.get("id") == f.region_id), None)
    return {
        **payload,
        "task": _task_json(task, at, redacted),
        "version": None if version is None else annotation_json(version),
        "base_version": None if version is None else version.id,
        "prefill": prefill,
        "region": region,
    }


def resolve(
    store: Store,
    project_id: int,
    task_id: int,
    user: User,
    role: str,
    *,
    resolution: str,
    value: Any = None,
    base_version: int | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """Resolve a correction task as ``fixed`` (with the corrected value) or ``dismissed`` (with a reason).

    A fix is a new annotation version by the caller whose parent is the current version of the
    label in question; ``base_version`` must be that version's id (None when there is none).
    Everything happens in one transaction: on any error nothing is written and the task stays open.

    Args:
        store: The store.
        project_id: The project.
        task_id: The correction task.
        user: Who resolves it.
        role: Their role in the project.
        resolution: ``fixed`` or ``dismissed``.
        value: The corrected regions (``fixed`` only).
        base_version: The version the fix was made on (``fixed`` only).
        reason: Why (required to dismiss; an optional note on a fix).

    Returns:
        ``{"task": ..., "annotation": the new version or None, "event": {"seq", "hash"}}``.

    Raises:
        InputRejected: an unknown resolution, a dismissal without a reason, or too long a reason.
        InvalidAnnotation: a fix without a value, a dismissal with one, or a value the schema refuses.
        NotFound: no such task in the project, or its item is held.
        Conflict: the task is already resolved or someone else holds it.
        StaleVersion: ``base_version`` is not the current version (409 with the server's copy).
        PermissionDenied: the role may not resolve correction tasks, or not this one (a
            reviewer's own annotation).
    """
    _require(role, RESOLVE)
    if resolution not in RESOLUTIONS:
        raise InputRejected("resolution", "'fixed' or 'dismissed'", repr(resolution)[:40])
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise InputRejected("reason", f"at most {MAX_REASON} characters", f"{len(reason)} characters")
    if resolution == "dismissed":
        if not reason:
            raise InputRejected("reason", "why the finding is dismissed", "an empty reason")
        if value is not None:
            raise InvalidAnnotation(["value: only a 'fixed' resolution carries a value"])
    elif not isinstance(value, list):
        raise InvalidAnnotation([f"value: a fix needs the corrected list of regions, got {type(value).__name__}"])
    at = now()
    actor = Actor.user(user.username)
    with store.transaction() as tx:
        repo = CorrectionRepo(tx.conn)
        task = repo.get(project_id, task_id)
        project, item = tx.items.get_with_project(project_id, task.item_id, visible_only=True)
        _require_resolve(task, user, role)
        _refuse_closed(task, user, at)
        if not repo.resolve(task_id, resolution, actor, user.id, at, note=reason or None):
            _refuse_closed(repo.get(project_id, task_id), user, at)
            raise Conflict(f"correction task {task_id} could not be resolved")  # (a race the re-read missed)
        f = task.record.finding
        stored: Annotation | None = None
        if resolution == "fixed":
            target = current_version(tx.labels.for_items([item.id])[1], f.label_source.value, f.record_id)
            if target is not None:  # serialise writers of the chain, then look again
                TaskRepo(tx.conn).lock_annotation(target.id)
                target = current_version(tx.labels.for_items([item.id])[1], f.label_source.value, f.record_id)
            if base_version != (None if target is None else target.id):
                raise StaleVersion(None if target is None else annotation_json(target))
            problems = project.schema.validate_value(value, item.data)
            if problems:
                raise InvalidAnnotation(problems)
            stored = tx.labels.add_annotation(
                project_id,
                NewAnnotation(item.id, value, user.username, AnnotationStatus.SUBMITTED, None,
                              None if target is None else target.id),
            )  # fmt: skip
        payload: dict[str, Any] = {"resolution": resolution, "rule_id": f.rule_id, "reason": reason}
        if stored is not None:
            payload |= {"annotation_id": stored.id, "base_version": base_version}
        event = tx.provenance.append(
            "correction",
            actor=actor,
            project_id=project_id,
            subject={"task_id": task_id, "finding_id": task.record.id, "item_id": item.id},
            payload=payload,
        )
        done = repo.get(project_id, task_id)
        redacted = tx.compliance.redacted_at([item.id])
    return {
        "task": _task_json(done, at, redacted),
        "annotation": None if stored is None else annotation_json(stored),
        "event": {"seq": event.seq, "hash": event.hash},
    }
