"""NeMo ASR manifests: JSON lines whose audio paths exist and whose durations match the audio."""

from __future__ import annotations

import json
import wave
from pathlib import Path

from labelloop.core import LabelSchema, MediaRef, Medium
from labelloop.formats._base import ExportRecord
from labelloop.formats.nemo import audio_duration, export_nemo
from tests.formats.fmt_helpers import make_item

SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "audio", "kind": "audio"}],
        "controls": [{"name": "segs", "kind": "segments", "target": "audio", "labels": ["sp"], "transcript": True}],
    }
)


def _wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return path


def _seg(rid: str, s: float, e: float, text: str) -> dict[str, object]:
    return {"id": rid, "control": "segs", "label": "sp", "start_s": s, "end_s": e, "transcript": text}


def _setup(tmp_path: Path) -> tuple[list[ExportRecord], dict[str, Path]]:
    files = {"a" * 64: _wav(tmp_path / "a.wav", 2.0), "b" * 64: _wav(tmp_path / "b.wav", 1.0)}
    ra = MediaRef(Medium.AUDIO, "a" * 64, "audio/wav", None, {})  # duration probed from the file
    rb = MediaRef(Medium.AUDIO, "b" * 64, "audio/wav", None, {"duration_s": 1.0})
    records = [
        ExportRecord(
            make_item(1, ra, "a.wav", field="audio"), [_seg("x", 1.0, 1.5, "world"), _seg("y", 0, 0.75, "hi")]
        ),
        ExportRecord(make_item(2, rb, "b.wav", field="audio"), [_seg("x", 0.5, 1.5, "too long")]),
    ]
    return records, files


def _read(manifest: Path) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    for row in rows:
        audio = manifest.parent / str(row["audio_filepath"])
        assert audio.is_file()
        assert float(row.get("offset", 0)) + float(row["duration"]) <= audio_duration(audio) + 1e-6  # type: ignore[arg-type]
    return rows


def test_segment_manifest(tmp_path: Path) -> None:
    records, files = _setup(tmp_path)
    report = export_nemo(records, SCHEMA, tmp_path / "nemo", files.__getitem__)
    assert report.items == 1 and report.regions == 2 and "past the audio" in report.errors[0].reason
    rows = _read(tmp_path / "nemo" / "train_manifest.json")
    assert [(r["offset"], r["duration"], r["text"]) for r in rows] == [(0, 0.75, "hi"), (1.0, 0.5, "world")]


def test_item_manifest(tmp_path: Path) -> None:
    records, files = _setup(tmp_path)
    report = export_nemo(records[:1], SCHEMA, tmp_path / "nemo", files.__getitem__, per="item")
    assert report.ok
    (row,) = _read(tmp_path / "nemo" / "train_manifest.json")
    assert row["text"] == "hi world" and abs(float(row["duration"]) - 2.0) < 1e-6  # type: ignore[arg-type]
