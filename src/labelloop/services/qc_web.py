"""QC for the web dashboard: the project's QC report from its stored findings, and a run on demand.

The report is :func:`labelloop.services.qc_report.qc_report` (built from the findings and
correction tasks that the last QC runs stored, and from the current labels), plus
``open_tasks``: the open findings counted per rule and severity, each with the ids of its
first correction tasks and items, so the dashboard can link to them. Nothing is computed
twice: a GET reads, a POST (managers) runs QC and then reads.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema
    >>> from labelloop.storage import Store
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]})
    >>> with store.transaction() as tx:
    ...     p = tx.projects.create("p", s, "me")
    >>> r = dashboard_report(store, p.id)
    >>> r["last_run"], r["open_tasks"]
    (None, [])
    >>> store.close()
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from labelloop.services.qc import list_findings, run_qc
from labelloop.services.qc_report import qc_report
from labelloop.storage import Store

__all__ = ["TASK_LINKS", "dashboard_report", "run_and_report"]

TASK_LINKS = 20  # correction tasks listed per rule
_ORDER = {"error": 0, "warning": 1, "info": 2}


def _open_tasks(store: Store, project_id: int) -> list[dict[str, Any]]:
    """Open findings per (rule, severity): count and the first correction tasks with their items."""
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"count": 0, "tasks": []})
    for f in list_findings(store, project_id, status="open"):
        g = groups[(str(f["rule_id"]), str(f["severity"]))]
        g["count"] += 1
        if len(g["tasks"]) < TASK_LINKS:
            g["tasks"].append({"task_id": f["task_id"], "item_id": f["item_id"], "message": f["message"]})
    rows = [{"rule": r, "severity": s, **g} for (r, s), g in groups.items()]
    return sorted(rows, key=lambda x: (_ORDER.get(x["severity"], 3), -x["count"], x["rule"]))


def dashboard_report(store: Store, project: str | int, *, top_findings: int = 100) -> dict[str, Any]:
    """The QC report of a project with ``open_tasks`` (see the module docstring).

    Args:
        store: The store.
        project: Project name or id.
        top_findings: How many open findings the report lists in full.

    Raises:
        NotFound: no such project.
    """
    report = qc_report(store, project, top_findings=top_findings)
    with store.read() as tx:
        pid = tx.projects.get(project).id
    report["open_tasks"] = _open_tasks(store, pid)
    return report


def run_and_report(store: Store, project: str | int, actor: str, *, full: bool = False) -> dict[str, Any]:
    """Run QC on a project as ``actor``, then return ``{"run": ..., "report": ...}``.

    Raises:
        NotFound: no such project.
        InvalidSchema: the stored qc config does not fit the schema.
    """
    result = run_qc(store, project, full=full, actor=actor)
    return {"run": result.to_dict(), "report": dashboard_report(store, project)}
