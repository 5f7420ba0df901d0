"""OpenLABEL 1.0 in: round trips (import -> export -> import) for cuboids and 2D boxes/polygons; bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import ItemError, LabelSchema, MediaRef, Medium
from labelloop.formats import ExportRecord, ImportedItem
from labelloop.formats._openlabel_read import import_openlabel, yaw_from_quaternion
from labelloop.formats.openlabel import export_openlabel
from tests.formats.fmt_helpers import MediaStore, box, make_item, poly

CLOUD = LabelSchema.model_validate(
    {
        "media": [{"name": "lidar", "kind": "pointcloud"}],
        "controls": [
            {
                "name": "boxes3d",
                "kind": "cuboids",
                "target": "lidar",
                "labels": ["Car", "Pedestrian"],
                "attributes": [{"name": "occluded", "type": "bool"}],
            }
        ],
    }
)
IMAGE = LabelSchema.model_validate(
    {
        "media": [{"name": "image", "kind": "image"}],
        "controls": [
            {"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat", "dog"]},
            {"name": "outline", "kind": "polygons", "target": "image", "labels": ["cat", "dog"]},
        ],
    }
)


def _cub(rid: str, label: str, c: list[float], s: list[float], yaw: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "control": "boxes3d",
        "label": label,
        "center": c,
        "size": s,
        "yaw": yaw,
        "frame": "lidar",
    } | extra


def _cloud_records(tmp_path: Path) -> tuple[list[ExportRecord], dict[str, Path]]:
    files = {}
    recs = []
    for i in range(2):
        p = tmp_path / "src" / f"{i}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(bytes([i]) * 32)
        sha = f"{i + 10:064x}"
        files[sha] = p
        ref = MediaRef(Medium.POINTCLOUD, sha, "application/x-kitti-bin", None, {"points": 2})
        value = [
            _cub("c1", "Car", [10.0, 2.0, -0.8], [4.2, 1.8, 1.5], 0.3, attributes={"occluded": True}),
            _cub("c2", "Pedestrian", [5, -3, 0], [0.6, 0.5, 1.7], -2.5 + i),
        ]
        recs.append(ExportRecord(make_item(i + 1, ref, f"scan/{i:04d}.bin", field="lidar"), value, split="val"))
    return recs, files


def _norm(regions: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    out = []
    for r in regions:
        geom: list[float] = []
        for k in ("center", "size", "xyxy"):
            geom += [float(x) for x in r.get(k, [])]
        geom += [float(c) for p in r.get("points", []) for c in p]
        if "yaw" in r:
            geom.append(math.remainder(float(r["yaw"]), 2 * math.pi))
        out.append(
            (r["id"], r["control"], r["label"], r.get("frame"), r.get("attributes"), [round(g, 9) for g in geom])
        )
    return sorted(out, key=lambda t: (t[0], t[1]))


def _reexport(got: list[ImportedItem | ItemError], schema: LabelSchema, field: str, kind: Medium, out: Path) -> None:
    items = [g for g in got if isinstance(g, ImportedItem)]
    recs = [
        ExportRecord(
            make_item(i, MediaRef(kind, f"{i:064x}", "x/y", None, dict(g.meta)), g.key, field=field),
            g.regions,
            split=g.meta["split"],
        )
        for i, g in enumerate(items, 1)
    ]
    paths = {f"{i:064x}": g.path for i, g in enumerate(items, 1)}
    export_openlabel(recs, schema, out, paths.__getitem__)  # type: ignore[arg-type]


def test_cuboid_round_trip(tmp_path: Path) -> None:
    recs, files = _cloud_records(tmp_path)
    export_openlabel(recs, CLOUD, tmp_path / "o1", files.__getitem__)
    got = list(import_openlabel(tmp_path / "o1", CLOUD))
    items = [g for g in got if isinstance(g, ImportedItem)]
    assert len(items) == 2 and len(got) == 2, got
    assert [_norm(g.regions) for g in items] == [_norm(r.value or []) for r in recs]
    assert {g.meta["split"] for g in items} == {"val"}
    _reexport(got, CLOUD, "lidar", Medium.POINTCLOUD, tmp_path / "o2")
    again = list(import_openlabel(tmp_path / "o2", CLOUD))
    assert [_norm(g.regions) for g in again if isinstance(g, ImportedItem)] == [_norm(g.regions) for g in items]


def test_boxes_and_polygons_round_trip(tmp_path: Path) -> None:
    media = MediaStore(tmp_path / "m")
    value = [box("b", "cat", [1, 2, 20.5, 22]), poly("p", "dog", [[1, 1], [9, 1], [9, 7.25]])]
    recs = [ExportRecord(make_item(1, media.image(40, 30), "img/a.png"), value)]
    export_openlabel(recs, IMAGE, tmp_path / "o1", media)
    (got,) = list(import_openlabel(tmp_path / "o1", IMAGE))
    assert isinstance(got, ImportedItem), got
    assert _norm(got.regions) == _norm(value)


def test_imported_documents_validate_against_the_asam_schema_when_exported_again(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_mod = pytest.importorskip("vcd.schema")
    recs, files = _cloud_records(tmp_path)
    export_openlabel(recs, CLOUD, tmp_path / "o1", files.__getitem__)
    _reexport(list(import_openlabel(tmp_path / "o1", CLOUD)), CLOUD, "lidar", Medium.POINTCLOUD, tmp_path / "o2")
    docs = sorted((tmp_path / "o2").rglob("*.json"))
    assert len(docs) == 2
    for doc in docs:
        jsonschema.Draft7Validator(schema_mod.openlabel_schema).validate(json.loads(doc.read_text()))


def test_yaw_from_quaternion() -> None:
    for yaw in (0.0, 0.3, -2.5, math.pi - 1e-6):
        q = (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))
        assert math.isclose(yaw_from_quaternion(*q), yaw, abs_tol=1e-12)
    with pytest.raises(ValueError, match="tilted"):
        yaw_from_quaternion(0.2, 0.0, 0.0, 0.98)


def _doc(tmp_path: Path, **changes: Any) -> Path:
    recs, files = _cloud_records(tmp_path)
    export_openlabel(recs[:1], CLOUD, tmp_path / "o", files.__getitem__)
    path = next((tmp_path / "o").rglob("*.json"))
    doc = json.loads(path.read_text())
    ol = doc["openlabel"]
    for key, fn in changes.items():
        fn(ol) if callable(fn) else ol.__setitem__(key, fn)
    path.write_text(json.dumps(doc))
    return tmp_path / "o"


def _cuboid(ol: dict[str, Any]) -> dict[str, Any]:
    return ol["frames"]["0"]["objects"]["0"]["object_data"]["cuboid"][0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda ol: _cuboid(ol).update(val=[1, 2, 3, 0.3, 0, 0, 0.95, 4, 2, 1]), "tilted"),
        (lambda ol: _cuboid(ol).update(val=[1, 2, 3]), "cuboid val: expected 9 or 10 finite numbers"),
        (lambda ol: _cuboid(ol).update(name="nope"), "names control 'nope'"),
        (lambda ol: ol["streams"]["lidar"].update(uri="../../../etc/passwd"), "expected a relative path inside"),
        (lambda ol: ol["streams"]["lidar"].update(uri="gone.bin"), "media file 'gone.bin' is missing"),
        (lambda ol: ol["streams"].update(cam={"type": "camera", "uri": "x"}, image={"uri": "y"}), "exactly one stream"),
        (lambda ol: ol["objects"]["0"].update(type="Bus"), "Input should be 'Car' or 'Pedestrian'"),
        (lambda ol: ol["objects"].pop("0"), "not declared in objects"),
    ],
)
def test_bad_documents_are_refused_by_name(tmp_path: Path, change: Any, reason: str) -> None:
    schema = CLOUD
    if "stream" in reason:
        schema = LabelSchema.model_validate(
            {
                "media": [{"name": "lidar", "kind": "pointcloud"}, {"name": "image", "kind": "image"}],
                "controls": CLOUD.model_dump(mode="json", exclude_defaults=True)["controls"],
            }
        )
    root = _doc(tmp_path, x=change)
    (err,) = list(import_openlabel(root, schema))
    assert isinstance(err, ItemError) and reason in err.reason, err
    assert err.source.endswith(".json")
