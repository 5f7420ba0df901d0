"""Network identifiers: e-mail addresses, IPv4 and IPv6 addresses, URLs.

Example:
    >>> found = NetworkRecognizer().find("邮箱a.b@example.cn，主页https://x.org/p?q=1。IP 10.0.0.1")
    >>> [f.entity for f in sorted(found, key=lambda f: f.start)]
    ['EMAIL', 'URL', 'IP_ADDRESS']
"""

from __future__ import annotations

import ipaddress

from labelloop.compliance.pii._base import PRIORITY_STRUCTURED, Finding, RegexRecognizer

__all__ = ["NetworkRecognizer"]

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = (
    r"(?<![A-Za-z0-9._%+-])(?P<v>[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@" + _LABEL + r"(?:\." + _LABEL + r")*"
    r"\.[A-Za-z]{2,24})(?![A-Za-z0-9-])"
)
_IPV4 = (
    r"(?<![0-9A-Za-z.])(?P<v>(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))"
    r"(?![0-9A-Za-z]|\.\d)"
)
_IPV6 = r"(?<![0-9A-Za-z:.])(?P<v>[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?)"
# Stops at whitespace, quotes, angle brackets and CJK punctuation; trailing ASCII punctuation
# is trimmed in the validator.
_URL = r"(?P<v>(?:(?:https?|ftp)://|(?<![A-Za-z0-9.@-])www\.)[^\s<>\"'`\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\u4e00-\u9fff]+)"
_TRAIL = ".,;:!?)]}'\""


def _valid_ipv6(value: str) -> float | None:
    if value.count(":") < 2 or not any(c not in ":" for c in value):
        return None
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return None
    return 0.95


class NetworkRecognizer:
    """Finds ``EMAIL``, ``IP_ADDRESS`` (v4 and v6) and ``URL`` values.

    Example:
        >>> NetworkRecognizer().find("version 1.2.3.4.5 at 12:30:45")
        []
    """

    name = "network"

    def __init__(self) -> None:
        self._email = RegexRecognizer("email", "EMAIL", _EMAIL, score=1.0, priority=PRIORITY_STRUCTURED)
        self._ipv4 = RegexRecognizer("ipv4", "IP_ADDRESS", _IPV4, score=0.95, priority=PRIORITY_STRUCTURED)
        self._ipv6 = RegexRecognizer("ipv6", "IP_ADDRESS", _IPV6, priority=PRIORITY_STRUCTURED, validate=_valid_ipv6)
        self._url = RegexRecognizer("url", "URL", _URL, score=0.9, priority=PRIORITY_STRUCTURED)

    def find(self, text: str) -> list[Finding]:
        """Return every e-mail, IP and URL finding in ``text``."""
        out = self._email.find(text) + self._ipv4.find(text) + self._ipv6.find(text)
        for f in self._url.find(text):
            end = f.end
            while end > f.start and text[end - 1] in _TRAIL:
                end -= 1
            if end - f.start > len("www.") + 2:
                out.append(Finding(f.start, end, f.entity, f.score, f.recognizer, f.priority))
        return out
