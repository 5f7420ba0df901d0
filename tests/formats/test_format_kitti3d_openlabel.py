"""KITTI 3D (parsed back by our importer, numeric round trip) and OpenLABEL 1.0 (jsonschema)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelloop.core import ItemError, LabelSchema, MediaRef, Medium
from labelloop.formats._base import ExportRecord, ImportedItem, fmt_num
from labelloop.formats.kitti3d import KittiCalib, export_kitti3d, fmt_nums9, import_kitti3d
from labelloop.formats.openlabel import export_openlabel
from tests.formats.fmt_helpers import MediaStore, make_item

SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "lidar", "kind": "pointcloud"}, {"name": "cam", "kind": "image"}],
        "controls": [
            {"name": "boxes3d", "kind": "cuboids", "target": "lidar", "labels": ["Car", "Pedestrian"]},
            {"name": "boxes2d", "kind": "boxes", "target": "cam", "labels": ["Car", "Pedestrian"]},
            {"name": "same", "kind": "links", "source": "boxes3d", "target": "boxes2d"},
        ],
    }
)


def _cub(rid: str, label: str, c: list[float], s: list[float], yaw: float) -> dict[str, object]:
    return {"id": rid, "control": "boxes3d", "label": label, "center": c, "size": s, "yaw": yaw, "frame": "lidar"}


CUBOIDS = [
    _cub("c1", "Car", [10.0, 2.0, -0.8], [4.2, 1.8, 1.5], 0.3),
    _cub("c2", "Pedestrian", [5, -3, 0], [0.6, 0.5, 1.7], -2.5),
]


_EDGES = [0.0, -0.0, 1e-4, -1e-4, 0.00009999999995, 8.459776330097977e-05, 1.23456e-5, 5e-10, -4e-10]
_EDGES += [999999.9999999999, -999999.123456789, 1e6, 12345678.123456789, 1e16, 1e22]
_NUMBERS = st.one_of(
    st.floats(),
    st.floats(min_value=-1e7, max_value=1e7),
    st.floats(min_value=-1e-3, max_value=1e-3),
    st.integers(min_value=-(10**7), max_value=10**7),
    st.sampled_from(_EDGES),
)


def _fmt_nums9_slow(values: list[float]) -> str:
    return " ".join(fmt_num(round(v, 9)) for v in values)


def test_fmt_nums9_on_the_edges_of_its_fast_path() -> None:
    values = [x * s * k for x in _EDGES for s in (1, -1) for k in (1, 1.0000001, 0.9999999)]
    assert fmt_nums9(values) == _fmt_nums9_slow(values)


@given(st.lists(_NUMBERS, max_size=16))
def test_fmt_nums9_is_fmt_num_of_the_rounded_values(values: list[float]) -> None:
    assert fmt_nums9(values) == _fmt_nums9_slow(values)


def _records(tmp_path: Path) -> tuple[list[ExportRecord], dict[str, Path]]:
    cloud = tmp_path / "pc.bin"
    cloud.write_bytes(b"\x00" * 32)
    ref = MediaRef(Medium.POINTCLOUD, "c" * 64, "application/x-kitti-bin", None, {"points": 2})
    recs = [
        ExportRecord(make_item(1, ref, "scan/0001.bin", field="lidar"), list(CUBOIDS)),
        ExportRecord(make_item(2, ref, "scan/0002.bin", field="lidar"), [CUBOIDS[0] | {"center": [1, 2, math.nan]}]),
    ]
    return recs, {"c" * 64: cloud}


def _same(a: list[dict[str, object]], b: list[dict[str, object]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x["label"] == y["label"]
        for k in ("center", "size"):
            assert all(abs(float(u) - float(v)) < 1e-6 for u, v in zip(x[k], y[k], strict=True))  # type: ignore[call-overload]
        assert abs(math.remainder(float(x["yaw"]) - float(y["yaw"]), 2 * math.pi)) < 1e-6  # type: ignore[arg-type]


@pytest.mark.parametrize("calib", [None, KittiCalib(
    tr_velo_to_cam=[[0.0, -1.0, 0.0, 0.1], [0.0, 0.0, -1.0, -0.2], [1.0, 0.0, 0.0, -0.3]],
    r0_rect=[[math.cos(0.01), 0.0, math.sin(0.01)], [0.0, 1.0, 0.0], [-math.sin(0.01), 0.0, math.cos(0.01)]],
    p2=[[700.0, 0.0, 600.0, 0.0], [0.0, 700.0, 180.0, 0.0], [0.0, 0.0, 1.0, 0.0]], has_camera=True)])  # fmt: skip
def test_kitti_round_trip(tmp_path: Path, calib: KittiCalib | None) -> None:
    recs, files = _records(tmp_path)
    report = export_kitti3d(recs, SCHEMA, tmp_path / "k", files.__getitem__, calib=calib)
    assert report.items == 1 and len(report.errors) == 1
    line = (tmp_path / "k" / "label_2" / "000000.txt").read_text().splitlines()[0].split()
    assert len(line) == 15 and line[0] == "Car"
    h, w, ln = map(float, line[8:11])
    assert (h, w, ln) == (1.5, 1.8, 4.2)
    if calib is None:
        assert [float(v) for v in line[11:14]] == pytest.approx([-2.0, 0.8 + 0.75, 10.0])  # bottom centre
        assert float(line[14]) == pytest.approx(-0.3 - math.pi / 2)
    else:
        left, top, right, bottom = map(float, line[4:8])
        assert 0 < left < right and 0 < top < bottom
    (got,) = list(import_kitti3d(tmp_path / "k", SCHEMA))
    assert isinstance(got, ImportedItem) and got.key == "scan/0001.bin" and got.path is not None
    _same(got.regions, CUBOIDS)


def test_kitti_hostile_labels(tmp_path: Path) -> None:
    (tmp_path / "label_2").mkdir()
    good = "Car 0 0 0 0 0 0 0 1.5 1.8 4.2 1 1.6 10 0\n"
    (tmp_path / "label_2" / "000000.txt").write_text(good)
    (tmp_path / "label_2" / "000001.txt").write_text(good.replace("10 0", "nan 0"))
    (tmp_path / "label_2" / "000002.txt").write_text(good.replace("Car", "Zebra"))
    (tmp_path / "label_2" / "000003.txt").write_text("Car 1 2\n")
    (tmp_path / "labelloop_keys.tsv").write_text("000000\t../../etc/passwd\n")
    got = list(import_kitti3d(tmp_path, SCHEMA))
    assert isinstance(got[0], ImportedItem) and got[0].path is None
    assert [type(g) for g in got[1:]] == [ItemError] * 3
    reasons = [g.reason for g in got[1:] if isinstance(g, ItemError)]
    assert "finite" in reasons[0] and "Input should be" in reasons[1] and "15 fields" in reasons[2]


def test_openlabel_validates_against_asam_schema(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_mod = pytest.importorskip("vcd.schema")  # the ASAM OpenLABEL 1.0.0 schema vendored by the vcd package
    recs, files = _records(tmp_path)
    store = MediaStore(tmp_path / "img")
    cam = store.image(320, 240)
    for r in recs:
        r.item.data["cam"] = cam
    recs[0] = ExportRecord(
        recs[0].item,
        [
            *CUBOIDS,
            {"id": "b1", "control": "boxes2d", "label": "Car", "xyxy": [10, 20, 110, 80]},
            {"id": "l1", "control": "same", "from_id": "c1", "to_id": "b1"},
        ],
    )

    def media(sha: str) -> Path:
        return files[sha] if sha in files else store(sha)

    report = export_openlabel(recs, SCHEMA, tmp_path / "ol", media)
    assert report.items == 1 and report.regions == 4 and len(report.errors) == 1
    (doc_path,) = (tmp_path / "ol" / "train").glob("*.json")
    doc = json.loads(doc_path.read_text())
    jsonschema.Draft7Validator(schema_mod.openlabel_schema).validate(doc)
    ol = doc["openlabel"]
    assert ol["metadata"]["schema_version"] == "1.0.0"
    assert {s["type"] for s in ol["streams"].values()} == {"lidar", "camera"}
    assert (doc_path.parent / ol["streams"]["lidar"]["uri"]).is_file()
    assert len(ol["objects"]) == 2  # the linked cuboid and box are one object
    data = [o["object_data"] for o in ol["frames"]["0"]["objects"].values()]
    car = next(d for d in data if "bbox" in d)
    assert car["bbox"][0]["val"] == [60.0, 50.0, 100.0, 60.0]
    x, y, z, qx, qy, qz, qw, *size = car["cuboid"][0]["val"]
    assert [x, y, z, *size] == [10.0, 2.0, -0.8, 4.2, 1.8, 1.5]
    assert 2 * math.atan2(qz, qw) == pytest.approx(0.3) and qx == qy == 0
    assert car["cuboid"][0]["coordinate_system"] in ol["coordinate_systems"]
    bad = json.loads(json.dumps(doc))
    bad["openlabel"]["frames"]["0"]["unknown"] = 1  # additionalProperties: false on frames
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema_mod.openlabel_schema)
