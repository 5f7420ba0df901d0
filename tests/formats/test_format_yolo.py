"""YOLO exporter/importer, checked with our importer and supervision.DetectionDataset.from_yolo."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labelloop.core import ItemError
from labelloop.formats._base import ExportRecord, ImportedItem
from labelloop.formats.yolo import export_yolo, import_yolo
from tests.formats.fmt_helpers import (
    BOX_SCHEMA,
    POLY_SCHEMA,
    MediaStore,
    box,
    close,
    geometry,
    make_item,
    poly,
    supervision_yolo,
)


def _records(store: MediaStore) -> list[ExportRecord]:
    a, b, c = store.image(100, 50), store.image(64, 64, (1, 2, 3)), store.image(30, 20, (5, 5, 5))
    return [
        ExportRecord(make_item(1, a, "a.png"), [box("b1", "dog", [10, 5, 50, 45]), box("b2", "cat", [0, 0, 100, 50])]),
        ExportRecord(make_item(2, b, "b.png", split="val"), [box("b3", "bird", [1.5, 2.25, 33.3, 63.9])]),
        ExportRecord(make_item(3, c, "bg.png"), []),  # background image
    ]


def test_export_layout_and_normalisation(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "blobs")
    out = tmp_path / "yolo"
    report = export_yolo(_records(store), BOX_SCHEMA, out, store)
    assert report.ok and report.items == 3 and report.regions == 3
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["path"] == str(out.resolve())
    assert (data["train"], data["val"]) == ("images/train", "images/val")
    assert data["names"] == {0: "cat", 1: "dog", 2: "bird"}
    assert sorted(p.name for p in (out / "images" / "train").iterdir()) == ["a.png", "bg.png"]
    assert (out / "labels" / "train" / "bg.txt").read_text() == ""
    lines = (out / "labels" / "train" / "a.txt").read_text().splitlines()
    c, cx, cy, w, h = lines[0].split()
    assert c == "1"
    assert [float(v) for v in (cx, cy, w, h)] == pytest.approx([30 / 100, 25 / 50, 40 / 100, 40 / 50], abs=1e-12)
    assert lines[1] == "0 0.5 0.5 1 1"
    assert (out / "labels" / "val" / "b.txt").is_file()


def test_round_trip_with_our_importer(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "blobs")
    records = _records(store)
    export_yolo(records, BOX_SCHEMA, tmp_path / "yolo", store)
    got = list(import_yolo(tmp_path / "yolo", BOX_SCHEMA))
    assert all(isinstance(x, ImportedItem) for x in got), got
    by_key = {x.key: x for x in got if isinstance(x, ImportedItem)}
    assert sorted(by_key) == ["images/train/a.png", "images/train/bg.png", "images/val/b.png"]
    assert by_key["images/val/b.png"].meta["split"] == "val"
    for rec in records:
        key = next(k for k in by_key if k.endswith("/" + (rec.item.key or "")))
        assert close(geometry(rec.value or []), geometry(by_key[key].regions))


def test_supervision_reads_the_export(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "blobs")
    records = _records(store)
    out = tmp_path / "yolo"
    export_yolo(records, BOX_SCHEMA, out, store)
    ds = supervision_yolo(out)
    assert ds.classes == ["cat", "dog", "bird"]
    assert len(ds) == 2
    dets = {Path(path).name: d for path, _img, d in ds}
    assert len(dets["bg.png"]) == 0
    a = dets["a.png"]
    assert sorted(a.class_id.tolist()) == [0, 1]
    assert sorted(map(tuple, a.xyxy.round(3).tolist())) == [(0, 0, 100, 50), (10, 5, 50, 45)]


def test_segment_round_trip(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "blobs")
    ref = store.image(80, 40)
    rec = ExportRecord(make_item(1, ref, "s.png"), [poly("p", "cat", [[0, 0], [80, 0], [40.125, 39.5], [3.3, 20]])])
    report = export_yolo([rec], POLY_SCHEMA, tmp_path / "seg", store)
    assert report.ok
    line = (tmp_path / "seg" / "labels" / "train" / "s.txt").read_text().split()
    assert line[0] == "0" and len(line) == 9
    (imp,) = list(import_yolo(tmp_path / "seg", POLY_SCHEMA))
    assert isinstance(imp, ImportedItem)
    assert close(geometry(rec.value or []), geometry(imp.regions))


def _dataset(root: Path, labels: dict[str, str], yaml_text: str | None = None) -> None:
    from PIL import Image

    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    for stem, text in labels.items():
        Image.new("RGB", (10, 10)).save(root / "images" / "train" / f"{stem}.png")
        (root / "labels" / "train" / f"{stem}.txt").write_text(text)
    (root / "data.yaml").write_text(
        yaml_text or "path: /somewhere/else\ntrain: images/train\nval: images/train\nnames: [cat, dog]\n"
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("7 0.5 0.5 0.2 0.2", "out of range"),
        ("-1 0.5 0.5 0.2 0.2", "out of range"),
        ("0 nan 0.5 0.2 0.2", "finite"),
        ("0 0.5 0.5 2.0 0.2", "normalised"),
        ("0 0.5 0.5 0.2", "expected"),
        ("zero 0.5 0.5 0.2 0.2", "numbers"),
    ],
)
def test_bad_label_lines_are_item_errors(tmp_path: Path, line: str, reason: str) -> None:
    _dataset(tmp_path, {"bad": f"0 0.5 0.5 0.1 0.1\n{line}\n", "good": "1 0.5 0.5 0.5 0.5\n"})
    out = list(import_yolo(tmp_path, BOX_SCHEMA))
    errors = [x for x in out if isinstance(x, ItemError)]
    assert len(errors) == 1 and reason in errors[0].reason
    assert errors[0].source == "labels/train/bad.txt" and errors[0].line == 2
    (good,) = [x for x in out if isinstance(x, ImportedItem)]
    assert good.regions[0]["label"] == "dog" and good.regions[0]["xyxy"] == [2.5, 2.5, 7.5, 7.5]


@pytest.mark.parametrize("train", ["../outside", "/etc", "C:\\\\x"])
def test_yaml_pointing_outside_the_root_is_refused(tmp_path: Path, train: str) -> None:
    root = tmp_path / "ds"
    (tmp_path / "outside").mkdir()
    _dataset(root, {"a": ""}, f'train: "{train}"\nnames: [cat]\n')
    (err,) = list(import_yolo(root, BOX_SCHEMA))
    assert isinstance(err, ItemError) and "inside the dataset folder" in err.reason


def test_symlinked_image_outside_root_is_refused(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "ds"
    _dataset(root, {"a": ""})
    Image.new("RGB", (4, 4)).save(tmp_path / "secret.png")
    (root / "images" / "train" / "link.png").symlink_to(tmp_path / "secret.png")
    out = list(import_yolo(root, BOX_SCHEMA))
    assert [x.key for x in out if isinstance(x, ImportedItem)] == ["images/train/a.png"]
    (err,) = [x for x in out if isinstance(x, ItemError)]
    assert "outside" in err.reason


def test_unsafe_yaml_is_refused(tmp_path: Path) -> None:
    _dataset(tmp_path, {"a": ""}, "names: !!python/object/apply:os.system ['echo hi']\ntrain: images/train\n")
    (err,) = list(import_yolo(tmp_path, BOX_SCHEMA))
    assert isinstance(err, ItemError) and err.source == "data.yaml"
