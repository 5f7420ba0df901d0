"""The QC report over the API: read by reviewers and managers, run on demand by managers.

A real store (SQLite and PostgreSQL), real annotations from two annotators, a gold label and a
confident model suggestion; the QC run is the real service, and the answer is checked against
what the store holds afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labelloop.core import NewAnnotation
from labelloop.services.qc import set_gold
from labelloop.storage import Store
from labelloop.storage.quality_repo import QualityRepo
from tests.api.conftest import World, build_world


def _cls(label: str) -> list[dict[str, Any]]:
    return [{"id": "c", "control": "sentiment", "labels": [label]}]


@pytest.fixture
def qc_world(store: Store, tmp_path: Path) -> Iterator[World]:
    w = build_world(store, tmp_path)
    a = w.items_a
    # two annotators agree on items 1-3, disagree on 4; "annotator" says neg where the model
    # (0.9 pos on item 0) and the gold (pos) disagree with them
    rows = [(a[0], "neg", "annotator"), (a[0], "pos", "annotator2")]
    rows += [(a[i], "pos" if i % 2 else "neu", who) for i in (1, 2, 3) for who in ("annotator", "annotator2")]
    rows += [(a[4], "pos", "annotator"), (a[4], "neg", "annotator2")]
    with store.transaction() as tx:
        tx.labels.add_annotations(w.pa, [NewAnnotation(i, _cls(lab), who) for i, lab, who in rows])
    set_gold(store, w.pa, a[0], _cls("pos"), "user:manager")
    with TestClient(w.app):  # type: ignore[arg-type]
        yield w


def test_report_before_and_after_a_run(qc_world: World) -> None:
    w = qc_world
    url = f"/api/projects/{w.pa}/qc"
    before = w.client("reviewer").get(url)
    assert before.status_code == 200, before.text
    body = before.json()
    assert body["last_run"] is None and body["open_tasks"] == [] and body["summary"]["open_findings"] == 0
    assert body["summary"]["annotations"] == 10 and body["summary"]["annotators"] == 2

    # only managers run QC; viewers and annotators do not see the report
    assert w.client("reviewer").post(f"{url}/runs", json={}).status_code == 403
    assert w.client("viewer").get(url).status_code == 403
    assert w.client("annotator").get(url).status_code == 403
    assert w.client("manager").post(f"{url}/runs", json={"fully": True}).status_code == 422

    r = w.client("manager").post(f"{url}/runs", json={"full": True})
    assert r.status_code == 201, r.text
    run, report = r.json()["run"], r.json()["report"]
    assert run["mode"] == "full" and run["items_checked"] == 6
    assert report["last_run"]["id"] == run["run_id"] and report["last_run"]["created_by"] == "user:manager"

    with w.store.read() as tx:
        stored = QualityRepo(tx.conn).findings(w.pa, status="open", after_id=0, limit=1000)
    assert stored, "the run stored findings"
    by_rule: dict[str, set[int]] = {}
    for rec in stored:
        by_rule.setdefault(rec.finding.rule_id, set()).add(rec.task_id)
    # the gold mismatch and the model's disagreement on item 0 are both open tasks
    assert {"gold.mismatch", "model.class_disagreement"} <= set(by_rule)
    got = {g["rule"]: {t["task_id"] for t in g["tasks"]} for g in report["open_tasks"]}
    assert got == by_rule
    assert sum(g["count"] for g in report["open_tasks"]) == report["summary"]["open_findings"] == len(stored)
    gold_group = next(g for g in report["open_tasks"] if g["rule"] == "gold.mismatch")
    assert gold_group["severity"] == "error" and gold_group["tasks"][0]["item_id"] == w.items_a[0]

    # the charts' data: gold confusion (reference rows, human columns), per-annotator gold accuracy,
    # agreement of the two annotators, and the errors per annotator
    conf = report["confusion"]["sentiment"]
    assert conf["reference"] == "gold" and conf["labels"] == ["pos", "neg", "neu"]
    assert conf["matrix"][0] == [1, 1, 0] and conf["n"] == 2 and conf["accuracy"] == 0.5
    ann = report["annotators"]
    assert ann["annotator"]["overall_gold"] == 0.0 and ann["annotator2"]["overall_gold"] == 1.0
    agree = report["agreement"]["sentiment"]
    assert agree["annotators"] == 2 and agree["percent"]["n_items"] == 5
    assert agree["percent"]["value"] == pytest.approx(3 / 5)
    assert report["error_distribution"]["by_annotator"]["annotator"] >= 2

    # a reviewer reads the same stored findings
    again = w.client("reviewer").get(url).json()
    assert again["open_tasks"] == report["open_tasks"] and again["last_run"]["id"] == run["run_id"]


def test_other_projects_report_is_not_found(qc_world: World) -> None:
    r = qc_world.client("b_annotator").get(f"/api/projects/{qc_world.pa}/qc")
    assert r.status_code == 404
