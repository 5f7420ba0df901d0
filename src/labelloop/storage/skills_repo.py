"""Annotator evidence per label type (``label_skill``): written by gold submits and reviews, read by ``next``.

One row per (project, annotator, control, label): ``seen`` observations and their summed credit
``correct`` (see :mod:`labelloop.assignment.evidence` for what an observation is). ``next``
reads one annotator's rows with :meth:`SkillRepo.of_user`, a range of the primary key.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema
    >>> from labelloop.storage import Store
    >>> from labelloop.storage.accounts_repo import AccountRepo
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> schema = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]})
    >>> with store.transaction() as tx:
    ...     pid = tx.projects.create("p", schema, "me").id
    ...     uid = AccountRepo(tx.conn).create_user("ann", "(a password hash)").id
    ...     repo = SkillRepo(tx.conn)
    ...     repo.add(pid, uid, {("c", "cat"): 1.0, ("c", "dog"): 0.0})
    ...     repo.add(pid, uid, {("c", "cat"): 0.5})
    ...     sorted(repo.of_user(pid, uid).items())
    [(('c', 'cat'), (2, 1.5)), (('c', 'dog'), (1, 0.0))]
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from labelloop.storage import tables_accounts as ta
from labelloop.storage.rawsql import Raw, Sql, Step

__all__ = ["Evidence", "SkillRepo", "evidence_of", "evidence_step"]

Evidence = dict[tuple[str, str], tuple[int, float]]
"""``(control, label)`` → ``(seen, correct)``."""

_OF_USER = Sql("SELECT control, label, seen, correct FROM label_skill WHERE project_id = ? AND user_id = ?")
_ADD = Sql(
    "INSERT INTO label_skill (project_id, user_id, control, label, seen, correct) VALUES (?, ?, ?, ?, 1, ?)"
    " ON CONFLICT (project_id, user_id, control, label) DO UPDATE"
    " SET seen = label_skill.seen + 1, correct = label_skill.correct + excluded.correct"
)


def evidence_step(project_id: int, user_id: int) -> Step:
    """The statement of :meth:`SkillRepo.of_user`, for :meth:`Raw.batch` (parse with :func:`evidence_of`)."""
    return _OF_USER, (project_id, user_id)


def evidence_of(rows: list[Any]) -> Evidence:
    """Evidence from the rows of :func:`evidence_step`."""
    return {(str(r[0]), str(r[1])): (int(r[2]), float(r[3])) for r in rows}


class SkillRepo:
    """``label_skill`` rows of one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.raw = Raw(conn)

    def of_user(self, project_id: int, user_id: int) -> Evidence:
        """One annotator's evidence in a project (one primary-key range read)."""
        return evidence_of(self.raw.all(*evidence_step(project_id, user_id)))

    def add(self, project_id: int, user_id: int, credits: Mapping[tuple[str, str], float]) -> None:
        """Add one observation per label type, with its credit in [0, 1].

        Rows are written in key order, so concurrent writers of one annotator's rows on
        PostgreSQL take their row locks in the same order (no deadlock).

        Raises:
            ValueError: a credit outside [0, 1].
        """
        rows = []
        for (control, label), credit in sorted(credits.items()):
            if not 0.0 <= credit <= 1.0:
                raise ValueError(f"credit of label {control}/{label}: expected 0..1, got {credit}")
            rows.append((project_id, user_id, control, label, float(credit)))
        if rows:
            self.raw.many(_ADD, rows)

    def of_project(self, project_id: int) -> dict[str, Evidence]:
        """Every annotator's evidence in a project, by username."""
        s, u = ta.label_skill, ta.users
        q = (
            select(u.c.username, s.c.control, s.c.label, s.c.seen, s.c.correct)
            .join(u, u.c.id == s.c.user_id)
            .where(s.c.project_id == project_id)
            .order_by(u.c.username, s.c.control, s.c.label)
        )
        out: dict[str, Evidence] = {}
        for r in self.conn.execute(q):
            out.setdefault(r.username, {})[(r.control, r.label)] = (int(r.seen), float(r.correct))
        return out
