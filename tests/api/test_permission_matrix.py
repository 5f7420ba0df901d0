"""Every cell of the permission table against an oracle written separately from it.

The oracle restates the rules of the security reference in plain code; the generated test
walks actions × roles (plus admin and non-member) × every subset of relation facts.
"""

from __future__ import annotations

from itertools import chain, combinations

import pytest

from labelloop.core.permissions import ACTIONS, FACTS, INSTANCE_ACTIONS, POLICY, decide, static_decision

ALL_ROLES = (None, "viewer", "annotator", "reviewer", "manager", "admin")
FACT_SETS = [frozenset(c) for c in chain.from_iterable(combinations(FACTS, n) for n in range(len(FACTS) + 1))]

READ_ONLY = {
    "project.read",
    "project.stats",
    "item.list",
    "item.read",
    "release.read",
    "certificate.read",
    "experiment.read",  # A/B arms and readouts: aggregates only; annotators must not learn their arm
}
MANAGER_ONLY = {
    "project.settings",
    "members.read",
    "members.manage",
    "gold.manage",
    "export.create",
    "export.read",
    "original.read",
    "release.create",
    "release.export",
    "qc.run",
    "import.create",
    "job.read",  # imports and exports run as jobs: who starts them follows them
    "job.cancel",
    "route.run",  # routing and learning rounds change what people see: managers start them
    "learn.run",
    "experiment.create",  # an A/B split changes what people see
    "experiment.stop",
}
LABELLING = {"task.next", "draft.write", "annotation.submit", "suggestion.accept"}
REVIEWING = {"review.next", "review.write"}
AUDITING = {"release.lineage", "qc.read"}  # who made each label, who errs: reviewers and managers, not viewers
INSTANCE = {"project.create", "refusals.read"}  # no project yet: instance admins only, whatever their project roles
CORRECTING = {"correction.read", "correction.resolve"}  # QC correction tasks: reviewers and managers
OWN_WORK_CLOSED = {"review.write", "correction.resolve"}  # a reviewer never judges their own annotation


def oracle(role: str | None, action: str, facts: frozenset[str]) -> bool:
    """The rules, restated: deny by default."""
    if role is None:
        return False  # non-members see nothing (404 at the API)
    if role == "admin":
        return True
    if action in INSTANCE:
        return False
    if role == "manager":
        if action in {"draft.write", "annotation.submit"}:  # edits go through their own task
            return "assignee" in facts and "reviewed" not in facts
        return True
    if action in MANAGER_ONLY:
        return False
    if role == "viewer":
        return action in READ_ONLY
    if role == "annotator":
        if action in {"project.read", "task.next"}:
            return True
        if action == "item.read":
            return "assignee" in facts  # annotators read only their tasks
        if action in {"draft.write", "annotation.submit", "suggestion.accept"}:
            return "assignee" in facts and "reviewed" not in facts  # closed once reviewed
        return False
    if role == "reviewer":
        if action in OWN_WORK_CLOSED:
            return "author" not in facts  # never one's own work (reviews, QC corrections)
        if action in READ_ONLY or action in AUDITING or action in CORRECTING or action == "review.next":
            return True
        if action == "suggestion.accept" or action == "task.next":
            return True
        if action in {"draft.write", "annotation.submit"}:
            return "assignee" in facts and "reviewed" not in facts
    return False


def test_every_action_is_classified() -> None:
    assert set(ACTIONS) == READ_ONLY | MANAGER_ONLY | LABELLING | REVIEWING | AUDITING | CORRECTING | INSTANCE
    assert INSTANCE_ACTIONS == INSTANCE


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ALL_ROLES)
def test_cell_matches_oracle(role: str | None, action: str) -> None:
    for facts in FACT_SETS:
        assert decide(role, action, facts).allowed == oracle(role, action, facts), (role, action, sorted(facts))


@pytest.mark.parametrize("role", ALL_ROLES)
def test_static_decision_is_consistent(role: str | None) -> None:
    for action in ACTIONS:
        outcomes = {decide(role, action, f).allowed for f in FACT_SETS}
        expected = outcomes.pop() if len(outcomes) == 1 else None
        assert static_decision(role, action) is expected, (role, action)


def test_author_fact_matters_only_for_reviewers_own_work() -> None:
    # writing the annotation in question closes exactly the own-work actions, to reviewers only
    matters = {
        (role, action)
        for action in ACTIONS
        for role in ALL_ROLES
        if any(decide(role, action, f).allowed != decide(role, action, f | {"author"}).allowed for f in FACT_SETS)
    }
    assert matters == {("reviewer", action) for action in OWN_WORK_CLOSED}


def test_unknown_action_and_roles_are_denied() -> None:
    assert not decide("manager", "project.delete", frozenset()).allowed
    assert not decide("owner", "project.read", frozenset()).allowed
    assert set(POLICY["members.manage"]) == {"manager"}
