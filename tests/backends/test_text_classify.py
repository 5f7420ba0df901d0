"""text.classify: real MiniLM / e5 inference, few-shot through the engine, zero-shot, multi-label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelloop.backends.text_classify import EmbeddingClassifier, create
from labelloop.backends.text_embed import MiniLMEncoder, has_han, load_encoder
from labelloop.core import LabelSchema, NewAnnotation
from labelloop.core.plugins import BackendContext
from labelloop.errors import InvalidSchema
from labelloop.services.preannotate import StoreMedia, preannotate
from labelloop.storage import Store
from tests.backends.factories import add_items, make_project, text_ref

TOPICS: dict[str, Any] = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [
        {"name": "topic", "kind": "classification", "target": "text", "labels": ["sports", "finance", "weather"]},
        {
            "name": "tags",
            "kind": "classification",
            "target": "text",
            "labels": ["money", "football", "rain"],
            "multi": True,
        },
    ],
}
TRAIN = [
    ("The striker scored twice in the second half.", "sports", ["football"]),
    ("The goalkeeper saved a penalty in the final minute.", "sports", ["football"]),
    ("The team won the championship after extra time.", "sports", ["football"]),
    ("Shares of the bank fell four percent after earnings.", "finance", ["money"]),
    ("The central bank raised interest rates again.", "finance", ["money"]),
    ("Investors sold bonds as inflation climbed.", "finance", ["money"]),
    ("Heavy rain and thunderstorms are expected tomorrow.", "weather", ["rain"]),
    ("A cold front brings showers and strong wind tonight.", "weather", ["rain"]),
    ("Forecasters warn of flooding after days of rain.", "weather", ["rain"]),
    ("Football clubs lost money after the rain cancelled the match.", "sports", ["football", "money", "rain"]),
]
TEST = [
    ("The midfielder was sent off and his side lost the derby.", "sports"),
    ("Stock markets rallied as the dollar weakened.", "finance"),
    ("Expect drizzle in the morning and sunny spells later.", "weather"),
]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store.open(None, tmp_path)
    yield s
    s.close()


def _label(store: Store, project: str, items: list[Any], rows: list[tuple[str, str, list[str]]]) -> None:
    with store.transaction() as tx:
        p = tx.projects.get(project)
        anns = [
            NewAnnotation(
                it.id,
                [
                    {"id": "t", "control": "topic", "labels": [topic]},
                    {"id": "g", "control": "tags", "labels": tags},
                ],
                "user:ann",
            )
            for it, (_, topic, tags) in zip(items, rows, strict=True)
        ]
        tx.labels.add_annotations(p.id, anns)


@pytest.mark.usefixtures("no_network")  # models load from installed files only
def test_minilm_vectors_are_normalised_and_semantic() -> None:
    v = MiniLMEncoder().encode(["A man is playing guitar.", "Someone plays a guitar.", "The stock market crashed."])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > 0.6 > 0.2 > v[0] @ v[2]
    # order of the batch does not change a text's vector (length-sorted batching is undone)
    again = MiniLMEncoder(batch_size=1).encode(["The stock market crashed.", "A man is playing guitar."])
    assert np.allclose(again[1], v[0], atol=1e-5)


@pytest.mark.usefixtures("no_network")  # models load from installed files only
def test_e5_ranks_chinese_and_cross_lingual() -> None:
    e5 = load_encoder("e5")
    p = e5.encode(["猫坐在垫子上。", "The cat sits on the mat.", "股市今天大幅下跌。"], query=False)
    q = e5.encode(["一只猫在休息"])[0]
    assert q @ p[0] > q @ p[2] and q @ p[1] > q @ p[2]
    assert has_han("混合 text") and not has_han("émoji 😀 only")


def test_zero_shot_from_label_descriptions(store: Store) -> None:
    schema = LabelSchema.model_validate(TOPICS)
    b = create(
        {
            "descriptions": {
                "topic": {
                    "sports": "sports, a football game",
                    "finance": "finance, money and the stock market",
                    "weather": "the weather forecast, rain and sun",
                }
            }
        }
    )
    b.setup(BackendContext(media=StoreMedia(store)))
    b.fit([], [], schema)
    assert b.mode("topic") == "zero-shot"
    got = b.classify([t for t, _ in TEST], schema.control("topic"))
    assert [labels[0] for labels, _ in got] == [y for _, y in TEST]
    assert all(0.0 < s <= 1.0 for _, s in got)


@pytest.mark.usefixtures("no_network")  # models load from installed files only
def test_few_shot_through_the_engine_retrains_as_labels_arrive(store: Store) -> None:
    make_project(store, "p", TOPICS)
    items = add_items(store, "p", "text", [text_ref(t) for t, _, _ in TRAIN] + [text_ref(t) for t, _ in TEST])
    first = preannotate(store, "p", "text.classify")  # no labels yet: zero-shot from label names
    assert first.failed == 0 and first.suggestions == len(items)
    _label(store, "p", items[: len(TRAIN)], TRAIN)
    second = preannotate(store, "p", "text.classify")
    assert second.model_version != first.model_version  # new labels: a new version, a new round
    assert second.suggestions == len(items) and second.failed == 0
    with store.read() as tx:
        sugg, _, _ = tx.labels.for_items([it.id for it in items[len(TRAIN) :]])
    latest = [s for s in sugg if s.model_version == second.model_version]
    topics = [next(r["labels"] for r in s.value if r["control"] == "topic")[0] for s in latest]
    assert topics == [y for _, y in TEST]
    tags = [next(r["labels"] for r in s.value if r["control"] == "tags") for s in latest]
    assert tags[1] == ["money"] and tags[2] == ["rain"]
    assert all(0.0 <= (s.score or 0.0) <= 1.0 for s in latest)
    third = preannotate(store, "p", "text.classify")  # same labels: resumes, nothing to do
    assert third.model_version == second.model_version and third.todo == 0


def test_chinese_few_shot_uses_e5(store: Store) -> None:
    schema = LabelSchema.model_validate(TOPICS)
    make_project(store, "zh", TOPICS)
    rows = [
        ("球队在加时赛中赢得了冠军。", "sports", ["football"]),
        ("前锋下半场攻入两球。", "sports", ["football"]),
        ("央行再次上调利率。", "finance", ["money"]),
        ("银行股价下跌了百分之四。", "finance", ["money"]),
        ("明天有大雨和雷暴。", "weather", ["rain"]),
        ("今晚冷空气带来阵雨和大风。", "weather", ["rain"]),
    ]
    items = add_items(store, "zh", "text", [text_ref(t) for t, _, _ in rows])
    b = create({})
    b.setup(BackendContext(media=StoreMedia(store)))
    values = [[{"id": "t", "control": "topic", "labels": [y]}] for _, y, _ in rows]
    b.fit(items, values, schema)
    assert b.mode("topic") == "few-shot" and b.mode("tags") == "zero-shot"
    got = b.classify(
        ["守门员扑出了点球。", "投资者在通胀上升时抛售债券。", "预计周末有暴雨。"], schema.control("topic")
    )
    assert [labels[0] for labels, _ in got] == ["sports", "finance", "weather"]
    assert ("topic", "e5") in b._fitted and ("topic", "minilm") not in b._fitted


def test_multi_label_classifier_and_constant_labels() -> None:
    x = np.eye(4, 8, dtype=np.float32)[[0, 0, 1, 1, 2, 2]] + 0.01
    y = [["a"], ["a", "c"], ["b"], ["b", "c"], ["a", "b"], ["a", "b", "c"]]
    clf = EmbeddingClassifier(multi=True, c=10).fit(x, y)
    assert clf.classes_ == ["a", "b", "c"]
    labels, score = clf.predict(x[[0]])[0]
    assert "a" in labels and "b" not in labels and 0.0 <= score <= 1.0
    with pytest.raises(ValueError, match="two classes"):
        EmbeddingClassifier().fit(x[:2], ["a", "a"])


@pytest.mark.parametrize(
    ("config", "needle"),
    [({"encoder": "bert"}, "encoder"), ({"min_per_class": 0}, "min_per_class"), ({"nope": 1}, "nope")],
)
def test_bad_config_is_refused(config: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidSchema, match=needle):
        create(config)
