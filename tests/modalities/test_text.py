"""Text: strict UTF-8, exact offsets, byte offsets in refusals."""

from __future__ import annotations

import codecs
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelloop.core.media import Medium
from labelloop.errors import InputRejected
from labelloop.modalities import ProbeLimits, decode_text, probe_bytes


@pytest.mark.parametrize(
    ("data", "text", "error"),
    [
        pytest.param("Hello, 世界! Café".encode(), "Hello, 世界! Café", None, id="en-zh"),
        pytest.param(codecs.BOM_UTF8 + "标注".encode(), "标注", None, id="bom-stripped"),
        pytest.param("e\u0301".encode(), "e\u0301", None, id="no-nfc"),
        pytest.param(b"line1\r\nline2\n", "line1\r\nline2\n", None, id="newlines-kept"),
        pytest.param(b"abc\x80", None, r"expected UTF-8 text, got invalid UTF-8 at byte 3$", id="stray-continuation"),
        pytest.param("中".encode()[:2] + b"x", None, r"invalid UTF-8 at byte 0$", id="cut-sequence"),
        pytest.param(codecs.BOM_UTF8 + b"ab\xff", None, r"invalid UTF-8 at byte 5$", id="offset-counts-bom"),
        pytest.param(b"\xed\xa0\x80", None, r"invalid UTF-8 at byte 0$", id="surrogate"),
        pytest.param(b"ab\x00cd", None, r"got a NUL byte at byte 2 \(binary data\)$", id="nul"),
    ],
)
def test_decode_text(data: bytes, text: str | None, error: str | None) -> None:
    if error is not None:
        with pytest.raises(InputRejected, match=error):
            decode_text(data, source="t.txt")
        return
    assert decode_text(data, source="t.txt") == text


def test_probe_keeps_exact_offsets_for_spans() -> None:
    raw = "The cat 猫 sat. e\u0301".encode()
    probed = probe_bytes(raw, source="a.txt")
    assert probed.kind is Medium.TEXT and probed.media_type == "text/plain"
    assert probed.text is not None
    start = probed.text.index("猫")
    assert probed.text[start : start + 1] == "猫"
    assert probed.meta == {"chars": len(probed.text)}
    assert probed.text != unicodedata.normalize("NFC", probed.text)  # not normalised


def test_text_size_limit_is_checked_before_decoding() -> None:
    with pytest.raises(InputRejected, match=r"expected text no larger than 8 bytes, got 9 bytes$"):
        probe_bytes(b"123456789", source="big.txt", limits=ProbeLimits(max_text_bytes=8))


@given(st.text())
def test_any_text_round_trips(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    try:
        decoded = decode_text(data, source="t")
    except InputRejected as exc:
        assert "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text), str(exc)
    else:
        assert decoded == (text[1:] if text.startswith("\ufeff") else text)
