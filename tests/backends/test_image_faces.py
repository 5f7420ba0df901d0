"""image.faces: OpenCV Haar cascade on scikit-image's sample pictures (real inference)."""

from __future__ import annotations

from pathlib import Path

import pytest
from skimage import data

from labelloop.backends.base import supported_controls
from labelloop.backends.image_faces import FaceDetector, ImageFacesConfig, create
from labelloop.core import LabelSchema
from labelloop.core.plugins import BackendContext
from labelloop.errors import BackendUnavailable, InvalidSchema
from labelloop.services.preannotate import StoreMedia
from labelloop.storage import Store
from tests.backends.factories import IMAGE_SCHEMA, add_items, image_ref, make_project

pytest.importorskip("cv2")


def test_astronaut_has_one_face_and_the_others_none(tmp_path: Path, no_network: None) -> None:
    store = Store.open(None, tmp_path)
    try:
        make_project(store, "p", IMAGE_SCHEMA)
        pics = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
        items = add_items(store, "p", "image", [image_ref(store, p) for p in pics])
        schema = LabelSchema.model_validate(IMAGE_SCHEMA)
        backend = create({"label": "face"})
        backend.setup(BackendContext(media=StoreMedia(store)))
        controls = supported_controls(schema, backend.capabilities)
        assert [c.name for c in controls] == ["objects"]
        outs = {o.item_id: o for o in backend.predict(items, schema, controls)}
        face = outs[items[0].id]
        assert schema.validate_value(face.value, items[0].data) == []
        (box,) = face.value
        assert box["label"] == "face"
        x0, y0, x1, y1 = box["xyxy"]
        assert abs(x0 - 177) <= 8 and abs(y0 - 66) <= 8 and abs(x1 - 272) <= 8 and abs(y1 - 161) <= 8
        assert face.score is not None and face.score > 0.9
        for item in items[1:]:
            assert outs[item.id].value == [] and outs[item.id].score is None
    finally:
        store.close()


def test_downscaling_keeps_box_in_image_pixels() -> None:
    import cv2

    big = cv2.resize(data.astronaut(), (1024, 1024))
    ((x0, _y0, x1, y1), _score), *rest = FaceDetector(ImageFacesConfig(max_side=512)).detect(big)
    assert not rest and abs(x0 - 354) <= 16 and abs(x1 - 544) <= 16 and abs(y1 - 322) <= 16


def test_missing_cascade_is_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match="no Haar cascade"):
        FaceDetector(ImageFacesConfig(cascade="haarcascade_nothing.xml"))


def test_paths_are_refused() -> None:
    with pytest.raises(InvalidSchema, match="cascade"):
        create({"cascade": "/tmp/evil.xml"})
