"""Redact findings from a text, keeping an exact record of every replacement.

Modes (:class:`RedactionMode`):

* ``mask`` — ``***`` (a fixed three-character mask; the length of the value is not leaked);
* ``tag`` — the entity type in angle brackets, e.g. ``<PHONE>``;
* ``pseudonym`` — a consistent fake per project: HMAC-SHA256 keyed by the project key seeds a
  format-keeping generator, so the same value gives the same fake everywhere in a project and
  unrelated fakes in other projects;
* ``hash`` — ``<ENTITY:hex16>``, the first 16 hex digits of SHA-256 over salt + entity + value.

The result is a :class:`Redacted` whose ``replacements`` let
:func:`labelloop.compliance.remap.remap_regions` move annotation spans to the new text.

Example:
    >>> from labelloop.compliance.pii import Finding
    >>> t = "call 13812345678 now"
    >>> r = redact(t, [Finding(5, 16, "PHONE", 0.95, "cn_mobile")], mode="tag")
    >>> r.text, r.replacements[0].new_start, r.replacements[0].new_end
    ('call <PHONE> now', 5, 12)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from labelloop.compliance._pseudonym import pseudonym
from labelloop.compliance.pii._base import Finding, resolve_overlaps

__all__ = ["MASK", "Redacted", "RedactionMode", "Replacement", "redact"]

MASK = "***"


class RedactionMode(StrEnum):
    """How a finding is replaced."""

    MASK = "mask"
    TAG = "tag"
    PSEUDONYM = "pseudonym"
    HASH = "hash"


@dataclass(frozen=True, slots=True)
class Replacement:
    """One replaced range: ``original[start:end]`` became ``text[new_start:new_end]``.

    Attributes:
        start: Start in the original text (code points).
        end: End in the original text.
        new_start: Start in the redacted text.
        new_end: End in the redacted text.
        entity: Entity type of the finding.
        recognizer: Recognizer that found it.
    """

    start: int
    end: int
    new_start: int
    new_end: int
    entity: str
    recognizer: str


@dataclass(frozen=True, slots=True)
class Redacted:
    """A redacted text and its replacements, sorted and non-overlapping.

    Attributes:
        text: The redacted text.
        original_length: Length of the original text (code points).
        replacements: The replaced ranges in order.
    """

    text: str
    original_length: int
    replacements: tuple[Replacement, ...]

    def map_offset(self, pos: int) -> int:
        """Map an original offset that lies outside every replaced range (or on its edge).

        Raises:
            ValueError: ``pos`` lies strictly inside a replaced range, or out of the text.

        Example:
            >>> from labelloop.compliance.pii import Finding
            >>> r = redact("ab 1.2.3.4 cd", [Finding(3, 10, "IP_ADDRESS", 1.0, "ipv4")], mode="mask")
            >>> r.text, r.map_offset(11), r.text[r.map_offset(11):]
            ('ab *** cd', 7, 'cd')
        """
        if not 0 <= pos <= self.original_length:
            raise ValueError(f"offset {pos} is outside the original text (0..{self.original_length})")
        shift = 0
        for rep in self.replacements:
            if pos >= rep.end:
                shift = rep.new_end - rep.end
            elif pos > rep.start:
                raise ValueError(f"offset {pos} lies inside the redacted range {rep.start}..{rep.end}")
            else:
                break
        return pos + shift


def _replacement_text(mode: RedactionMode, f: Finding, value: str, key: bytes | None, salt: bytes) -> str:
    if mode is RedactionMode.MASK:
        return MASK
    if mode is RedactionMode.TAG:
        return f"<{f.entity}>"
    if mode is RedactionMode.HASH:
        digest = hashlib.sha256(salt + f.entity.encode() + b"\x00" + value.encode()).hexdigest()
        return f"<{f.entity}:{digest[:16]}>"
    if key is None:
        raise ValueError("pseudonym mode needs the project key")
    return pseudonym(key, f.entity, value)


def redact(
    text: str,
    findings: Sequence[Finding],
    *,
    mode: RedactionMode | str = RedactionMode.TAG,
    key: bytes | None = None,
    salt: bytes = b"",
) -> Redacted:
    """Replace each finding in ``text``.

    Overlapping findings are first resolved with
    :func:`~labelloop.compliance.pii.resolve_overlaps`, so callers may pass raw findings.

    Args:
        text: The original text.
        findings: Findings with code-point offsets into ``text``.
        mode: ``mask``, ``tag``, ``pseudonym`` or ``hash``.
        key: Project secret for ``pseudonym`` (required there).
        salt: Salt for ``hash`` (use a per-project secret; empty salt is guessable).

    Raises:
        ValueError: A finding lies outside the text, the mode is unknown, or ``pseudonym``
            has no key.

    Example:
        >>> from labelloop.compliance.pii import Finding
        >>> f = [Finding(0, 2, "PERSON", 0.6, "jieba_posseg")]
        >>> a = redact("张伟来了", f, mode="pseudonym", key=b"project-1").text
        >>> a == redact("张伟来了", f, mode="pseudonym", key=b"project-1").text, a[2:]
        (True, '来了')
    """
    m = RedactionMode(mode)
    parts: list[str] = []
    reps: list[Replacement] = []
    pos = 0
    new_len = 0
    for f in resolve_overlaps(findings):
        if f.end > len(text):
            raise ValueError(f"finding {f.start}..{f.end} is past the end of the text ({len(text)} characters)")
        parts.append(text[pos : f.start])
        new_len += f.start - pos
        new = _replacement_text(m, f, text[f.start : f.end], key, salt)
        reps.append(Replacement(f.start, f.end, new_len, new_len + len(new), f.entity, f.recognizer))
        parts.append(new)
        new_len += len(new)
        pos = f.end
    parts.append(text[pos:])
    return Redacted("".join(parts), len(text), tuple(reps))
