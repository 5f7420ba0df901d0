"""Chinese resident identity card numbers (GB 11643-1999, 18 characters).

The 18th character is the ISO 7064 MOD 11-2 check character over the first 17 digits;
characters 7–14 are the birth date (YYYYMMDD), which must be a real date not in the future,
and the first two digits a province-level code.

Example:
    >>> is_valid_cn_id("11010519491231002X")
    True
    >>> is_valid_cn_id("110105194912310021")
    False
    >>> [(f.entity, f.start) for f in CnResidentIdRecognizer().find("身份证号11010519491231002X。")]
    [('CN_ID', 4)]
"""

from __future__ import annotations

import datetime as dt

from labelloop.compliance.pii._base import LEFT, PRIORITY_CHECKSUM, RIGHT, RegexRecognizer

__all__ = ["CnResidentIdRecognizer", "cn_id_check_char", "is_valid_cn_id"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
        "91",
    ]
)
_PATTERN = LEFT + r"(?P<v>[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx])" + RIGHT


def cn_id_check_char(first17: str) -> str:
    """Return the GB 11643 check character for 17 digits.

    Example:
        >>> cn_id_check_char("11010519491231002")
        'X'
    """
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def is_valid_cn_id(value: str, *, today: dt.date | None = None) -> bool:
    """Check length, province code, birth date and check character of an 18-character ID.

    Args:
        value: The candidate (``x`` accepted for ``X``).
        today: Latest allowed birth date (default: today).

    Example:
        >>> is_valid_cn_id("110105194902301005")  # 30 February
        False
    """
    if len(value) != 18 or not value[:17].isascii() or not value[:17].isdigit():
        return False
    if value[:2] not in _PROVINCES:
        return False
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born > (today or dt.date.today()) or born.year < 1880:
        return False
    return cn_id_check_char(value[:17]) == value[17].upper()


class CnResidentIdRecognizer(RegexRecognizer):
    """Finds valid 18-character resident IDs (entity ``CN_ID``, score 1.0).

    Example:
        >>> CnResidentIdRecognizer().find("ID 110105194912310021")  # bad check digit
        []
    """

    def __init__(self) -> None:
        super().__init__(
            "cn_resident_id",
            "CN_ID",
            _PATTERN,
            priority=PRIORITY_CHECKSUM,
            validate=lambda v: 1.0 if is_valid_cn_id(v) else None,
        )
