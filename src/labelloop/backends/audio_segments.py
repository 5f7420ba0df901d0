"""``audio.segments``: speech / non-speech segments from the WebRTC voice activity detector.

The audio is mixed to mono, resampled to 16 kHz and cut into frames of ``frame_ms`` (10, 20 or
30 ms) of 16-bit PCM; ``webrtcvad`` (package ``webrtcvad-wheels``, an algorithmic GMM with no
weights) marks each frame voiced or not. Voiced runs separated by less than ``hangover_ms``
are merged, runs shorter than ``min_speech_ms`` are dropped, and each segment is padded by
``pad_ms`` on both sides. The score of an item is the fraction of the frames the VAD marked
voiced inside the emitted speech segments (how solid they are); with no speech, the fraction of
unvoiced frames (how sure "no speech" is).

Note: WebRTC VAD is an energy/spectral model; a steady tone can pass as speech.

Example:
    >>> voiced = np.array([0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1], bool)
    >>> merge_frames(voiced, hangover=1, min_len=2)
    [(1, 6)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from labelloop.backends._common import parse_config, to_mono
from labelloop.backends.base import BaseBackend, media_of
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput
from labelloop.errors import BackendUnavailable

__all__ = ["AudioSegmentsBackend", "AudioSegmentsConfig", "create", "detect_speech", "merge_frames", "vad_frames"]

RATE = 16000


class AudioSegmentsConfig(BaseModel):
    """Parameters of ``audio.segments``.

    Attributes:
        aggressiveness: WebRTC VAD mode, 0 (lenient) to 3 (strict).
        frame_ms: Frame length.
        hangover_ms: Voiced runs closer than this are merged into one segment.
        min_speech_ms: Shorter segments are dropped.
        pad_ms: Each segment is widened by this much on both sides (clipped to the clip).
        speech_label: The label of speech segments (must be a label of the control).
        nonspeech_label: When set, the gaps get segments of this label too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    aggressiveness: int = Field(2, ge=0, le=3)
    frame_ms: Literal[10, 20, 30] = 30
    hangover_ms: int = Field(300, ge=0, le=5000)
    min_speech_ms: int = Field(120, ge=0, le=10000)
    pad_ms: int = Field(30, ge=0, le=1000)
    speech_label: str = "speech"
    nonspeech_label: str | None = None


def vad_frames(samples: NDArray[np.float32], *, aggressiveness: int = 2, frame_ms: int = 30) -> NDArray[np.bool_]:
    """Voiced / unvoiced decision per frame of 16 kHz mono ``samples`` (a partial last frame is dropped).

    Example:
        >>> vad_frames(np.zeros(16000, np.float32)).sum()
        np.int64(0)
    """
    import webrtcvad  # type: ignore[import-untyped]

    vad = webrtcvad.Vad(aggressiveness)
    n = RATE * frame_ms // 1000
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    count = len(pcm) // n
    return np.array([bool(vad.is_speech(pcm[i * n : (i + 1) * n].tobytes(), RATE)) for i in range(count)], dtype=bool)


def merge_frames(voiced: NDArray[np.bool_], *, hangover: int, min_len: int) -> list[tuple[int, int]]:
    """Frame ranges ``[start, end)`` of voiced runs, gaps of at most ``hangover`` frames merged.

    Runs shorter than ``min_len`` frames (after merging) are dropped.

    Example:
        >>> merge_frames(np.array([1, 0, 0, 1], bool), hangover=1, min_len=1)
        [(0, 1), (3, 4)]
    """
    v = np.asarray(voiced, dtype=np.int8)
    edges = np.diff(np.r_[0, v, 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs: list[tuple[int, int]] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if runs and s - runs[-1][1] <= hangover:
            runs[-1] = (runs[-1][0], e)
        else:
            runs.append((s, e))
    return [(s, e) for s, e in runs if e - s >= min_len]


def detect_speech(
    samples: NDArray[np.float32], config: AudioSegmentsConfig | None = None
) -> tuple[list[tuple[float, float]], float]:
    """Speech segments (seconds) of 16 kHz mono ``samples`` and the item score (see module docs).

    Example:
        >>> detect_speech(np.zeros(8000, np.float32))
        ([], 1.0)
    """
    cfg = config or AudioSegmentsConfig()
    voiced = vad_frames(samples, aggressiveness=cfg.aggressiveness, frame_ms=cfg.frame_ms)
    if voiced.size == 0:
        return [], 1.0
    runs = merge_frames(
        voiced, hangover=cfg.hangover_ms // cfg.frame_ms, min_len=max(1, -(-cfg.min_speech_ms // cfg.frame_ms))
    )
    duration = len(samples) / RATE
    frame_s, pad = cfg.frame_ms / 1000.0, cfg.pad_ms / 1000.0
    segments: list[tuple[float, float]] = []
    for s, e in runs:
        start = max(0.0, s * frame_s - pad, segments[-1][1] if segments else 0.0)
        segments.append((start, min(duration, e * frame_s + pad)))
    if not runs:
        return [], float(1.0 - voiced.mean())
    inside = np.concatenate([voiced[s:e] for s, e in runs])
    return segments, float(inside.mean())


class AudioSegmentsBackend(BaseBackend):
    """Speech / non-speech segments with WebRTC VAD (see the module docstring)."""

    name = "audio.segments"
    model_version = "webrtcvad-1.0"
    capabilities = BackendCapabilities(
        media=frozenset({Medium.AUDIO}), controls=frozenset({ControlKind.SEGMENTS}), batch_size=16
    )

    def __init__(self, config: AudioSegmentsConfig) -> None:
        super().__init__()
        self.config = config
        self.model_version = (
            f"webrtcvad-1.0+a{config.aggressiveness}f{config.frame_ms}h{config.hangover_ms}"
            f"m{config.min_speech_ms}p{config.pad_ms}"
        )

    def setup(self, context: BackendContext) -> None:
        """Check that ``webrtcvad`` imports.

        Raises:
            BackendUnavailable: ``webrtcvad-wheels`` is not installed.
        """
        super().setup(context)
        try:
            import webrtcvad  # type: ignore[import-untyped]  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(f"audio.segments needs 'webrtcvad-wheels' ({exc})") from None

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Segment each item's audio for every ``segments`` control that has the configured labels."""
        from labelloop.modalities import load_audio

        cfg = self.config
        wanted = {cfg.speech_label} | ({cfg.nonspeech_label} if cfg.nonspeech_label else set())
        usable = [c for c in controls if wanted <= set(c.labels)]
        if batch and not usable:
            names = [c.name for c in controls]
            return self.fail_all(batch, f"audio.segments: no segments control among {names} has {sorted(wanted)}")
        outs = []
        for item in batch:
            value: list[dict[str, Any]] = []
            scores = []
            for ctl in usable:
                samples, rate = load_audio(self.media.path(media_of(item, ctl)), source=f"item {item.id} {ctl.target}")
                mono = to_mono(samples, rate)
                segments, score = detect_speech(mono, cfg)
                scores.append(score)
                value.extend(self._regions(ctl, segments, len(mono) / RATE))
            outs.append(self.ok(item, value, score=min(scores) if scores else None))
        return outs

    def _regions(self, ctl: Control, segments: list[tuple[float, float]], duration: float) -> list[dict[str, Any]]:
        cfg = self.config
        spans = [(s, e, cfg.speech_label) for s, e in segments]
        if cfg.nonspeech_label:
            bounds = [0.0, *[x for seg in segments for x in seg], duration]
            gaps = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
            spans += [(s, e, cfg.nonspeech_label) for s, e in gaps if e - s > 1e-3]
            spans.sort()
        out = []
        for i, (s, e, label) in enumerate(spans):
            region: dict[str, Any] = {
                "id": f"{ctl.name}-{i}",
                "control": ctl.name,
                "label": label,
                "start_s": math.ceil(s * 1000) / 1000,
                "end_s": math.floor(min(e, duration) * 1000) / 1000,
            }
            if ctl.transcript:
                region["transcript"] = ""
            if region["end_s"] > region["start_s"]:
                out.append(region)
        return out


def create(config: Mapping[str, Any]) -> AudioSegmentsBackend:
    """Build ``audio.segments`` (see :class:`AudioSegmentsConfig`; nothing loads here).

    Raises:
        InvalidSchema: an unknown or out-of-range parameter.

    Example:
        >>> create({"aggressiveness": 3}).config.aggressiveness
        3
    """
    return AudioSegmentsBackend(parse_config(AudioSegmentsConfig, "audio.segments", config))
