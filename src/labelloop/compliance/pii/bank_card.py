"""Bank card numbers: 12–19 digits, optionally grouped by spaces or dashes, Luhn-valid.

Luhn is the gate for every length. Twelve-digit numbers are only issued by Maestro, so a
12-digit value must also start with a Maestro issuer prefix (``50``, ``56``–``69``, or the
legacy UK Maestro range ``0604`` that card-number generators such as Faker still emit): a bare
Luhn-valid 12-digit order number such as ``411111111111`` is not a card.

Example:
    >>> luhn_ok("4111111111111111")
    True
    >>> [(f.start, f.end) for f in BankCardRecognizer().find("卡号 4111 1111 1111 1111，谢谢")]
    [(3, 22)]
"""

from __future__ import annotations

import re

from labelloop.compliance.pii._base import LEFT, PRIORITY_CHECKSUM, RIGHT, RegexRecognizer

__all__ = ["BankCardRecognizer", "luhn_ok"]

# Groups of four (Visa, Mastercard, UnionPay 16/19, Maestro 12 as 4-4-4), Amex 4-6-5,
# Diners 4-6-4, or plain digits.
# A separator, when used, must be the same kind throughout (checked in the validator).
_PATTERN = (
    LEFT
    + r"(?P<v>\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?|\d{4}[ -]\d{6}[ -]\d{4,5}|\d{12,19})"
    + r"(?![0-9A-Za-z]|[ -]\d)"
    + RIGHT
)


#: Maestro issuer identification numbers (the only cards issued with 12 digits).
_MAESTRO_12 = re.compile(r"5[06-9]|6\d|0604")


def luhn_ok(digits: str) -> bool:
    """Return whether ``digits`` (ASCII digits only) pass the Luhn check.

    Example:
        >>> luhn_ok("79927398713"), luhn_ok("79927398710")
        (True, False)
    """
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _validate(value: str) -> float | None:
    seps = {c for c in value if not c.isdigit()}
    if len(seps) > 1:
        return None
    digits = value.replace(" ", "").replace("-", "")
    if not 12 <= len(digits) <= 19 or len(set(digits)) == 1 or not luhn_ok(digits):
        return None
    if len(digits) == 12 and not _MAESTRO_12.match(digits):
        return None
    return 1.0


class BankCardRecognizer(RegexRecognizer):
    """Finds Luhn-valid card numbers (entity ``BANK_CARD``).

    It ranks just below resident IDs: an 18-digit ID that happens to pass Luhn stays an ID.

    Example:
        >>> BankCardRecognizer().find("4111111111111112")
        []
    """

    def __init__(self) -> None:
        super().__init__("bank_card_luhn", "BANK_CARD", _PATTERN, priority=PRIORITY_CHECKSUM - 1, validate=_validate)
