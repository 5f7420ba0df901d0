"""Label Studio JSON exporter/importer, checked with label-studio-sdk's converter + pycocotools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelloop.core import ItemError, LabelSchema, MediaRef, Medium
from labelloop.formats._base import ExportRecord, ExportSuggestion, ImportedItem
from labelloop.formats.labelstudio import export_label_studio, import_label_studio
from tests.formats.fmt_helpers import DET_SCHEMA, MediaStore, box, make_item, poly, span, text_item

TEXT_SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "text", "kind": "text"}],
        "controls": [
            {"name": "ents", "kind": "spans", "target": "text", "labels": ["PER", "ORG"]},
            {"name": "rel", "kind": "relations", "target": "ents", "labels": ["works_for"]},
            {"name": "topic", "kind": "classification", "target": "text", "labels": ["news", "sport"]},
            {"name": "note", "kind": "text_field", "target": "text"},
        ],
    }
)
AUDIO_SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "audio", "kind": "audio"}],
        "controls": [{"name": "segs", "kind": "segments", "target": "audio", "labels": ["speech"], "transcript": True}],
    }
)


def _image_records(store: MediaStore) -> list[ExportRecord]:
    return [
        ExportRecord(
            make_item(1, store.image(200, 100), "a/cat.png"),
            [box("b1", "cat", [10, 20, 60, 70]), poly("p1", "dog", [[0, 0], [50, 0], [50, 50]])],
            (ExportSuggestion([box("s1", "dog", [1, 2, 30, 40])], 0.7, "m1"),),
        ),
        ExportRecord(make_item(2, store.image(64, 48, (1, 2, 3)), "dog.png"), [box("b1", "bird", [0, 0, 64, 48])]),
        ExportRecord(make_item(3, store.image(40, 40, (9, 9, 9)), "bad.png"), [box("b1", "cat", [0, 0, 90, 10])]),
    ]


def test_image_export_is_read_by_label_studio_converter(tmp_path: Path) -> None:
    from label_studio_sdk.converter import Converter
    from pycocotools.coco import COCO

    store = MediaStore(tmp_path / "blobs")
    out = tmp_path / "ls"
    report = export_label_studio(_image_records(store), DET_SCHEMA, out, store)
    assert report.items == 2 and report.regions == 3 and report.suggestions == 1
    assert [e.source for e in report.errors] == ["item 3 (bad.png)"]
    task = json.loads((out / "tasks.json").read_text())[0]
    rect = task["annotations"][0]["result"][0]
    assert rect["value"]["x"] == 5.0 and rect["original_width"] == 200
    assert task["predictions"][0]["model_version"] == "m1"

    conv = Converter((out / "config.xml").read_text(), str(out), download_resources=False)
    assert "COCO" in conv._get_supported_formats()
    conv.convert(str(out / "tasks.json"), str(tmp_path / "coco"), "COCO", is_dir=False)
    coco = COCO(str(tmp_path / "coco" / "result.json"))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    got = sorted((names[a["category_id"]], [round(v, 6) for v in a["bbox"]]) for a in coco.loadAnns(coco.getAnnIds()))
    assert got == [("bird", [0, 0, 64, 48]), ("cat", [10, 20, 50, 50]), ("dog", [0, 0, 50, 50])]


def test_text_export_converts_to_conll_and_round_trips(tmp_path: Path) -> None:
    from label_studio_sdk.converter import Converter

    text = "Ada Lovelace worked for Babbage Ltd."
    value = [
        span("a", "PER", 0, 12) | {"text": "Ada Lovelace"},
        span("b", "ORG", 24, 35),
        {"id": "r", "control": "rel", "label": "works_for", "from_id": "a", "to_id": "b"},
        {"id": "t", "control": "topic", "labels": ["news"]},
        {"id": "n", "control": "note", "text": "checked"},
    ]
    out = tmp_path / "ls"
    report = export_label_studio([ExportRecord(text_item(7, text, "doc-7"), value)], TEXT_SCHEMA, out, Path)
    assert report.ok and report.regions == 5
    conv = Converter((out / "config.xml").read_text(), str(out), download_resources=False)
    conv.convert(str(out / "tasks.json"), str(tmp_path / "conll"), "CONLL2003", is_dir=False)
    conll = next((tmp_path / "conll").glob("*.conll")).read_text()
    assert "Ada -X- _ B-PER" in conll and "Babbage -X- _ B-ORG" in conll

    (got,) = list(import_label_studio(out, TEXT_SCHEMA))
    assert isinstance(got, ImportedItem) and got.key == "doc-7" and got.text == text
    assert sorted(got.regions, key=lambda r: r["id"]) == sorted(value, key=lambda r: r["id"])


def test_audio_segments_and_predictions_round_trip(tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF0000WAVE")
    ref = MediaRef(Medium.AUDIO, "ab" * 32, "audio/wav", None, {"duration_s": 3.0})
    value = [{"id": "s", "control": "segs", "label": "speech", "start_s": 0.5, "end_s": 1.25, "transcript": "hi"}]
    sugg = ExportSuggestion([{"id": "p", "control": "segs", "label": "speech", "start_s": 0, "end_s": 2}], 0.4, "asr")
    rec = ExportRecord(make_item(1, ref, "clip.wav", field="audio"), value, (sugg,))
    report = export_label_studio([rec], AUDIO_SCHEMA, tmp_path / "ls", lambda _sha: audio)
    assert report.ok
    (got,) = list(import_label_studio(tmp_path / "ls", AUDIO_SCHEMA))
    assert isinstance(got, ImportedItem)
    assert got.regions == value
    assert got.meta["suggestions"][0]["score"] == 0.4 and got.meta["suggestions"][0]["model_version"] == "asr"
    assert got.meta["suggestions"][0]["value"][0]["transcript"] == ""


@pytest.mark.parametrize(
    ("task", "needle"),
    [
        ({"id": 1, "data": {"image": "../../etc/passwd"}}, "inside the dataset"),
        ({"id": 1, "data": {"image": "/etc/passwd"}}, "inside the dataset"),
        ({"id": 1, "data": {"image": "http://x/y.png"}}, "inside the dataset"),
        ({"id": 1, "data": {"image": "img.png"}, "annotations": [{"result": [
            {"id": "a", "from_name": "objects", "to_name": "image", "type": "rectanglelabels",
             "value": {"x": 1, "y": 1, "width": 5, "height": 5, "rectanglelabels": ["zebra"]}}]}]}, "Input should be"),
        ({"id": 1, "data": {"image": "img.png"}, "annotations": [{"result": [
            {"id": "a", "from_name": "nope", "to_name": "image", "type": "choices", "value": {}}]}]}, "nope"),
        ({"id": 1, "data": {"image": "img.png"}, "annotations": [{"result": [
            {"id": "a", "from_name": "objects", "to_name": "image", "type": "rectanglelabels",
             "value": {"x": 1, "y": 1, "width": 500, "height": 5, "rectanglelabels": ["cat"]}}]}]}, "outside"),
    ],
)  # fmt: skip
def test_hostile_tasks_give_item_errors(tmp_path: Path, task: dict[str, object], needle: str) -> None:
    from PIL import Image

    Image.new("RGB", (10, 10)).save(tmp_path / "img.png")
    ok = {"id": 2, "data": {"image": "img.png"}}
    (tmp_path / "tasks.json").write_text(json.dumps([task, ok]))
    bad, good = list(import_label_studio(tmp_path, DET_SCHEMA))
    assert isinstance(bad, ItemError) and needle in bad.reason and bad.source == "tasks.json[0]"
    assert isinstance(good, ImportedItem) and good.meta["width"] == 10


def test_nan_in_json_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tasks.json").write_text('[{"id": 1, "data": {"text": "x"}, "annotations": [{"lead_time": NaN}]}]')
    (got,) = list(import_label_studio(tmp_path, TEXT_SCHEMA))
    assert isinstance(got, ItemError) and "NaN" in got.reason
