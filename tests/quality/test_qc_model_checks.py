"""Model checks (missing label, box deviation, class disagreement, text–image), annotator scoring,
error distribution and the HTML report."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.core import LabelSchema, MediaRef, Medium
from labelloop.core.findings import Detector, Finding, LabelSource, Severity
from labelloop.errors import InputRejected
from labelloop.quality.annotators import Labelled, mix_gold, score_annotators, value_score
from labelloop.quality.error_analytics import error_distribution
from labelloop.quality.model_checks import TextImageEncoder, model_checks, text_image_mismatch
from labelloop.quality.report_html import render_html

SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "image", "kind": "image"}, {"name": "cloud", "kind": "pointcloud"}],
        "controls": [
            {"name": "kind", "kind": "classification", "target": "image", "labels": ["day", "night"]},
            {"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat", "dog"]},
            {"name": "things", "kind": "cuboids", "target": "cloud", "labels": ["car"]},
            {"name": "caption", "kind": "text_field", "target": "image"},
        ],
    }
)


def box(rid: str, xyxy: list[float], label: str = "cat") -> dict[str, Any]:
    return {"id": rid, "control": "objects", "label": label, "xyxy": xyxy}


def rules(found: list[Finding]) -> list[tuple[str, str | None]]:
    return [(f.rule_id, f.region_id) for f in found]


def test_missing_label_deviation_and_disagreement() -> None:
    human = [
        box("h1", [0, 0, 10, 10]),
        box("h2", [100, 100, 140, 140]),
        {"id": "k", "control": "kind", "labels": ["day"]},
    ]
    model = [
        box("m1", [0, 0, 10, 10], "dog"),  # same place, other class
        box("m2", [110, 110, 150, 150]),  # same object, IoU 0.39
        box("m3", [300, 300, 320, 330]),  # nobody drew it
        {"id": "k", "control": "kind", "labels": ["night"]},
    ]
    found = model_checks(5, SCHEMA, human, model, 0.9, annotator="ann", record_id=77, backend="det")
    got = {f.rule_id: f for f in found if f.rule_id != "model.class_disagreement" or f.region_id}
    assert rules(found) == [
        ("model.class_disagreement", None),
        ("model.class_disagreement", "h1"),
        ("model.box_deviation", "h2"),
        ("model.missing_label", None),
    ]
    assert got["model.class_disagreement"].fix == {"action": "set", "field": "label", "value": "dog"}
    assert got["model.box_deviation"].fix == {"action": "set", "field": ["xyxy"], "value": [[110, 110, 150, 150]]}
    assert got["model.missing_label"].fix == {
        "action": "add",
        "region": {"control": "objects", "label": "cat", "xyxy": [300, 300, 320, 330]},
    }
    f = found[0]
    assert (f.detector, f.label_source, f.annotator, f.record_id, f.score) == (
        Detector.MODEL,
        LabelSource.HUMAN,
        "ann",
        77,
        0.9,
    )
    assert f.fix == {"action": "set", "field": "labels", "value": ["night"]}


@pytest.mark.parametrize("score", [None, 0.5, float("nan")])
def test_unconfident_or_unscored_suggestions_are_not_used(score: float | None) -> None:
    assert model_checks(1, SCHEMA, [], [box("m", [0, 0, 10, 10])], score) == []


def test_cuboid_deviation_and_malformed_regions() -> None:
    h = [{"id": "c", "control": "things", "label": "car", "center": [0, 0, 0], "size": [4, 2, 1.5], "yaw": 0}]
    m = [{"id": "m", "control": "things", "label": "car", "center": [1.5, 0, 0], "size": [4, 2, 1.5], "yaw": 0}]
    [f] = model_checks(1, SCHEMA, h, m, 0.99)
    assert f.rule_id == "model.box_deviation" and f.fix is not None and f.fix["value"][0] == [1.5, 0, 0]
    assert model_checks(1, SCHEMA, "junk", [box("m", ["a", 0, 1, 1])], 0.99) == []


class FakeEncoder:
    """Scores a text by whether it mentions the image's sha prefix letter (deterministic)."""

    def similarity(self, image: MediaRef, texts: Sequence[str]) -> Sequence[float]:
        return [0.9 if "cat" in t else 0.05 for t in texts]


def test_text_image_mismatch_with_an_encoder() -> None:
    assert isinstance(FakeEncoder(), TextImageEncoder)
    media = {"image": MediaRef(Medium.IMAGE, "0" * 64, "image/png", meta={"width": 4, "height": 4})}
    value = [{"id": "t1", "control": "caption", "text": "a cat"}, {"id": "t2", "control": "caption", "text": "a truck"}]
    [f] = text_image_mismatch(1, SCHEMA, value, media, FakeEncoder())
    assert (f.rule_id, f.region_id, f.score) == ("model.text_image_mismatch", "t2", 0.05)
    assert text_image_mismatch(1, SCHEMA, value, media, None) == []


# ---------------------------------------------------------------------- annotators
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def kind(label: str) -> list[dict[str, Any]]:
    return [{"id": "k", "control": "kind", "labels": [label]}]


def test_value_score_per_kind() -> None:
    ctl = SCHEMA.control("objects")
    assert value_score(ctl, [box("a", [0, 0, 10, 10])], [box("b", [0, 0, 10, 11])]) == 1.0
    assert value_score(ctl, [box("a", [0, 0, 10, 10], "dog")], [box("b", [0, 0, 10, 10])]) == 0.0
    assert value_score(ctl, [], []) == 1.0
    assert value_score(SCHEMA.control("kind"), kind("day"), kind("night")) == 0.0
    cap = SCHEMA.control("caption")
    assert (
        value_score(
            cap, [{"id": "1", "control": "caption", "text": " hi "}], [{"id": "2", "control": "caption", "text": "hi"}]
        )
        == 1.0
    )


def _crowd(seed: int = 0) -> tuple[list[Labelled], dict[int, list[dict[str, Any]]]]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 200)
    labels = ["day", "night"]
    acc = {"good": 0.95, "ok": 0.8, "bad": 0.55}
    recs = []
    for i, y in enumerate(truth):
        for name, a in acc.items():
            lab = int(y) if rng.random() < a else 1 - int(y)
            recs.append(Labelled(i, name, kind(labels[lab]), T0 + timedelta(minutes=i), 5.0 + (name == "bad")))
    gold = {i: kind(labels[int(truth[i])]) for i in range(0, 200, 4)}
    return recs, gold


def test_scores_rank_annotators_by_their_accuracy() -> None:
    recs, gold = _crowd()
    s = score_annotators(SCHEMA, recs, gold, window=10)
    assert s["good"].overall_gold > s["ok"].overall_gold > s["bad"].overall_gold
    assert s["good"].overall_consensus > s["bad"].overall_consensus
    assert abs(s["good"].gold_accuracy["kind"] - 0.95) < 0.08 and s["bad"].median_lead_time_s == 6.0
    assert s["good"].gold_items == 50 and len(s["good"].drift) == 5
    d = s["ok"].to_dict()
    assert d["items_per_hour"] == 720.0 and d["reasons"] == []


def test_drift_shows_a_degrading_annotator() -> None:
    recs = [Labelled(i, "tired", kind("day" if i < 60 else "night"), T0 + timedelta(minutes=i)) for i in range(120)]
    gold = {i: kind("day") for i in range(120)}
    s = score_annotators(SCHEMA, recs, gold, window=30)["tired"]
    assert [round(a, 2) for _, a in s.drift] == [1.0, 1.0, 0.0, 0.0] and s.drift_delta == -1.0


def test_single_annotator_and_no_gold_are_nan_with_reasons() -> None:
    s = score_annotators(SCHEMA, [Labelled(1, "solo", kind("day"), T0)], {})["solo"]
    assert math.isnan(s.overall_gold) and math.isnan(s.overall_consensus) and math.isnan(s.median_lead_time_s)
    assert s.reasons == [
        "no gold items labelled by this annotator",
        "no other annotator labelled the same items",
        "no lead times recorded",
    ]
    assert s.to_dict()["overall_gold"] is None
    assert score_annotators(SCHEMA, [], {}) == {}


def test_identical_labels_everywhere_score_perfectly() -> None:
    recs = [Labelled(i, a, kind("day"), T0) for i in range(10) for a in ("x", "y", "z")]
    s = score_annotators(SCHEMA, recs, {0: kind("day")})
    assert {k: v.overall_consensus for k, v in s.items()} == {"x": 1.0, "y": 1.0, "z": 1.0}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10_000), max_size=60, unique=True), st.floats(0, 0.9), st.integers(0, 5))
def test_mix_gold_keeps_the_queue_in_order_and_meets_the_rate(queue: list[int], rate: float, seed: int) -> None:
    gold = [-1, -2, -3]
    out = mix_gold(queue, gold, rate, seed=seed)
    assert [x for x in out if x >= 0] == queue
    n_gold = len(out) - len(queue)
    if out:
        assert abs(n_gold / len(out) - rate) <= 1 / len(out) + 1e-9 or n_gold == round(len(queue) * rate / (1 - rate))


@pytest.mark.parametrize(("rate", "gold"), [(1.0, [1]), (-0.1, [1]), (float("nan"), [1]), (0.5, [])])
def test_mix_gold_refuses_bad_input(rate: float, gold: list[int]) -> None:
    with pytest.raises(InputRejected):
        mix_gold([1, 2, 3, 4], gold, rate)


# ---------------------------------------------------------------------- analytics + html
def _findings() -> list[Finding]:
    return [
        Finding(1, "box_bounds", Severity.ERROR, "m", control="objects", annotator="ann"),
        Finding(2, "box_bounds", Severity.ERROR, "m", control="objects", annotator="ann"),
        Finding(
            2, "model.missing_label", Severity.WARNING, "m", control="objects", annotator="bob", detector=Detector.MODEL
        ),
        Finding(
            3,
            "empty_transcript",
            Severity.ERROR,
            "m",
            control="speech",
            annotator="llm.x",
            label_source=LabelSource.LLM,
        ),
    ]


def test_error_distribution_marginals_and_rates() -> None:
    cells = {("objects", "ann", "human", "day"): 10, ("objects", "bob", "human", "night"): 5}
    d = error_distribution(_findings(), slices={1: "day", 2: "day", 3: "night"}, labels=cells)
    assert d.total == 4 and d.by("annotator") == {"ann": 2, "bob": 1, "llm.x": 1}
    assert d.by("source") == {"human": 3, "llm": 1} and d.by("slice") == {"day": 3, "night": 1}
    assert d.by("rule")["box_bounds"] == 2 and d.by("detector") == {"rule": 3, "model": 1}
    assert d.rate("annotator") == {"ann": 0.2, "bob": 0.2}
    dd = d.to_dict()
    assert dd["cells"][0] == {
        "control": "objects",
        "annotator": "ann",
        "source": "human",
        "slice": "day",
        "findings": 2,
        "labels": 10,
    }
    with pytest.raises(InputRejected, match="dimension"):
        d.by("colour")  # type: ignore[arg-type]
    assert error_distribution([]).to_dict()["total"] == 0
    assert error_distribution([f.to_dict() for f in _findings()]).by("control") == {"objects": 3, "speech": 1}


EVIL = "<script>alert(1)</script>\"'&"


def test_html_report_is_self_contained_and_escapes_user_text() -> None:
    report = {
        "project": EVIL,
        "summary": {"items": 3, "reason": None},
        "error_distribution": error_distribution(
            [Finding(1, "r", Severity.ERROR, EVIL, control=EVIL, annotator=EVIL)]
        ).to_dict(),
        "annotators": {
            EVIL: {
                "overall_gold": 0.5,
                "overall_consensus": None,
                "gold_accuracy": {EVIL: 0.5},
                "drift": [["t", 1.0], ["u", 0.5]],
            }
        },
        "agreement": {EVIL: {"kind": "boxes", "mean_pair_f1": None, "reason": EVIL}},
        "confusion": {
            EVIL: {"reference": "gold", "labels": [EVIL, "b"], "matrix": [[1, 2], [0, 3]], "n": 6, "accuracy": 0.67}
        },
        "findings": [{"item_id": 1, "rule_id": EVIL, "severity": "error", "message": EVIL, "fix": {"value": EVIL}}],
        "sections": {"bias audit": {"groups": {EVIL: 1}}},
    }
    page = render_html(report)
    assert "<script" not in page and "alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "Content-Security-Policy" in page and "<h2>bias audit</h2>" in page
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        ET.fromstring(svg)  # every plot is well-formed XML
    assert page.count("<svg") >= 5


def test_html_report_of_an_empty_report() -> None:
    page = render_html({})
    assert "no open findings" in page and "no annotators" in page


box_st = st.tuples(
    st.floats(0, 90), st.floats(0, 90), st.floats(1, 40), st.floats(1, 40), st.sampled_from(["cat", "dog"])
)


@settings(max_examples=150, deadline=None)
@given(st.lists(box_st, max_size=6), st.lists(box_st, max_size=6))
def test_value_score_is_a_symmetric_score_in_unit_range(a: list[Any], b: list[Any]) -> None:
    ctl = SCHEMA.control("objects")
    va = [box(f"a{i}", [x, y, x + w, y + h], lab) for i, (x, y, w, h, lab) in enumerate(a)]
    vb = [box(f"b{i}", [x, y, x + w, y + h], lab) for i, (x, y, w, h, lab) in enumerate(b)]
    s = value_score(ctl, va, vb)
    assert 0.0 <= s <= 1.0 and s == value_score(ctl, vb, va)
    assert value_score(ctl, va, va) == 1.0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 5), st.sampled_from(["x", "y"]), st.sampled_from(list(Severity))), max_size=30)
)
def test_error_distribution_marginals_sum_to_the_total(rows: list[tuple[int, str, Severity]]) -> None:
    fs = [Finding(i, "r", sev, "m", control="objects", annotator=a) for i, a, sev in rows]
    d = error_distribution(fs, slices={1: "s1", 2: "s2"})
    assert d.total == len(fs)
    for dim in ("control", "annotator", "source", "slice", "rule", "severity", "detector"):
        assert sum(d.by(dim).values()) == len(fs)  # type: ignore[arg-type]
