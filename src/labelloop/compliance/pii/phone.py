"""Phone numbers: Chinese mobile and landline numbers, and North American numbers.

* Mobile: ``1[3-9]`` + 9 digits, optionally ``+86``/``0086``/``(+86)`` and grouped ``3-4-4``
  with a space or dash.
* Landline: area code ``0`` + 2–3 digits, then 7–8 digits. A separator or parentheses is
  required (``010-12345678``, ``(0755)1234567``, ``+86 10 12345678``, ``+86 (10) 1234 5678``);
  a bare run of 11–12 digits is too ambiguous.
* North American (NANP): ``(555) 123-4567``, ``555.123.4567``, ``+1-555-123-4567``,
  ``001-555-123-4567``, optional extension ``x123``. The area code must start with 2–9; the
  exchange may be any three digits, as in the ``555-123-4567`` people write.
* Bare NANP runs (``2125551234``, ``+1 2125551234``, optional extension): ten digits without
  separators cannot be told from an order number by their shape, so they count only when a
  phone word stands before them in the same clause (``call``, ``phone``, ``tel``, ``mobile``,
  ``fax``, ``电话``, ``手机``, ``拨打`` …; Presidio's context enhancement does the same) and no
  identifier word (``order``, ``invoice``, ``ref``, ``#``, ``订单`` …) sits between that word and
  the number.

Example:
    >>> [f.recognizer for f in PhoneRecognizer().find("电话13812345678或010-62345678")]
    ['cn_mobile', 'cn_landline']
"""

from __future__ import annotations

import re

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

_BARE = re.compile(r"(?<![0-9A-Za-z+#])(?P<v>(?:\+1[ -]?)?[2-9]\d{9}(?:[ ]?(?:x|ext\.?)[ ]?\d{1,6})?)" + RIGHT)
_CONTEXT = re.compile(
    r"(?:\b(?:call(?:ed|ing)?|phone|telephone|tel|mobile|cell(?:phone)?|fax|dial|contact|reach|sms|whatsapp)\b"
    r"|电话|手机|致电|拨打|来电|座机|热线|传真|联系)",
    re.IGNORECASE,
)
_NOT_PHONE = re.compile(
    r"(?:\b(?:order|invoice|inv|ref|reference|account|acct|tracking|ticket|case|serial|sku|isbn|zip|po)\b"
    r"|#|订单|单号|编号|账号|卡号|工号)",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[.!?](?=\s+[A-Z])|[;。！？；\n]")  # "Tel. 212…" does not end a clause
_WINDOW = 40  # characters looked at before a bare number


def _phone_context(before: str) -> bool:
    """True when the clause before a bare number names a phone and no identifier comes after that word."""
    ends = [m.end() for m in _CLAUSE_END.finditer(before)]
    clause = before[ends[-1] :] if ends else before
    words = list(_CONTEXT.finditer(clause))
    return bool(words) and _NOT_PHONE.search(clause[words[-1].end() :]) is None


class _BareNanpRecognizer:
    """Ten-digit NANP numbers without separators, kept only with a phone word before them."""

    name = "nanp_bare"

    def find(self, text: str) -> list[Finding]:
        out = []
        for m in _BARE.finditer(text):
            start, end = m.span("v")
            if _phone_context(text[max(0, start - _WINDOW) : start]):
                out.append(Finding(start, end, "PHONE", 0.75, self.name, PRIORITY_STRUCTURED))
        return out


class PhoneRecognizer:
    """Finds Chinese mobile and landline numbers and NANP numbers (entity ``PHONE``).

    The recognizer name in each finding says which (``cn_mobile``, ``cn_landline``, ``nanp``,
    ``nanp_bare``).

    Example:
        >>> PhoneRecognizer().find("order 12812345678")  # 12x is not a mobile prefix
        []
        >>> [f.recognizer for f in PhoneRecognizer().find("Call me at 6318110910, order 6318110911")]
        ['nanp_bare']
    """

    name = "phone"

    def __init__(self) -> None:
        self._parts: tuple[RegexRecognizer | _BareNanpRecognizer, ...] = (
            RegexRecognizer("cn_mobile", "PHONE", _MOBILE, score=0.95, priority=PRIORITY_STRUCTURED),
            RegexRecognizer("cn_landline", "PHONE", _LANDLINE, score=0.85, priority=PRIORITY_STRUCTURED),
            RegexRecognizer("nanp", "PHONE", _NANP, score=0.85, priority=PRIORITY_STRUCTURED),
            _BareNanpRecognizer(),
        )

    def find(self, text: str) -> list[Finding]:
        """Return every phone-number finding in ``text``."""
        return [f for p in self._parts for f in p.find(text)]
