"""ASR benchmark: word error rate and speed of ``audio.transcribe`` (Whisper tiny.en) on the 4 demo clips.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/asr_bench.py``
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from labelloop.backends._common import to_mono
from labelloop.backends.audio_transcribe import Transcriber, default_model_path, word_error_rate
from labelloop.modalities import load_audio

AUDIO = Path(__file__).resolve().parents[1] / "src/labelloop/services/samples/data/audio"


def main() -> None:
    clips = json.loads((AUDIO / "transcripts.json").read_text())["clips"]
    t0 = time.perf_counter()
    model = Transcriber(default_model_path())
    print(f"model load: {time.perf_counter() - t0:.2f} s")
    edits = words = 0
    audio_s = busy_s = 0.0
    for clip in clips:
        samples, rate = load_audio(AUDIO / clip["file"])
        mono = to_mono(samples, rate)
        t0 = time.perf_counter()
        hyp = " ".join(s[2] for s in model.transcribe(mono))
        busy_s += time.perf_counter() - t0
        audio_s += len(mono) / 16000
        e, n = word_error_rate(clip["text"], hyp)
        edits, words = edits + e, words + n
        print(f"{clip['file']}: {e}/{n} word errors | ref: {clip['text']!r} | hyp: {hyp!r}")
    print(f"WER: {edits}/{words} = {edits / words:.3f}")
    rtf = busy_s / audio_s
    print(f"speed: {audio_s:.1f} s of audio in {busy_s:.2f} s = {audio_s / busy_s:.1f} audio s/s (RTF {rtf:.3f})")


if __name__ == "__main__":
    main()
