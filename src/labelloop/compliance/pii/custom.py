r"""User-declared extra patterns, validated before use.

A pattern is refused (``InputRejected`` naming the pattern) when it:

* does not compile, or is longer than :data:`MAX_PATTERN_LENGTH` characters;
* can match the empty string;
* nests an unbounded quantifier inside another repeat — ``(a+)+``, ``(a*)*``, ``(?:x+y?)*``,
  ``(a|b+){2,}`` — the classic shape of catastrophic backtracking;
* uses a backreference (``\1``, ``(?P=name)``), which ``re`` can also make exponential.

Python's ``re`` has no match timeout, so this is a static guard, not a proof: an alternation
of overlapping branches under a star (``(a|ab)*c``) is still accepted. Keep user patterns
short and anchored by context.

Example:
    >>> rec = compile_pattern(PatternSpec("employee_id", r"EMP-\d{6}", "EMPLOYEE_ID"))
    >>> [(f.entity, f.start) for f in rec.find("badge EMP-004211")]
    [('EMPLOYEE_ID', 6)]
    >>> compile_pattern(PatternSpec("bad", r"(a+)+$", "X"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labelloop.errors.InputRejected: PII pattern 'bad': expected a regular expression without nested repetition ...
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from labelloop.compliance.pii._base import PRIORITY_GENERIC, RegexRecognizer
from labelloop.errors import InputRejected

__all__ = ["MAX_PATTERN_LENGTH", "PatternSpec", "compile_pattern", "compile_patterns"]

MAX_PATTERN_LENGTH = 500
_ENTITY = re.compile(r"[A-Z][A-Z0-9_]{0,39}")


@dataclass(frozen=True, slots=True)
class PatternSpec:
    """One user-declared pattern.

    Attributes:
        name: Unique name, used as the recognizer name and in errors.
        regex: Python regular expression; group ``v`` (if any) marks the value.
        entity: Entity type (``UPPER_SNAKE``), also the redaction tag.
        score: Score of its findings.
        ignore_case: Compile with ``re.IGNORECASE``.
    """

    name: str
    regex: str
    entity: str
    score: float = 0.8
    ignore_case: bool = False


def _nested_repeat(tree: Any, parser: Any, inside_repeat: bool) -> bool:
    repeats = {parser.MAX_REPEAT, parser.MIN_REPEAT, getattr(parser, "POSSESSIVE_REPEAT", None)}
    for op, av in tree:
        if op in repeats:
            _lo, hi, sub = av
            unbounded = hi == parser.MAXREPEAT or hi > 100
            if inside_repeat and unbounded:
                return True
            if _nested_repeat(sub, parser, inside_repeat or hi > 1):
                return True
        elif op == parser.SUBPATTERN and _nested_repeat(av[-1], parser, inside_repeat):
            return True
        elif op == parser.BRANCH:
            if any(_nested_repeat(b, parser, inside_repeat) for b in av[1]):
                return True
        elif op in (parser.ASSERT, parser.ASSERT_NOT) and _nested_repeat(av[1], parser, inside_repeat):
            return True
    return False


def _has_backref(tree: Any, parser: Any) -> bool:
    for op, av in tree:
        if op in (parser.GROUPREF, parser.GROUPREF_EXISTS):
            return True
        subs: list[Any] = []
        if op in (parser.MAX_REPEAT, parser.MIN_REPEAT, getattr(parser, "POSSESSIVE_REPEAT", None)):
            subs = [av[2]]
        elif op == parser.SUBPATTERN:
            subs = [av[-1]]
        elif op == parser.BRANCH:
            subs = list(av[1])
        elif op in (parser.ASSERT, parser.ASSERT_NOT):
            subs = [av[1]]
        if any(_has_backref(s, parser) for s in subs):
            return True
    return False


def compile_pattern(spec: PatternSpec) -> RegexRecognizer:
    """Validate one pattern and return its recognizer (priority: generic).

    Raises:
        InputRejected: The pattern, entity or score is unusable; the message names the pattern.

    Example:
        >>> compile_pattern(PatternSpec("oops", "EMP-(", "EMP"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        labelloop.errors.InputRejected: PII pattern 'oops': expected a valid regular expression, got 'EMP-(' ...
    """
    src = f"PII pattern {spec.name!r}"
    if not _ENTITY.fullmatch(spec.entity):
        raise InputRejected(src, "an UPPER_SNAKE entity name", repr(spec.entity))
    if not 0.0 <= spec.score <= 1.0:
        raise InputRejected(src, "a score in [0, 1]", repr(spec.score))
    if not spec.regex or len(spec.regex) > MAX_PATTERN_LENGTH:
        raise InputRejected(src, f"a regular expression of 1..{MAX_PATTERN_LENGTH} characters", f"{len(spec.regex)}")
    flags = re.IGNORECASE if spec.ignore_case else 0
    try:
        compiled = re.compile(spec.regex, flags)
    except re.error as exc:
        raise InputRejected(src, "a valid regular expression", f"{spec.regex!r} ({exc})") from exc
    parser = importlib.import_module("re._parser")
    tree = parser.parse(spec.regex, flags)
    if _nested_repeat(tree, parser, False):
        expected = "a regular expression without nested repetition (catastrophic backtracking)"
        raise InputRejected(src, expected, repr(spec.regex))
    if _has_backref(tree, parser):
        raise InputRejected(src, "a regular expression without backreferences", repr(spec.regex))
    if compiled.fullmatch("") is not None or compiled.search("") is not None:
        raise InputRejected(src, "a regular expression that cannot match the empty string", repr(spec.regex))
    return RegexRecognizer(spec.name, spec.entity, compiled, score=spec.score, priority=PRIORITY_GENERIC)


def compile_patterns(specs: Iterable[PatternSpec]) -> list[RegexRecognizer]:
    r"""Validate several patterns; names must be unique.

    Example:
        >>> len(compile_patterns([PatternSpec("a", "A\\d+", "A_ID"), PatternSpec("b", "B\\d+", "B_ID")]))
        2
    """
    out: list[RegexRecognizer] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise InputRejected(f"PII pattern {spec.name!r}", "a unique pattern name", "a duplicate")
        seen.add(spec.name)
        out.append(compile_pattern(spec))
    return out
