"""COCO exporter/importer, checked with pycocotools (COCO, loadRes, COCOeval)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from labelloop.core import ItemError
from labelloop.formats._base import ExportRecord, ExportSuggestion, ImportedItem
from labelloop.formats.coco import export_coco, import_coco
from tests.formats.fmt_helpers import DET_SCHEMA, POLY_SCHEMA, MediaStore, box, close, geometry, make_item, poly

pycocotools = pytest.importorskip("pycocotools")


def _records(store: MediaStore) -> list[ExportRecord]:
    a, b, c = store.image(64, 48), store.image(80, 60, (1, 2, 3)), store.image(50, 50, (9, 9, 9))
    kp = {"id": "k1", "control": "pose", "label": "person", "points": [[10, 10, 2], [20, 30, 1], [0, 0, 0]]}
    return [
        ExportRecord(
            make_item(1, a, "photos/a.png"),
            [box("b1", "cat", [2.5, 3, 30, 40]), box("b2", "dog", [31, 1, 63, 47]), kp],
            suggestions=(ExportSuggestion([box("s1", "cat", [2, 3, 30, 40])], 0.9, "m1"),),
        ),
        ExportRecord(make_item(2, b, "b.png"), [poly("p1", "bird", [[5, 5], [70, 8], [40, 55]])]),
        ExportRecord(make_item(3, c, "empty.png"), None),  # no annotations: still listed
    ]


def _quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def _self_eval(ann_file: Path, iou_type: str) -> float:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = _quiet(COCO, str(ann_file))
    dets = [{**a, "score": 1.0} for a in gt.dataset["annotations"] if (iou_type != "segm" or "segmentation" in a)]
    if iou_type == "keypoints":
        dets = [d for d in dets if "keypoints" in d]
    dt = _quiet(gt.loadRes, dets)
    ev = COCOeval(gt, dt, iou_type)
    if iou_type == "segm":
        ev.params.imgIds = sorted({d["image_id"] for d in dets})
    if iou_type == "keypoints":
        kp_cats = [c for c in gt.dataset["categories"] if "keypoints" in c]
        ev.params.catIds = [c["id"] for c in kp_cats]
        ev.params.kpt_oks_sigmas = np.full(len(kp_cats[0]["keypoints"]), 0.05)
    _quiet(ev.evaluate)
    _quiet(ev.accumulate)
    _quiet(ev.summarize)
    return float(ev.stats[0])


def test_export_is_read_by_pycocotools_and_self_eval_is_perfect(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    store = MediaStore(tmp_path / "blobs")
    report = export_coco(_records(store), DET_SCHEMA, tmp_path / "out", store)
    assert report.ok, report.errors
    assert (report.items, report.regions, report.suggestions) == (3, 4, 1)
    ann_file = tmp_path / "out" / "annotations.json"
    data = json.loads(ann_file.read_text())
    assert {"info", "licenses", "images", "annotations", "categories"} <= set(data)
    assert [(c["id"], c["name"]) for c in data["categories"]] == [(1, "cat"), (2, "dog"), (3, "bird"), (4, "person")]
    person = data["categories"][3]
    assert person["keypoints"] == ["head", "left_hand", "right_hand"] and person["skeleton"] == []
    assert all("area" in a and a["iscrowd"] == 0 for a in data["annotations"])
    assert data["annotations"][0]["bbox"] == [2.5, 3, 27.5, 37]
    kp = next(a for a in data["annotations"] if "keypoints" in a)
    assert kp["num_keypoints"] == 2 and kp["bbox"] == [10, 10, 10, 20]
    gt = _quiet(COCO, str(ann_file))
    assert len(gt.getImgIds()) == 3  # the image without annotations is listed
    empty = next(i for i in gt.dataset["images"] if i["file_name"] == "empty.png")
    assert gt.getAnnIds(imgIds=[empty["id"]]) == []
    for name in (i["file_name"] for i in data["images"]):
        assert (tmp_path / "out" / "images" / name).is_file()
    assert _self_eval(ann_file, "bbox") == pytest.approx(1.0)
    assert _self_eval(ann_file, "segm") == pytest.approx(1.0)
    assert _self_eval(ann_file, "keypoints") == pytest.approx(1.0)
    preds = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert preds[0]["score"] == 0.9 and preds[0]["category_id"] == 1
    assert len(_quiet(gt.loadRes, str(tmp_path / "out" / "predictions.json")).getAnnIds()) == 1


def test_round_trip_import_export_import(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "blobs")
    records = _records(store)
    export_coco(records, DET_SCHEMA, tmp_path / "one", store)
    first = list(import_coco(tmp_path / "one", DET_SCHEMA))
    assert all(isinstance(x, ImportedItem) for x in first), first
    items = [x for x in first if isinstance(x, ImportedItem)]
    assert [i.key for i in items] == ["a.png", "b.png", "empty.png"]
    for rec, imp in zip(records, items, strict=True):
        assert close(geometry(rec.value or []), geometry(imp.regions))
    # export what was imported, import again: same geometry and labels
    again = []
    for n, imp in enumerate(items, 1):
        assert imp.path is not None
        ref = store.image(1, 1)  # placeholder replaced below with the real file
        store.files[ref.sha256] = imp.path
        ref = type(ref)(
            ref.kind, ref.sha256, "image/png", None, {"width": imp.meta["width"], "height": imp.meta["height"]}
        )
        again.append(ExportRecord(make_item(n, ref, imp.key), imp.regions))
    export_coco(again, DET_SCHEMA, tmp_path / "two", store)
    second = [x for x in import_coco(tmp_path / "two", DET_SCHEMA) if isinstance(x, ImportedItem)]
    assert [i.key for i in second] == [i.key for i in items]
    for x, y in zip(items, second, strict=True):
        assert close(geometry(x.regions), geometry(y.regions))


def test_polygon_only_schema_round_trip(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "blobs")
    ref = store.image(40, 40)
    rec = ExportRecord(make_item(1, ref, "p.png"), [poly("p", "dog", [[1.25, 1], [30, 2], [20.5, 33.333333]])])
    export_coco([rec], POLY_SCHEMA, tmp_path / "o", store)
    assert _self_eval(tmp_path / "o" / "annotations.json", "segm") == pytest.approx(1.0)
    (imp,) = list(import_coco(tmp_path / "o", POLY_SCHEMA))
    assert isinstance(imp, ImportedItem)
    assert imp.regions[0]["points"] == [[1.25, 1], [30, 2], [20.5, 33.333333]]


def _write_dataset(root: Path, images: list[dict], anns: list[dict]) -> None:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    Image.new("RGB", (20, 20)).save(root / "images" / "ok.png")
    cats = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    (root / "annotations.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))


def test_hostile_inputs_give_item_errors_and_nothing_outside_is_read(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"top secret")
    images = [
        {"id": 1, "file_name": "ok.png", "width": 20, "height": 20},
        {"id": 2, "file_name": "../../etc/passwd", "width": 20, "height": 20},
        {"id": 3, "file_name": str(secret), "width": 20, "height": 20},
        {"id": 4, "file_name": "../secret.png", "width": 20, "height": 20},
        {"id": 5, "file_name": "missing.png", "width": 20, "height": 20},
        {"id": 6, "file_name": "ok.png", "width": 20, "height": 20},
        {"id": 7, "file_name": "ok.png", "width": 20, "height": 20},
        {"id": 8, "file_name": "C:\\Windows\\win.ini", "width": 20, "height": 20},
    ]
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
        {"id": 2, "image_id": 6, "category_id": 9, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
        {"id": 3, "image_id": 7, "category_id": 2, "bbox": [float("nan"), 1, 5, 5], "area": 25, "iscrowd": 0},
        {"id": 4, "image_id": 99, "category_id": 2, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
    ]
    _write_dataset(root, images, anns)
    out = list(import_coco(root, DET_SCHEMA))
    ok = [x for x in out if isinstance(x, ImportedItem)]
    errors = {e.source.split(":")[-1]: e.reason for e in out if isinstance(e, ItemError)}
    assert [i.key for i in ok] == ["ok.png"]
    assert ok[0].regions == [{"id": "r1", "control": "objects", "label": "cat", "xyxy": [1, 1, 6, 6]}]
    assert "inside the dataset folder" in errors["images[1]"]
    assert "inside the dataset folder" in errors["images[2]"]
    assert "inside the dataset folder" in errors["images[3]"]
    assert "inside the dataset folder" in errors["images[7]"]
    assert "missing image" in errors["images[4]"]
    assert "category_id 9" in errors["images[5]"]
    assert "finite" in errors["images[6]"]
    assert "image_id 99" in errors["annotations[3]"]


def test_malformed_json_is_one_error_with_a_line(tmp_path: Path) -> None:
    (tmp_path / "annotations.json").write_text('{"images": [\n{"id": 1,,}]}')
    (err,) = list(import_coco(tmp_path, DET_SCHEMA))
    assert isinstance(err, ItemError) and err.line == 2 and "malformed JSON" in err.reason


def test_export_skips_unavailable_or_invalid_items_and_is_atomic(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "blobs")
    good = store.image(30, 30)
    missing = store.image(30, 30, (0, 0, 0))
    del store.files[missing.sha256]
    records = [
        ExportRecord(make_item(1, good, "g.png"), [box("b", "cat", [1, 1, 5, 5])]),
        ExportRecord(make_item(2, missing, "m.png"), []),
        ExportRecord(make_item(3, good, "nan.png"), [box("b", "cat", [float("nan"), 1, 5, 5])]),
    ]
    report = export_coco(records, DET_SCHEMA, tmp_path / "out", store)
    assert report.items == 1 and len(report.errors) == 2
    assert "missing" in report.errors[0].reason or "not available" in report.errors[0].reason

    # a failure mid-stream publishes nothing
    def boom():
        yield records[0]
        raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        export_coco(boom(), DET_SCHEMA, tmp_path / "half", store)
    assert not (tmp_path / "half").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
