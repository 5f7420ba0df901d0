"""QC's text–image mismatch check with the offline encoder: real rendered pictures, real OCR
(RapidOCR), real sentence embeddings (MiniLM, multilingual-e5 for Chinese), a real store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from labelloop.core import NewAnnotation
from labelloop.errors import InvalidSchema
from labelloop.quality.rules import parse_qc_config
from labelloop.services.qc import list_findings, run_qc, set_qc_config
from labelloop.services.qc_text_image import SimilarityEncoder, applies
from labelloop.storage import Store
from tests.backends.conftest import no_network  # noqa: F401  (the fixture, used by name)
from tests.backends.factories import add_records, image_ref, make_project, text_ref
from tests.helpers import cjk_font

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core
RULE = "model.text_image_mismatch"
SCHEMA: dict[str, Any] = {
    "media": [{"name": "image", "kind": "image"}, {"name": "caption", "kind": "text"}],
    "controls": [{"name": "description", "kind": "text_field", "target": "image"}],
}
ON = {"model_checks": {"text_image": {"enabled": True}}}


def render(lines: list[str], font_path: Path | str, size: int = 32) -> np.ndarray:
    """Black lines of text on white, in a real TrueType font."""
    font = ImageFont.truetype(str(font_path), size)
    img = Image.new("RGB", (720, 64 * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((16, i * 64 + 14), line, fill="black", font=font)
    return np.asarray(img)


@pytest.fixture
def dejavu() -> Path:
    if not DEJAVU.is_file():  # pragma: no cover
        pytest.skip(f"no DejaVu font at {DEJAVU} (apt-get install fonts-dejavu-core)")
    return DEJAVU


def _project(store: Store, dejavu: Path) -> list[Any]:
    make_project(store, "cap", SCHEMA)
    poster = image_ref(store, render(["Fresh red apples", "2 euros per kilo"], dejavu))
    blank = image_ref(store, np.full((64, 240, 3), 255, np.uint8))
    return add_records(
        store,
        "cap",
        [
            {"image": poster, "caption": text_ref("A market stall selling fresh apples by the kilo.")},
            {"image": poster, "caption": text_ref("An astronaut floating above the moon.")},
            {"image": blank, "caption": text_ref("Anything at all.")},
        ],
    )


@pytest.mark.usefixtures("no_network")  # the models load from installed files only
def test_caption_that_does_not_match_its_picture_is_flagged(tmp_path: Path, dejavu: Path) -> None:
    store = Store.open(None, tmp_path)
    try:
        match, wrong, blank = _project(store, dejavu)
        with store.transaction() as tx:
            pid = tx.projects.get("cap").id
            tx.labels.add_annotations(
                pid,
                [
                    NewAnnotation(match.id, [{"id": "d1", "control": "description", "text": "apples for sale"}], "ann"),
                    NewAnnotation(wrong.id, [{"id": "d2", "control": "description", "text": "a rocket launch"}], "ann"),
                ],
            )

        # off by default: nothing is read, nothing is flagged
        run_qc(store, "cap")
        assert [f for f in list_findings(store, "cap") if f["rule_id"] == RULE] == []

        set_qc_config(store, "cap", ON, "user:test")
        r = run_qc(store, "cap")
        assert r.mode == "full"  # the config changed
        mine = [f for f in list_findings(store, "cap") if f["rule_id"] == RULE]
        found = sorted(mine, key=lambda f: (f["item_id"], f["region_id"] or ""))
        # the astronaut caption and the rocket description are flagged; the matching caption,
        # the matching description and the picture without text are not
        assert [(f["item_id"], f["region_id"], f["annotator"]) for f in found] == [
            (wrong.id, None, None),
            (wrong.id, "d2", "ann"),
        ]
        caption, desc = found
        assert caption["score"] < 0.5 and desc["score"] < 0.5
        assert caption["fix"]["action"] == "review" and caption["fix"]["field"] == "caption"
        assert "apples" in caption["fix"]["image_text"].lower()
        assert "astronaut" in caption["message"] and "apples" in caption["message"].lower()
        assert desc["fix"]["action"] == "set" and "apples" in desc["fix"]["value"].lower()
        assert desc["control"] == "description"
        assert all(f["task_id"] for f in found)  # each is an open correction task

        # an incremental re-run with nothing changed keeps the same tasks open
        again = run_qc(store, "cap")
        assert again.mode == "incremental" and again.findings_new == 0 and again.findings_resolved == 0

        # a stricter threshold flags the matching caption too (its probability is below 0.999)
        set_qc_config(store, "cap", {"model_checks": {"text_image": {"enabled": True, "threshold": 0.999}}}, "u")
        run_qc(store, "cap")
        flagged = {(f["item_id"], f["region_id"]) for f in list_findings(store, "cap") if f["rule_id"] == RULE}
        assert (match.id, None) in flagged and blank.id not in {i for i, _ in flagged}
    finally:
        store.close()


@pytest.mark.usefixtures("no_network")
def test_chinese_caption_against_a_chinese_sign(tmp_path: Path) -> None:
    font = cjk_font()
    if font is None:  # pragma: no cover
        pytest.skip("no CJK font (apt-get install fonts-wqy-zenhei)")
    store = Store.open(None, tmp_path)
    try:
        make_project(store, "zh", SCHEMA)
        sign = image_ref(store, render(["新鲜苹果", "每公斤两欧元"], font, size=40))
        items = add_records(
            store,
            "zh",
            [
                {"image": sign, "caption": text_ref("新鲜苹果，每公斤两欧元")},
                {"image": sign, "caption": text_ref("宇航员在月球上空漂浮")},
            ],
        )
        texts = ["新鲜苹果，每公斤两欧元", "宇航员在月球上空漂浮"]
        enc = SimilarityEncoder(store, parse_qc_config(ON).model_checks.text_image)
        same, other = enc.similarity(items[0].data["image"], texts)
        # e5 puts unrelated Chinese sentences near cosine 0.82, its default midpoint: with the
        # default calibration the astronaut caption is only just "aligned" (measured 0.55)
        assert same > 0.99 and 0.3 < other < 0.7
        # a project calibrated for e5 (midpoint 0.88: related Chinese pairs measured 0.93+) flags it
        zh = {"model_checks": {"text_image": {"enabled": True, "cosine_threshold": 0.88}}}
        strict = SimilarityEncoder(store, parse_qc_config(zh).model_checks.text_image)
        same, other = strict.similarity(items[0].data["image"], texts)
        assert same > 0.99 and other < 0.1
        set_qc_config(store, "zh", zh, "user:test")
        run_qc(store, "zh")
        assert [f["item_id"] for f in list_findings(store, "zh") if f["rule_id"] == RULE] == [items[1].id]
    finally:
        store.close()


def test_settings_are_checked_and_schemas_without_text_skip(tmp_path: Path) -> None:
    from labelloop.core import LabelSchema

    with pytest.raises(InvalidSchema, match=r"text_image\.threshold"):
        parse_qc_config({"model_checks": {"text_image": {"threshold": 1.5}}})
    with pytest.raises(InvalidSchema, match=r"text_image\.encoder"):
        parse_qc_config({"model_checks": {"text_image": {"encoder": "clip"}}})
    assert parse_qc_config({}).model_checks.text_image.enabled is False
    assert parse_qc_config({}).model_checks.text_image.threshold == 0.5
    assert applies(LabelSchema.model_validate(SCHEMA))
    assert not applies(LabelSchema.model_validate({"media": [{"name": "image", "kind": "image"}]}))
    store = Store.open(None, tmp_path)
    try:
        bad = parse_qc_config({"model_checks": {"text_image": {"enabled": True, "clip": {"image_model": "x"}}}})
        with pytest.raises(InvalidSchema, match=r"text_image\.clip"):
            SimilarityEncoder(store, bad.model_checks.text_image)
    finally:
        store.close()
