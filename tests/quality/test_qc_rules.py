"""The rule engine: the built-in library per medium, config validation, fixes that really fix."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.core import LabelSchema, MediaRef, Medium
from labelloop.core.findings import LabelSource, Severity
from labelloop.errors import InvalidSchema
from labelloop.quality.rules import BUILTIN_RULES, QCConfig, RuleEngine, parse_qc_config, polygon_problem

SCHEMA = LabelSchema.model_validate(
    {
        "media": [
            {"name": "image", "kind": "image"},
            {"name": "text", "kind": "text"},
            {"name": "audio", "kind": "audio"},
            {"name": "cloud", "kind": "pointcloud"},
        ],
        "controls": [
            {"name": "kind", "kind": "classification", "target": "image", "labels": ["a", "b"], "required": True},
            {
                "name": "objects",
                "kind": "boxes",
                "target": "image",
                "labels": ["cat", "dog"],
                "attributes": [
                    {"name": "occluded", "type": "bool"},
                    {"name": "level", "type": "enum", "values": ["partly"]},
                ],
            },
            {"name": "outline", "kind": "polygons", "target": "image", "labels": ["cat"]},
            {"name": "ents", "kind": "spans", "target": "text", "labels": ["ORG", "LOC"]},
            {"name": "speech", "kind": "segments", "target": "audio", "labels": ["s"], "transcript": True},
            {"name": "note", "kind": "text_field", "target": "text"},
            {"name": "things", "kind": "cuboids", "target": "cloud", "labels": ["car", "ufo"]},
        ],
    }
)
MEDIA = {
    "image": MediaRef(Medium.IMAGE, "0" * 64, "image/png", meta={"width": 100, "height": 80}),
    "text": MediaRef.from_text("Acme Corp opened in New York today"),
    "audio": MediaRef(Medium.AUDIO, "1" * 64, "audio/wav", meta={"duration_s": 10.0}),
    "cloud": MediaRef(Medium.POINTCLOUD, "2" * 64, "application/x-pcd", meta={"points": 1000}),
}
PRIORS = {"car": (4.5, 1.8, 1.5)}
KIND = {"id": "k", "control": "kind", "labels": ["a"]}
BOW = [[0, 0], [40, 20], [40, 0], [0, 10]]  # crossing edges, unequal lobes (non-zero signed area)
BOW_FIXED = [[40.0, 0.0], [13.33, 6.67], [40.0, 20.0]]  # shapely make_valid: the larger lobe


def box(rid: str, xyxy: list[float], label: str = "cat", **kw: Any) -> dict[str, Any]:
    return {"id": rid, "control": "objects", "label": label, "xyxy": xyxy, **kw}


def run(value: list[dict[str, Any]], config: QCConfig | None = None) -> list[tuple[str, str | None, Any]]:
    eng = RuleEngine(SCHEMA, config, size_priors=PRIORS)
    return [(f.rule_id, f.region_id, f.fix) for f in eng.check(1, [KIND, *value], MEDIA)]


CASES: list[tuple[str, list[dict[str, Any]], list[tuple[str, str | None, Any]]]] = [
    ("clean", [box("b", [10, 10, 50, 50])], []),
    (
        "box outside: clipped",
        [box("b", [-5, 10, 50, 90])],
        [("box_bounds", "b", {"action": "set", "field": "xyxy", "value": [0.0, 10.0, 50.0, 80.0]})],
    ),
    ("box entirely outside: delete", [box("b", [120, 10, 150, 20])], [("box_bounds", "b", {"action": "delete"})]),
    ("tiny box", [box("b", [10, 10, 11, 30])], [("box_min_size", "b", {"action": "delete"})]),
    (
        "duplicate boxes",
        [box("b1", [10, 10, 50, 50]), box("b2", [10, 10, 50, 51])],
        [("box_overlap", "b2", {"action": "delete"})],
    ),
    (
        "two classes on one box",
        [box("b1", [10, 10, 50, 50]), box("b2", [10, 10, 50, 50], "dog")],
        [("box_overlap", "b2", {"action": "review", "hint": "keep one of 'cat' / 'dog'"})],
    ),
    (
        "span inside a word",
        [{"id": "s", "control": "ents", "label": "ORG", "start": 0, "end": 6}],
        [("span_tokens", "s", {"action": "set", "field": ["start", "end", "text"], "value": [0, 9, "Acme Corp"]})],
    ),
    (
        "span with a trailing space",
        [{"id": "s", "control": "ents", "label": "LOC", "start": 20, "end": 29}],
        [("span_tokens", "s", {"action": "set", "field": ["start", "end", "text"], "value": [20, 28, "New York"]})],
    ),
    (
        "overlapping spans",
        [
            {"id": "s1", "control": "ents", "label": "ORG", "start": 0, "end": 9},
            {"id": "s2", "control": "ents", "label": "LOC", "start": 5, "end": 16},
        ],
        [("span_overlap", "s1", {"action": "set", "field": "end", "value": 5})],
    ),
    (
        "identical spans",
        [
            {"id": "s1", "control": "ents", "label": "ORG", "start": 0, "end": 9},
            {"id": "s2", "control": "ents", "label": "ORG", "start": 0, "end": 9},
        ],
        [("span_overlap", "s2", {"action": "delete"})],
    ),
    (
        "overlapping segments",
        [
            {"id": "a", "control": "speech", "label": "s", "start_s": 0, "end_s": 5, "transcript": "x"},
            {"id": "b", "control": "speech", "label": "s", "start_s": 1, "end_s": 2, "transcript": "y"},
            {"id": "c", "control": "speech", "label": "s", "start_s": 3, "end_s": 4, "transcript": "z"},
        ],
        [
            ("segment_overlap", "a", {"action": "set", "field": "end_s", "value": 1.0}),
            ("segment_overlap", "a", {"action": "set", "field": "end_s", "value": 3.0}),
        ],
    ),
    (
        "empty transcript",
        [{"id": "a", "control": "speech", "label": "s", "start_s": 0, "end_s": 5, "transcript": "  "}],
        [
            (
                "empty_transcript",
                "a",
                {"action": "review", "hint": "type the transcript (or delete the region if nothing is said)"},
            )
        ],
    ),
    (
        "empty text field",
        [{"id": "n", "control": "note", "text": ""}],
        [
            (
                "empty_transcript",
                "n",
                {"action": "review", "hint": "type the text (or delete the region if nothing is said)"},
            )
        ],
    ),
    (
        "implausible car",
        [{"id": "c", "control": "things", "label": "car", "center": [0, 0, 0], "size": [1.0, 12.0, 1.5]}],
        [("cuboid_size", "c", {"action": "set", "field": "size", "value": [1.8, 4.5, 1.5]})],
    ),
    (
        "plausible car, l and w swapped",
        [{"id": "c", "control": "things", "label": "car", "center": [0, 0, 0], "size": [1.9, 4.2, 1.4]}],
        [],
    ),
    (
        "class without a prior is skipped",
        [{"id": "c", "control": "things", "label": "ufo", "center": [0, 0, 0], "size": [90, 90, 90]}],
        [],
    ),
    (
        "bow-tie polygon",
        [{"id": "p", "control": "outline", "label": "cat", "points": BOW}],
        [("polygon_validity", "p", {"action": "set", "field": "points", "value": BOW_FIXED})],
    ),
    (
        "zero-area polygon",
        [{"id": "p", "control": "outline", "label": "cat", "points": [[0, 0], [10, 10], [20, 20]]}],
        [("polygon_validity", "p", {"action": "delete"})],
    ),
]


@pytest.mark.parametrize(("case", "value", "expected"), CASES, ids=[c[0] for c in CASES])
def test_builtin_library(case: str, value: list[dict[str, Any]], expected: list[Any]) -> None:
    assert run(value) == expected


def test_required_label_missing_and_schema_problems() -> None:
    eng = RuleEngine(SCHEMA)
    found = eng.check(
        3, [box("b", [10, 10, 50, 50]), {"id": "b", "control": "ents", "label": "X", "start": 0, "end": 2}]
    )
    rules = sorted({f.rule_id for f in found})
    assert rules == ["required_labels", "schema_valid"]
    req = next(f for f in found if f.rule_id == "required_labels")
    assert req.item_id == 3 and req.control == "kind" and req.fix is not None and req.fix["action"] == "add"
    assert any(f.message.startswith("regions[1].label") and f.region_id == "b" for f in found)


def test_findings_carry_source_annotator_record_and_severity() -> None:
    eng = RuleEngine(SCHEMA)
    [f] = eng.check(9, [KIND, box("b", [0, 0, 1, 1])], MEDIA, label_source=LabelSource.LLM, annotator="x", record_id=4)
    assert (f.item_id, f.rule_id, f.region_id, f.control, f.label) == (9, "box_min_size", "b", "objects", "cat")
    assert (f.label_source, f.annotator, f.record_id, f.severity) == (LabelSource.LLM, "x", 4, Severity.WARNING)


def test_configured_rules_override_add_and_disable() -> None:
    cfg = parse_qc_config(
        {
            "qc": {
                "rules": [
                    {"rule": "box_min_size", "params": {"min_width": 30}, "severity": "error"},
                    {"rule": "box_bounds", "enabled": False},
                    {
                        "rule": "attribute_required_if",
                        "id": "occluded-level",
                        "controls": ["objects"],
                        "params": {"attribute": "level", "if_attribute": "occluded", "equals": True},
                    },
                    {
                        "rule": "required_labels",
                        "id": "need-dog",
                        "controls": ["objects"],
                        "params": {"labels": ["dog"]},
                    },
                ]
            }
        }
    )
    eng = RuleEngine(SCHEMA, cfg)
    assert "box_bounds" not in eng.rule_ids and "occluded-level" in eng.rule_ids
    found = eng.check(1, [KIND, box("b", [-5, 10, 20, 50], attributes={"occluded": True})], MEDIA)
    got = {(f.rule_id, f.severity.value): f.fix for f in found}
    assert got[("box_min_size", "error")] == {"action": "delete"}
    assert got[("occluded-level", "error")] == {"action": "set", "field": "attributes.level", "value": "partly"}
    assert got[("need-dog", "error")] == {"action": "add", "region": {"control": "objects", "label": "dog"}}
    assert len(got) == 3


def test_builtins_off_runs_only_configured_rules() -> None:
    cfg = parse_qc_config({"builtins": False, "rules": [{"rule": "box_bounds"}]})
    assert RuleEngine(SCHEMA, cfg).rule_ids == ["box_bounds"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("rules: []", "expected a mapping"),
        ({"qc": {"rules": [{"rule": "nope"}]}}, "qc.rules.0.rule: unknown rule 'nope'; known: "),
        ({"qc": {"rules": [{"rule": "box_min_size", "params": {"min_width": -1}}]}}, "qc.rules.0.params.min_width"),
        ({"qc": {"rules": [{"rule": "box_min_size", "params": {"bogus": 1}}]}}, "qc.rules.0.params.bogus"),
        ({"qc": {"rules": [{"rule": "box_bounds"}, {"rule": "box_bounds"}]}}, "duplicate rule id 'box_bounds'"),
        ({"qc": {"model_checks": {"min_confidence": 2}}}, "qc.model_checks.min_confidence"),
        ({"qc": {"surprise": 1}}, "qc.surprise: Extra inputs are not permitted"),
        ({"qc": [1]}, "expected 'qc' to be a mapping"),
    ],
)
def test_bad_config_is_refused_with_the_field_path(data: Any, message: str) -> None:
    with pytest.raises(InvalidSchema, match=r"invalid qc section|expected") as exc:
        parse_qc_config(data, source="qc.yaml")
    assert message in str(exc.value) and str(exc.value).startswith("qc.yaml")


def test_rules_naming_unknown_or_unfit_controls_are_refused() -> None:
    with pytest.raises(InvalidSchema, match=r"unknown controls \['ghost'\]"):
        RuleEngine(SCHEMA, parse_qc_config({"rules": [{"rule": "box_bounds", "controls": ["ghost"]}]}))
    with pytest.raises(InvalidSchema, match=r"controls \['ents'\] are not of kind \['boxes'\]"):
        RuleEngine(SCHEMA, parse_qc_config({"rules": [{"rule": "box_bounds", "controls": ["ents"]}]}))


@pytest.mark.parametrize("value", [None, "text", [1, 2], {"id": "x"}])
def test_malformed_values_give_one_finding_not_a_crash(value: Any) -> None:
    [f] = RuleEngine(SCHEMA).check(1, value)
    assert f.rule_id == "schema_valid" and f.severity == Severity.ERROR


def test_malformed_regions_are_skipped_by_geometry_rules() -> None:
    regs = [KIND, box("b", ["x", 1, 2, 3]), {"id": "s", "control": "ents", "label": "ORG", "start": "0", "end": 2}]
    found = RuleEngine(SCHEMA).check(1, regs, MEDIA)
    assert {f.rule_id for f in found} == {"schema_valid"}


def test_own_polygon_check_agrees_with_shapely() -> None:
    bow = [(float(x), float(y)) for x, y in BOW]
    assert polygon_problem(bow) is not None
    assert polygon_problem([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]) is None
    assert polygon_problem([(0.0, 0.0), (10.0, 0.0), (10.0, 0.0), (0.0, 10.0)]) == "vertex 1 repeats vertex 2"
    cfg = parse_qc_config({"rules": [{"rule": "polygon_validity", "params": {"use_shapely": False}}]})
    [f] = RuleEngine(SCHEMA, cfg).check(
        1, [KIND, {"id": "p", "control": "outline", "label": "cat", "points": [list(p) for p in bow]}], MEDIA
    )
    assert "self-intersection" in f.message and f.fix == {
        "action": "review",
        "hint": "redraw the outline without crossing edges",
    }


def test_every_builtin_has_params_and_a_description() -> None:
    for name, rule in BUILTIN_RULES.items():
        assert rule.name == name and rule.description
        if rule.default:
            rule.params.model_validate({})


# ---------------------------------------------------------------------- properties of the fixes
coord = st.floats(-50, 150, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(coord, coord, coord, coord)
def test_box_bounds_fix_lies_inside_the_image(x0: float, y0: float, x1: float, y1: float) -> None:
    b = [min(x0, x1), min(y0, y1), max(x0, x1) + 1, max(y0, y1) + 1]
    for rule, _, fix in run([box("b", b)]):
        if rule == "box_bounds" and fix["action"] == "set":
            fx0, fy0, fx1, fy1 = fix["value"]
            assert 0 <= fx0 < fx1 <= 100 and 0 <= fy0 < fy1 <= 80
            assert not [r for r in run([box("b", fix["value"])]) if r[0] == "box_bounds"]


TEXT = MEDIA["text"].text or ""


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(TEXT) - 1), st.integers(1, len(TEXT)))
def test_span_fix_is_stable(start: int, length: int) -> None:
    end = min(start + length, len(TEXT))
    fixes = [fix for rule, _, fix in run([{"id": "s", "control": "ents", "label": "ORG", "start": start, "end": end}])]
    for fix in fixes:
        s, e, text = fix["value"]
        assert TEXT[s:e] == text and text == text.strip()
        assert run([{"id": "s", "control": "ents", "label": "ORG", "start": s, "end": e}]) == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 9), st.floats(0.05, 3)), min_size=2, max_size=6))
def test_segment_overlap_fixes_remove_every_overlap(segs: list[tuple[float, float]]) -> None:
    value = [
        {"id": f"s{i}", "control": "speech", "label": "s", "start_s": s, "end_s": s + d, "transcript": "x"}
        for i, (s, d) in enumerate(segs)
    ]
    for _ in range(len(value) + 1):
        found = [(rid, fix) for rule, rid, fix in run(value) if rule == "segment_overlap"]
        if not found:
            break
        rid, fix = found[0]
        if fix["action"] == "delete":
            value = [r for r in value if r["id"] != rid]
        elif fix["action"] == "set":
            value = [r | {"end_s": fix["value"]} if r["id"] == rid else r for r in value]
            value = [r for r in value if r["end_s"] > r["start_s"]]
        else:  # same start, different labels: drop one to go on
            value = [r for r in value if r["id"] != rid]
    assert not [r for r in run(value) if r[0] == "segment_overlap"]
