"""Audio: WAV, FLAC, OGG and MP3 written by soundfile, probed and loaded back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from labelloop.core.media import Medium
from labelloop.errors import InputRejected
from labelloop.modalities import ProbeLimits, load_audio, probe_file
from tests.modalities.conftest import Media


@pytest.mark.parametrize(
    ("build", "media_type", "channels"),
    [
        pytest.param(lambda m: m.wav(), "audio/wav", 1, id="wav"),
        pytest.param(lambda m: m.wav(channels=2), "audio/wav", 2, id="wav-stereo"),
        pytest.param(lambda m: m.flac(), "audio/flac", 1, id="flac"),
        pytest.param(lambda m: m.ogg(channels=2), "audio/ogg", 2, id="ogg"),
        pytest.param(lambda m: m.mp3(), "audio/mpeg", 1, id="mp3"),
    ],
)
def test_probe_and_load(media: Media, build: Callable[[Media], Path], media_type: str, channels: int) -> None:
    path = build(media)
    probed = probe_file(path, source=path.name)
    assert probed.kind is Medium.AUDIO and probed.media_type == media_type
    assert probed.meta["sample_rate"] == 16000
    assert probed.meta["channels"] == channels
    assert probed.meta["duration_s"] == pytest.approx(0.25, abs=0.01)
    assert probed.meta["frames"] == pytest.approx(4000, abs=100)
    samples, rate = load_audio(path)
    assert rate == 16000 and samples.dtype == np.float32
    assert samples.shape == ((probed.meta["frames"],) if channels == 1 else (probed.meta["frames"], channels))
    assert 0.2 < float(np.abs(samples).max()) <= 1.0


def test_mp3_written_by_soundfile_round_trips(media: Media) -> None:
    path = media.mp3(seconds=0.5)
    assert path.read_bytes()[:2] in (b"\xff\xf3", b"\xff\xfb", b"\xff\xf2", b"ID")
    samples, rate = load_audio(path)
    assert rate == 16000 and abs(len(samples) - 8000) < 1200


@pytest.mark.parametrize(
    ("build", "error"),
    [
        pytest.param(lambda m: m.truncated(m.flac()), r"corrupt or truncated FLAC", id="flac"),
        pytest.param(
            lambda m: m.truncated(m.wav()), r"truncated WAV \(data chunk declares 8000 bytes, \d+ present", id="wav"
        ),
        pytest.param(
            lambda m: m.truncated(m.mp3(seconds=1.0)), r"truncated MP3 \(header declares 16000 frames", id="mp3"
        ),
        pytest.param(lambda m: m.png(), r"expected audio, got PNG image$", id="png"),
        pytest.param(
            lambda m: m.write("a.wav", b"RIFF\x00\x00\x00\x00WAVEjunkjunk"), r"corrupt or truncated WAV", id="junk"
        ),
    ],
)
def test_load_audio_refusals(media: Media, build: Callable[[Media], Path], error: str) -> None:
    with pytest.raises(InputRejected, match=error):
        load_audio(build(media))


def test_duration_limit(media: Media) -> None:
    path = media.flac(seconds=0.5)
    with pytest.raises(InputRejected, match=r"expected audio no longer than 0.25 s, got 0.5 s$"):
        load_audio(path, limits=ProbeLimits(max_audio_seconds=0.25))
