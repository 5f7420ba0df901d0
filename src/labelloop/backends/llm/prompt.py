"""Prompts and structured answers for the ``llm`` backend.

The model does not write annotation regions directly (ids, offsets and control names are easy
to get wrong for a small model). It answers a compact JSON object built from the label schema,
one key per control it handles, which :func:`answer_schema` describes as JSON Schema (the
constraint sent to the endpoint or compiled to a llama.cpp grammar):

* ``classification``: a label (``enum``), or a list of labels when ``multi``;
* ``spans``: a list of ``{"label", "text"}``; each text is located in the item's text (the
  first occurrence not already used), so offsets are exact code points; a text that is not in
  the item fails the item, a repeat of an already marked one is dropped;
* ``text_field``: a string.

:func:`to_regions` turns that answer into schema regions; the engine still validates them
against the label schema, so a model that ignores the constraint loses only that item.

Example:
    >>> from labelloop.core import LabelSchema
    >>> s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}], "controls": [
    ...     {"name": "mood", "kind": "classification", "target": "t", "labels": ["pos", "neg"]}]})
    >>> answer_schema(s.controls)["properties"]["mood"]
    {'type': 'string', 'enum': ['pos', 'neg']}
    >>> to_regions({"mood": "neg"}, s.controls, "awful")
    [{'id': 'mood', 'control': 'mood', 'labels': ['neg']}]
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from labelloop.core import Control, ControlKind, LabelSchema

__all__ = ["ANSWER_KINDS", "Example", "answer_schema", "build_messages", "label_choices", "label_values", "to_regions"]

ANSWER_KINDS = frozenset({ControlKind.CLASSIFICATION, ControlKind.SPANS, ControlKind.TEXT_FIELD})
Example = tuple[str, dict[str, Any]]  # (text, answer object)
MAX_SPANS = 20


def answer_schema(controls: Sequence[Control]) -> dict[str, Any]:
    """JSON Schema of the answer object for ``controls``.

    Example:
        >>> from labelloop.core import Control
        >>> c = Control(name="ents", kind="spans", target="t", labels=["PER"])
        >>> answer_schema([c])["properties"]["ents"]["items"]["properties"]["label"]
        {'type': 'string', 'enum': ['PER']}
    """
    props: dict[str, Any] = {}
    for c in controls:
        label = {"type": "string", "enum": list(c.labels)}
        if c.kind == ControlKind.CLASSIFICATION:
            props[c.name] = {"type": "array", "items": label, "minItems": 1} if c.multi else label
        elif c.kind == ControlKind.SPANS:
            span = {
                "type": "object",
                "properties": {"label": label, "text": {"type": "string", "minLength": 1, "maxLength": 200}},
                "required": ["label", "text"],
                "additionalProperties": False,
            }
            props[c.name] = {"type": "array", "items": span, "maxItems": MAX_SPANS}
        elif c.kind == ControlKind.TEXT_FIELD:
            props[c.name] = {"type": "string", "maxLength": 2000}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _describe(c: Control) -> str:
    labels = ", ".join(json.dumps(label, ensure_ascii=False) for label in c.labels)
    if c.kind == ControlKind.CLASSIFICATION:
        what = f"{'one or more' if c.multi else 'exactly one'} of {labels}"
    elif c.kind == ControlKind.SPANS:
        what = f"a list of the text spans to mark, each with a label from {labels} and its exact text"
    else:
        what = "free text"
    desc = f" Guidelines: {c.description.strip()}" if c.description.strip() else ""
    return f'- "{c.name}": {what}.{desc}'


def build_messages(
    schema: LabelSchema, controls: Sequence[Control], text: str, examples: Sequence[Example]
) -> list[dict[str, str]]:
    """Chat messages: the task (schema, guidelines), few-shot turns, then the item's text.

    Only the current item's text and the chosen examples enter the prompt; the item text is
    quoted as data, so instructions inside it are just text to label.

    Example:
        >>> from labelloop.core import LabelSchema
        >>> s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}], "controls": [
        ...     {"name": "mood", "kind": "classification", "target": "t", "labels": ["pos", "neg"]}]})
        >>> m = build_messages(s, s.controls, "great", [("bad", {"mood": "neg"})])
        >>> [x["role"] for x in m], m[-1]["content"]
        (['system', 'user', 'assistant', 'user'], 'Text: great')
    """
    lines = [
        "You are a careful data annotator. Label the text the user sends.",
        "Answer with one JSON object and nothing else. Its keys:",
        *(_describe(c) for c in controls),
    ]
    if schema.guidelines.strip():
        lines += ["Project guidelines:", schema.guidelines.strip()]
    messages = [{"role": "system", "content": "\n".join(lines)}]
    for ex_text, answer in examples:
        messages.append({"role": "user", "content": f"Text: {ex_text}"})
        messages.append({"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)})
    messages.append({"role": "user", "content": f"Text: {text}"})
    return messages


def label_values(answer: Mapping[str, Any], controls: Sequence[Control]) -> list[str]:
    """The label strings the answer chose (their token log-probabilities give the score).

    Example:
        >>> from labelloop.core import Control
        >>> label_values({"m": "pos"}, [Control(name="m", kind="classification", target="t", labels=["pos"])])
        ['pos']
    """
    return [label for label, _ in label_choices(answer, controls)]


def label_choices(answer: Mapping[str, Any], controls: Sequence[Control]) -> list[tuple[str, list[str]]]:
    """Each label the answer chose, with the control's labels it was chosen from.

    Example:
        >>> from labelloop.core import Control
        >>> label_choices({"m": "pos"}, [Control(name="m", kind="classification", target="t", labels=["pos", "neg"])])
        [('pos', ['pos', 'neg'])]
    """
    out: list[tuple[str, list[str]]] = []
    for c in controls:
        v = answer.get(c.name)
        if c.kind == ControlKind.CLASSIFICATION:
            out += [(x, list(c.labels)) for x in (v if isinstance(v, list) else [v]) if isinstance(x, str)]
        elif c.kind == ControlKind.SPANS and isinstance(v, list):
            out += [(s["label"], list(c.labels)) for s in v if isinstance(s, dict) and isinstance(s.get("label"), str)]
    return out


def to_regions(answer: Any, controls: Sequence[Control], text: str) -> list[dict[str, Any]]:
    """Turn the model's answer object into schema regions.

    Raises:
        ValueError: the answer is not an object, misses a key, or names a span text that is not
            in ``text``; the message says what was expected.
    """
    if not isinstance(answer, dict):
        raise ValueError(f"expected a JSON object answer, got {type(answer).__name__}")
    regions: list[dict[str, Any]] = []
    for c in controls:
        if c.name not in answer:
            raise ValueError(f"the answer has no key {c.name!r}")
        v = answer[c.name]
        if c.kind == ControlKind.CLASSIFICATION:
            labels = v if isinstance(v, list) else [v]
            regions.append({"id": c.name, "control": c.name, "labels": labels})
        elif c.kind == ControlKind.TEXT_FIELD:
            regions.append({"id": c.name, "control": c.name, "text": v})
        elif c.kind == ControlKind.SPANS:
            if not isinstance(v, list):
                raise ValueError(f"{c.name!r}: expected a list of spans, got {type(v).__name__}")
            regions += _spans(c, v, text)
    return regions


def _spans(c: Control, spans: list[Any], text: str) -> list[dict[str, Any]]:
    """Place each span the model named at its first free occurrence in ``text``.

    An exact match is looked for first; failing that, one that differs only in letter case
    (small models often title-case a phrase: "Great Battery Life" for "Great battery life"),
    as spacy-llm's NER task does by default. The region keeps the item's own characters.

    Example:
        >>> from labelloop.core import Control
        >>> ctl = Control(name="e", kind="spans", target="t", labels=["X"])
        >>> [(r["start"], r["text"]) for r in _spans(ctl, [{"label": "X", "text": "Great Life"}], "a great life")]
        [(2, 'great life')]
    """
    out: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []
    folded = text.lower()
    if len(folded) != len(text):  # a lower-casing that changes lengths would shift offsets
        folded = text
    for k, s in enumerate(spans, 1):
        if not isinstance(s, dict) or not isinstance(s.get("text"), str) or not s["text"]:
            raise ValueError(f"{c.name!r}[{k - 1}]: expected {{'label', 'text'}}, got {s!r:.80}")
        needle = s["text"]
        haystack = text
        if needle not in text:
            haystack, needle = folded, needle.lower()
            if len(needle) != len(s["text"]) or needle not in folded:
                raise ValueError(f"{c.name!r}[{k - 1}]: span text {s['text']!r:.60} is not in the item's text")
        at = haystack.find(needle)
        while at >= 0 and not (c.allow_overlap or all(at + len(needle) <= a or at >= b for a, b in taken)):
            at = haystack.find(needle, at + 1)
        if at < 0:  # every occurrence is already marked: a repeated span, dropped
            continue
        end = at + len(needle)
        taken.append((at, end))
        out.append({"id": f"{c.name}-{k}", "control": c.name, "label": s.get("label"), "start": at, "end": end})
        out[-1]["text"] = text[at:end]
    return sorted(out, key=lambda r: (r["start"], r["end"]))
