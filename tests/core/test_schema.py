"""The label schema: schema errors, annotation validation, and the JSON Schema it emits."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from labelloop.core import LabelSchema, MediaRef, Medium

FULL: dict[str, Any] = {
    "media": [
        {"name": "text", "kind": "text"},
        {"name": "image", "kind": "image"},
        {"name": "audio", "kind": "audio"},
        {"name": "cloud", "kind": "pointcloud"},
    ],
    "controls": [
        {"name": "topic", "kind": "classification", "target": "text", "labels": ["a", "b", "c"], "multi": True},
        {"name": "sentiment", "kind": "classification", "target": "text", "labels": ["pos", "neg"]},
        {"name": "ents", "kind": "spans", "target": "text", "labels": ["PER", "ORG"]},
        {"name": "nested", "kind": "spans", "target": "text", "labels": ["X"], "allow_overlap": True},
        {"name": "rel", "kind": "relations", "target": "ents", "labels": ["works_for"]},
        {"name": "notes", "kind": "text_field", "target": "text"},
        {
            "name": "objects",
            "kind": "boxes",
            "target": "image",
            "labels": ["car", "person"],
            "attributes": [
                {"name": "occluded", "type": "bool", "required": True},
                {"name": "color", "type": "enum", "values": ["red", "blue"]},
                {"name": "conf", "type": "number", "min": 0, "max": 1},
                {"name": "note", "type": "text"},
            ],
        },
        {"name": "outline", "kind": "polygons", "target": "image", "labels": ["road"]},
        {
            "name": "pose",
            "kind": "keypoints",
            "target": "image",
            "labels": ["person"],
            "keypoints": ["l_eye", "r_eye", "nose"],
        },
        {"name": "speech", "kind": "segments", "target": "audio", "labels": ["speech", "noise"], "transcript": True},
        {"name": "boxes3d", "kind": "cuboids", "target": "cloud", "labels": ["car", "pedestrian"]},
        {"name": "seg", "kind": "point_labels", "target": "cloud", "labels": ["ground", "object"]},
        {"name": "link", "kind": "links", "source": "ents", "target": "objects"},
    ],
}

MEDIA = {
    "text": MediaRef.from_text("Alice works for ACME in Paris. 张伟在北京。"),
    "image": MediaRef(Medium.IMAGE, "0" * 64, "image/png", None, {"width": 640, "height": 480}),
    "audio": MediaRef(Medium.AUDIO, "1" * 64, "audio/wav", None, {"duration_s": 3.0}),
    "cloud": MediaRef(Medium.POINTCLOUD, "2" * 64, "application/x-pcd", None, {"points": 1000}),
}

BOX = {"id": "b1", "control": "objects", "label": "car", "xyxy": [10, 10, 100, 80], "attributes": {"occluded": False}}


@pytest.fixture(scope="module")
def full() -> LabelSchema:
    return LabelSchema.model_validate(FULL)


def _schema_with(control: dict[str, Any], media: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "media": media or [{"name": "text", "kind": "text"}, {"name": "image", "kind": "image"}],
        "controls": [control],
    }


@pytest.mark.parametrize(
    ("schema", "error"),
    [
        ({"media": []}, "at least 1 item"),
        ({"media": [{"name": "t", "kind": "video"}]}, "Input should be"),
        ({"media": [{"name": "t", "kind": "text"}, {"name": "t", "kind": "image"}]}, "duplicate media"),
        (_schema_with({"name": "c", "kind": "classification", "target": "text"}), "needs at least one label"),
        (_schema_with({"name": "c", "kind": "boxes", "target": "text", "labels": ["a"]}), "cannot target text"),
        (_schema_with({"name": "c", "kind": "spans", "target": "nowhere", "labels": ["a"]}), "not a media field"),
        (_schema_with({"name": "c", "kind": "relations", "target": "text", "labels": ["a"]}), "must target a spans"),
        (_schema_with({"name": "c", "kind": "keypoints", "target": "image", "labels": ["a"]}), "'keypoints' names"),
        (_schema_with({"name": "c", "kind": "boxes", "target": "image", "labels": ["a", "a"]}), "duplicate labels"),
        (_schema_with({"name": "c", "kind": "boxes", "target": "image", "labels": ["a"], "multi": True}), "'multi'"),
        (
            _schema_with({"name": "c", "kind": "boxes", "target": "image", "labels": ["a"], "allow_overlap": True}),
            "allow_overlap",
        ),
        (_schema_with({"name": "c", "kind": "links", "target": "image"}), "'source' is required"),
        (
            _schema_with(
                {
                    "name": "c",
                    "kind": "boxes",
                    "target": "image",
                    "labels": ["a"],
                    "attributes": [{"name": "x", "type": "enum"}],
                }
            ),
            "needs 'values'",
        ),
        (
            _schema_with(
                {
                    "name": "c",
                    "kind": "boxes",
                    "target": "image",
                    "labels": ["a"],
                    "attributes": [{"name": "x", "type": "number", "min": 2, "max": 1}],
                }
            ),
            "min 2.0 > max 1.0",
        ),
        (
            _schema_with({"name": "text", "kind": "classification", "target": "text", "labels": ["a"]}),
            "both a medium and a control",
        ),
        (
            _schema_with({"name": "bad name!", "kind": "classification", "target": "text", "labels": ["a"]}),
            "should match pattern",
        ),
        (
            _schema_with({"name": "c", "kind": "classification", "target": "text", "labels": ["a"], "colour": 1}),
            "Extra inputs are not permitted",
        ),
    ],
)
def test_invalid_schemas(schema: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        LabelSchema.model_validate(schema)


VALID_VALUES: list[list[dict[str, Any]]] = [
    [],
    [{"id": "t", "control": "topic", "labels": ["a", "c"]}],
    [{"id": "s", "control": "sentiment", "labels": ["pos"]}],
    [
        {"id": "e1", "control": "ents", "label": "PER", "start": 0, "end": 5, "text": "Alice"},
        {"id": "e2", "control": "ents", "label": "ORG", "start": 16, "end": 20},
        {"id": "r", "control": "rel", "label": "works_for", "from_id": "e1", "to_id": "e2"},
    ],
    [{"id": "z", "control": "ents", "label": "PER", "start": 31, "end": 33, "text": "张伟"}],
    [
        {"id": "n1", "control": "nested", "label": "X", "start": 0, "end": 10},
        {"id": "n2", "control": "nested", "label": "X", "start": 2, "end": 5},
    ],
    [{"id": "n", "control": "notes", "text": "free text ✓"}],
    [
        BOX,
        {
            "id": "b2",
            "control": "objects",
            "label": "person",
            "xyxy": [0, 0, 640, 480],
            "attributes": {"occluded": True, "color": "red", "conf": 0.5, "note": "hi"},
            "frame_index": 3,
            "track": "t1",
        },
    ],
    [{"id": "p", "control": "outline", "label": "road", "points": [[0, 0], [10, 0], [10, 10]]}],
    [{"id": "k", "control": "pose", "label": "person", "points": [[1, 1, 2], [2, 2, 1], [0, 0, 0]]}],
    [
        {"id": "a1", "control": "speech", "label": "speech", "start_s": 0.1, "end_s": 1.0, "transcript": "hello"},
        {"id": "a2", "control": "speech", "label": "noise", "start_s": 1.0, "end_s": 3.0},
    ],
    [{"id": "c", "control": "boxes3d", "label": "car", "center": [1, 2, 0.5], "size": [4.5, 1.8, 1.5], "yaw": 0.3}],
    [{"id": "g", "control": "seg", "label": "ground", "indices": [0, 1, 999]}],
    [
        {"id": "e1", "control": "ents", "label": "PER", "start": 0, "end": 5},
        BOX,
        {"id": "l", "control": "link", "from_id": "e1", "to_id": "b1"},
    ],
]


@pytest.mark.parametrize("value", VALID_VALUES)
def test_valid_values_pass_both_validators(full: LabelSchema, value: list[dict[str, Any]]) -> None:
    assert full.validate_value(value, MEDIA) == []
    jsonschema.validate(value, full.json_schema())


INVALID_VALUES: list[tuple[list[dict[str, Any]], str, bool]] = [
    # (value, expected problem, also rejected by the JSON Schema alone)
    (
        [{"id": "s", "control": "sentiment", "labels": ["meh"]}],
        "regions[0].labels.0: Input should be 'pos' or 'neg'",
        True,
    ),
    ([{"id": "s", "control": "sentiment", "labels": ["pos", "neg"]}], "exactly one label", False),
    (
        [
            {"id": "s", "control": "sentiment", "labels": ["pos"]},
            {"id": "t", "control": "sentiment", "labels": ["neg"]},
        ],
        "one classification region expected, got 2",
        False,
    ),
    ([{"id": "x", "control": "unknown"}], "does not match any of the expected tags", True),
    ([{"control": "notes", "text": "x"}], "regions[0].id: Field required", True),
    ([{"id": "n", "control": "notes", "text": "x", "colour": "red"}], "Extra inputs are not permitted", True),
    ([{"id": "e", "control": "ents", "label": "PER", "start": 5, "end": 5}], "must be greater than start", False),
    ([{"id": "e", "control": "ents", "label": "PER", "start": 0, "end": 500}], "past the end of the text", False),
    ([{"id": "e", "control": "ents", "label": "PER", "start": 0, "end": 5, "text": "Bobby"}], "does not match", False),
    (
        [
            {"id": "e1", "control": "ents", "label": "PER", "start": 0, "end": 10},
            {"id": "e2", "control": "ents", "label": "ORG", "start": 5, "end": 12},
        ],
        "does not allow overlap",
        False,
    ),
    (
        [{"id": "r", "control": "rel", "label": "works_for", "from_id": "nope", "to_id": "x"}],
        "no region with id",
        False,
    ),
    (
        [BOX, {"id": "r", "control": "rel", "label": "works_for", "from_id": "b1", "to_id": "b1"}],
        "belongs to 'objects'",
        False,
    ),
    ([{**BOX, "xyxy": [10, 10, 700, 80]}], "outside the 640x480 image", False),
    ([{**BOX, "xyxy": [50, 10, 40, 80]}], "must exceed", False),
    ([{**BOX, "xyxy": [10, 10, float("nan"), 80]}], "finite number", False),
    ([{**BOX, "attributes": {}}], "attributes.occluded: Field required", True),
    ([{**BOX, "attributes": {"occluded": "yes"}}], "valid boolean", True),
    ([{**BOX, "attributes": {"occluded": True, "color": "green"}}], "Input should be 'red' or 'blue'", True),
    ([{**BOX, "attributes": {"occluded": True, "conf": 2}}], "less than or equal to 1", True),
    ([{**BOX, "label": "tree"}], "Input should be 'car' or 'person'", True),
    ([BOX, {**BOX}], "duplicate region id", False),
    ([{"id": "p", "control": "outline", "label": "road", "points": [[0, 0], [10, 0]]}], "at least 3 items", True),
    ([{"id": "p", "control": "outline", "label": "road", "points": [[0, 0], [5, 5], [10, 10]]}], "zero area", False),
    ([{"id": "k", "control": "pose", "label": "person", "points": [[1, 1, 2]]}], "at least 3 items", True),
    (
        [{"id": "k", "control": "pose", "label": "person", "points": [[1, 1, 5], [1, 1, 1], [1, 1, 1]]}],
        "Input should be 0, 1 or 2",
        True,
    ),
    (
        [{"id": "a", "control": "speech", "label": "speech", "start_s": 2.0, "end_s": 1.0}],
        "greater than start_s",
        False,
    ),
    (
        [{"id": "a", "control": "speech", "label": "speech", "start_s": 0, "end_s": 9.0}],
        "past the end of the audio",
        False,
    ),
    (
        [
            {"id": "a1", "control": "speech", "label": "speech", "start_s": 0, "end_s": 2.0},
            {"id": "a2", "control": "speech", "label": "noise", "start_s": 1.0, "end_s": 3.0},
        ],
        "does not allow overlap",
        False,
    ),
    ([{"id": "c", "control": "boxes3d", "label": "car", "center": [1, 2], "size": [1, 1, 1]}], "center", True),
    (
        [{"id": "c", "control": "boxes3d", "label": "car", "center": [1, 2, 3], "size": [-1, 1, 1]}],
        "greater than or equal to 0",
        True,
    ),
    ([{"id": "g", "control": "seg", "label": "ground", "indices": [5, 1000]}], "out of range for 1000 points", False),
    ([{"id": "g", "control": "seg", "label": "ground", "indices": [5, 5]}], "duplicate point indices", False),
    (
        [
            {"id": "e1", "control": "ents", "label": "PER", "start": 0, "end": 5},
            {"id": "e2", "control": "ents", "label": "PER", "start": 6, "end": 9},
            {"id": "l", "control": "link", "from_id": "e1", "to_id": "e2"},
        ],
        "a link must join",
        False,
    ),
    ("not a list", "Input should be a valid list", True),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("value", "problem", "json_schema_rejects"), INVALID_VALUES)
def test_invalid_values_are_explained(
    full: LabelSchema, value: list[dict[str, Any]], problem: str, json_schema_rejects: bool
) -> None:
    problems = full.validate_value(value, MEDIA)
    assert problems, "expected a problem"
    assert any(problem in p for p in problems), problems
    if json_schema_rejects:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(value, full.json_schema())


def test_required_control() -> None:
    s = LabelSchema.model_validate(
        _schema_with({"name": "c", "kind": "classification", "target": "text", "labels": ["a"], "required": True})
    )
    assert s.validate_value([]) == ["control 'c': at least one region is required"]


def test_json_schema_is_a_valid_draft_2020_12_schema(full: LabelSchema) -> None:
    schema = full.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "array"


def test_schema_without_controls_accepts_only_empty_values() -> None:
    s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}]})
    assert s.validate_value([]) == []
    assert s.validate_value([{"id": "x"}])


def test_schema_round_trips_through_json(full: LabelSchema) -> None:
    assert LabelSchema.model_validate(full.model_dump(mode="json", exclude_defaults=True)) == full
