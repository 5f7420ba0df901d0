"""Shared pieces of the PII detectors: the finding type, the recognizer protocol and overlaps.

Offsets are code points of the Python ``str`` (the label schema's span convention), never
bytes or UTF-16 units.

Example:
    >>> f = Finding(0, 5, "PHONE", 0.9, "cn_mobile")
    >>> b = Finding(0, 11, "PHONE", 0.9, "cn_mobile")
    >>> resolve_overlaps([f, b]) == [b]
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "PRIORITY_CHECKSUM",
    "PRIORITY_GENERIC",
    "PRIORITY_NER",
    "PRIORITY_STRUCTURED",
    "Finding",
    "Recognizer",
    "RegexRecognizer",
    "resolve_overlaps",
]

#: A checksum (GB 11643, Luhn) confirmed the value: beats every other reading of the span.
PRIORITY_CHECKSUM = 100
#: A strict format (e-mail, phone, IP, URL, plate, CN passport).
PRIORITY_STRUCTURED = 50
#: A weaker, generic format (generic passport with context, addresses, user patterns).
PRIORITY_GENERIC = 30
#: Statistical or dictionary named-entity recognition (spaCy via Presidio, jieba).
PRIORITY_NER = 10

#: Left and right boundaries for identifiers: no ASCII letter or digit may touch the match.
#: ``\\w`` is not used because CJK characters are word characters in Python, and Chinese
#: text writes identifiers right next to them (``电话13812345678。``).
LEFT = r"(?<![0-9A-Za-z])"
RIGHT = r"(?![0-9A-Za-z])"


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected piece of personal data.

    Attributes:
        start: First code point of the value in the text.
        end: One past its last code point.
        entity: Entity type such as ``"PHONE"`` or ``"CN_ID"``; it is also the redaction tag.
        score: Confidence in ``[0, 1]``.
        recognizer: Name of the recognizer that found it (shown to reviewers).
        priority: Rank used when findings overlap (checksummed identifiers rank highest).

    Example:
        >>> Finding(3, 1, "EMAIL", 1.0, "email")
        Traceback (most recent call last):
        ...
        ValueError: finding end 1 must be greater than start 3
    """

    start: int
    end: int
    entity: str
    score: float
    recognizer: str
    priority: int = 0

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ValueError(f"finding start must be >= 0, got {self.start}")
        if self.end <= self.start:
            raise ValueError(f"finding end {self.end} must be greater than start {self.start}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"finding score must be in [0, 1], got {self.score}")

    @property
    def length(self) -> int:
        """Number of code points covered."""
        return self.end - self.start


@runtime_checkable
class Recognizer(Protocol):
    """Anything that finds one family of PII in a text."""

    name: str

    def find(self, text: str) -> list[Finding]:
        """Return every finding in ``text`` (overlaps allowed; the detector resolves them)."""
        ...


Validator = Callable[[str], float | None]


class RegexRecognizer:
    r"""A recognizer made of one compiled pattern and an optional validator.

    Args:
        name: Recognizer name written into findings.
        entity: Entity type of its findings.
        pattern: Regular expression; group ``"v"`` (if present) is the value, else the match.
        score: Score of a match that the validator accepts without a score of its own.
        priority: Overlap rank of its findings.
        validate: Called with the value; returns ``None`` to reject it or a score to keep it.
        flags: ``re`` flags for ``pattern`` when it is a string.

    Example:
        >>> r = RegexRecognizer("digits", "NUM", r"\d{3}", score=0.5)
        >>> [(f.start, f.end) for f in r.find("ab 123 4567")]
        [(3, 6), (7, 10)]
    """

    def __init__(
        self,
        name: str,
        entity: str,
        pattern: str | re.Pattern[str],
        *,
        score: float = 1.0,
        priority: int = PRIORITY_STRUCTURED,
        validate: Validator | None = None,
        flags: int = 0,
    ) -> None:
        self.name = name
        self.entity = entity
        self.pattern = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, flags)
        self.score = score
        self.priority = priority
        self.validate = validate

    def find(self, text: str) -> list[Finding]:
        """Return every validated match in ``text``."""
        out: list[Finding] = []
        has_group = "v" in self.pattern.groupindex
        for m in self.pattern.finditer(text):
            start, end = m.span("v") if has_group else m.span()
            if end <= start:
                continue
            score: float | None = self.score
            if self.validate is not None:
                score = self.validate(text[start:end])
            if score is not None:
                out.append(Finding(start, end, self.entity, score, self.name, self.priority))
        return out


def _rank(f: Finding) -> tuple[int, int, float, int, str, str]:
    return (-f.priority, -f.length, -f.score, f.start, f.entity, f.recognizer)


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Keep a deterministic set of non-overlapping findings.

    Findings are taken greedily in rank order — higher ``priority`` (checksummed identifiers
    beat structured formats, which beat generic patterns and NER), then longer, then higher
    score, then earlier start, entity and recognizer name — and a finding is kept when it
    overlaps none already kept. The result is sorted by ``start``; it does not depend on the
    input order.

    Args:
        findings: Findings from any recognizers.

    Returns:
        Non-overlapping findings sorted by start offset.

    Example:
        >>> card = Finding(0, 18, "BANK_CARD", 1.0, "luhn", PRIORITY_CHECKSUM - 1)
        >>> cid = Finding(0, 18, "CN_ID", 1.0, "cn_id", PRIORITY_CHECKSUM)
        >>> [f.entity for f in resolve_overlaps([card, cid])]
        ['CN_ID']
    """
    kept: list[Finding] = []
    for f in sorted(set(findings), key=_rank):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: (f.start, f.end))
