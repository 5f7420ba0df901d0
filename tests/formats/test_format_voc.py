"""Pascal VOC exporter/importer, checked with supervision.from_pascal_voc and defusedxml."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelloop.core import ItemError, LabelSchema
from labelloop.formats._base import ExportRecord, ImportedItem, fmt_num
from labelloop.formats.voc import ENTITIES_REFUSED, export_voc, import_voc, parse_voc_xml
from tests.formats.fmt_helpers import BOX_SCHEMA, MediaStore, box, close, geometry, make_item


def _records(store: MediaStore) -> list[ExportRecord]:
    a, b, c = store.image(100, 50), store.image(64, 64, (1, 2, 3)), store.image(30, 20, (5, 5, 5))
    return [
        ExportRecord(make_item(1, a, "a.png"), [box("b1", "dog", [10, 5, 50, 45]), box("b2", "cat", [0, 0, 100, 50])]),
        ExportRecord(make_item(2, b, "b.png", split="val"), [box("b3", "bird", [1.5, 2.25, 33.3, 63.9])]),
        ExportRecord(make_item(3, c, "<bg>.png"), []),
    ]


def test_export_is_valid_voc_read_by_defusedxml_and_supervision(tmp_path: Path) -> None:
    from defusedxml import ElementTree as DefusedET

    store = MediaStore(tmp_path / "blobs")
    out = tmp_path / "voc"
    report = export_voc(_records(store), BOX_SCHEMA, out, store)
    assert report.ok and report.items == 3 and report.regions == 3
    assert (out / "ImageSets" / "Main" / "train.txt").read_text().split() == ["a", "bg"]
    assert (out / "ImageSets" / "Main" / "val.txt").read_text().split() == ["b"]
    doc = DefusedET.parse(out / "Annotations" / "a.xml").getroot()
    assert doc.findtext("filename") == "a.png" and doc.findtext("size/width") == "100"
    objs = doc.findall("object")
    assert [o.findtext("name") for o in objs] == ["dog", "cat"]
    assert [objs[0].findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")] == ["11", "6", "50", "45"]
    sv = pytest.importorskip("supervision")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = sv.DetectionDataset.from_pascal_voc(str(out / "JPEGImages"), str(out / "Annotations"))
    dets = {Path(p).name: d for p, _img, d in ds}
    assert len(dets) == 3 and len(dets["bg.png"]) == 0
    got = sorted(
        (ds.classes[c], tuple(x)) for c, x in zip(dets["a.png"].class_id, dets["a.png"].xyxy.tolist(), strict=True)
    )
    assert got == [("cat", (0, 0, 100, 50)), ("dog", (10, 5, 50, 45))]
    b = dets["b.png"].xyxy[0].tolist()
    assert b == pytest.approx([1.5, 2.25, 33.3, 63.9], abs=1e-4)  # float32 in supervision


FLAG_SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "image", "kind": "image"}],
        "controls": [
            {
                "name": "objects",
                "kind": "boxes",
                "target": "image",
                "labels": ["cat", "dog"],
                "attributes": [{"name": "truncated", "type": "bool"}, {"name": "difficult", "type": "bool"}],
            }
        ],
    }
)


def test_truncated_and_difficult_come_from_bool_attributes(tmp_path: Path) -> None:
    from defusedxml import ElementTree as DefusedET

    store = MediaStore(tmp_path / "blobs")
    flags = [{"truncated": True}, {"difficult": True, "truncated": False}, {}, None]
    value = [box(f"b{i}", "cat", [1, 2, 3.5, 4.25]) | {"attributes": a} for i, a in enumerate(flags)]
    rec = ExportRecord(make_item(1, store.image(10, 10), "x.png"), value)
    report = export_voc([rec], FLAG_SCHEMA, tmp_path / "v", store)
    assert report.ok, report.errors
    objs = DefusedET.parse(tmp_path / "v" / "Annotations" / "x.xml").getroot().findall("object")
    got_flags = [(o.findtext("truncated"), o.findtext("difficult")) for o in objs]
    assert got_flags == [("1", "0"), ("0", "1"), ("0", "0"), ("0", "0")]
    assert [o.findtext("bndbox/xmax") for o in objs] == ["3.5"] * 4
    (got,) = import_voc(tmp_path / "v", FLAG_SCHEMA)
    assert isinstance(got, ImportedItem)
    assert [r.get("attributes") for r in got.regions] == [
        {"difficult": False, "truncated": True},
        {"difficult": True, "truncated": False},
        {"difficult": False, "truncated": False},
        {"difficult": False, "truncated": False},
    ]


@given(st.one_of(st.integers(min_value=-(10**300), max_value=10**300), st.sampled_from([2**53 - 1, 2**53, 2**53 + 1])))
def test_fmt_num_of_an_int_is_that_of_its_float(v: int) -> None:
    assert fmt_num(v) == fmt_num(float(v))


def test_round_trip_with_our_importer(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "blobs")
    records = _records(store)
    export_voc(records, BOX_SCHEMA, tmp_path / "voc", store)
    got = list(import_voc(tmp_path / "voc", BOX_SCHEMA))
    assert all(isinstance(x, ImportedItem) for x in got), got
    items = {x.key: x for x in got if isinstance(x, ImportedItem)}
    assert items["b.png"].meta["split"] == "val" and items["a.png"].meta["split"] == "train"
    assert close(geometry(records[0].value or []), geometry(items["a.png"].regions))
    assert close(geometry(records[1].value or []), geometry(items["b.png"].regions))
    assert items["bg.png"].regions == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<annotation><filename>&lol3;</filename></annotation>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>&xxe;</filename></annotation>"""
DOCTYPE_SYSTEM = b"""<?xml version="1.0"?><!DOCTYPE annotation SYSTEM "file:///etc/passwd"><annotation/>"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, EXTERNAL, DOCTYPE_SYSTEM])
def test_entities_and_dtds_are_refused(tmp_path: Path, payload: bytes) -> None:
    with pytest.raises(ValueError, match=ENTITIES_REFUSED):
        parse_voc_xml(payload)
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "evil.xml").write_bytes(payload)
    (err,) = list(import_voc(tmp_path, BOX_SCHEMA))
    assert isinstance(err, ItemError) and err.reason == ENTITIES_REFUSED and err.source == "Annotations/evil.xml"


def _xml(filename: str, obj: str = "") -> str:
    return (
        f"<annotation><filename>{filename}</filename><size><width>20</width><height>20</height></size>"
        f"{obj}</annotation>"
    )


def _obj(name: str, xmin: str = "1", ymin: str = "1", xmax: str = "5", ymax: str = "5") -> str:
    return (
        f"<object><name>{name}</name><bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
        f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>"
    )


def test_hostile_and_broken_files_are_item_errors(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "Annotations").mkdir()
    Image.new("RGB", (20, 20)).save(tmp_path / "JPEGImages" / "ok.png")
    (tmp_path / "secret.png").write_bytes(b"secret")
    files = {
        "a_ok": _xml("ok.png", _obj("cat", "0", "0")),
        "b_escape": _xml("../secret.png"),
        "c_abs": _xml(str(tmp_path / "secret.png")),
        "d_missing": _xml("nope.png"),
        "e_class": _xml("ok.png", _obj("unicorn")),
        "f_nan": _xml("ok.png", _obj("cat", "nan")),
        "g_broken": "<annotation><filename>ok.png",
    }
    for stem, text in files.items():
        (tmp_path / "Annotations" / f"{stem}.xml").write_text(text)
    out = list(import_voc(tmp_path, BOX_SCHEMA))
    ok = [x for x in out if isinstance(x, ImportedItem)]
    assert len(ok) == 1 and ok[0].regions[0]["xyxy"] == [0.0, 0.0, 5.0, 5.0]
    reasons = {Path(e.source).stem: e.reason for e in out if isinstance(e, ItemError)}
    assert "inside the dataset folder" in reasons["b_escape"]
    assert "inside the dataset folder" in reasons["c_abs"]
    assert "missing image" in reasons["d_missing"]
    assert "unicorn" in reasons["e_class"]
    assert "finite" in reasons["f_nan"]
    assert "malformed XML" in reasons["g_broken"]
