"""``class_probabilities`` of the classify backends: every class, consistent with ``predict``, with features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelloop.backends.base import ClassScorer
from labelloop.backends.image_classify import create as create_image
from labelloop.backends.text_classify import create as create_text
from labelloop.core import LabelSchema
from labelloop.core.plugins import BackendContext
from labelloop.services.preannotate import StoreMedia
from labelloop.storage import Store
from tests.backends.factories import add_items, blob_image, image_ref, make_project, text_ref
from tests.backends.test_text_classify import TEST, TOPICS, TRAIN


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store.open(None, tmp_path)
    yield s
    s.close()


def test_text_classify_few_and_zero_shot(store: Store) -> None:
    schema = LabelSchema.model_validate(TOPICS)
    make_project(store, "p", TOPICS)
    items = add_items(store, "p", "text", [text_ref(t) for t, _, _ in TRAIN] + [text_ref(t) for t, _ in TEST])
    train, test = items[: len(TRAIN)], items[len(TRAIN) :]
    values = [[{"id": "t", "control": "topic", "labels": [y]}] for _, y, _ in TRAIN]
    topic = schema.control("topic")
    for fitted in (True, False):
        b = create_text({})
        assert isinstance(b, ClassScorer)
        b.setup(BackendContext(media=StoreMedia(store)))
        b.fit(train if fitted else [], values if fitted else [], schema)
        out = b.class_probabilities(test, topic)
        assert out.classes == topic.labels and out.proba.shape == (len(test), 3)
        assert np.allclose(out.proba.sum(axis=1), 1.0) and out.features is not None and out.features.shape[0] == 3
        decided = b.classify([t for t, _ in TEST], topic)
        assert [out.classes[int(i)] for i in out.proba.argmax(axis=1)] == [d[0][0] for d in decided]
        assert np.allclose(out.proba.max(axis=1), [d[1] for d in decided])


def test_image_classify_matches_its_suggestions(store: Store) -> None:
    schema_doc = {
        "media": [{"name": "image", "kind": "image"}],
        "controls": [{"name": "shade", "kind": "classification", "target": "image", "labels": ["light", "dark"]}],
    }
    schema = make_project(store, "img", schema_doc)
    shades = [220, 30] * 5
    items = add_items(store, "img", "image", [image_ref(store, blob_image(s, i)) for i, s in enumerate(shades)])
    b = create_image({})
    b.setup(BackendContext(media=StoreMedia(store)))
    values = [[{"id": "s", "control": "shade", "labels": ["light" if s > 100 else "dark"]}] for s in shades]
    b.fit(items[:6], values[:6], schema)
    out = b.class_probabilities(items[6:], schema.control("shade"))
    preds = b.predict(items[6:], schema, [schema.control("shade")])
    assert sorted(out.classes) == ["dark", "light"] and out.features is not None and len(out.features) == 4
    assert [out.classes[int(i)] for i in out.proba.argmax(axis=1)] == [p.value[0]["labels"][0] for p in preds]
    assert np.allclose(out.proba.max(axis=1), [p.score for p in preds])


def test_text_classify_embeds_each_text_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Training, prediction and the samplers' probabilities share each text's vector (a learning round's path)."""
    schema = LabelSchema.model_validate(TOPICS)
    make_project(store, "p", TOPICS)
    items = add_items(store, "p", "text", [text_ref(t) for t, _, _ in TRAIN] + [text_ref(t) for t, _ in TEST])
    train, test = items[: len(TRAIN)], items[len(TRAIN) :]
    values = [[{"id": "t", "control": "topic", "labels": [y]}] for _, y, _ in TRAIN]
    b = create_text({"encoder": "minilm"})
    b.setup(BackendContext(media=StoreMedia(store)))
    real = b._encoder("minilm")
    embedded: list[str] = []

    class Counting:
        model_id = real.model_id

        def encode(self, texts: list[str], *, query: bool = True) -> Any:
            embedded.extend(texts)
            return real.encode(texts, query=query)

    monkeypatch.setattr(b, "_encoder", lambda kind: Counting())
    b.fit(train, values, schema)
    out = b.predict(test, schema, [schema.control("topic")])
    probs = b.class_probabilities(test, schema.control("topic"))
    texts = [t for t, _, _ in TRAIN] + [t for t, _ in TEST]
    assert sorted(t for t in embedded if t in texts) == sorted(texts)  # each once; label prompts aside
    best = [int(np.argmax(row)) for row in probs.proba]
    assert [o.value[0]["labels"] for o in out] == [[probs.classes[i]] for i in best]
    fresh = create_text({"encoder": "minilm"})  # the shared vectors are the ones a fresh backend computes
    fresh.setup(BackendContext(media=StoreMedia(store)))
    fresh.fit(train, values, schema)
    np.testing.assert_allclose(fresh.class_probabilities(test, schema.control("topic")).proba, probs.proba, atol=1e-6)
