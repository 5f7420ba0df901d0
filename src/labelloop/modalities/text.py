r"""Text items: strict UTF-8 with exact offsets.

Text is decoded strictly (a BOM is dropped, nothing is normalised), so character offsets of
spans stay exact against what the annotator sees. Refusals name the 0-based byte offset of
the first bad byte.

Example:
    >>> decode_text("Hello 你好".encode(), source="a.txt")
    'Hello 你好'
    >>> decode_text(b"caf\xe9", source="a.txt")
    Traceback (most recent call last):
    ...
    labelloop.errors.InputRejected: a.txt: expected UTF-8 text, got invalid UTF-8 at byte 3
"""

from __future__ import annotations

import codecs

from labelloop.core.media import Medium
from labelloop.errors import InputRejected
from labelloop.modalities._common import Input, Probed, ProbeLimits

__all__ = ["decode_text", "probe_text"]


def decode_text(data: bytes, *, source: str) -> str:
    """Decode UTF-8 bytes strictly, dropping a leading BOM.

    Args:
        data: The raw bytes.
        source: Human name of the input, used in the error.

    Returns:
        The text, code point for code point (no NFC).

    Raises:
        InputRejected: On invalid UTF-8 or a NUL byte, naming the 0-based byte offset.

    Example:
        >>> decode_text(codecs.BOM_UTF8 + b"abc", source="x")
        'abc'
    """
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    body = data[skip:] if skip else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputRejected(source, "UTF-8 text", f"invalid UTF-8 at byte {exc.start + skip}") from None
    nul = body.find(b"\x00")
    if nul >= 0:
        raise InputRejected(source, "UTF-8 text", f"a NUL byte at byte {nul + skip} (binary data)")
    return text


def probe_text(inp: Input, limits: ProbeLimits) -> Probed:
    """Probe a text input: size limit first, then a strict decode."""
    data = b"" if inp.size > limits.max_text_bytes else inp.read()
    if inp.size > limits.max_text_bytes or len(data) > limits.max_text_bytes:
        raise inp.reject(f"text no larger than {limits.max_text_bytes} bytes", f"{max(inp.size, len(data))} bytes")
    text = decode_text(data, source=inp.source)
    return Probed(Medium.TEXT, "text/plain", {"chars": len(text)}, text)
