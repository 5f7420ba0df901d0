"""The permission table: every action × role, with the relations a cell needs. Deny by default.

``decide(role, action, facts)`` is the only place that says yes or no; every API route names
one action (see ``labelloop.api.deps``). A member whose role a cell denies gets 403; a
non-member gets 404 before this table is consulted, so other projects' objects stay unseen.

Facts are the relations between the actor and the object:

* ``assignee``: the task (an item's slot) is locked to or was done by the actor.
* ``author``: the actor wrote the annotation in question (:func:`author_fact`). For a QC
  correction task that is the annotation its finding names; a finding with no single author
  (an item-level finding, or one about a model's suggestion) gives no ``author`` fact.
* ``reviewed``: the annotation in question already has a review (it is closed for its author).

Example:
    >>> decide("annotator", "item.read", frozenset()).allowed
    False
    >>> decide("annotator", "item.read", frozenset({"assignee"})).allowed
    True
    >>> decide("admin", "members.manage", frozenset()).allowed
    True
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACTIONS",
    "FACTS",
    "INSTANCE_ACTIONS",
    "POLICY",
    "ROLES",
    "Decision",
    "Rule",
    "author_fact",
    "decide",
    "static_decision",
]

ROLES = ("viewer", "annotator", "reviewer", "manager", "admin")
FACTS = ("assignee", "author", "reviewed")
_AUTHOR = frozenset({"author"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One cell: allowed when every ``need`` fact holds and no ``forbid`` fact does."""

    need: frozenset[str] = frozenset()
    forbid: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer: allowed or not, and why."""

    allowed: bool
    reason: str


A = Rule()  # allowed
ASSIGNEE = Rule(need=frozenset({"assignee"}))
OPEN_TASK = Rule(need=frozenset({"assignee"}), forbid=frozenset({"reviewed"}))
NOT_OWN = Rule(forbid=frozenset({"author"}))

# action -> {role: rule}; a role missing from a row is denied. Admins may do everything.
POLICY: dict[str, dict[str, Rule]] = {
    "project.read": {"viewer": A, "annotator": A, "reviewer": A, "manager": A},
    "project.stats": {"viewer": A, "reviewer": A, "manager": A},
    "project.settings": {"manager": A},
    "members.read": {"manager": A},
    "members.manage": {"manager": A},
    "gold.manage": {"manager": A},
    "item.list": {"viewer": A, "reviewer": A, "manager": A},
    "item.read": {"viewer": A, "annotator": ASSIGNEE, "reviewer": A, "manager": A},
    "task.next": {"annotator": A, "reviewer": A, "manager": A},
    "draft.write": {"annotator": OPEN_TASK, "reviewer": OPEN_TASK, "manager": OPEN_TASK},
    "annotation.submit": {"annotator": OPEN_TASK, "reviewer": OPEN_TASK, "manager": OPEN_TASK},
    "review.next": {"reviewer": A, "manager": A},
    "review.write": {"reviewer": NOT_OWN, "manager": A},  # a reviewer does not review their own work (a manager may)
    "suggestion.accept": {"annotator": OPEN_TASK, "reviewer": A, "manager": A},
    "export.create": {"manager": A},
    "export.read": {"manager": A},
    "original.read": {"manager": A},  # the media of a desensitised item as it was before redaction
    "release.read": {"viewer": A, "reviewer": A, "manager": A},  # list, show, diff: counts, no label values
    "release.lineage": {"reviewer": A, "manager": A},  # who or what made each frozen label
    "release.create": {"manager": A},
    "release.export": {"manager": A},  # the frozen labels themselves, signed
    "qc.read": {"reviewer": A, "manager": A},  # the QC report: findings, annotator scores, agreement
    "qc.run": {"manager": A},  # run QC now (writes findings and correction tasks)
    "correction.read": {"reviewer": A, "manager": A},  # list and show QC correction tasks
    # take one (lock), fix it or dismiss it; as with reviews, a reviewer does not resolve a finding
    # about an annotation they wrote (managers may); tasks with no single author are open to all
    "correction.resolve": {"reviewer": NOT_OWN, "manager": A},
    "certificate.read": {"viewer": A, "reviewer": A, "manager": A},  # routing tiers and accuracy bounds: counts only
    "route.run": {"manager": A},  # route the project's items on a backend's suggestions (a job)
    "learn.run": {"manager": A},  # an active-learning round: fit, re-predict, re-route, promote a batch (a job)
    "import.create": {"manager": A},  # upload files into the project (runs as a job)
    "job.read": {"manager": A},  # the project's jobs (imports, exports ...), their progress and results
    # stop a queued or running job of the project. Managers only, with no "the starter may cancel"
    # relation: every action that starts a job (import.create, export.create, route.run,
    # learn.run) is managers-only, so a starter is a manager already (tests/api/test_route_sweep)
    "job.cancel": {"manager": A},
    # A/B experiments: their arms and readouts are aggregates (no label values, no people), like the
    # certificate; annotators are left out, as they should not learn which arm their tasks are in
    "experiment.read": {"viewer": A, "reviewer": A, "manager": A},
    "experiment.create": {"manager": A},  # split the items into two arms: changes what people see
    "experiment.stop": {"manager": A},
    "project.create": {},  # instance level (no project yet): instance admins only
    "refusals.read": {},  # instance level: the security audit log of refused requests
}
INSTANCE_ACTIONS = frozenset({"project.create", "refusals.read"})
"""Actions not about an existing project: decided for ``admin`` (instance admins) or no role."""
ACTIONS = tuple(POLICY)


def decide(role: str | None, action: str, facts: frozenset[str]) -> Decision:
    """Decide whether ``role`` may do ``action`` given the relations ``facts``.

    Args:
        role: A project role, ``"admin"`` for an instance admin, None for a non-member.
        action: A key of :data:`POLICY`; an unknown action is denied.
        facts: Relations that hold between actor and object (see the module docstring).
    """
    if action not in POLICY:
        return Decision(False, f"unknown action {action!r}")
    if role is None:
        return Decision(False, "not a member of the project")
    if role == "admin":
        return Decision(True, "instance admin")
    rule = POLICY[action].get(role)
    if rule is None:
        return Decision(False, f"role {role} may not {action}")
    missing = rule.need - facts
    if missing:
        return Decision(False, f"{action} needs the relation {', '.join(sorted(missing))}")
    blocked = rule.forbid & facts
    if blocked:
        return Decision(False, f"{action} is closed: {', '.join(sorted(blocked))}")
    return Decision(True, f"{role} may {action}")


def author_fact(author: str | None, username: str) -> frozenset[str]:
    """The ``author`` fact between ``username`` and an annotation written by ``author``.

    Args:
        author: Who wrote the annotation in question (its ``annotator``); None when no single
            person did (a model's suggestion, an item-level QC finding).
        username: The actor.

    Returns:
        ``{"author"}`` when the actor wrote it, else the empty set.

    Example:
        >>> sorted(author_fact("ann", "ann")), sorted(author_fact("ann", "rex")), sorted(author_fact(None, "rex"))
        (['author'], [], [])
    """
    return _AUTHOR if author is not None and author == username else frozenset()


def static_decision(role: str | None, action: str) -> bool | None:
    """True/False when the role alone settles it; None when the relations decide."""
    if role is None or action not in POLICY:
        return False
    if role == "admin":
        return True
    rule = POLICY[action].get(role)
    if rule is None:
        return False
    return True if not rule.need and not rule.forbid else None
