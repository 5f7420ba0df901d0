"""The PII detector: runs every recognizer and resolves overlaps deterministically.

Example:
    >>> det = PiiDetector(english_ner=False, chinese_ner=False)
    >>> t = "张先生的手机13812345678，身份证11010519491231002X，邮箱zhang@example.cn"
    >>> [(f.entity, t[f.start:f.end]) for f in det.detect(t)]
    [('PHONE', '13812345678'), ('CN_ID', '11010519491231002X'), ('EMAIL', 'zhang@example.cn')]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from labelloop.compliance.pii._base import Finding, Recognizer, resolve_overlaps
from labelloop.compliance.pii.address import AddressRecognizer
from labelloop.compliance.pii.bank_card import BankCardRecognizer
from labelloop.compliance.pii.chinese_ner import ChineseNerRecognizer
from labelloop.compliance.pii.cn_id import CnResidentIdRecognizer
from labelloop.compliance.pii.custom import PatternSpec, compile_patterns
from labelloop.compliance.pii.english_ner import EnglishNerRecognizer
from labelloop.compliance.pii.network import NetworkRecognizer
from labelloop.compliance.pii.passport import PassportRecognizer
from labelloop.compliance.pii.phone import PhoneRecognizer
from labelloop.compliance.pii.plate import PlateRecognizer

__all__ = ["PiiDetector", "pattern_recognizers"]


def pattern_recognizers() -> list[Recognizer]:
    """The built-in rule-based recognizers (cheap; no models)."""
    return [
        CnResidentIdRecognizer(),
        BankCardRecognizer(),
        PhoneRecognizer(),
        NetworkRecognizer(),
        PassportRecognizer(),
        PlateRecognizer(),
        AddressRecognizer(),
    ]


class PiiDetector:
    """Find personal data in text.

    Args:
        recognizers: Replaces the built-in rule-based recognizers when given.
        english_ner: Add Presidio + spaCy person/location detection (built on first use).
        chinese_ner: Add jieba person/place detection.
        extra_patterns: User patterns, validated (see :mod:`labelloop.compliance.pii.custom`).
        presidio_analyzer: A prebuilt Presidio engine to share between detectors.
        entities: Keep only these entity types (default: all).
        min_score: Drop findings scored below this before resolving overlaps.

    Raises:
        InputRejected: An extra pattern is refused.
    """

    def __init__(
        self,
        recognizers: Sequence[Recognizer] | None = None,
        *,
        english_ner: bool = True,
        chinese_ner: bool = True,
        extra_patterns: Iterable[PatternSpec] = (),
        presidio_analyzer: Any | None = None,
        entities: Iterable[str] | None = None,
        min_score: float = 0.0,
    ) -> None:
        recs: list[Recognizer] = list(recognizers) if recognizers is not None else pattern_recognizers()
        recs.extend(compile_patterns(extra_patterns))
        if english_ner:
            recs.append(EnglishNerRecognizer(presidio_analyzer))
        if chinese_ner:
            recs.append(ChineseNerRecognizer())
        self.recognizers: tuple[Recognizer, ...] = tuple(recs)
        self.entities = frozenset(entities) if entities is not None else None
        self.min_score = min_score

    def detect(self, text: str) -> list[Finding]:
        """Return non-overlapping findings sorted by start offset (code points)."""
        found = [
            f
            for r in self.recognizers
            for f in r.find(text)
            if f.score >= self.min_score and (self.entities is None or f.entity in self.entities)
        ]
        return resolve_overlaps(found)
