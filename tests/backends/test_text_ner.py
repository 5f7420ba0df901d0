"""text.ner: real spaCy and jieba inference; exact offsets on mixed Chinese/English text with emoji."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labelloop.backends.text_ner import create, spacy_model_dir
from labelloop.core import LabelSchema
from labelloop.core.plugins import BackendContext
from labelloop.errors import InvalidSchema
from labelloop.services.preannotate import preannotate
from labelloop.storage import Store
from tests.backends.factories import TEXT_SCHEMA, add_items, make_project, text_ref

ALL = {"PER", "ORG", "LOC"}


@pytest.fixture(scope="module")
def ner() -> Any:
    b = create({"dictionary": {"OpenAI": "ORG", "深圳湾": "LOC"}})
    b.setup(BackendContext(media=None))  # type: ignore[arg-type]
    return b


def _found(ner: Any, text: str, allowed: set[str] = ALL) -> list[tuple[str, str]]:
    spans = ner.entities(text, allowed)
    for start, end, _, score in spans:
        assert 0 <= start < end <= len(text) and 0.0 <= score <= 1.0
    return [(text[s:e], lab) for s, e, lab, _ in spans]


def test_english_entities(ner: Any) -> None:
    got = _found(ner, "Tim Cook visited Microsoft in Seattle before meeting Barack Obama.")
    assert got == [("Tim Cook", "PER"), ("Microsoft", "ORG"), ("Seattle", "LOC"), ("Barack Obama", "PER")]


def test_chinese_entities(ner: Any) -> None:
    got = _found(ner, "张伟昨天在北京的清华大学见到了阿里巴巴公司的马云。")
    assert got == [("张伟", "PER"), ("北京", "LOC"), ("清华大学", "ORG"), ("阿里巴巴公司", "ORG"), ("马云", "PER")]


def test_mixed_text_with_emoji_keeps_exact_offsets(ner: Any) -> None:
    text = "🎉👩‍💻 Tim Cook 和张伟在北京见面 😀, then flew to London with OpenAI staff 🇨🇳."
    spans = ner.entities(text, ALL)
    got = [(text[s:e], lab) for s, e, lab, _ in spans]
    assert ("Tim Cook", "PER") in got and ("张伟", "PER") in got and ("北京", "LOC") in got
    assert ("London", "LOC") in got and ("OpenAI", "ORG") in got
    starts = {text[s:e]: s for s, e, _, _ in spans}
    assert starts["Tim Cook"] == text.index("Tim Cook") and starts["北京"] == text.index("北京")


def test_dictionary_wins_and_extends_jieba(ner: Any) -> None:
    got = _found(ner, "我们在深圳湾见面。")
    assert got == [("深圳湾", "LOC")]


def test_label_map_and_allowed_labels() -> None:
    b = create({"label_map": {"PERSON": "person", "ns": "place"}, "languages": ["en", "zh"]})
    b.setup(BackendContext(media=None))  # type: ignore[arg-type]
    text = "Barack Obama 在北京。"
    got = [(text[s:e], lab) for s, e, lab, _ in b.entities(text, {"person", "place"})]
    assert got == [("Barack Obama", "person"), ("北京", "place")]
    assert b.entities(text, {"PER"}) == []  # mapped labels the control lacks are dropped


def test_spacy_loads_from_the_package_folder() -> None:
    d = spacy_model_dir()
    assert d.is_dir() and (d / "ner").is_dir()


@pytest.mark.usefixtures("no_network")  # models load from installed files only
def test_through_the_engine(tmp_path: Path) -> None:
    store = Store.open(None, tmp_path)
    try:
        make_project(store, "p", TEXT_SCHEMA)
        texts = ["Angela Merkel spoke in Berlin.", "马云在杭州创办了阿里巴巴。", "nothing at all here"]
        add_items(store, "p", "text", [text_ref(t) for t in texts])
        r = preannotate(store, "p", "text.ner")
        assert (r.suggestions, r.failed) == (3, 0)
        with store.read() as tx:
            p = tx.projects.get("p")
            items = [it for page in tx.items.iter_all(p.id) for it in page]
            sugg, _, _ = tx.labels.for_items([it.id for it in items])
        schema = LabelSchema.model_validate(TEXT_SCHEMA)
        by_item = {s.item_id: s for s in sugg}
        for it, text in zip(items, texts, strict=True):
            s = by_item[it.id]
            assert schema.validate_value(s.value, it.data) == []
            for region in s.value:
                assert text[region["start"] : region["end"]] == region["text"]
        assert {r["text"] for r in by_item[items[0].id].value} == {"Angela Merkel", "Berlin"}
        assert {r["text"] for r in by_item[items[1].id].value} >= {"马云", "杭州"}
        assert by_item[items[2].id].value == [] and by_item[items[2].id].score is None
    finally:
        store.close()


def test_bad_config_is_refused() -> None:
    with pytest.raises(InvalidSchema, match="languages"):
        create({"languages": ["fr"]})
