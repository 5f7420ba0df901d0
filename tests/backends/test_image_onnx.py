"""image.onnx: postprocessing verified exactly with tiny ONNX graphs built here (real onnxruntime)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from labelloop.backends.image_onnx import OnnxModel, create, decode_yolo, letterbox, nms
from labelloop.core import LabelSchema
from labelloop.core.plugins import BackendContext
from labelloop.errors import BackendUnavailable
from labelloop.services.preannotate import StoreMedia
from labelloop.storage import Store
from tests.backends.factories import IMAGE_SCHEMA, add_items, image_ref, make_project, tiny_yolo_onnx

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

# Candidates in 64 x 64 letterboxed model pixels: cx, cy, w, h, then scores for (face, car).
#  0: face 0.9 at (32, 32, 32, 16)        -> kept
#  1: face 0.6, overlaps 0 with IoU 0.94  -> suppressed by NMS
#  2: car 0.7 at the same place as 0      -> kept (NMS is per class)
#  3: face 0.2                            -> under conf 0.25
#  4: car 0.5 at (8, 20, 8, 8)            -> kept
OUTPUT = np.array(
    [
        [
            [32, 33, 32, 50, 8],
            [32, 32, 32, 50, 20],
            [32, 32, 32, 8, 8],
            [16, 14, 16, 8, 8],
            [0.9, 0.6, 0.1, 0.2, 0.0],
            [0.05, 0.1, 0.7, 0.1, 0.5],
        ]
    ],
    np.float32,
)


def test_letterbox_geometry() -> None:
    img = np.full((50, 100, 3), 255, np.uint8)
    t, r, px, py = letterbox(img, (64, 64))
    assert (r, px, py) == (0.64, 0.0, 16.0)
    assert t.dtype == np.float32 and t.shape == (1, 3, 64, 64)
    assert np.allclose(t[0, :, :16], 114 / 255) and np.allclose(t[0, :, 16:48], 1.0)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 9], [0, 0, 10, 4]], float)
    assert nms(boxes, np.array([0.5, 0.9, 0.8]), 0.5).tolist() == [1, 2]


def test_decode_transposed_output_is_the_same() -> None:
    kw = {"conf": 0.25, "iou": 0.45, "ratio": 0.64, "pad": (0.0, 16.0), "image_size": (50, 100)}
    assert decode_yolo(OUTPUT, 2, **kw) == decode_yolo(OUTPUT.transpose(0, 2, 1), 2, **kw)  # type: ignore[arg-type]


def test_backend_with_a_built_model(tmp_path: Path, no_network: None) -> None:
    model = tiny_yolo_onnx(tmp_path / "tiny.onnx", OUTPUT)
    schema = LabelSchema.model_validate(IMAGE_SCHEMA)
    store = Store.open(None, tmp_path / "store")
    try:
        make_project(store, "p", IMAGE_SCHEMA)
        (item,) = add_items(store, "p", "image", [image_ref(store, np.zeros((50, 100, 3), np.uint8))])
        backend = create({"model": str(model), "classes": ["face", "car"], "conf": 0.25, "iou": 0.45})
        backend.setup(BackendContext(media=StoreMedia(store)))
        assert backend.model_version.startswith("onnx-1.0+")
        objects = [c for c in schema.controls if c.name == "objects"]
        (out,) = backend.predict([item], schema, objects)
        assert schema.validate_value(out.value, item.data) == []
        got = [(r["label"], [round(v, 4) for v in r["xyxy"]]) for r in out.value]
        # (x - 0) / 0.64 and (y - 16) / 0.64, clipped to the 100 x 50 image
        assert got == [
            ("face", [25.0, 12.5, 75.0, 37.5]),
            ("car", [25.0, 12.5, 75.0, 37.5]),
            ("car", [6.25, 0.0, 18.75, 12.5]),
        ]
        assert out.score == pytest.approx(0.9)
    finally:
        store.close()


def test_classification_output(tmp_path: Path) -> None:
    model = tiny_yolo_onnx(tmp_path / "cls.onnx", np.array([[0.2, 0.7, 0.1]], np.float32))
    raw = {**IMAGE_SCHEMA, "controls": [{**IMAGE_SCHEMA["controls"][0], "labels": ["light", "dark", "other"]}]}
    schema = LabelSchema.model_validate(raw)
    store = Store.open(None, tmp_path / "store")
    try:
        make_project(store, "p", raw)
        (item,) = add_items(store, "p", "image", [image_ref(store, np.zeros((20, 30), np.uint8))])
        backend = create({"model": str(model), "classes": ["light", "dark", "other"]})
        backend.setup(BackendContext(media=StoreMedia(store)))
        (out,) = backend.predict([item], schema, schema.controls)
        assert [r["labels"] for r in out.value] == [["dark"]] and out.score == pytest.approx(0.7)
    finally:
        store.close()


def test_refuses_non_onnx_and_pickles(tmp_path: Path) -> None:
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"anything")
    with pytest.raises(BackendUnavailable, match=r"not an \.onnx file"):
        OnnxModel(pt)
    disguised = tmp_path / "model.onnx"
    disguised.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(BackendUnavailable, match="pickle"):
        OnnxModel(disguised)
    (tmp_path / "broken.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(BackendUnavailable, match="cannot load"):
        OnnxModel(tmp_path / "broken.onnx")
