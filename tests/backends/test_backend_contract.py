"""Contract tests over every registered backend: capabilities, stamping, one output per item."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelloop.core import LabelSchema, Medium
from labelloop.core.plugins import Backend, BackendContext, BackendOutput, TrainableBackend
from labelloop.plugins import PluginManager
from labelloop.services.preannotate import StoreMedia
from labelloop.storage import Store
from tests.backends.factories import (
    MULTIMODAL_SCHEMA,
    SCHEMAS,
    add_items,
    add_records,
    blob_image,
    cloud_ref,
    image_ref,
    make_project,
    text_ref,
)

PM = PluginManager()


def _items(store: Store, medium: Medium | None):  # type: ignore[no-untyped-def]
    if medium is None:  # image + caption
        make_project(store, "p", MULTIMODAL_SCHEMA)
        recs = [{"image": image_ref(store, blob_image(220, i)), "caption": text_ref(f"caption {i}")} for i in range(2)]
        return add_records(store, "p", recs)
    make_project(store, "p", SCHEMAS[medium])
    if medium == Medium.TEXT:
        return add_items(store, "p", "text", [text_ref("我在北京 great"), text_ref("nothing here")])
    if medium == Medium.IMAGE:
        imgs = [blob_image(220, 0), blob_image(30, 1), blob_image(225, 2), blob_image(25, 3)]
        return add_items(store, "p", "image", [image_ref(store, a) for a in imgs])
    rng = np.random.default_rng(0)
    ground = np.c_[rng.uniform(-15, 15, (3000, 2)), rng.normal(-1.7, 0.01, 3000)]
    return add_items(store, "p", "pointcloud", [cloud_ref(store, ground)])


@pytest.mark.parametrize("name", PM.backend_names())
def test_backend_contract(name: str, tmp_path: Path) -> None:
    spec = PM.backend_spec(name)
    backend = PM.create_backend(name, spec.example_config)
    assert isinstance(backend, Backend)
    assert backend.name == name and backend.model_version
    caps = backend.capabilities
    assert caps.media and caps.controls and caps.batch_size >= 1
    assert caps.trainable == isinstance(backend, TrainableBackend)
    known = caps.media & set(SCHEMAS)
    medium = next(iter(known)) if len(caps.media) == 1 else None  # several media: the image + caption schema
    store = Store.open(None, tmp_path)
    try:
        items = _items(store, medium)
        schema = LabelSchema.model_validate(SCHEMAS[medium] if medium else MULTIMODAL_SCHEMA)
        controls = [c for c in schema.controls if caps.supports(c, schema)]
        assert controls
        backend.setup(BackendContext(media=StoreMedia(store)))
        if isinstance(backend, TrainableBackend):
            values = [
                [{"id": "c", "control": "category", "labels": ["light" if i % 2 == 0 else "dark"]}]
                for i in range(len(items))
            ]
            backend.fit(items, values, schema)
        assert backend.predict([], schema, controls) == []
        outs = backend.predict(items, schema, controls)
        assert sorted(o.item_id for o in outs) == sorted(it.id for it in items)
        by_id = {it.id: it for it in items}
        for out in outs:
            assert isinstance(out, BackendOutput) and not out.failed
            assert (out.backend, out.model_version) == (backend.name, backend.model_version)
            assert out.score is None or 0.0 <= out.score <= 1.0
            assert schema.validate_value(out.value, by_id[out.item_id].data) == []
    finally:
        store.close()


def test_registry_has_the_builtins() -> None:
    assert {"text.rules", "pointcloud.cuboids", "image.classify"} <= set(PM.backend_names())
    assert {"text.classify", "text.ner", "image.ocr", "multimodal.similarity"} <= set(PM.backend_names())
    assert all(s.plugin == "builtin" for s in PM.backend_specs())
