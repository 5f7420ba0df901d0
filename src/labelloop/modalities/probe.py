"""Probe an input: recognise its medium from content, then validate it completely.

Every failure is an :class:`~labelloop.errors.InputRejected` naming the input, what was
expected and what came; library exceptions never escape.

Example:
    >>> probe_bytes(b"", source="a.png")
    Traceback (most recent call last):
    ...
    labelloop.errors.InputRejected: a.png: expected media content, got an empty file
    >>> probe_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>", source="x.svg").kind
    <Medium.TEXT: 'text'>
"""

from __future__ import annotations

from pathlib import Path

from labelloop.core.media import Medium
from labelloop.errors import InputRejected
from labelloop.modalities import detect
from labelloop.modalities._common import DEFAULT_LIMITS, Input, Probed, ProbeLimits, why

__all__ = ["probe_bytes", "probe_file"]

_SUPPORTED = "a supported medium (UTF-8 text, JPEG/PNG/WebP/BMP, WAV/FLAC/OGG/MP3, PCD/PLY/LAS/LAZ/KITTI)"


def probe_file(path: Path, *, source: str, limits: ProbeLimits = DEFAULT_LIMITS) -> Probed:
    """Recognise and fully validate one file.

    Headers are read first; limits (text size, image pixels, audio duration, point count)
    are checked before the content is decoded.

    Args:
        path: The file.
        source: Human name of the input for messages (``"photos/a.png"``, ``"manifest.jsonl:12"``).
        limits: Size limits.

    Returns:
        The medium, media type and facts (see :class:`Probed`).

    Raises:
        InputRejected: Missing, empty, unsupported, too large, corrupt or truncated.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "n.txt"
        >>> _ = p.write_text("héllo", encoding="utf-8")
        >>> probe_file(p, source="n.txt").text
        'héllo'
    """
    return _probe(Input(source, path=Path(path)), limits)


def probe_bytes(data: bytes, *, source: str, limits: ProbeLimits = DEFAULT_LIMITS) -> Probed:
    r"""Like :func:`probe_file`, for content already in memory.

    Example:
        >>> probe_bytes(b"caf\xe9 au lait", source="notes.txt")
        Traceback (most recent call last):
        ...
        labelloop.errors.InputRejected: notes.txt: expected UTF-8 text, got invalid UTF-8 at byte 3
    """
    return _probe(Input(source, data=bytes(data)), limits)


def _probe(inp: Input, limits: ProbeLimits) -> Probed:
    try:
        return _dispatch(inp, limits)
    except InputRejected:
        raise
    except MemoryError:
        raise inp.reject("content small enough to probe", "content that exhausted memory") from None
    except Exception as exc:  # a library failure we did not anticipate: still a refusal
        raise inp.reject("readable media content", f"content the reader failed on ({why(exc, inp)})") from None


def _dispatch(inp: Input, limits: ProbeLimits) -> Probed:
    if inp.size == 0:
        raise inp.reject("media content", "an empty file")
    head = inp.head()
    fmt = detect.identify(head, size=inp.size)
    if fmt is None:
        if detect.looks_like_text(head):
            from labelloop.modalities.text import probe_text

            return probe_text(inp, limits)  # refuses, naming the first bad byte
        raise inp.reject(_SUPPORTED, "unrecognised binary data")
    if fmt.medium is None:
        raise inp.reject(_SUPPORTED, fmt.refusal)
    if fmt.medium is Medium.TEXT:
        from labelloop.modalities.text import probe_text

        return probe_text(inp, limits)
    if fmt.medium is Medium.IMAGE:
        from labelloop.modalities.image import probe_image

        return probe_image(inp, fmt, limits)
    if fmt.medium is Medium.AUDIO:
        from labelloop.modalities.audio import probe_audio

        return probe_audio(inp, fmt, limits)
    from labelloop.modalities.pointcloud import probe_pointcloud

    return probe_pointcloud(inp, fmt, limits)
