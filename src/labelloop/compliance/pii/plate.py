"""Chinese vehicle licence plates (GA 36).

A province abbreviation, an issuing-office letter (no ``I``/``O``), an optional ``·``, space or
dash, then five characters (ordinary plates, the last may be 挂/学/警/港/澳) or six (new-energy
plates with ``D``/``F``).

Example:
    >>> [(f.start, f.end) for f in PlateRecognizer().find("车牌京A·12345停在门口")]
    [(2, 10)]
"""

from __future__ import annotations

from labelloop.compliance.pii._base import LEFT, PRIORITY_STRUCTURED, RIGHT, RegexRecognizer

__all__ = ["PlateRecognizer"]

_PROVINCE = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_AN = "[A-HJ-NP-Z0-9]"
_PATTERN = (
    LEFT
    + "(?P<v>["
    + _PROVINCE
    + "][A-HJ-NP-Z][·• -]?(?:[DF]"
    + _AN
    + r"\d{4}|\d{5}[DF]|"
    + _AN
    + "{4}(?:"
    + _AN
    + "|[挂学警港澳]))"
    + ")"
    + RIGHT
)


class PlateRecognizer(RegexRecognizer):
    """Finds ``LICENSE_PLATE`` values (score 0.9).

    Example:
        >>> PlateRecognizer().find("京I12345")  # I is never an office letter
        []
    """

    def __init__(self) -> None:
        super().__init__("cn_plate", "LICENSE_PLATE", _PATTERN, score=0.9, priority=PRIORITY_STRUCTURED)
