"""Quality repository: QC config, runs, findings with their correction tasks, gold labels.

Bound to one connection like the other repositories: build it inside a transaction,
``QualityRepo(tx.conn)``.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema
    >>> from labelloop.storage import Store
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> with store.transaction() as tx:
    ...     p = tx.projects.create("q", LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]}), "me")
    ...     QualityRepo(tx.conn).set_config(p.id, {"builtins": False}, "user:me")
    >>> with store.read() as tx:
    ...     QualityRepo(tx.conn).config(p.id)
    {'builtins': False}
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, select, union, update

from labelloop.core import Item
from labelloop.core.findings import Detector, Finding, FindingRecord, LabelSource, Severity
from labelloop.errors import NotFound
from labelloop.storage import tables as t
from labelloop.storage import tables_quality as q
from labelloop.storage.repositories import _item, now

__all__ = ["QCRun", "QualityRepo"]

OPEN, RESOLVED = "open", "resolved"


@dataclass(frozen=True, slots=True)
class QCRun:
    """A stored QC run."""

    id: int
    project_id: int
    mode: str
    status: str
    since: datetime | None
    items_checked: int
    findings_new: int
    findings_resolved: int
    config: dict[str, Any]
    message: str
    finished_at: datetime | None
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "id": self.id,
            "mode": self.mode,
            "status": self.status,
            "since": self.since.isoformat() if self.since else None,
            "items_checked": self.items_checked,
            "findings_new": self.findings_new,
            "findings_resolved": self.findings_resolved,
            "message": self.message,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


def _run(r: Row[Any]) -> QCRun:
    return QCRun(
        r.id,
        r.project_id,
        r.mode,
        r.status,
        r.since,
        r.items_checked,
        r.findings_new,
        r.findings_resolved,
        r.config,
        r.message,
        r.finished_at,
        r.created_at,
        r.created_by,
    )


def finding_of(r: Row[Any]) -> Finding:
    """The :class:`Finding` held in a row of ``qc_findings`` columns (alone or joined)."""
    return Finding(
        item_id=r.item_id,
        rule_id=r.rule_id,
        severity=Severity(r.severity),
        message=r.message,
        region_id=r.region_id,
        control=r.control,
        label=r.label,
        fix=r.fix,
        detector=Detector(r.detector),
        label_source=LabelSource(r.label_source),
        annotator=r.annotator,
        record_id=r.record_id,
        score=r.score,
    )


def _record(r: Row[Any]) -> FindingRecord:
    return FindingRecord(r.id, r.run_id, finding_of(r), r.task_id, r.status, r.resolution, r.created_at)


class QualityRepo:
    """QC rows of one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ config
    def config(self, project_id: int) -> dict[str, Any] | None:
        """The stored ``qc`` section of a project (None: never set)."""
        row = self.conn.execute(select(q.qc_configs.c.config).where(q.qc_configs.c.project_id == project_id)).first()
        return None if row is None else dict(row[0])

    def set_config(self, project_id: int, config: dict[str, Any], actor: str) -> None:
        """Store (replace) a project's ``qc`` section; validate it first."""
        self.conn.execute(delete(q.qc_configs).where(q.qc_configs.c.project_id == project_id))
        self.conn.execute(
            insert(q.qc_configs).values(project_id=project_id, config=config, updated_at=now(), updated_by=actor)
        )

    # ------------------------------------------------------------------ runs
    def start_run(self, project_id: int, mode: str, since: datetime | None, config: dict[str, Any], actor: str) -> int:
        """Record a run as ``running``; return its id."""
        row = self.conn.execute(
            insert(q.qc_runs)
            .values(
                project_id=project_id,
                mode=mode,
                status="running",
                since=since,
                items_checked=0,
                findings_new=0,
                findings_resolved=0,
                config=config,
                message="",
                created_at=now(),
                created_by=actor,
            )
            .returning(q.qc_runs.c.id)
        ).scalar_one()
        return int(row)

    def finish_run(self, run_id: int, *, items: int, new: int, resolved: int, message: str = "") -> None:
        """Mark a run ``done`` with its counts."""
        self.conn.execute(
            update(q.qc_runs)
            .where(q.qc_runs.c.id == run_id)
            .values(
                status="done",
                items_checked=items,
                findings_new=new,
                findings_resolved=resolved,
                message=message,
                finished_at=now(),
            )
        )

    def fail_run(self, run_id: int, message: str) -> None:
        """Mark a run ``failed``; pages it committed stay (each is consistent on its own)."""
        self.conn.execute(
            update(q.qc_runs)
            .where(q.qc_runs.c.id == run_id)
            .values(status="failed", message=message[:2000], finished_at=now())
        )

    def last_run(self, project_id: int) -> QCRun | None:
        """The newest finished run of a project."""
        r = q.qc_runs
        row = self.conn.execute(
            select(r).where(r.c.project_id == project_id, r.c.status == "done").order_by(r.c.id.desc()).limit(1)
        ).first()
        return None if row is None else _run(row)

    def runs(self, project_id: int) -> list[QCRun]:
        """All runs of a project, oldest first."""
        r = q.qc_runs
        return [_run(x) for x in self.conn.execute(select(r).where(r.c.project_id == project_id).order_by(r.c.id))]

    # ------------------------------------------------------------------ changed items
    def changed_item_ids(self, project_id: int, since: datetime, *, after_id: int = 0, limit: int = 1000) -> list[int]:
        """Item ids > ``after_id`` whose item, labels or gold label were written after ``since`` (keyset)."""
        parts = []
        for table in (t.items, t.suggestions, t.annotations, t.reviews, q.gold_labels):
            col = table.c.id if table is t.items else table.c.item_id
            parts.append(
                select(col.label("item_id")).where(
                    table.c.project_id == project_id, table.c.created_at > since, col > after_id
                )
            )
        u = union(*parts).subquery()
        rows = self.conn.execute(select(u.c.item_id).order_by(u.c.item_id).limit(limit))
        return [int(x[0]) for x in rows]

    def items(self, project_id: int, item_ids: Sequence[int]) -> list[Item]:
        """The items with these ids, in id order."""
        if not item_ids:
            return []
        rows = self.conn.execute(
            select(t.items)
            .where(t.items.c.project_id == project_id, t.items.c.id.in_(list(item_ids)))
            .order_by(t.items.c.id)
        )
        return [_item(r) for r in rows]

    # ------------------------------------------------------------------ findings & tasks
    def open_for_items(self, project_id: int, item_ids: Sequence[int] | None) -> dict[str, tuple[int, str]]:
        """Fingerprint → (open task id, detector) for the open tasks of these items (None: all items)."""
        c, f = q.correction_tasks, q.qc_findings
        query = (
            select(c.c.fingerprint, c.c.id, f.c.detector)
            .join(f, f.c.id == c.c.finding_id)
            .where(c.c.project_id == project_id, c.c.status == OPEN)
        )
        if item_ids is not None:
            if not item_ids:
                return {}
            query = query.where(c.c.item_id.in_(list(item_ids)))
        return {r[0]: (int(r[1]), str(r[2])) for r in self.conn.execute(query)}

    def settled(self, project_id: int, fingerprints: Iterable[str]) -> set[str]:
        """The fingerprints among these whose task a person resolved (``fixed`` or ``dismissed``).

        QC does not reopen them: a dismissed finding stays dismissed, and a fixed one was about
        a label that a new version replaced.
        """
        fps = sorted(set(fingerprints))
        c = q.correction_tasks
        out: set[str] = set()
        for i in range(0, len(fps), 500):
            rows = self.conn.execute(
                select(c.c.fingerprint).where(
                    c.c.project_id == project_id,
                    c.c.fingerprint.in_(fps[i : i + 500]),
                    c.c.resolution.in_(("fixed", "dismissed")),
                )
            )
            out.update(str(r[0]) for r in rows)
        return out

    def add_findings(self, project_id: int, run_id: int, findings: Sequence[Finding]) -> list[int]:
        """Store findings and open one correction task each; return the finding ids."""
        if not findings:
            return []
        when = now()
        rows = [
            {
                "run_id": run_id,
                "project_id": project_id,
                "item_id": f.item_id,
                "region_id": f.region_id,
                "control": f.control,
                "label": (f.label or "")[:200] or None,
                "rule_id": f.rule_id,
                "detector": f.detector.value,
                "label_source": f.label_source.value,
                "annotator": f.annotator,
                "record_id": f.record_id,
                "severity": f.severity.value,
                "message": f.message,
                "fix": f.fix,
                "score": f.score,
                "fingerprint": f.fingerprint(),
                "created_at": when,
            }
            for f in findings
        ]
        stmt = insert(q.qc_findings).returning(q.qc_findings.c.id, sort_by_parameter_order=True)
        ids = [int(r[0]) for r in self.conn.execute(stmt, rows)]
        self.conn.execute(
            insert(q.correction_tasks),
            [
                {
                    "project_id": project_id,
                    "finding_id": i,
                    "item_id": r["item_id"],
                    "fingerprint": r["fingerprint"],
                    "status": OPEN,
                    "created_at": when,
                }
                for i, r in zip(ids, rows, strict=True)
            ],
        )
        return ids

    def resolve(self, task_ids: Iterable[int], resolution: str, actor: str) -> int:
        """Resolve open tasks (``fixed``, ``dismissed`` or ``gone``); return how many changed."""
        ids = list(task_ids)
        if not ids:
            return 0
        c = q.correction_tasks
        res = self.conn.execute(
            update(c)
            .where(c.c.id.in_(ids), c.c.status == OPEN)
            .values(status=RESOLVED, resolution=resolution, resolved_at=now(), resolved_by=actor)
        )
        return int(res.rowcount)

    def findings(
        self, project_id: int, *, status: str | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[FindingRecord]:
        """Findings with their tasks, id > ``after_id`` (keyset), optionally by task status."""
        f, c = q.qc_findings, q.correction_tasks
        query = (
            select(f, c.c.id.label("task_id"), c.c.status, c.c.resolution)
            .join(c, c.c.finding_id == f.c.id)
            .where(f.c.project_id == project_id, f.c.id > after_id)
        )
        if status is not None:
            query = query.where(c.c.status == status)
        return [_record(r) for r in self.conn.execute(query.order_by(f.c.id).limit(limit))]

    def task_counts(self, project_id: int) -> dict[str, int]:
        """Correction tasks per status."""
        c = q.correction_tasks
        rows = self.conn.execute(
            select(c.c.status, func.count()).where(c.c.project_id == project_id).group_by(c.c.status)
        )
        return {OPEN: 0, RESOLVED: 0} | {r[0]: int(r[1]) for r in rows}

    # ------------------------------------------------------------------ gold
    def set_gold(self, project_id: int, item_id: int, value: list[dict[str, Any]], actor: str) -> None:
        """Store (replace) the gold value of an item.

        Raises:
            NotFound: the item is not in the project.
        """
        exists = self.conn.execute(
            select(t.items.c.id).where(and_(t.items.c.id == item_id, t.items.c.project_id == project_id))
        ).first()
        if exists is None:
            raise NotFound("item", item_id)
        g = q.gold_labels
        self.conn.execute(delete(g).where(g.c.project_id == project_id, g.c.item_id == item_id))
        self.conn.execute(
            insert(g).values(project_id=project_id, item_id=item_id, value=value, created_at=now(), created_by=actor)
        )

    def gold(self, project_id: int) -> dict[int, list[dict[str, Any]]]:
        """Item id → gold value, for every gold item of a project."""
        g = q.gold_labels
        rows = self.conn.execute(select(g.c.item_id, g.c.value).where(g.c.project_id == project_id))
        return {int(r[0]): list(r[1]) for r in rows}
