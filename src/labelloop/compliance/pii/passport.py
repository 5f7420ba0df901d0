"""Passport numbers.

* Chinese ordinary passports: ``E`` or ``G`` + 8 digits, or ``E`` + a letter + 7 digits
  (score 0.9 on their own).
* Generic passports (one or two letters + 6–9 digits, or 9 digits) only after a context word
  such as ``passport`` / ``护照`` within 24 characters before (score 0.6).

Example:
    >>> [(f.recognizer, f.start) for f in PassportRecognizer().find("护照号E12345678")]
    [('cn_passport', 3)]
    >>> [f.recognizer for f in PassportRecognizer().find("Passport no.: K1234567")]
    ['passport_context']
"""

from __future__ import annotations

import re

from labelloop.compliance.pii._base import (
    LEFT,
    PRIORITY_GENERIC,
    PRIORITY_STRUCTURED,
    RIGHT,
    Finding,
    RegexRecognizer,
)

__all__ = ["PassportRecognizer"]

_CN = LEFT + r"(?P<v>[EG]\d{8}|E[A-HJ-NP-Z]\d{7})" + RIGHT
_CONTEXT = re.compile(r"(?i:passport|pass\.?\s*no)|护照|通行证")
_GENERIC = LEFT + r"(?P<v>[A-Z]{1,2}\d{6,9}|\d{9})" + RIGHT


class PassportRecognizer:
    """Finds ``PASSPORT`` numbers (Chinese format, or generic with a context word).

    Example:
        >>> PassportRecognizer().find("order K1234567 shipped")
        []
    """

    name = "passport"

    def __init__(self) -> None:
        self._cn = RegexRecognizer("cn_passport", "PASSPORT", _CN, score=0.9, priority=PRIORITY_STRUCTURED)
        self._generic = RegexRecognizer("passport_context", "PASSPORT", _GENERIC, score=0.6, priority=PRIORITY_GENERIC)

    def find(self, text: str) -> list[Finding]:
        """Return passport findings in ``text``."""
        out = self._cn.find(text)
        for f in self._generic.find(text):
            clash = any(c.start < f.end and f.start < c.end for c in out)
            if not clash and _CONTEXT.search(text, max(0, f.start - 24), f.start):
                out.append(f)
        return out
