"""image.assist: GrabCut box → polygon and SLIC superpixels on synthetic and sample images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelloop.backends.image_assist import box_to_polygon, create, superpixel_polygon, superpixels
from labelloop.core import LabelSchema, NewItem, content_hash
from labelloop.core.plugins import BackendContext
from labelloop.services.preannotate import StoreMedia
from labelloop.storage import Store
from tests.backends.factories import IMAGE_SCHEMA, image_ref, make_project

pytest.importorskip("cv2")


def _disk(size: int = 120, centre: tuple[int, int] = (60, 55), r: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    img = rng.integers(20, 70, (size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    inside = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= r**2
    img[inside] = (200, 60, 40)
    return img, inside


def _polygon_mask(points: list[tuple[float, float]], shape: tuple[int, int]) -> np.ndarray:
    import cv2

    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(np.array(points)).astype(np.int32)], 1)
    return m.astype(bool)


def test_grabcut_outlines_the_disk() -> None:
    img, inside = _disk()
    points, share = box_to_polygon(img, (22, 17, 98, 93))
    mask = _polygon_mask(points, inside.shape)
    iou = (mask & inside).sum() / (mask | inside).sum()
    assert iou > 0.9 and share > 0.95 and len(points) >= 8


def test_degenerate_box_gives_nothing() -> None:
    img, _ = _disk()
    assert box_to_polygon(img, (10, 10, 11, 40)) == ([], 0.0)


def test_superpixels_and_click_polygon() -> None:
    img, inside = _disk()
    labels = superpixels(img, n_segments=50, compactness=20)
    assert labels.shape == inside.shape and 10 <= labels.max() + 1 <= 100
    poly = superpixel_polygon(labels, 60, 55)
    assert _polygon_mask(poly, inside.shape)[55, 60]


def test_backend_turns_context_boxes_into_polygons(tmp_path: Path) -> None:
    img, inside = _disk()
    schema = LabelSchema.model_validate(IMAGE_SCHEMA)
    store = Store.open(None, tmp_path)
    try:
        make_project(store, "p", IMAGE_SCHEMA)
        ref = image_ref(store, img)
        prelabels = [
            {"id": "b1", "control": "objects", "label": "car", "xyxy": [22, 17, 98, 93]},
            {"id": "c1", "control": "category", "labels": ["light"]},
        ]
        with store.transaction() as tx:
            p = tx.projects.get("p")
            new = [NewItem({"image": ref}, content_hash({"image": ref.sha256}), key="k", meta={"prelabels": prelabels})]
            tx.items.add_many(p.id, new, created_by="user:test")
            (item,) = [it for page in tx.items.iter_all(p.id) for it in page]
        backend = create({"source_control": "objects", "target_control": "outlines"})
        backend.setup(BackendContext(media=StoreMedia(store)))
        outlines = [c for c in schema.controls if c.name == "outlines"]
        (out,) = backend.predict([item], schema, outlines)
        assert schema.validate_value(out.value, item.data) == []
        (poly,) = out.value
        assert poly["label"] == "car" and poly["control"] == "outlines"
        mask = _polygon_mask(poly["points"], inside.shape)
        assert (mask & inside).sum() / (mask | inside).sum() > 0.9
        assert out.score is not None and out.score > 0.95
    finally:
        store.close()
