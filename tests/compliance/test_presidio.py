from __future__ import annotations

import socket
from typing import Any, NoReturn

import pytest

from labelloop.compliance import PiiDetector


def test_english_names_and_locations(presidio_analyzer: Any) -> None:
    det = PiiDetector(presidio_analyzer=presidio_analyzer, chinese_ner=False)
    text = "Yesterday John Smith flew from Seattle to Boston; mail john.smith@example.com."
    got = {(f.entity, text[f.start : f.end]) for f in det.detect(text)}
    assert ("PERSON", "John Smith") in got
    assert ("LOCATION", "Seattle") in got and ("LOCATION", "Boston") in got
    assert ("EMAIL", "john.smith@example.com") in got  # our recognizer, not a URL fragment


def test_presidio_runs_without_network(presidio_analyzer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"network use attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    det = PiiDetector(presidio_analyzer=presidio_analyzer)
    text = "Mary Jones (mary@example.org) lives in Paris; 王芳住在北京，手机13912345678。"
    entities = {f.entity for f in det.detect(text)}
    assert {"PERSON", "EMAIL", "LOCATION", "PHONE"} <= entities


def test_chinese_only_text_skips_presidio(presidio_analyzer: Any) -> None:
    det = PiiDetector(presidio_analyzer=presidio_analyzer, chinese_ner=False)
    assert det.detect("今天天气很好。") == []
