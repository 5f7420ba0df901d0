"""image.ocr: real RapidOCR inference on images rendered with PIL.

The test images use matplotlib's bundled DejaVu Sans, which has no CJK glyphs; the Chinese OCR
check needs a system CJK font (no PyPI package ships one we could use): ``.ci/run`` installs
Debian's ``fonts-wqy-zenhei``; elsewhere the check skips without one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from labelloop.backends.image_ocr import OcrEngine, create
from labelloop.core import LabelSchema
from labelloop.core.plugins import BackendContext
from labelloop.services.preannotate import StoreMedia, preannotate
from labelloop.storage import Store
from tests.backends.factories import add_items, image_ref, make_project, render_text_image
from tests.helpers import cjk_font

LINES = ["Invoice No. 2024-0815", "Total due: 42.50 EUR"]
OCR_SCHEMA: dict[str, Any] = {
    "media": [{"name": "image", "kind": "image"}],
    "controls": [
        {
            "name": "lines",
            "kind": "polygons",
            "target": "image",
            "labels": ["text"],
            "min_points": 4,
            "attributes": [{"name": "transcript", "type": "text"}],
        },
        {"name": "line_boxes", "kind": "boxes", "target": "image", "labels": ["text", "logo"]},
        {"name": "page_text", "kind": "text_field", "target": "image"},
    ],
}


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine()


def test_reads_rendered_english_lines(engine: OcrEngine) -> None:
    img = render_text_image(LINES)
    lines = engine.read(img)
    assert [t for _, t, _ in lines] == LINES
    h, w = img.shape[:2]
    for points, _, score in lines:
        assert len(points) == 4 and 0.9 <= score <= 1.0
        assert all(-2 <= x <= w + 2 and -2 <= y <= h + 2 for x, y in points)
    # the first line's box lies in the top half of the image
    assert max(y for _, y in lines[0][0]) <= h / 2 + 2


def test_blank_image_has_no_lines(engine: OcrEngine) -> None:
    assert engine.read(np.full((80, 200, 3), 255, np.uint8)) == []


@pytest.mark.skipif(cjk_font() is None, reason="no CJK font installed: the Chinese OCR check needs one")
def test_reads_chinese(engine: OcrEngine) -> None:
    font = ImageFont.truetype(cjk_font() or "", 36)
    img = Image.new("RGB", (600, 80), "white")
    ImageDraw.Draw(img).text((16, 20), "发票号码 2024 总计", fill="black", font=font)
    assert [t for _, t, _ in engine.read(np.asarray(img))] == ["发票号码 2024 总计"]


@pytest.mark.usefixtures("no_network")  # models load from installed files only
def test_through_the_engine_fills_polygons_boxes_and_text(tmp_path: Path) -> None:
    store = Store.open(None, tmp_path)
    try:
        make_project(store, "p", OCR_SCHEMA)
        items = add_items(store, "p", "image", [image_ref(store, render_text_image(LINES))])
        r = preannotate(store, "p", "image.ocr")
        assert (r.suggestions, r.failed) == (1, 0), r.errors
        with store.read() as tx:
            (s,) = tx.labels.for_items([items[0].id])[0]
        assert LabelSchema.model_validate(OCR_SCHEMA).validate_value(s.value, items[0].data) == []
        polys = [v for v in s.value if v["control"] == "lines"]
        assert [p["attributes"]["transcript"] for p in polys] == LINES
        boxes = [v for v in s.value if v["control"] == "line_boxes"]
        assert len(boxes) == 2 and all("attributes" not in b for b in boxes)  # not declared on that control
        (page,) = [v for v in s.value if v["control"] == "page_text"]
        assert page["text"] == "\n".join(LINES)
        assert s.score is not None and 0.9 <= s.score <= 1.0
    finally:
        store.close()


def test_label_missing_everywhere_fails_each_item(tmp_path: Path) -> None:
    schema = {"media": [{"name": "image", "kind": "image"}], "controls": [OCR_SCHEMA["controls"][1]]}
    store = Store.open(None, tmp_path)
    try:
        make_project(store, "p", schema)
        items = add_items(store, "p", "image", [image_ref(store, render_text_image(["x"]))])
        b = create({"label": "word"})
        b.setup(BackendContext(media=StoreMedia(store)))
        s = LabelSchema.model_validate(schema)
        (out,) = b.predict(items, s, s.controls)
        assert out.failed and "label 'word'" in (out.error or "")
    finally:
        store.close()
