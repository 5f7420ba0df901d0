"""The audio demo: synthesised English speech clips and a tone, in four container formats."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from labelloop.services.samples._common import SampleProject, data_file, fresh_dir, gold, meta, write_manifest

__all__ = ["AUDIO_SCHEMA", "active_segments", "tone_clip", "write_audio"]

AUDIO_SCHEMA: dict[str, Any] = {
    "media": [{"name": "audio", "kind": "audio"}],
    "controls": [
        {
            "name": "speech",
            "kind": "segments",
            "target": "audio",
            "labels": ["speech", "noise"],
            "transcript": True,
            "description": "One segment per utterance with its transcript; 'noise' for non-speech sounds.",
        }
    ],
}

# clip file -> (written as, soundfile format, subtype); the order follows transcripts.json
_OUTPUTS = (
    (".wav", "WAV", "PCM_16"),
    (".flac", "FLAC", "PCM_16"),
    (".ogg", "OGG", "VORBIS"),
    (".mp3", "MP3", "MPEG_LAYER_III"),
)


def active_segments(
    samples: NDArray[np.floating[Any]],
    sample_rate: int,
    *,
    frame_s: float = 0.02,
    threshold_db: float = -35.0,
    min_gap_s: float = 0.3,
    pad_s: float = 0.02,
) -> list[tuple[float, float]]:
    """Find the stretches of a signal whose short-time energy is near its loudest frame.

    Frames of ``frame_s`` seconds whose RMS lies within ``threshold_db`` of the loudest frame
    are active; runs separated by less than ``min_gap_s`` merge; each run is widened by
    ``pad_s`` on both sides and clipped to the signal.

    Args:
        samples: Mono samples (any scale), shape (N,).
        sample_rate: Samples per second.
        frame_s: The analysis frame length in seconds.
        threshold_db: Activity threshold relative to the loudest frame (negative dB).
        min_gap_s: Shorter silences do not split a segment.
        pad_s: Margin added around each segment.

    Returns:
        ``(start_s, end_s)`` pairs in time order; empty for an all-zero signal.

    Example:
        >>> sr = 1000
        >>> x = np.zeros(3 * sr)
        >>> x[1000:2000] = np.sin(np.arange(1000) * 0.3)
        >>> active_segments(x, sr, pad_s=0.0)
        [(1.0, 2.0)]
    """
    x = np.asarray(samples, dtype=np.float64)
    hop = max(1, round(frame_s * sample_rate))
    n_frames = len(x) // hop
    if n_frames == 0:
        return []
    frames = x[: n_frames * hop].reshape(n_frames, hop)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    peak = float(rms.max())
    if peak <= 0.0:
        return []
    active = 20.0 * np.log10(np.maximum(rms, 1e-12) / peak) > threshold_db
    runs: list[list[int]] = []
    for i in np.flatnonzero(active):
        if runs and (i - runs[-1][1]) * hop / sample_rate < min_gap_s:
            runs[-1][1] = int(i) + 1
        else:
            runs.append([int(i), int(i) + 1])
    duration = len(x) / sample_rate
    return [
        (round(max(0.0, a * hop / sample_rate - pad_s), 3), round(min(duration, b * hop / sample_rate + pad_s), 3))
        for a, b in runs
    ]


def tone_clip(
    rng: np.random.Generator, sample_rate: int = 16000, *, duration_s: float = 2.5
) -> tuple[NDArray[np.float32], tuple[float, float]]:
    """Return a 440 Hz tone between stretches of faint noise, and the tone's (start_s, end_s).

    Example:
        >>> x, (a, b) = tone_clip(np.random.default_rng(0))
        >>> len(x), a, b
        (40000, 0.6, 1.6)
    """
    n = round(duration_s * sample_rate)
    x = rng.normal(0.0, 0.001, n)
    start, end = 0.6, 1.6
    i0, i1 = round(start * sample_rate), round(end * sample_rate)
    t = np.arange(i1 - i0) / sample_rate
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)  # 10 ms fades, no clicks
    x[i0:i1] += 0.5 * np.sin(2 * np.pi * 440.0 * t) * ramp
    return x.astype(np.float32), (start, end)


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


def _fix_ogg_serial(path: Path, serial: int = 0x6C6C6F70) -> None:
    """Give every Ogg page one fixed stream serial (libsndfile picks a random one) and redo its CRC.

    Without this the same seed would give different bytes, and so a different content hash, each run.
    """
    table = _crc_table()
    buf = bytearray(path.read_bytes())
    pos = 0
    while pos < len(buf):
        if buf[pos : pos + 4] != b"OggS":
            raise ValueError(f"{path}: expected an Ogg page at byte {pos}")
        n_segments = buf[pos + 26]
        end = pos + 27 + n_segments + sum(buf[pos + 27 : pos + 27 + n_segments])
        struct.pack_into("<II", buf, pos + 14, serial, struct.unpack_from("<I", buf, pos + 18)[0])
        struct.pack_into("<I", buf, pos + 22, 0)
        crc = 0
        for byte in buf[pos:end]:
            crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
        struct.pack_into("<I", buf, pos + 22, crc)
        pos = end
    path.write_bytes(bytes(buf))


def _write(path: Path, x: NDArray[np.float32], sr: int, fmt: str, subtype: str) -> tuple[NDArray[np.float32], int]:
    """Write ``x`` and read it back (lossy codecs change length and timing slightly)."""
    import soundfile as sf

    sf.write(path, x, sr, format=fmt, subtype=subtype)
    if fmt == "OGG":
        _fix_ogg_serial(path)
    back, sr_back = sf.read(path, dtype="float32", always_2d=False)
    return np.asarray(back, dtype=np.float32), int(sr_back)


def _usable(fmt: str, subtype: str) -> bool:
    import soundfile as sf

    if fmt not in sf.available_formats() or subtype not in sf.available_subtypes(fmt):
        return False
    try:  # a libsndfile built without the encoder lists the format but cannot write it
        sf.write(io.BytesIO(), np.zeros(1600, np.float32), 16000, format=fmt, subtype=subtype)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return False
    return True


def write_audio(dest: Path, *, seed: int = 0) -> SampleProject:
    """Write ``dest/audio`` (clips + ``items.jsonl``) and return the ``audio-demo`` project."""
    import soundfile as sf

    folder = fresh_dir(dest / "audio")
    (folder / "files").mkdir()
    info = orjson.loads(data_file("audio", "transcripts.json").read_bytes())
    outputs = [o if _usable(o[1], o[2]) else (".flac", "FLAC", "PCM_16") for o in _OUTPUTS]
    lines: list[dict[str, Any]] = []
    for clip, (suffix, fmt, subtype) in zip(info["clips"], outputs, strict=True):
        with data_file("audio", clip["file"]).open("rb") as fh:
            x, sr = sf.read(fh, dtype="float32", always_2d=False)
        rel = f"files/{Path(clip['file']).stem}{suffix}"
        back, sr_back = _write(folder / rel, np.asarray(x, dtype=np.float32), int(sr), fmt, subtype)
        segs = active_segments(back, sr_back, min_gap_s=0.5)
        duration = round(len(back) / sr_back, 3)
        region = {
            "id": "seg1",
            "control": "speech",
            "label": "speech",
            "start_s": segs[0][0],
            "end_s": min(segs[-1][1], duration),
            "transcript": clip["text"],
        }
        lines.append(
            {
                "key": f"speech-{Path(clip['file']).stem}",
                "audio": rel,
                "meta": meta(
                    info["licence"],
                    lang="en",
                    voice=clip["voice"],
                    generator=info["generator"],
                    format=fmt,
                    duration_s=duration,
                ),
                "annotations": [gold([region])],
            }
        )
    x, _ = tone_clip(np.random.default_rng(seed), 16000)
    back, sr_back = _write(folder / "files/tone_440hz.wav", x, 16000, "WAV", "PCM_16")
    segs = active_segments(back, sr_back)
    tone = [
        {"id": f"seg{i}", "control": "speech", "label": "noise", "start_s": a, "end_s": b, "transcript": ""}
        for i, (a, b) in enumerate(segs, 1)
    ]
    lines.append(
        {
            "key": "tone-440hz",
            "audio": "files/tone_440hz.wav",
            "meta": meta(
                "CC0-1.0",
                generator="labelloop.services.samples.tone_clip",
                format="WAV",
                duration_s=round(len(back) / sr_back, 3),
            ),
            "annotations": [gold(tone)],
        }
    )
    manifest = folder / "items.jsonl"
    n, annotated = write_manifest(manifest, lines)
    return SampleProject(
        name="audio-demo",
        schema=AUDIO_SCHEMA,
        source=manifest,
        description="Synthesised English sentences (WAV, FLAC, OGG, MP3) and a tone, with timed transcripts.",
        items=n,
        annotated=annotated,
    )
