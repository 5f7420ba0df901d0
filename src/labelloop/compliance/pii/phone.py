"""Phone numbers: Chinese mobile and landline numbers, and North American numbers.

* Mobile: ``1[3-9]`` + 9 digits, optionally ``+86``/``0086``/``(+86)`` and grouped ``3-4-4``
  with a space or dash.
* Landline: area code ``0`` + 2–3 digits, then 7–8 digits. A separator or parentheses is
  required (``010-12345678``, ``(0755)1234567``, ``+86 10 12345678``, ``+86 (10) 1234 5678``);
  a bare run of 11–12 digits is too ambiguous.
* North American (NANP): ``(555) 123-4567``, ``555.123.4567``, ``+1-555-123-4567``,
  ``001-555-123-4567``, optional extension ``x123``. The area code must start with 2–9; the
  exchange may be any three digits, as in the ``555-123-4567`` people write. A bare run of
  ten digits is not matched: without separators it cannot be told from an order number.

Example:
    >>> [f.recognizer for f in PhoneRecognizer().find("电话13812345678或010-62345678")]
    ['cn_mobile', 'cn_landline']
"""

from __future__ import annotations

from labelloop.compliance.pii._base import LEFT, PRIORITY_STRUCTURED, RIGHT, Finding, RegexRecognizer

__all__ = ["PhoneRecognizer"]

_CN_CC = r"(?:(?:\+|00)86[ -]?|\((?:\+|00)86\)[ -]?)"
_CN_PREFIX = _CN_CC + "?"
_MOBILE = LEFT + r"(?P<v>" + _CN_PREFIX + r"1[3-9]\d(?:\d{8}|[ -]\d{4}[ -]\d{4}))" + RIGHT
_LANDLINE = (
    r"(?<![0-9A-Za-z+])(?P<v>(?:"
    + _CN_CC
    + r"(?:[1-9]\d{1,2}[ -]|\([1-9]\d{1,2}\)[ -]?)|\(0[1-9]\d{1,2}\)[ -]?|0[1-9]\d{1,2}[ -])"
    r"[2-9]\d{2,3}[ -]?\d{4}(?:-\d{1,4})?)" + RIGHT
)
_NANP = (
    r"(?<![0-9A-Za-z+(])(?P<v>(?:(?:\+1|001|1)[ .-]?)?(?:\([2-9]\d{2}\)[ ]?|[2-9]\d{2}[ .-])\d{3}[ .-]\d{4}"
    r"(?:[ ]?(?:x|ext\.?|#)[ ]?\d{1,6})?)" + RIGHT
)


class PhoneRecognizer:
    """Finds Chinese mobile and landline numbers and NANP numbers (entity ``PHONE``).

    The recognizer name in each finding says which (``cn_mobile``, ``cn_landline``, ``nanp``).

    Example:
        >>> PhoneRecognizer().find("order 12812345678")  # 12x is not a mobile prefix
        []
    """

    name = "phone"

    def __init__(self) -> None:
        self._parts = (
            RegexRecognizer("cn_mobile", "PHONE", _MOBILE, score=0.95, priority=PRIORITY_STRUCTURED),
            RegexRecognizer("cn_landline", "PHONE", _LANDLINE, score=0.85, priority=PRIORITY_STRUCTURED),
            RegexRecognizer("nanp", "PHONE", _NANP, score=0.85, priority=PRIORITY_STRUCTURED),
        )

    def find(self, text: str) -> list[Finding]:
        """Return every phone-number finding in ``text``."""
        return [f for p in self._parts for f in p.find(text)]
