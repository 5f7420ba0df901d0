"""CSV export (read back with the csv module; formula injection escaped) and the format registry."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from labelloop.core import LabelSchema
from labelloop.errors import PluginError
from labelloop.formats import EXPORTERS, IMPORTERS, ExportRecord, ExportSuggestion
from labelloop.formats.csv_rows import COLUMNS, escape_cell
from tests.formats.fmt_helpers import BOX_SCHEMA, NER_SCHEMA, MediaStore, box, make_item, span, text_item


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("cat", "cat"),
        ("", ""),
    ],
)
def test_escape_cell(cell: str, expected: str) -> None:
    assert escape_cell(cell) == expected


def test_csv_rows_for_classification_spans_and_suggestions(tmp_path: Path) -> None:
    text = "=HYPERLINK met Ada"
    rec = ExportRecord(
        text_item(7, text, key="@evil-key"),
        [{"id": "c", "control": "topic", "labels": ["=cmd()"]}, span("s", "PER", 15, 18)],
        suggestions=(ExportSuggestion([span("x", "PER", 0, 10)], 0.25, "ner@2"),),
    )
    empty = ExportRecord(text_item(8, "nothing"), None)
    report = EXPORTERS["csv"]([rec, empty], NER_SCHEMA, tmp_path / "csv", Path)
    assert report.ok and report.items == 2 and report.regions == 2 and report.suggestions == 1
    with (tmp_path / "csv" / "annotations.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == 4
    cls, sp, sug, none = rows
    assert cls["label"] == "'=cmd()" and cls["kind"] == "classification" and cls["key"] == "'@evil-key"
    assert (sp["label"], sp["start"], sp["end"], sp["text"]) == ("PER", "15", "18", "Ada")
    assert sug["origin"] == "suggestion" and sug["score"] == "0.25" and sug["text"] == "'=HYPERLINK"
    assert none["item_id"] == "8" and none["control"] == ""
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_csv_boxes(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "blobs")
    rec = ExportRecord(make_item(1, store.image(20, 20), "a.png"), [box("b", "cat", [1.5, 2, 10, 12])])
    EXPORTERS["csv"]([rec], BOX_SCHEMA, tmp_path / "csv", store)
    with (tmp_path / "csv" / "annotations.csv").open(newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert [row[k] for k in ("label", "x_min", "y_min", "x_max", "y_max")] == ["cat", "1.5", "2", "10", "12"]


def test_registry_lists_names_on_a_miss() -> None:
    assert set(EXPORTERS) == {
        "coco",
        "yolo",
        "voc",
        "conll2003",
        "csv",
        "label_studio",
        "spacy",
        "nemo",
        "kitti3d",
        "openlabel",
        "hf_parquet",
    }
    assert set(IMPORTERS) == {
        *("coco", "yolo", "voc", "conll2003", "label_studio", "kitti3d"),
        *("nemo", "openlabel", "hf_parquet"),
    }
    with pytest.raises(PluginError, match="available: coco, conll2003, csv, hf_parquet, "):
        EXPORTERS["parquet"]
    with pytest.raises(PluginError, match="no importer 'csv'"):
        IMPORTERS["csv"]


def test_every_exporter_publishes_nothing_into_a_non_empty_destination(tmp_path: Path) -> None:
    from labelloop.errors import FormatError

    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    schema = LabelSchema.model_validate(
        {
            "media": [{"name": "image", "kind": "image"}, {"name": "text", "kind": "text"}],
            "controls": [
                {"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat"]},
                {"name": "ents", "kind": "spans", "target": "text", "labels": ["PER"]},
            ],
        }
    )
    # kitti3d and nemo need cuboids / audio segments in the schema: covered in their own modules
    image_text = {n: e for n, e in EXPORTERS.items() if n not in ("kitti3d", "nemo")}
    for name, exporter in image_text.items():
        with pytest.raises(FormatError, match="not empty"):
            exporter([], schema, out, Path)
        assert sorted(p.name for p in out.iterdir()) == ["keep.txt"], name
    for name, exporter in image_text.items():
        report = exporter([], schema, tmp_path / f"empty-{name}", Path)
        assert report.ok and report.items == 0 and (tmp_path / f"empty-{name}").is_dir()
