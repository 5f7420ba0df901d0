"""Audio: WAV, FLAC, OGG (Vorbis/Opus) and MP3 through soundfile (libsndfile >= 1.1).

Probing decodes the whole stream in blocks (flat memory) and compares the frames decoded with
the frames the header declares, so a truncated file is refused even where libsndfile itself
reads it without complaint. A WAV ``data`` chunk longer than the file is refused from the
header. Lossy formats (OGG, MP3) get a small tolerance: their declared length can be an
estimate.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np, soundfile
    >>> path = Path(tempfile.mkdtemp()) / "a.wav"
    >>> soundfile.write(path, np.zeros(800, dtype=np.float32), 8000)
    >>> samples, rate = load_audio(path)
    >>> samples.shape, samples.dtype, rate
    ((800,), dtype('float32'), 8000)
"""

from __future__ import annotations

import struct
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from labelloop.core.media import Medium
from labelloop.errors import InputRejected
from labelloop.modalities import detect
from labelloop.modalities._common import DEFAULT_LIMITS, Input, Probed, ProbeLimits, why

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["load_audio", "probe_audio"]

_BLOCK = 1 << 16


def probe_audio(inp: Input, fmt: detect.Format, limits: ProbeLimits) -> Probed:
    """Probe audio: header facts, duration limit, then a full block-wise decode."""
    frames, rate, channels, _ = _decode(inp, fmt, limits, keep=False)
    meta: dict[str, Any] = {
        "duration_s": frames / rate,
        "sample_rate": rate,
        "channels": channels,
        "frames": frames,
    }
    return Probed(Medium.AUDIO, fmt.media_type, meta)


def load_audio(
    path: Path, *, source: str | None = None, limits: ProbeLimits = DEFAULT_LIMITS
) -> tuple[npt.NDArray[np.float32], int]:
    """Decode an audio file to float32 samples.

    Args:
        path: WAV, FLAC, OGG or MP3 file (recognised by content).
        source: Human name used in errors (default: the path).
        limits: ``max_audio_seconds`` applies.

    Returns:
        ``(samples, sample_rate)``: samples in [-1, 1], shape ``(frames,)`` for mono and
        ``(frames, channels)`` otherwise.

    Raises:
        InputRejected: Not audio, unsupported, too long, truncated or unreadable.

    Example:
        >>> import tempfile, numpy as np, soundfile
        >>> p = Path(tempfile.mkdtemp()) / "s.flac"
        >>> soundfile.write(p, np.zeros((160, 2), dtype=np.float32), 16000)
        >>> load_audio(p)[0].shape
        (160, 2)
    """
    import numpy as np

    inp = Input(source or str(path), path=path)
    if inp.size == 0:
        raise inp.reject("audio", "an empty file")
    fmt = detect.identify(inp.head(), size=inp.size)
    if fmt is None or fmt.medium is not Medium.AUDIO:
        raise inp.reject("audio", detect.describe(fmt))
    _, rate, channels, blocks = _decode(inp, fmt, limits, keep=True)
    if not blocks:
        shape = (0,) if channels == 1 else (0, channels)
        return np.zeros(shape, dtype=np.float32), rate
    return np.concatenate(blocks).astype(np.float32, copy=False), rate


def _decode(
    inp: Input, fmt: detect.Format, limits: ProbeLimits, *, keep: bool
) -> tuple[int, int, int, list[npt.NDArray[np.float32]]]:
    """Decode everything; return (frames, sample_rate, channels, blocks if ``keep``)."""
    import soundfile as sf

    if fmt is detect.WAV:
        _check_wav(inp)
    blocks: list[npt.NDArray[np.float32]] = []
    with ExitStack() as stack:
        # libsndfile reads a path itself (fast); in-memory data goes through a file object
        target: str | IO[bytes] = str(inp.path) if inp.path is not None else stack.enter_context(inp.open())
        try:
            with sf.SoundFile(target) as snd:
                rate, channels, declared = int(snd.samplerate), int(snd.channels), int(snd.frames)
                if rate <= 0 or channels <= 0:
                    raise inp.reject("readable audio", f"a {fmt.name} with {rate} Hz and {channels} channels")
                _check_duration(inp, declared / rate, limits)
                frames = 0
                while len(block := snd.read(_BLOCK, dtype="float32")):  # short at a premature end
                    frames += len(block)
                    _check_duration(inp, frames / rate, limits)
                    if keep:
                        blocks.append(block)
        except InputRejected:
            raise
        except Exception as exc:
            reason = str(getattr(exc, "error_string", None) or why(exc, inp))
            reason = reason.removeprefix("Error : ").strip()
            raise inp.reject("readable audio", f"a corrupt or truncated {fmt.name} ({reason})") from None
    tolerance = 0 if fmt in (detect.WAV, detect.FLAC) else max(4608, declared // 100)
    if frames + tolerance < declared:
        raise inp.reject(
            "readable audio",
            f"a truncated {fmt.name} (header declares {declared} frames, {frames} decoded)",
        )
    return frames, rate, channels, blocks


def _check_duration(inp: Input, seconds: float, limits: ProbeLimits) -> None:
    if seconds > limits.max_audio_seconds:
        raise inp.reject(
            f"audio no longer than {limits.max_audio_seconds:g} s",
            f"{seconds:.1f} s",
        )


def _check_wav(inp: Input) -> None:
    """Refuse a RIFF/WAVE file whose ``data`` chunk claims more bytes than the file has.

    libsndfile silently shortens such files; a streaming writer's placeholder sizes
    (0 or 0xFFFFFFFF) are accepted.
    """
    if not inp.head().startswith(b"RIFF"):
        return  # RF64 keeps its sizes elsewhere
    with inp.open() as fp:
        declared, available = _wav_data_chunk(fp, inp.size)
    if declared is not None and declared not in (0, 0xFFFFFFFF) and declared > available:
        raise inp.reject(
            "readable audio",
            f"a truncated WAV (data chunk declares {declared} bytes, {available} present)",
        )


def _wav_data_chunk(fp: IO[bytes], size: int) -> tuple[int | None, int]:
    pos = 12
    for _ in range(10_000):
        if pos + 8 > size:
            break
        fp.seek(pos)
        header = fp.read(8)
        if len(header) < 8:
            break
        chunk_id, length = header[:4], struct.unpack_from("<I", header, 4)[0]
        if chunk_id == b"data":
            return int(length), size - pos - 8
        pos += 8 + length + (length & 1)
    return None, 0
