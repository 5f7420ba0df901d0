"""audio.segments: WebRTC VAD on the demo speech clips and on synthetic silence (real inference)."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from labelloop.backends.audio_segments import create, detect_speech, merge_frames
from labelloop.backends.base import supported_controls
from labelloop.core import LabelSchema
from labelloop.core.plugins import BackendContext
from labelloop.errors import InvalidSchema
from labelloop.services.preannotate import StoreMedia
from labelloop.storage import Store
from tests.backends.factories import AUDIO_DIR, AUDIO_SCHEMA, add_items, audio_ref, demo_clip_ref, make_project

CLIPS = [c["file"] for c in json.loads((AUDIO_DIR / "transcripts.json").read_text())["clips"]]


def test_merge_frames_hangover_and_min_length() -> None:
    v = np.array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0], bool)
    assert merge_frames(v, hangover=2, min_len=1) == [(1, 6), (10, 11)]
    assert merge_frames(v, hangover=2, min_len=2) == [(1, 6)]
    assert merge_frames(v, hangover=0, min_len=1) == [(1, 3), (5, 6), (10, 11)]
    assert merge_frames(np.zeros(5, bool), hangover=3, min_len=1) == []


def test_silence_has_no_speech() -> None:
    segments, score = detect_speech(np.zeros(16000 * 2, np.float32))
    assert segments == [] and score == 1.0


def test_backend_on_demo_clips_and_silence(tmp_path: Path, no_network: None) -> None:
    store = Store.open(None, tmp_path)
    try:
        make_project(store, "p", AUDIO_SCHEMA)
        refs = [demo_clip_ref(store, name) for name in CLIPS] + [audio_ref(store, np.zeros(24000, np.float32))]
        items = add_items(store, "p", "audio", refs)
        schema = LabelSchema.model_validate(AUDIO_SCHEMA)
        backend = create({})
        backend.setup(BackendContext(media=StoreMedia(store)))
        outs = {o.item_id: o for o in backend.predict(items, schema, supported_controls(schema, backend.capabilities))}
        for item in items[:4]:
            out = outs[item.id]
            assert not out.failed and schema.validate_value(out.value, item.data) == []
            assert len(out.value) == 1  # one sentence each, padded with 0.3 s / 0.4 s of silence
            seg = out.value[0]
            assert 0.15 <= seg["start_s"] <= 0.45 and seg["end_s"] - seg["start_s"] > 1.5
            assert out.score is not None and out.score > 0.85
        silent = outs[items[4].id]
        assert silent.value == [] and silent.score == 1.0
    finally:
        store.close()


def test_nonspeech_label_fills_gaps(tmp_path: Path) -> None:
    import soundfile

    clip, _ = soundfile.read(AUDIO_DIR / CLIPS[0], dtype="float32")
    audio = np.concatenate([clip, np.zeros(16000, np.float32), clip])
    raw = {**AUDIO_SCHEMA, "controls": [{**AUDIO_SCHEMA["controls"][0], "labels": ["speech", "silence"]}]}
    schema = LabelSchema.model_validate(raw)
    store = Store.open(None, tmp_path)
    try:
        make_project(store, "p", raw)
        (item,) = add_items(store, "p", "audio", [audio_ref(store, audio)])
        backend = create({"nonspeech_label": "silence"})
        backend.setup(BackendContext(media=StoreMedia(store)))
        (out,) = backend.predict([item], schema, schema.controls)
        assert [r["label"] for r in out.value] == ["silence", "speech", "silence", "speech", "silence"]
        assert schema.validate_value(out.value, item.data) == []
        ends = [(r["start_s"], r["end_s"]) for r in out.value]
        assert ends[0][0] == 0.0 and all(abs(a[1] - b[0]) <= 0.002 for a, b in pairwise(ends))
    finally:
        store.close()


def test_bad_config() -> None:
    with pytest.raises(InvalidSchema, match="aggressiveness"):
        create({"aggressiveness": 7})
