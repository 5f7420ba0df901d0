"""multimodal.similarity: OCR-text default (real RapidOCR + MiniLM) and a user ONNX CLIP export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelloop.backends.multimodal_similarity import alignment
from labelloop.services.preannotate import preannotate
from labelloop.storage import Store
from tests.backends.factories import (
    MULTIMODAL_SCHEMA,
    add_records,
    image_ref,
    make_project,
    render_text_image,
    text_ref,
)


def _suggestions(store: Store, items: list[Any]) -> list[Any]:
    with store.read() as tx:
        sugg = {s.item_id: s for s in tx.labels.for_items([it.id for it in items])[0]}
    return [sugg[it.id] for it in items]


@pytest.mark.usefixtures("no_network")  # models load from installed files only
def test_multimodal_alignment_from_ocr_text(tmp_path: Path) -> None:
    store = Store.open(None, tmp_path)
    try:
        make_project(store, "mm", MULTIMODAL_SCHEMA)
        poster = image_ref(store, render_text_image(["Fresh red apples", "2 euros per kilo"]))
        blank = image_ref(store, np.full((60, 200, 3), 255, np.uint8))
        recs = [
            {"image": poster, "caption": text_ref("A market stall selling fresh apples by the kilo.")},
            {"image": poster, "caption": text_ref("An astronaut floating above the moon.")},
            {"image": blank, "caption": text_ref("Anything at all.")},
        ]
        items = add_records(store, "mm", recs)
        r = preannotate(store, "mm", "multimodal.similarity")
        assert (r.suggestions, r.failed) == (3, 0), r.errors
        aligned, wrong, blank_out = _suggestions(store, items)
        assert aligned.value[0]["labels"] == ["aligned"] and (aligned.score or 0) > 0.5
        assert wrong.value[0]["labels"] == ["misaligned"] and (wrong.score or 0) > 0.5
        assert blank_out.value == [] and blank_out.score is None  # no text in the image: no guess
    finally:
        store.close()


def _tiny_clip(folder: Path) -> dict[str, str]:
    """A 4-d "CLIP": image = (mean R - mean B, mean B - mean R) of the normalised pixels; text = mean
    of word vectors, ``red`` = (1, -1), ``blue`` = (-1, 1). Red pictures match "red" and not "blue"."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer, models, pre_tokenizers

    w = np.array([[1, -1, 0, 0], [0, 0, 0, 0], [-1, 1, 0, 0]], np.float32)
    img = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["pixel_values", "axes"], ["m"], keepdims=0),
            helper.make_node("MatMul", ["m", "w"], ["image_embeds"]),
        ],
        "image_tower",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["n", 3, 32, 32])],
        [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["n", 4])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([2, 3], np.int64), "axes")],
    )
    emb = np.zeros((4, 4), np.float32)
    emb[2], emb[3] = [1, -1, 0, 0], [-1, 1, 0, 0]
    txt = helper.make_graph(
        [
            helper.make_node("Gather", ["emb", "input_ids"], ["g"]),
            helper.make_node("ReduceMean", ["g", "axis1"], ["text_embeds"], keepdims=0),
        ],
        "text_tower",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["n", "l"])],
        [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["n", 4])],
        initializer=[numpy_helper.from_array(emb, "emb"), numpy_helper.from_array(np.array([1], np.int64), "axis1")],
    )
    paths = {"image_model": folder / "image.onnx", "text_model": folder / "text.onnx", "tokenizer": folder / "tok.json"}
    for graph, key in ((img, "image_model"), (txt, "text_model")):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save(model, str(paths[key]))
    tok = Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1, "red": 2, "blue": 3}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(paths["tokenizer"]))
    return {k: str(v) for k, v in paths.items()}


def test_user_onnx_clip_export(tmp_path: Path) -> None:
    clip = _tiny_clip(tmp_path) | {"image_size": 32}
    store = Store.open(None, tmp_path / "store")
    try:
        make_project(store, "mm", MULTIMODAL_SCHEMA)
        red = np.zeros((40, 60, 3), np.uint8)
        red[..., 0] = 255
        blue = red[..., ::-1].copy()
        recs = [
            {"image": image_ref(store, red), "caption": text_ref("red")},
            {"image": image_ref(store, red), "caption": text_ref("blue")},
            {"image": image_ref(store, blue), "caption": text_ref("blue blue")},
        ]
        items = add_records(store, "mm", recs)
        r = preannotate(store, "mm", "multimodal.similarity", config={"clip": clip})
        assert (r.suggestions, r.failed) == (3, 0), r.errors
        assert "clip-onnx-" in r.model_version
        got = [s.value[0]["labels"][0] for s in _suggestions(store, items)]
        assert got == ["aligned", "misaligned", "aligned"]
    finally:
        store.close()


def test_missing_clip_file_is_a_clear_setup_error(tmp_path: Path) -> None:
    from labelloop.errors import BackendUnavailable

    store = Store.open(None, tmp_path / "store")
    try:
        make_project(store, "mm", MULTIMODAL_SCHEMA)
        add_records(store, "mm", [{"image": image_ref(store, np.zeros((8, 8, 3), np.uint8)), "caption": text_ref("x")}])
        clip = {"image_model": str(tmp_path / "nope.onnx"), "text_model": "t.onnx", "tokenizer": "t.json"}
        with pytest.raises(BackendUnavailable, match=r"clip\.image_model"):
            preannotate(store, "mm", "multimodal.similarity", config={"clip": clip})
    finally:
        store.close()


@pytest.mark.parametrize(
    ("cos", "label"), [(0.9, "aligned"), (0.36, "aligned"), (0.34, "misaligned"), (-1.0, "misaligned")]
)
def test_alignment_rule(cos: float, label: str) -> None:
    got, score = alignment(cos, threshold=0.35, scale=12.0)
    assert got == label and 0.5 <= score <= 1.0
