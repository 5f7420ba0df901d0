"""``text.rules``: regex, dictionary and gazetteer rules for spans and classification.

Rules are declared in a config mapping (part of the project's configuration), validated when
the backend is built: an unknown field, a bad regular expression or an empty term list is
refused with :class:`~labelloop.errors.InvalidSchema` naming the rule. Offsets are Python string
indices, i.e. exact Unicode code points, so Chinese and English text behave the same.

Rule kinds:

* ``regex``: ``pattern`` (Python syntax); ``group`` picks a capture group as the span.
* ``dictionary``: ``terms`` all giving ``label``.
* ``gazetteer``: ``entries`` mapping term to label.

A rule with a ``spans`` control yields spans; with a ``classification`` control, the first
matching rule (in declaration order) gives the item's class. ASCII terms match whole words only
(``whole_word``, default true); CJK terms match anywhere (Chinese has no spaces). Overlapping span
matches of one control keep the leftmost, then longest, then earliest-declared.

Example:
    >>> b = create({"rules": [{"name": "city", "kind": "dictionary", "control": "entities",
    ...                        "label": "LOC", "terms": ["北京", "London"]}]})
    >>> [m[:3] for m in b.matches("我在北京, not London.")]
    [('entities', 'LOC', 2), ('entities', 'LOC', 10)]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from labelloop.backends.base import BaseBackend, media_of
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendOutput
from labelloop.errors import InvalidSchema

__all__ = ["MODEL_VERSION", "RulesConfig", "TextRulesBackend", "create"]

MODEL_VERSION = "1.0"
_FLAGS = {"IGNORECASE": re.IGNORECASE, "MULTILINE": re.MULTILINE, "DOTALL": re.DOTALL, "VERBOSE": re.VERBOSE}
_ASCII_WORD = re.compile(r"[A-Za-z0-9_]")


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["regex", "dictionary", "gazetteer"]
    control: str
    label: str | None = None
    pattern: str | None = None
    group: int | str = 0
    flags: list[Literal["IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE"]] = Field(default_factory=list)
    terms: list[str] = Field(default_factory=list)
    entries: dict[str, str] = Field(default_factory=dict)
    case_sensitive: bool = True
    whole_word: bool = True
    score: Annotated[float, Field(ge=0.0, le=1.0)] = 0.8

    @model_validator(mode="after")
    def _check(self) -> _Rule:
        if self.kind == "regex" and not self.pattern:
            raise ValueError("a regex rule needs 'pattern'")
        if self.kind == "dictionary" and not (self.terms and self.label):
            raise ValueError("a dictionary rule needs 'terms' and 'label'")
        if self.kind == "gazetteer" and not self.entries:
            raise ValueError("a gazetteer rule needs 'entries' (term: label)")
        if self.kind != "gazetteer" and not self.label:
            raise ValueError(f"a {self.kind} rule needs 'label'")
        if any(not t.strip() for t in [*self.terms, *self.entries]):
            raise ValueError("terms must not be blank")
        return self


class RulesConfig(BaseModel):
    """The ``text.rules`` config: ``{"rules": [...]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[_Rule] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: _Rule
    regex: re.Pattern[str]
    labels: Mapping[str, str]  # lower/exact term -> label (gazetteer); empty otherwise


def _term_pattern(term: str, whole_word: bool) -> str:
    body = re.escape(term)
    if whole_word and _ASCII_WORD.match(term[0]):
        body = r"(?<![A-Za-z0-9_])" + body
    if whole_word and _ASCII_WORD.match(term[-1]):
        body += r"(?![A-Za-z0-9_])"
    return body


def _compile(rule: _Rule, index: int) -> _Compiled:
    flags = 0
    for f in rule.flags:
        flags |= _FLAGS[f]
    if not rule.case_sensitive:
        flags |= re.IGNORECASE
    where = f"text.rules config: rules[{index}] ({rule.name!r})"
    if rule.kind == "regex":
        assert rule.pattern is not None
        try:
            regex = re.compile(rule.pattern, flags)
        except re.error as exc:
            raise InvalidSchema(f"{where}: invalid regular expression {rule.pattern!r}: {exc}") from None
        if isinstance(rule.group, int) and rule.group > regex.groups:
            raise InvalidSchema(f"{where}: group {rule.group} but the pattern has {regex.groups} groups")
        if isinstance(rule.group, str) and rule.group not in regex.groupindex:
            raise InvalidSchema(f"{where}: no named group {rule.group!r} in the pattern")
        return _Compiled(rule, regex, {})
    terms = rule.terms if rule.kind == "dictionary" else list(rule.entries)
    ordered = sorted(set(terms), key=lambda t: (-len(t), t))  # longest first: "New York City" before "New York"
    regex = re.compile("|".join(_term_pattern(t, rule.whole_word) for t in ordered), flags)
    fold = (lambda s: s) if rule.case_sensitive else str.casefold
    labels = {fold(t): lab for t, lab in rule.entries.items()}
    return _Compiled(rule, regex, labels)


def parse_config(config: Mapping[str, Any]) -> list[_Compiled]:
    """Validate and compile a rules config.

    Raises:
        InvalidSchema: one message naming the rule and the problem.
    """
    try:
        parsed = RulesConfig.model_validate(dict(config))
    except ValidationError as exc:
        problems = []
        raw = config.get("rules") if isinstance(config, Mapping) else None
        for e in exc.errors():
            loc = list(e["loc"])
            name = ""
            if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(raw, list):
                entry = raw[loc[1]] if loc[1] < len(raw) else None
                if isinstance(entry, Mapping) and "name" in entry:
                    name = f" ({entry['name']!r})"
            path = (
                ".".join(str(p) for p in loc[:2]) + name + ("." + ".".join(str(p) for p in loc[2:]) if loc[2:] else "")
            )
            problems.append(f"{path}: {e['msg'].removeprefix('Value error, ')}")
        raise InvalidSchema("text.rules config: " + "; ".join(problems)) from None
    return [_compile(r, i) for i, r in enumerate(parsed.rules)]


class TextRulesBackend(BaseBackend):
    """Rule-based span and classification pre-annotation (see the module docstring)."""

    name = "text.rules"
    model_version = MODEL_VERSION
    capabilities = BackendCapabilities(
        media=frozenset({Medium.TEXT}),
        controls=frozenset({ControlKind.SPANS, ControlKind.CLASSIFICATION}),
        languages=frozenset({"en", "zh"}),
        batch_size=256,
    )

    def __init__(self, rules: list[_Compiled]) -> None:
        super().__init__()
        self.rules = rules

    def matches(self, text: str) -> list[tuple[str, str, int, int, float, str]]:
        """Return every raw match as ``(control, label, start, end, score, rule name)``."""
        out = []
        for c in self.rules:
            r = c.rule
            for m in c.regex.finditer(text):
                if r.kind == "regex":
                    start, end = m.span(r.group)
                    label = r.label or ""
                else:
                    start, end = m.span()
                    label = r.label or c.labels.get(m.group() if r.case_sensitive else m.group().casefold(), "")
                if end > start and label:
                    out.append((r.control, label, start, end, r.score, r.name))
        return out

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Apply the rules to each item's text."""
        wanted = {c.name: c for c in controls}
        outputs = []
        for item in batch:
            value: list[dict[str, Any]] = []
            scores: list[float] = []
            raw = self.matches_for(item, wanted)
            for ctl_name, found in raw.items():
                ctl = wanted[ctl_name]
                if ctl.kind == ControlKind.CLASSIFICATION:
                    _, label, _, _, score, _ = found[0]
                    value.append({"id": f"{ctl.name}", "control": ctl.name, "labels": [label]})
                    scores.append(score)
                    continue
                kept = _resolve_overlaps(found) if not ctl.allow_overlap else sorted(found, key=lambda m: m[2:4])
                text = media_of(item, ctl).text or ""
                for k, (_, label, start, end, score, _) in enumerate(kept, 1):
                    region = {"id": f"{ctl.name}-{k}", "control": ctl.name, "label": label, "start": start, "end": end}
                    value.append(region | {"text": text[start:end]})
                    scores.append(score)
            outputs.append(self.ok(item, value, score=min(scores) if scores else None))
        return outputs

    def matches_for(
        self, item: Item, wanted: Mapping[str, Control]
    ) -> dict[str, list[tuple[str, str, int, int, float, str]]]:
        """Matches per control name, for the controls in ``wanted`` (texts read per target)."""
        per_target: dict[str, list[tuple[str, str, int, int, float, str]]] = {}
        out: dict[str, list[tuple[str, str, int, int, float, str]]] = {}
        for name, ctl in wanted.items():
            if ctl.target not in per_target:
                text = media_of(item, ctl).text
                if text is None:
                    raise ValueError(f"item {item.id}: media field {ctl.target!r} holds no text")
                per_target[ctl.target] = self.matches(text)
            hits = [m for m in per_target[ctl.target] if m[0] == name and m[1] in ctl.labels]
            if hits:
                out[name] = hits
        return out


def _resolve_overlaps(
    found: list[tuple[str, str, int, int, float, str]],
) -> list[tuple[str, str, int, int, float, str]]:
    order = sorted(enumerate(found), key=lambda p: (p[1][2], -(p[1][3] - p[1][2]), p[0]))
    kept: list[tuple[str, str, int, int, float, str]] = []
    end = -1
    for _, m in order:
        if m[2] >= end:
            kept.append(m)
            end = m[3]
    return kept


def create(config: Mapping[str, Any]) -> TextRulesBackend:
    """Build ``text.rules`` from its config (validated and compiled here; nothing loads).

    Raises:
        InvalidSchema: the config is malformed; the message names the rule.
    """
    return TextRulesBackend(parse_config(config))


EXAMPLE_CONFIG: dict[str, Any] = {
    "rules": [
        {"name": "email", "kind": "regex", "control": "entities", "label": "ORG", "pattern": r"[\w.+-]+@[\w-]+\.\w+"},
        {
            "name": "places",
            "kind": "gazetteer",
            "control": "entities",
            "entries": {"北京": "LOC", "上海": "LOC", "London": "LOC", "Paris": "LOC", "阿里巴巴": "ORG"},
        },
        {"name": "positive", "kind": "dictionary", "control": "sentiment", "label": "pos", "terms": ["great", "好"]},
    ]
}
