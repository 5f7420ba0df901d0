"""QualityRepo on SQLite and PostgreSQL: changed items, findings keyset, tasks, gold, runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from labelloop.core import LabelSchema, MediaRef, NewAnnotation, NewItem, NewReview, ReviewVerdict
from labelloop.core.findings import Detector, Finding, Severity
from labelloop.errors import NotFound
from labelloop.storage import Store, now
from labelloop.storage.quality_repo import QualityRepo

SCHEMA = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]})


def _setup(store: Store, n: int = 5) -> tuple[int, list[int]]:
    with store.transaction() as tx:
        p = tx.projects.create("q", SCHEMA, "user:t")
        refs = [MediaRef.from_text(f"item {i}") for i in range(n)]
        ids = tx.items.add_many(p.id, [NewItem({"t": r}, r.sha256) for r in refs], created_by="user:t")
    return p.id, [i for i in ids if i is not None]


def test_changed_items_come_from_every_kind_of_write_in_keyset_pages(store: Store) -> None:
    pid, ids = _setup(store)
    since = now()
    with store.read() as tx:
        assert QualityRepo(tx.conn).changed_item_ids(pid, since) == []
        assert QualityRepo(tx.conn).changed_item_ids(pid, since - timedelta(hours=1)) == ids
    with store.transaction() as tx:
        [aid] = tx.labels.add_annotations(pid, [NewAnnotation(ids[1], [], "a")])
        tx.labels.add_reviews(pid, [NewReview(aid, "r", ReviewVerdict.ACCEPT)], [ids[1]])
        QualityRepo(tx.conn).set_gold(pid, ids[3], [], "user:lead")
        [aid2] = tx.labels.add_annotations(pid, [NewAnnotation(ids[4], [], "a")])
    with store.read() as tx:
        repo = QualityRepo(tx.conn)
        assert repo.changed_item_ids(pid, since) == [ids[1], ids[3], ids[4]]
        assert repo.changed_item_ids(pid, since, after_id=ids[1], limit=1) == [ids[3]]
        assert [it.id for it in repo.items(pid, [ids[4], ids[3]])] == [ids[3], ids[4]]
        assert repo.items(pid, []) == []
    assert aid2 > aid


def test_findings_tasks_runs_and_gold(store: Store) -> None:
    pid, ids = _setup(store)
    with store.transaction() as tx:
        repo = QualityRepo(tx.conn)
        run = repo.start_run(pid, "full", None, {"builtins": True}, "system:qc")
        fs = [
            Finding(ids[0], "box_bounds", Severity.ERROR, "m", region_id="r", fix={"action": "delete"}),
            Finding(ids[1], "label_error.confident_learning", Severity.WARNING, "m", detector=Detector.LABEL_ERROR),
            Finding(ids[1], "gold.mismatch", Severity.ERROR, "m" * 5000, label="x" * 500, score=0.5),
        ]
        fids = repo.add_findings(pid, run, fs)
        assert repo.add_findings(pid, run, []) == []
    with store.read() as tx:
        repo = QualityRepo(tx.conn)
        assert [r.status for r in repo.runs(pid)] == ["running"] and repo.last_run(pid) is None
        page1 = repo.findings(pid, limit=2)
        page2 = repo.findings(pid, after_id=page1[-1].id)
        assert [r.id for r in page1 + page2] == fids
        assert page1[0].finding == fs[0] and page1[0].status == "open" and page2[0].finding.label == "x" * 200
        open_ = repo.open_for_items(pid, [ids[1]])
        assert {d for _, d in open_.values()} == {"label_error", "rule"} and repo.open_for_items(pid, []) == {}
        assert len(repo.open_for_items(pid, None)) == 3
    with store.transaction() as tx:
        repo = QualityRepo(tx.conn)
        task = page1[0].task_id
        assert repo.resolve([task], "fixed", "user:x") == 1
        assert repo.resolve([task], "fixed", "user:x") == 0 and repo.resolve([], "gone", "x") == 0
        repo.finish_run(run, items=5, new=3, resolved=1)
        repo.set_gold(pid, ids[0], [{"id": "g"}], "user:lead")
        repo.set_gold(pid, ids[0], [{"id": "h"}], "user:lead")  # replaces
        with pytest.raises(NotFound):
            repo.set_gold(pid, 10_000, [], "user:lead")
    with store.read() as tx:
        repo = QualityRepo(tx.conn)
        assert repo.task_counts(pid) == {"open": 2, "resolved": 1}
        assert [r.resolution for r in repo.findings(pid, status="resolved")] == ["fixed"]
        last = repo.last_run(pid)
        assert last is not None and (last.status, last.items_checked, last.config) == ("done", 5, {"builtins": True})
        assert repo.gold(pid) == {ids[0]: [{"id": "h"}]}
