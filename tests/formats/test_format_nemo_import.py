"""NeMo manifests in: round trips (import -> export -> import) and per-line refusals of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelloop.core import ItemError, LabelSchema, MediaRef, Medium
from labelloop.formats import IMPORTERS, ExportRecord, ImportedItem
from labelloop.formats._nemo_read import import_nemo
from labelloop.formats.nemo import export_nemo
from labelloop.services.exports import export_dataset
from labelloop.services.ingest import import_source
from labelloop.storage import Store
from tests.formats.fmt_helpers import make_item
from tests.formats.test_format_nemo import _wav as write_wav

SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "audio", "kind": "audio"}],
        "controls": [
            {"name": "segs", "kind": "segments", "target": "audio", "labels": ["sp", "noise"], "transcript": True}
        ],
    }
)


def _wav(path: Path, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_wav(path, seconds)


def _seg(rid: str, s: float, e: float, text: str, label: str = "sp") -> dict[str, object]:
    return {"id": rid, "control": "segs", "label": label, "start_s": s, "end_s": e, "transcript": text}


def _comparable(regions: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return sorted(
        (r["label"], round(float(r["start_s"]), 6), round(float(r["end_s"]), 6), r["transcript"]) for r in regions
    )  # type: ignore[arg-type]


def _records(tmp_path: Path) -> tuple[list[ExportRecord], dict[str, Path]]:
    files = {"a" * 64: _wav(tmp_path / "src" / "a.wav", 2.0), "b" * 64: _wav(tmp_path / "src" / "b.wav", 1.0)}
    ra = MediaRef(Medium.AUDIO, "a" * 64, "audio/wav", None, {"duration_s": 2.0})
    rb = MediaRef(Medium.AUDIO, "b" * 64, "audio/wav", None, {"duration_s": 1.0})
    return [
        ExportRecord(
            make_item(1, ra, "a.wav", field="audio"),
            [_seg("x", 1.0, 1.5, "world"), _seg("y", 0, 0.75, "hello, 世界"), _seg("z", 1.6, 1.9, "hmm", "noise")],
        ),
        ExportRecord(make_item(2, rb, "b.wav", field="audio"), [_seg("x", 0.25, 0.5, "b")], split="val"),
    ], files


def test_round_trip_keeps_segments_labels_and_transcripts(tmp_path: Path) -> None:
    records, files = _records(tmp_path)
    export_nemo(records, SCHEMA, tmp_path / "n1", files.__getitem__)
    got = list(IMPORTERS["nemo"](tmp_path / "n1", SCHEMA))
    assert all(isinstance(g, ImportedItem) for g in got), got
    items = {Path(g.key).name: g for g in got if isinstance(g, ImportedItem)}
    assert _comparable(items["a.wav"].regions) == _comparable(records[0].value or [])
    assert _comparable(items["b.wav"].regions) == _comparable(records[1].value or [])
    assert items["b.wav"].meta["split"] == "val"
    # export what was imported: the manifests are the same lines
    again = [
        ExportRecord(
            make_item(i, MediaRef(Medium.AUDIO, f"{i:064x}", "audio/wav", None, {}), g.key, field="audio"),
            g.regions,
            split=g.meta["split"],
        )
        for i, g in enumerate(got, 1)
        if isinstance(g, ImportedItem)
    ]
    paths = {f"{i:064x}": g.path for i, g in enumerate(got, 1) if isinstance(g, ImportedItem)}
    export_nemo(again, SCHEMA, tmp_path / "n2", paths.__getitem__)  # type: ignore[arg-type]
    for manifest in ("train_manifest.json", "val_manifest.json"):
        lines = [[json.loads(x) for x in (tmp_path / d / manifest).read_text().splitlines()] for d in ("n1", "n2")]
        assert lines[0] == lines[1] and lines[0]


def test_round_trip_through_the_store(sqlite_store: Store, make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    records, files = _records(tmp_path)
    export_nemo(records, SCHEMA, tmp_path / "n1", files.__getitem__)
    make_project("asr", SCHEMA.model_dump(mode="json", exclude_defaults=True))
    rep = import_source(sqlite_store, "asr", tmp_path / "n1", actor="user:test", fmt="nemo")
    assert (rep.items, rep.annotations, rep.errors) == (2, 2, [])
    export_dataset(sqlite_store, "asr", "nemo", tmp_path / "n2")
    make_project("asr2", SCHEMA.model_dump(mode="json", exclude_defaults=True))
    rep2 = import_source(sqlite_store, "asr2", tmp_path / "n2", actor="user:test", fmt="nemo")
    assert (rep2.items, rep2.annotations, rep2.errors) == (2, 2, [])
    with sqlite_store.read() as tx:
        values = {}
        for name in ("asr", "asr2"):
            p = tx.projects.get(name)
            items = tx.items.page(p.id)
            _, anns, _ = tx.labels.for_items([i.id for i in items])
            values[name] = sorted(_comparable(a.value) for a in anns)
    assert values["asr"] == values["asr2"] and len(values["asr"]) == 2


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"audio_filepath": "/etc/passwd", "duration": 1, "text": "x"}, "expected a relative path inside"),
        ({"audio_filepath": "../outside.wav", "duration": 1, "text": "x"}, "expected a relative path inside"),
        ({"audio_filepath": "a.wav", "duration": float("nan"), "text": "x"}, "positive finite 'duration'"),
        ({"audio_filepath": "a.wav", "duration": 1, "offset": -1, "text": "x"}, "non-negative finite 'offset'"),
        ({"audio_filepath": "a.wav", "duration": 5, "text": "x"}, "past the audio"),
        ({"audio_filepath": "a.wav", "duration": 1, "text": "x", "label": "music"}, "label 'music' is not one of"),
        ({"audio_filepath": "gone.wav", "duration": 1, "text": "x"}, "audio file 'gone.wav' is missing"),
        ({"audio_filepath": "a.wav", "duration": 1, "text": 7}, "'text' to be a string"),
    ],
)
def test_bad_lines_are_refused_with_their_line(tmp_path: Path, line: dict[str, object], reason: str) -> None:
    _wav(tmp_path / "ds" / "a.wav", 2.0)
    _wav(tmp_path / "ds" / "b.wav", 1.0)
    (tmp_path / "outside.wav").write_bytes(b"x")
    good = {"audio_filepath": "b.wav", "duration": 0.5, "offset": 0.1, "text": "fine"}
    (tmp_path / "ds" / "train_manifest.json").write_text(json.dumps(good) + "\n" + json.dumps(line) + "\n")
    got = list(import_nemo(tmp_path / "ds", SCHEMA))
    errors = [g for g in got if isinstance(g, ItemError)]
    assert len(errors) == 1 and errors[0].line == 2 and reason in errors[0].reason, errors
    assert errors[0].source == "train_manifest.json"
    assert [Path(g.key).name for g in got if isinstance(g, ImportedItem)] == ["b.wav"]


def test_malformed_json_and_no_manifest(tmp_path: Path) -> None:
    (tmp_path / "ds").mkdir()
    assert "found none" in str(next(iter(import_nemo(tmp_path / "ds", SCHEMA))))
    (tmp_path / "ds" / "train_manifest.json").write_text("{oops\n")
    (err,) = list(import_nemo(tmp_path / "ds", SCHEMA))
    assert isinstance(err, ItemError) and err.line == 1 and "malformed JSON" in err.reason
