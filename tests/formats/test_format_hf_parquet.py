"""HF-style Parquet exporter, read back with pyarrow.parquet.read_table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from labelloop.core import LabelSchema
from labelloop.formats._base import ExportRecord, ExportSuggestion
from labelloop.formats.hf_parquet import export_hf_parquet
from tests.formats.fmt_helpers import BOX_SCHEMA, NER_SCHEMA, MediaStore, box, make_item, span, text_item


def test_text_rows_stream_in_row_groups(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    records = [
        ExportRecord(
            text_item(i, f"Ada {i} went", f"k{i}", split="val" if i == 4 else "train"),
            [span("a", "PER", 0, 3), {"id": "t", "control": "topic", "labels": ["news"]}],
            (ExportSuggestion([span("s", "ORG", 0, 3)], 0.5, "m"),),
        )
        for i in range(1, 6)
    ]
    records.append(ExportRecord(text_item(9, "short"), [span("a", "PER", 0, 99)]))
    report = export_hf_parquet(records, NER_SCHEMA, tmp_path / "hf", Path, row_group_size=2)
    assert report.items == 5 and report.regions == 10 and len(report.errors) == 1
    meta = pq.ParquetFile(tmp_path / "hf" / "data" / "train.parquet").metadata
    assert meta.num_rows == 4 and meta.num_row_groups == 2
    table = pq.read_table(tmp_path / "hf" / "data" / "train.parquet")
    rows = table.to_pylist()
    assert [r["key"] for r in rows] == ["k1", "k2", "k3", "k5"]
    assert rows[0]["topic"] == ["news"] and rows[0]["text"] == "Ada 1 went"
    assert json.loads(rows[0]["ents"]) == [span("a", "PER", 0, 3)]
    assert json.loads(rows[0]["suggestions"])[0]["model_version"] == "m"
    features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
    assert features["topic"]["_type"] == "Sequence"
    assert pq.read_table(tmp_path / "hf" / "data" / "val.parquet").num_rows == 1
    assert "path: data/val.parquet" in (tmp_path / "hf" / "README.md").read_text()


def test_images_are_embedded_and_invalid_values_skipped(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    store = MediaStore(tmp_path / "blobs")
    ref = store.image(20, 10)
    records = [
        ExportRecord(make_item(1, ref, "cat.png"), [box("b", "cat", [1, 1, 5, 5])]),
        ExportRecord(make_item(2, ref, "nan.png"), [box("b", "cat", [1, 1, 5, math.nan])]),
        ExportRecord(make_item(3, ref, "none.png"), None),
    ]
    report = export_hf_parquet(records, BOX_SCHEMA, tmp_path / "hf", store)
    assert report.items == 2 and len(report.errors) == 1
    rows = pq.read_table(tmp_path / "hf" / "data" / "train.parquet").to_pylist()
    assert rows[0]["image"]["bytes"] == store(ref.sha256).read_bytes() and rows[0]["image"]["path"] == "cat.png"
    assert json.loads(rows[0]["objects"])[0]["xyxy"] == [1, 1, 5, 5]
    assert rows[1]["annotated"] is False and json.loads(rows[1]["objects"]) == []


def test_empty_schema_columns(tmp_path: Path) -> None:
    schema = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}]})
    report = export_hf_parquet([], schema, tmp_path / "hf", Path)
    assert report.items == 0 and (tmp_path / "hf" / "README.md").is_file()


def test_new_exporters_publish_nothing_into_a_non_empty_destination(tmp_path: Path) -> None:
    from labelloop.errors import FormatError
    from labelloop.formats.kitti3d import export_kitti3d
    from labelloop.formats.labelstudio import export_label_studio
    from labelloop.formats.nemo import export_nemo
    from labelloop.formats.openlabel import export_openlabel
    from labelloop.formats.spacy_docbin import export_spacy

    schema = LabelSchema.model_validate(
        {
            "media": [
                {"name": "pc", "kind": "pointcloud"},
                {"name": "text", "kind": "text"},
                {"name": "au", "kind": "audio"},
            ],
            "controls": [
                {"name": "cub", "kind": "cuboids", "target": "pc", "labels": ["Car"]},
                {"name": "ents", "kind": "spans", "target": "text", "labels": ["PER"]},
                {"name": "segs", "kind": "segments", "target": "au", "labels": ["sp"], "transcript": True},
            ],
        }
    )
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    exporters = [export_label_studio, export_spacy, export_nemo, export_kitti3d, export_openlabel, export_hf_parquet]
    for exporter in exporters:
        with pytest.raises(FormatError, match="not empty"):
            exporter([], schema, out, Path)
        assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
        report = exporter([], schema, tmp_path / f"empty-{exporter.__name__}", Path)
        assert report.ok and report.items == 0
