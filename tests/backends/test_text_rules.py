from __future__ import annotations

from typing import Any

import pytest

from labelloop.backends.text_rules import create
from labelloop.core import LabelSchema
from labelloop.errors import InvalidSchema
from tests.backends.factories import TEXT_SCHEMA, text_ref

SCHEMA = LabelSchema.model_validate(TEXT_SCHEMA)
CONFIG: dict[str, Any] = {
    "rules": [
        {
            "name": "email",
            "kind": "regex",
            "control": "entities",
            "label": "ORG",
            "pattern": r"[\w.]+@(\w+)\.com",
            "group": 1,
        },
        {
            "name": "places",
            "kind": "gazetteer",
            "control": "entities",
            "case_sensitive": False,
            "entries": {"北京": "LOC", "new york": "LOC", "new york city": "LOC", "阿里巴巴": "ORG"},
        },
        {"name": "people", "kind": "dictionary", "control": "entities", "label": "PER", "terms": ["Ann", "张三"]},
        {"name": "bad", "kind": "dictionary", "control": "sentiment", "label": "neg", "terms": ["terrible", "差"]},
        {"name": "good", "kind": "regex", "control": "sentiment", "label": "pos", "pattern": "(?i)great|好"},
    ]
}


def _item(text: str):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from labelloop.core import Item

    return Item(1, 1, {"text": text_ref(text)}, "h", None, "", {}, None, datetime.now(UTC), "t")


@pytest.mark.parametrize(
    ("text", "spans", "klass"),
    [
        ("张三在北京的阿里巴巴工作, 很好", [("PER", "张三"), ("LOC", "北京"), ("ORG", "阿里巴巴")], "pos"),
        (
            "Ann moved to New York City; mail ann@acme.com",
            [("PER", "Ann"), ("LOC", "New York City"), ("ORG", "acme")],
            None,
        ),
        ("Annie is not Ann-like 😀 in 北京", [("PER", "Ann"), ("LOC", "北京")], None),  # whole words; emoji offsets
        ("terrible service, great food", [], "neg"),  # first matching classification rule wins
    ],
)
def test_spans_and_classes(text: str, spans: list[tuple[str, str]], klass: str | None) -> None:
    b = create(CONFIG)
    item = _item(text)
    (out,) = b.predict([item], SCHEMA, SCHEMA.controls)
    assert SCHEMA.validate_value(out.value, item.data) == []
    got = [(r["label"], text[r["start"] : r["end"]]) for r in out.value if r["control"] == "entities"]
    assert got == spans
    classes = [r["labels"][0] for r in out.value if r["control"] == "sentiment"]
    assert classes == ([klass] if klass else [])


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"name": "broken", "kind": "regex", "control": "entities", "label": "LOC", "pattern": "(unclosed"},
            "rules[0] ('broken'): invalid regular expression",
        ),
        ({"name": "nolabel", "kind": "dictionary", "control": "entities", "terms": ["x"]}, "rules.0 ('nolabel')"),
        (
            {"name": "grp", "kind": "regex", "control": "entities", "label": "LOC", "pattern": "a", "group": 2},
            "group 2 but the pattern has 0 groups",
        ),
        ({"name": "typo", "kind": "regex", "control": "entities", "label": "LOC", "patern": "a"}, "('typo')"),
    ],
)
def test_bad_config_names_the_rule(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSchema, match=r"text\.rules config") as exc:
        create({"rules": [rule]})
    assert message in str(exc.value)
