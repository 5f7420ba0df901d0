"""The fast acceptance check never accepts what the full validator refuses (differential test)."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson
import pytest

from labelloop.core import LabelSchema, MediaRef, Medium

SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "text", "kind": "text"}, {"name": "image", "kind": "image"}],
        "controls": [
            {"name": "mood", "kind": "classification", "target": "text", "labels": ["pos", "neg"]},
            {"name": "tags", "kind": "classification", "target": "text", "labels": ["a", "b", "c"], "multi": True},
            {"name": "ents", "kind": "spans", "target": "text", "labels": ["PER", "LOC"], "required": True},
            {"name": "loose", "kind": "spans", "target": "text", "labels": ["X"], "allow_overlap": True},
            {"name": "note", "kind": "text_field", "target": "text"},
            {
                "name": "lines",
                "kind": "polygons",
                "target": "image",
                "labels": ["text"],
                "min_points": 4,
                "attributes": [
                    {"name": "transcript", "type": "text"},
                    {"name": "lang", "type": "enum", "values": ["en", "zh"], "required": True},
                    {"name": "conf", "type": "number", "min": 0, "max": 1},
                    {"name": "hand", "type": "bool"},
                ],
            },
            {"name": "boxes", "kind": "boxes", "target": "image", "labels": ["car"]},
            {"name": "rel", "kind": "relations", "target": "ents", "labels": ["near"]},
        ],
    }
)
TEXT = "Ann met 张伟 in Paris 😀 today."
MEDIA = {
    "text": MediaRef.from_text(TEXT),
    "image": MediaRef(Medium.IMAGE, "0" * 64, "image/png", None, {"width": 100, "height": 50}),
}
VALID: list[dict[str, Any]] = [
    {"id": "m", "control": "mood", "labels": ["pos"]},
    {"id": "t", "control": "tags", "labels": ["a", "c"]},
    {"id": "e1", "control": "ents", "label": "PER", "start": 0, "end": 3, "text": "Ann"},
    {"id": "e2", "control": "ents", "label": "PER", "start": 8, "end": 10, "text": "张伟"},
    {"id": "e3", "control": "ents", "label": "LOC", "start": 14, "end": 19},
    {"id": "x1", "control": "loose", "label": "X", "start": 0, "end": 10},
    {"id": "x2", "control": "loose", "label": "X", "start": 2, "end": 5},
    {"id": "n", "control": "note", "text": "free text ✓"},
    {
        "id": "p",
        "control": "lines",
        "label": "text",
        "points": [[1, 1], [40.5, 1], [40.5, 20], [1, 20]],
        "attributes": {"transcript": "Paris", "lang": "en", "conf": 0.5, "hand": False},
    },
    {"id": "b", "control": "boxes", "label": "car", "xyxy": [0, 0, 99.5, 50], "frame_index": 0, "track": "t1"},
]
ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 3.0, 2.5, -0.0, float("nan"), float("inf"), 10**20, "", "x", "Ann",
    "\udc80", "pos", "PER", "en", [], [1], [1, 2], (1, 2), {}, {"a": 1}, [[0, 0]], ["pos"], ["pos", "pos"],
    [1, 2, 3], [0.5, -1, 2], (1.0, 2.0, 3.0), [1, 2, float("nan")], "lidar", "x" * 65,
]  # fmt: skip
CLOUD = LabelSchema.model_validate(
    {
        "media": [{"name": "cloud", "kind": "pointcloud"}],
        "controls": [
            {"name": "objects", "kind": "cuboids", "target": "cloud", "labels": ["car", "pedestrian"]},
            {
                "name": "tagged", "kind": "cuboids", "target": "cloud", "labels": ["sign"], "required": True,
                "attributes": [{"name": "occluded", "type": "bool", "required": True}],
            },
        ],
    }
)  # fmt: skip
CLOUD_MEDIA = {"cloud": MediaRef(Medium.POINTCLOUD, "1" * 64, "application/x-pcd", None, {"points": 1000})}
CLOUD_VALID: list[dict[str, Any]] = [
    {"id": "c1", "control": "objects", "label": "car", "center": [1.5, -2, 0.8], "size": [4.2, 1.8, 1.5], "yaw": 0.3},
    {"id": "c2", "control": "objects", "label": "pedestrian", "center": (0, 0, 0), "size": [0.6, 0.6, 1.8],
     "frame": "lidar_top", "frame_index": 2, "track": "p7"},
    {"id": "s", "control": "tagged", "label": "sign", "center": [5, 5, 2], "size": [0, 0.1, 1.0],
     "attributes": {"occluded": False}},
]  # fmt: skip


def _full(value: Any, schema: LabelSchema = SCHEMA, media: dict[str, MediaRef] = MEDIA) -> list[str]:
    return schema._full_problems(value, media)


def _mutate(rng: random.Random, value: list[dict[str, Any]]) -> list[Any]:
    out: list[Any] = copy.deepcopy(value)
    for _ in range(rng.randint(1, 3)):
        if not out:
            break
        k = rng.randrange(len(out))
        region = out[k]
        op = rng.randrange(7)
        if op == 0 and isinstance(region, dict) and region:  # replace a field's value
            key = rng.choice(sorted(region))
            region[key] = rng.choice(ODD_VALUES)
        elif op == 1 and isinstance(region, dict) and region:  # drop a field
            region.pop(rng.choice(sorted(region)))
        elif op == 2 and isinstance(region, dict):  # add a field
            key = rng.choice(["extra", "attributes", "text", "frame_index", "track", "labels", "label", "yaw", "frame"])
            region[key] = rng.choice(ODD_VALUES)
        elif op == 3:  # duplicate a region (same id, or a twin with a new id)
            twin = copy.deepcopy(region)
            if isinstance(twin, dict) and rng.random() < 0.5:
                twin["id"] = f"{twin.get('id')}-twin"
            out.append(twin)
        elif op == 4:  # drop a region
            out.pop(k)
        elif op == 5 and isinstance(region, dict):  # shift numbers inside
            for key in ("start", "end"):
                if isinstance(region.get(key), int):
                    region[key] += rng.choice([-3, -1, 1, 7, 40])
            if isinstance(region.get("yaw"), float | int):
                region["yaw"] = rng.choice([-1e300, 1e308 * 10, 7, -0.0])
            for key in ("xyxy", "points", "center", "size"):
                if isinstance(region.get(key), list) and region[key]:
                    i = rng.randrange(len(region[key]))
                    region[key][i] = rng.choice([-1, 0, 200, [0, 0], [1.5, 2.5], 7])
        elif op == 6 and isinstance(region, dict) and isinstance(region.get("attributes"), dict):
            attrs = region["attributes"]
            attrs[rng.choice(["transcript", "lang", "conf", "hand", "occluded", "other"])] = rng.choice(ODD_VALUES)
    return out


def test_the_valid_value_takes_the_fast_path() -> None:
    assert _full(VALID) == []
    assert SCHEMA.is_known_good(VALID, MEDIA)
    assert SCHEMA.validate_value(VALID, MEDIA) == []


def _differential(seed: int, schema: LabelSchema, media: dict[str, MediaRef], valid: list[dict[str, Any]]) -> None:
    """Mutated values: what the fast check accepts the full validator accepts, and is plain JSON."""
    rng = random.Random(seed)
    accepted = refused = 0
    for _ in range(1500):
        value = _mutate(rng, valid)
        if schema.is_known_good(value, media):
            accepted += 1
            assert _full(value, schema, media) == [], value
            orjson.dumps(value)  # exact JSON types only (raises on surrogates, numpy, non-str keys)
            assert "NaN" not in repr(value) and "inf" not in repr(value)
        else:
            refused += 1
            # the public entry point still answers exactly as the full validator
            assert schema.validate_value(value, media) == _full(value, schema, media)
    assert accepted > 100 and refused > 100  # both paths were exercised


@pytest.mark.parametrize("seed", range(4))
def test_fast_acceptance_implies_full_validity_and_plain_json(seed: int) -> None:
    _differential(seed, SCHEMA, MEDIA, VALID)


@pytest.mark.parametrize(
    "region",
    [
        {"id": "e", "control": "ents", "label": "PER", "start": 0.0, "end": 3},  # coercible: full validator decides
        {"id": "e", "control": "ents", "label": "PER", "start": True, "end": 3},
        {"id": "m", "control": "mood", "labels": ("pos",)},
        {"id": "p", "control": "lines", "label": "text", "points": [[1, 1], [2, 2], [3, 3], [4, 4]]},  # zero area
        {"id": "b", "control": "boxes", "label": "car", "xyxy": [0, 0, 101, 10]},  # outside the 100x50 image
        {"id": "r", "control": "rel", "label": "near", "from_id": "e1", "to_id": "e2"},  # relations: not handled
        {"id": "n", "control": "note", "text": "bad \udc80 surrogate"},
        {"id": "e", "control": ["ents"], "label": "PER", "start": 0, "end": 3},
    ],
)
def test_odd_or_unhandled_regions_fall_back(region: dict[str, Any]) -> None:
    value = [*VALID, region]
    assert not SCHEMA.is_known_good(value, MEDIA)
    assert SCHEMA.validate_value(value, MEDIA) == _full(value)


def test_overlaps_duplicates_and_required_controls_are_left_to_the_full_validator() -> None:
    overlap = [*VALID, {"id": "e4", "control": "ents", "label": "LOC", "start": 15, "end": 17}]
    dup_id = [*VALID, {"id": "m", "control": "note", "text": "x"}]
    two_moods = [*VALID, {"id": "m2", "control": "mood", "labels": ["neg"]}]
    no_required = [r for r in VALID if r["control"] != "ents"]
    wrong_text = [{**r, "text": "Bob"} if r["id"] == "e1" else r for r in VALID]
    for value in (overlap, dup_id, two_moods, no_required, wrong_text):
        assert not SCHEMA.is_known_good(value, MEDIA)
        assert _full(value) != []


def test_cuboids_take_the_fast_path() -> None:
    assert _full(CLOUD_VALID, CLOUD, CLOUD_MEDIA) == []
    assert CLOUD.is_known_good(CLOUD_VALID, CLOUD_MEDIA)


@pytest.mark.parametrize("seed", range(4))
def test_fast_cuboid_acceptance_implies_full_validity(seed: int) -> None:
    _differential(seed, CLOUD, CLOUD_MEDIA, CLOUD_VALID)


@pytest.mark.parametrize(
    "region",
    [
        {"id": "k", "control": "objects", "label": "car", "center": [0, 0], "size": [1, 1, 1]},  # two numbers
        {"id": "k", "control": "objects", "label": "car", "center": [0, 0, 0], "size": [1, -1, 1]},  # negative size
        {"id": "k", "control": "objects", "label": "car", "center": [0, 0, float("nan")], "size": [1, 1, 1]},
        {"id": "k", "control": "objects", "label": "car", "center": [0, 0, 0], "size": [1, 1, 1], "yaw": None},
        {"id": "k", "control": "objects", "label": "car", "center": [0, 0, 0], "size": [1, 1, 1], "frame": ""},
        {"id": "k", "control": "objects", "label": "car", "center": ["0", 0, 0], "size": [1, 1, 1]},  # coercible
        {"id": "k", "control": "objects", "label": "bus", "center": [0, 0, 0], "size": [1, 1, 1]},  # unknown label
        {"id": "k", "control": "objects", "label": "car", "center": [0, 0, 0], "size": [True, 1, 1]},
    ],
)
def test_odd_cuboids_fall_back(region: dict[str, Any]) -> None:
    value = [*CLOUD_VALID, region]
    assert not CLOUD.is_known_good(value, CLOUD_MEDIA)
    assert CLOUD.validate_value(value, CLOUD_MEDIA) == _full(value, CLOUD, CLOUD_MEDIA)


@pytest.mark.parametrize("big", [10**20, -(2**63) - 1])
def test_values_json_cannot_hold_are_refused_with_a_reason(big: int) -> None:
    """A valid-looking value the store could not write (orjson: 64-bit integers) is a problem, not a crash."""
    value = [*CLOUD_VALID, {"id": "k", "control": "objects", "label": "car", "center": [big, 0, 0], "size": [1, 1, 1]}]
    assert not CLOUD.is_known_good(value, CLOUD_MEDIA)
    assert CLOUD.validate_value(value, CLOUD_MEDIA) == [
        "regions: cannot be stored as JSON (Integer exceeds 64-bit range)"
    ]
