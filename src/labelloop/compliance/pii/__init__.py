"""PII detectors: one module per family, combined by :class:`PiiDetector`.

Example:
    >>> from labelloop.compliance.pii import PiiDetector
    >>> [f.entity for f in PiiDetector(english_ner=False, chinese_ner=False).detect("ip 10.1.2.3")]
    ['IP_ADDRESS']
"""

from __future__ import annotations

from labelloop.compliance.pii._base import Finding, Recognizer, RegexRecognizer, resolve_overlaps
from labelloop.compliance.pii.address import AddressRecognizer
from labelloop.compliance.pii.bank_card import BankCardRecognizer, luhn_ok
from labelloop.compliance.pii.chinese_ner import ChineseNerRecognizer
from labelloop.compliance.pii.cn_id import CnResidentIdRecognizer, cn_id_check_char, is_valid_cn_id
from labelloop.compliance.pii.custom import PatternSpec, compile_pattern, compile_patterns
from labelloop.compliance.pii.detector import PiiDetector, pattern_recognizers
from labelloop.compliance.pii.english_ner import EnglishNerRecognizer, build_presidio_analyzer
from labelloop.compliance.pii.network import NetworkRecognizer
from labelloop.compliance.pii.passport import PassportRecognizer
from labelloop.compliance.pii.phone import PhoneRecognizer
from labelloop.compliance.pii.plate import PlateRecognizer

__all__ = [
    "AddressRecognizer",
    "BankCardRecognizer",
    "ChineseNerRecognizer",
    "CnResidentIdRecognizer",
    "EnglishNerRecognizer",
    "Finding",
    "NetworkRecognizer",
    "PassportRecognizer",
    "PatternSpec",
    "PhoneRecognizer",
    "PiiDetector",
    "PlateRecognizer",
    "Recognizer",
    "RegexRecognizer",
    "build_presidio_analyzer",
    "cn_id_check_char",
    "compile_pattern",
    "compile_patterns",
    "is_valid_cn_id",
    "luhn_ok",
    "pattern_recognizers",
    "resolve_overlaps",
]
