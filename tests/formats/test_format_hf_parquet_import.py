"""HF Parquet in: round trips (import -> export -> import) for text spans and images; bad rows refused."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import ItemError
from labelloop.formats import ExportRecord, ImportedItem
from labelloop.formats._hf_parquet_read import import_hf_parquet
from labelloop.formats.hf_parquet import export_hf_parquet
from labelloop.services.exports import export_dataset
from labelloop.services.ingest import import_source
from labelloop.storage import Store
from tests.formats.fmt_helpers import BOX_SCHEMA, NER_SCHEMA, MediaStore, box, make_item, span, text_item

pq = pytest.importorskip("pyarrow.parquet")


def _labels(regions: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            r["control"],
            r.get("label"),
            tuple(r.get("labels", ())),
            r.get("start"),
            r.get("end"),
            tuple(r.get("xyxy", ())),
        )
        for r in regions
    )


def _text_records() -> list[ExportRecord]:
    return [
        ExportRecord(
            text_item(i, f"Ada {i} met Bob", f"k{i}", split="val" if i == 3 else "train"),
            [span("a", "PER", 0, 3), span("b", "PER", 10 + len(str(i)) - 1, 13 + len(str(i)) - 1)]
            + ([{"id": "t", "control": "topic", "labels": ["news"]}] if i % 2 else []),
        )
        for i in range(1, 5)
    ] + [ExportRecord(text_item(9, "no label", "k9"), None)]


def _as_records(got: list[ImportedItem | ItemError], media: dict[str, Path] | None = None) -> list[ExportRecord]:
    out = []
    for i, g in enumerate(got, 1):
        assert isinstance(g, ImportedItem), g
        item = text_item(i, g.text or "", g.key) if g.text is not None else None
        if item is None:
            assert g.path is not None and media is not None
            ms = MediaStore.__new__(MediaStore)
            ms.files = media
            from labelloop.core import MediaRef, Medium

            sha = f"{i:064x}"
            media[sha] = g.path
            item = make_item(i, MediaRef(Medium.IMAGE, sha, "image/png", None, {}), g.key)
        out.append(ExportRecord(item, g.regions or None, split=g.meta["split"]))
    return out


def test_text_round_trip(tmp_path: Path) -> None:
    records = _text_records()
    export_hf_parquet(records, NER_SCHEMA, tmp_path / "a", Path)
    got = list(import_hf_parquet(tmp_path / "a", NER_SCHEMA))
    assert len(got) == 5 and all(isinstance(g, ImportedItem) for g in got), got
    by_key = {g.key: g for g in got if isinstance(g, ImportedItem)}
    for r in records:
        assert _labels(by_key[str(r.item.key)].regions) == _labels(r.value or [])
        assert by_key[str(r.item.key)].text == r.item.data["text"].text
    export_hf_parquet(_as_records(got), NER_SCHEMA, tmp_path / "b", Path)
    again = list(import_hf_parquet(tmp_path / "b", NER_SCHEMA))
    assert [(g.key, _labels(g.regions)) for g in again if isinstance(g, ImportedItem)] == [
        (g.key, _labels(g.regions)) for g in got if isinstance(g, ImportedItem)
    ]


def test_image_round_trip_with_embedded_bytes_through_the_store(
    sqlite_store: Store,
    make_project,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    media = MediaStore(tmp_path / "m")
    records = [
        ExportRecord(make_item(1, media.image(40, 30, (1, 2, 3)), "a.png"), [box("b", "cat", [1, 2, 20.5, 22])]),
        ExportRecord(make_item(2, media.image(41, 30, (4, 5, 6)), "b.png"), []),
    ]
    export_hf_parquet(records, BOX_SCHEMA, tmp_path / "hf", media)
    make_project("img", BOX_SCHEMA.model_dump(mode="json", exclude_defaults=True))
    rep = import_source(sqlite_store, "img", tmp_path / "hf", actor="user:test", fmt="hf_parquet")
    assert (rep.items, rep.annotations, rep.errors) == (2, 1, []), rep.errors
    export_dataset(sqlite_store, "img", "hf_parquet", tmp_path / "hf2")
    rows = pq.read_table(tmp_path / "hf2" / "data" / "train.parquet").to_pylist()
    first = pq.read_table(tmp_path / "hf" / "data" / "train.parquet").to_pylist()
    assert [r["image"]["bytes"] for r in rows] == [r["image"]["bytes"] for r in first]  # the same pixels
    assert [json.loads(r["objects"]) for r in rows] == [json.loads(r["objects"]) for r in first]
    import gc

    gc.collect()
    assert not list(Path(tempfile.gettempdir()).glob("labelloop-parquet-*/000000001.png"))  # the scratch files are gone


def _write(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa

    export_hf_parquet([], NER_SCHEMA, tmp_path / "x", Path)  # for the Arrow schema only
    from labelloop.formats.hf_parquet import arrow_schema_for

    (tmp_path / "ds" / "data").mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist(rows, schema=arrow_schema_for(NER_SCHEMA)), tmp_path / "ds" / "data" / "train.parquet"
    )
    return tmp_path / "ds"


GOOD = {"id": 1, "key": "k", "text": "Ada met", "topic": [], "ents": "[]", "suggestions": "[]", "annotated": True}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"ents": "{oops"}, "expected a JSON list of regions, got malformed JSON"),
        ({"ents": json.dumps([span("a", "ALIEN", 0, 3)])}, "Input should be 'PER'"),
        ({"ents": json.dumps([span("a", "PER", 0, 99)])}, "99"),
        ({"topic": ["sports?"]}, "Input should be 'news'"),
        ({"text": None}, "column 'text' is empty"),
    ],
)
def test_bad_rows_are_refused_with_file_and_row(tmp_path: Path, row: dict[str, Any], reason: str) -> None:
    root = _write(tmp_path, [GOOD, GOOD | {"id": 2, "key": "bad"} | row])
    got = list(import_hf_parquet(root, NER_SCHEMA))
    assert isinstance(got[0], ImportedItem)
    err = got[1]
    assert isinstance(err, ItemError) and err.source == "data/train.parquet" and err.line == 2, err
    assert reason in err.reason


def test_paths_outside_the_root_are_refused(tmp_path: Path) -> None:
    import pyarrow as pa

    from labelloop.core import LabelSchema
    from labelloop.formats.hf_parquet import arrow_schema_for

    schema = LabelSchema.model_validate(
        {
            "media": [{"name": "lidar", "kind": "pointcloud"}],
            "controls": [{"name": "c", "kind": "cuboids", "target": "lidar", "labels": ["Car"]}],
        }
    )
    (tmp_path / "secret.bin").write_bytes(b"x")
    (tmp_path / "ds" / "data").mkdir(parents=True)
    rows = [{"id": 1, "key": "k", "lidar": "../secret.bin", "c": "[]", "suggestions": "[]", "annotated": False}]
    pq.write_table(
        pa.Table.from_pylist(rows, schema=arrow_schema_for(schema)), tmp_path / "ds" / "data" / "train.parquet"
    )
    (err,) = list(import_hf_parquet(tmp_path / "ds", schema))
    assert isinstance(err, ItemError) and "expected a relative path inside the dataset folder" in err.reason
