"""Dataset exports of a project's current labels, and format imports through the ingest pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from labelloop.core import AnnotationStatus, NewAnnotation
from labelloop.errors import PluginError
from labelloop.services.exports import current_annotation, export_dataset
from labelloop.services.ingest import import_source
from labelloop.storage import Store
from tests.helpers import IMAGE_SCHEMA, png_bytes, write

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _ann(i: int, parent: int | None = None, status: AnnotationStatus = AnnotationStatus.SUBMITTED, minutes: int = 0):  # type: ignore[no-untyped-def]
    from labelloop.core import Annotation

    return Annotation(i, 1, 1, [], "a", status, None, parent, None, T0 + timedelta(minutes=minutes), "user:a")


def test_current_annotation_is_the_newest_unreplaced_submitted_version() -> None:
    assert current_annotation([_ann(1), _ann(2, parent=1, minutes=1)]).id == 2  # type: ignore[union-attr]
    assert current_annotation([_ann(1), _ann(2, parent=1, status=AnnotationStatus.DRAFT, minutes=1)]) is None
    assert current_annotation([_ann(1), _ann(2, minutes=5), _ann(3, parent=1, minutes=2)]).id == 2  # type: ignore[union-attr]


def _boxes_project(store: Store, make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_project("img", IMAGE_SCHEMA, store)
    lines = []
    for i in range(4):
        write(tmp_path / "ds" / f"{i}.png", png_bytes(color=(i, 50, 50)))
        ann = [{"annotator": "a", "value": [{"id": "b", "control": "objects", "label": "cat", "xyxy": [1, 2, 20, 22]}]}]
        lines.append(json.dumps({"image": f"{i}.png", "annotations": ann if i < 3 else []}))
    write(tmp_path / "ds" / "m.jsonl", "\n".join(lines) + "\n")
    import_source(store, "img", tmp_path / "ds" / "m.jsonl", actor="user:test")


def test_coco_export_of_current_labels_reads_back_with_pycocotools(store: Store, make_project, tmp_path: Path) -> None:
    _boxes_project(store, make_project, tmp_path)
    with store.transaction() as tx:
        p = tx.projects.get("img")
        first = tx.items.page(p.id, limit=1)[0]
        _, anns, _ = tx.labels.for_items([first.id])
        fixed = [{"id": "b", "control": "objects", "label": "dog", "xyxy": [2, 2, 30, 20]}]
        tx.labels.add_annotations(p.id, [NewAnnotation(first.id, fixed, "rev", parent_id=anns[0].id)])
    rep = export_dataset(store, "img", "coco", tmp_path / "coco")
    assert rep.items == 4 and rep.regions == 3 and rep.errors == []
    gt = COCO(str(next((tmp_path / "coco").rglob("*.json"))))
    assert len(gt.getImgIds()) == 4
    cats = {c["id"]: c["name"] for c in gt.loadCats(gt.getCatIds())}
    labels = sorted(cats[a["category_id"]] for a in gt.loadAnns(gt.getAnnIds()))
    assert labels == ["cat", "cat", "dog"]
    dets = [{**a, "score": 1.0} for a in gt.loadAnns(gt.getAnnIds())]
    ev = COCOeval(gt, gt.loadRes(dets), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_coco_round_trip_through_import(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    _boxes_project(sqlite_store, make_project, tmp_path)
    export_dataset(sqlite_store, "img", "coco", tmp_path / "coco")
    make_project("again", IMAGE_SCHEMA)
    report = import_source(sqlite_store, "again", tmp_path / "coco", actor="user:test", fmt="coco")
    assert (report.items, report.annotations, report.errors) == (4, 3, [])
    with sqlite_store.read() as tx:
        p = tx.projects.get("again")
        items = tx.items.page(p.id)
        _, anns, _ = tx.labels.for_items([i.id for i in items])
    assert sorted(r["xyxy"] for a in anns for r in a.value) == [[1, 2, 20, 22]] * 3
    assert {a.annotator for a in anns} == {"external:coco"}


def test_unknown_format_lists_the_known_ones(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    make_project("img", IMAGE_SCHEMA)
    with pytest.raises(PluginError, match="available: coco"):
        export_dataset(sqlite_store, "img", "parquet", tmp_path / "x")
    (tmp_path / "d").mkdir()
    with pytest.raises(PluginError, match="available: coco"):
        import_source(sqlite_store, "img", tmp_path / "d", actor="user:test", fmt="pascal")
