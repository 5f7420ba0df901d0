"""The label side of desensitisation: values moved onto the redacted text, free text redacted.

When an item is desensitised, every label value that people or backends can still be shown must
stop pointing into, or quoting, the original: span offsets are remapped onto the redacted text
(:func:`labelloop.compliance.remap_regions`), and free text a value carries — ``text_field``
texts, segment ``transcript`` s and ``text`` attributes — goes through the same PII detector and
redaction mode as the item (so a pseudonym in a transcript is the one in the text). Relations and
links whose span was dropped go too.

Label versions are append-only, so :class:`LabelRedactor` only computes new values: the service
writes them as new versions of each chain head and copies of each suggestion, and updates the
mutable rows (drafts, gold answers) in place. Older versions stay as they were, for managers and
the audit; :mod:`labelloop.services.redacted_view` keeps them from everybody else.

Example:
    >>> from labelloop.compliance import PiiDetector, redact
    >>> from labelloop.core import LabelSchema
    >>> schema = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}], "controls": [
    ...     {"name": "ents", "kind": "spans", "target": "text", "labels": ["PER"]},
    ...     {"name": "note", "kind": "text_field", "target": "text"}]})
    >>> det = PiiDetector(english_ner=False, chinese_ner=False)
    >>> def tag(t: str) -> tuple[str, int]:
    ...     r = redact(t, det.detect(t), mode="tag")
    ...     return r.text, len(r.replacements)
    >>> red = redact("Call 13812345678, Ann", det.detect("Call 13812345678, Ann"), mode="tag")
    >>> fix = LabelRedactor(schema, {"text": red}, tag)
    >>> span, note = fix.value([
    ...     {"id": "a", "control": "ents", "label": "PER", "start": 18, "end": 21, "text": "Ann"},
    ...     {"id": "n", "control": "note", "text": "rang 13812345678"}])
    >>> (span["start"], span["end"], span["text"]), note["text"], fix.texts
    ((14, 17, 'Ann'), 'rang <PHONE>', 1)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from labelloop.compliance import Redacted, remap_regions
from labelloop.core import ControlKind, LabelSchema

__all__ = ["LabelRedactor", "TextRedactor"]

TextRedactor = Callable[[str], tuple[str, int]]
"""Redacts one free text: returns the new text and how many values it replaced."""

_FREE_TEXT_FIELD = {ControlKind.TEXT_FIELD: "text", ControlKind.SEGMENTS: "transcript"}
_REFERENCES = ("from_id", "to_id")


class LabelRedactor:
    """Redacts the label values of one item (see the module docstring).

    Args:
        schema: The project's label schema (which control targets which medium, which fields
            are free text).
        reds: The item's redacted texts by media name (those without replacements move nothing).
        redact_text: Redacts a free text; None leaves free text as it is (no PII settings).
        statuses: Counts of span remap outcomes (``exact``, ``clipped``, ``dropped`` …), updated.

    Attributes:
        texts: How many values were replaced in free text so far.
    """

    def __init__(
        self,
        schema: LabelSchema,
        reds: Mapping[str, Redacted],
        redact_text: TextRedactor | None,
        statuses: dict[str, int] | None = None,
    ) -> None:
        self.reds = reds
        self.redact_text = redact_text
        self.statuses = statuses if statuses is not None else {}
        self.texts = 0
        self._target = {c.name: c.target for c in schema.controls}
        self._field = {c.name: _FREE_TEXT_FIELD.get(c.kind) for c in schema.controls}
        self._attrs = {c.name: [a.name for a in c.attributes if a.type == "text"] for c in schema.controls}

    def value(self, value: Sequence[Any]) -> list[dict[str, Any]] | None:
        """The redacted value, or None when redaction changes nothing.

        Raises:
            ValueError: a region is not a mapping, or a span lies outside its original text
                (only unvalidated values, such as drafts, can be like that).
        """
        out: list[dict[str, Any]] = []
        dropped: set[str] = set()
        changed = False
        for region in value:
            if not isinstance(region, dict):
                raise ValueError(f"expected a region mapping, got {type(region).__name__}")
            new = self._region(region)
            if new is None:
                dropped.add(str(region.get("id")))
                changed = True
                continue
            changed = changed or new is not region
            out.append(new)
        if dropped:  # relations and links to a dropped span cannot stand
            kept = [r for r in out if not any(str(r.get(k)) in dropped for k in _REFERENCES if k in r)]
            out = kept
        return out if changed else None

    def _region(self, region: dict[str, Any]) -> dict[str, Any] | None:
        control = str(region.get("control"))
        new = region
        red = self.reds.get(self._target.get(control, ""))
        start, end = region.get("start"), region.get("end")
        is_span = isinstance(start, int) and isinstance(end, int) and not isinstance(start, bool)
        if red is not None and red.replacements and is_span:
            res = remap_regions([region], red)
            for rep in res.reports:
                self.statuses[rep.status] = self.statuses.get(rep.status, 0) + 1
            if not res.regions:
                return None
            if res.regions[0] != region:
                new = res.regions[0]
        if self.redact_text is None:
            return new
        field = self._field.get(control)
        if field is not None and isinstance(new.get(field), str) and new[field]:
            text, n = self.redact_text(new[field])
            if n:
                new, self.texts = {**new, field: text}, self.texts + n
        attrs = new.get("attributes")
        if isinstance(attrs, dict):
            fixed = dict(attrs)
            for name in self._attrs.get(control, []):
                if isinstance(attrs.get(name), str) and attrs[name]:
                    text, n = self.redact_text(attrs[name])
                    if n:
                        fixed[name], self.texts = text, self.texts + n
            if fixed != attrs:
                new = {**new, "attributes": fixed}
        return new
