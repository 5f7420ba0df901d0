"""Zip artifacts: every exporter writes the same files into one zip as into a folder."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tracemalloc
import wave
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from labelloop.core import LabelSchema, MediaRef, Medium
from labelloop.errors import FormatError
from labelloop.formats import EXPORTERS, STORED_SUFFIXES, ExportRecord, ExportSuggestion, atomic_output, takes_option
from labelloop.formats._media import copy_file
from labelloop.formats.yolo import import_yolo
from tests.formats.fmt_helpers import (
    BOX_SCHEMA,
    DET_SCHEMA,
    NER_SCHEMA,
    MediaStore,
    box,
    make_item,
    span,
    supervision_yolo,
    text_item,
)

AUDIO = LabelSchema.model_validate(
    {
        "media": [{"name": "audio", "kind": "audio"}],
        "controls": [{"name": "segs", "kind": "segments", "target": "audio", "labels": ["sp"], "transcript": True}],
    }
)
CLOUD = LabelSchema.model_validate(
    {
        "media": [{"name": "lidar", "kind": "pointcloud"}, {"name": "cam", "kind": "image"}],
        "controls": [{"name": "boxes3d", "kind": "cuboids", "target": "lidar", "labels": ["Car", "Pedestrian"]}],
    }
)
FAMILY = {"conll2003": "text", "spacy": "text", "nemo": "audio", "kitti3d": "cloud", "openlabel": "cloud"}


class _Fixed(datetime):
    """A clock that stands still (COCO writes ``date_created``)."""

    @classmethod
    def now(cls, tz: Any = None) -> _Fixed:
        return cls(2026, 1, 2, 3, 4, 5, tzinfo=tz or UTC)


@pytest.fixture(autouse=True)
def _still_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("labelloop.formats.coco.datetime", _Fixed)


def _wav(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * int(8000 * seconds))
    return path


def _family(tmp_path: Path, kind: str) -> tuple[list[ExportRecord], LabelSchema, MediaStore]:
    """A few records of every shape the format family writes: two splits, suggestions, an empty item."""
    store = MediaStore(tmp_path / "blobs")
    if kind == "image":
        a, b, c = store.image(64, 48), store.image(80, 60, (1, 2, 3)), store.image(50, 50, (9, 9, 9))
        kp = {"id": "k1", "control": "pose", "label": "person", "points": [[10, 10, 2], [20, 30, 1], [0, 0, 0]]}
        sugg = (ExportSuggestion([box("s1", "cat", [2, 3, 30, 40])], 0.9, "m1"),)
        return (
            [
                ExportRecord(make_item(1, a, "photos/a.png"), [box("b1", "cat", [2.5, 3, 30, 40]), kp], sugg),
                ExportRecord(make_item(2, b, "b.png", split="val"), [box("b2", "dog", [1, 1, 63, 47])]),
                ExportRecord(make_item(3, c, "photos/a.png"), None),  # a name clash, no annotations
            ],
            DET_SCHEMA,
            store,
        )
    if kind == "text":
        v = [{"id": "t", "control": "topic", "labels": ["news"]}, span("p", "PER", 0, 5)]
        return (
            [
                ExportRecord(text_item(1, "Alice met Bob in Paris.", "a"), v),
                ExportRecord(text_item(2, "Alice went home.", "b", split="val"), [span("p", "PER", 0, 5)]),
            ],
            NER_SCHEMA,
            store,
        )
    if kind == "audio":
        for sha, secs in (("a" * 64, 2.0), ("b" * 64, 1.0)):
            store.files[sha] = _wav(tmp_path / f"{sha[0]}.wav", secs)
        seg = {"id": "s", "control": "segs", "label": "sp", "start_s": 0.1, "end_s": 0.9, "transcript": "hi"}
        return (
            [
                ExportRecord(
                    make_item(1, MediaRef(Medium.AUDIO, "a" * 64, "audio/wav", None, {}), "a.wav", "audio"), [seg]
                ),
                ExportRecord(
                    make_item(
                        2, MediaRef(Medium.AUDIO, "b" * 64, "audio/wav", None, {}), "b.wav", "audio", split="val"
                    ),
                    [seg],
                ),
            ],
            AUDIO,
            store,
        )
    cloud = tmp_path / "c.bin"
    cloud.write_bytes(bytes(range(32)) * 2)
    store.files["c" * 64] = cloud
    cub = {"id": "c1", "control": "boxes3d", "label": "Car", "center": [10.0, 2.0, -0.8],
           "size": [4.2, 1.8, 1.5], "yaw": 0.3, "frame": "lidar"}  # fmt: skip
    out = []
    for i in (1, 2):
        ref = MediaRef(Medium.POINTCLOUD, "c" * 64, "application/x-kitti-bin", None, {"points": 4})
        item = make_item(i, ref, f"scan{i}.bin", "lidar", split="val" if i == 2 else "train")
        item.data["cam"] = store.image(32, 24, (i, i, i))
        out.append(ExportRecord(item, [cub]))
    return out, CLOUD, store


def _folder_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _zip_files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}


def _export(fmt: str, tmp_path: Path, out: Path, **options: Any) -> Any:
    records, schema, store = _family(tmp_path / f"src-{out.name}", FAMILY.get(fmt, "image"))
    return EXPORTERS[fmt](records, schema, out, store, **options)


@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_the_zip_holds_the_folder_byte_for_byte(tmp_path: Path, fmt: str) -> None:
    folder = _export(fmt, tmp_path, tmp_path / "folder")
    packed = _export(fmt, tmp_path, tmp_path / "export.zip")
    assert (folder.items, folder.regions, len(folder.errors)) == (packed.items, packed.regions, len(packed.errors))
    assert folder.items >= 2
    files, members = _folder_files(tmp_path / "folder"), _zip_files(tmp_path / "export.zip")
    if fmt == "yolo":  # the only difference: a zip's data.yaml has no absolute ``path`` (it is the yaml's folder)
        data = yaml.safe_load(files["data.yaml"])
        assert data.pop("path") == str((tmp_path / "folder").resolve())
        assert yaml.safe_load(members["data.yaml"]) == data
        files["data.yaml"] = members["data.yaml"]
    assert sorted(members) == sorted(files)
    assert members == files
    with zipfile.ZipFile(tmp_path / "export.zip") as zf:
        dirs = {n.rstrip("/") for n in zf.namelist() if n.endswith("/")}
        infos = [i for i in zf.infolist() if not i.is_dir()]
    folders = {p.relative_to(tmp_path / "folder").as_posix() for p in (tmp_path / "folder").rglob("*") if p.is_dir()}
    assert dirs <= folders  # directory entries only for folders the folder output has
    for info in infos:  # media stored; text deflated (unless too small to gain)
        if Path(info.filename).suffix in STORED_SUFFIXES:
            assert info.compress_type == zipfile.ZIP_STORED, info
        elif info.file_size > 200:
            assert info.compress_type == zipfile.ZIP_DEFLATED, info
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left
    _unzip_test(tmp_path / "export.zip")


@pytest.mark.parametrize("fmt", [f for f in sorted(EXPORTERS) if takes_option(f, "with_media")])
def test_a_labels_only_zip_holds_the_labels_only_folder(tmp_path: Path, fmt: str) -> None:
    _export(fmt, tmp_path, tmp_path / "folder", with_media=False)
    _export(fmt, tmp_path, tmp_path / "labels.zip", with_media=False)
    files, members = _folder_files(tmp_path / "folder"), _zip_files(tmp_path / "labels.zip")
    files.pop("data.yaml", None), members.pop("data.yaml", None)
    assert members == files


def _unpack(path: Path, to: Path) -> Path:
    with zipfile.ZipFile(path) as zf:
        zf.extractall(to)
    return to


def test_pycocotools_reads_the_unpacked_zip(tmp_path: Path) -> None:
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO

    _export("coco", tmp_path, tmp_path / "coco.zip")
    root = _unpack(tmp_path / "coco.zip", tmp_path / "unpacked")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(root / "annotations.json"))
        dt = gt.loadRes(str(root / "predictions.json"))
    assert sorted(img["file_name"] for img in gt.loadImgs(gt.getImgIds())) == ["a-3.png", "a.png", "b.png"]
    assert all((root / "images" / img["file_name"]).is_file() for img in gt.dataset["images"])
    assert {c["name"] for c in gt.loadCats(gt.getCatIds())} >= {"cat", "dog", "person"}
    assert len(gt.getAnnIds()) == 3 and len(dt.getAnnIds()) == 1


def test_yolo_readers_read_the_unpacked_zip(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "blobs")
    a, b = store.image(100, 50), store.image(64, 64, (1, 2, 3))
    records = [
        ExportRecord(make_item(1, a, "a.png"), [box("b1", "dog", [10, 5, 50, 45])]),
        ExportRecord(make_item(2, b, "b.png", split="val"), [box("b2", "bird", [1.5, 2.25, 33.3, 63.9])]),
    ]
    EXPORTERS["yolo"](records, BOX_SCHEMA, tmp_path / "yolo.zip", store)
    root = _unpack(tmp_path / "yolo.zip", tmp_path / "unpacked")
    got = {x.key: x for x in import_yolo(root, BOX_SCHEMA) if not hasattr(x, "reason")}
    assert sorted(got) == ["images/train/a.png", "images/val/b.png"]
    assert [r["label"] for r in got["images/val/b.png"].regions] == ["bird"]  # type: ignore[attr-defined]
    ds = supervision_yolo(root)
    (path, _img, dets) = next(iter(ds))
    assert Path(path).name == "a.png" and dets.class_id.tolist() == [1]
    assert dets.xyxy.round(3).tolist() == [[10, 5, 50, 45]]


class _Boom(RuntimeError):
    pass


def _failing(records: list[ExportRecord], after: int) -> Iterator[ExportRecord]:
    for n, rec in enumerate(records):
        if n == after:
            raise _Boom("the database went away")
        yield rec


@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_an_error_mid_export_leaves_no_zip_and_no_temporary(tmp_path: Path, fmt: str) -> None:
    records, schema, store = _family(tmp_path / "src", FAMILY.get(fmt, "image"))
    out_dir = tmp_path / "releases"
    out_dir.mkdir()
    before = set(os.listdir(tmp_path / "src"))
    with pytest.raises(_Boom):
        EXPORTERS[fmt](_failing(records, 1), schema, out_dir / "export.zip", store)
    assert os.listdir(out_dir) == []
    assert set(os.listdir(tmp_path / "src")) == before


def test_a_zip_destination_that_exists_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken.zip").write_bytes(b"PK")
    records, schema, store = _family(tmp_path, "image")
    with pytest.raises(FormatError, match="already exists"):
        EXPORTERS["coco"](records, schema, tmp_path / "taken.zip", store)
    assert (tmp_path / "taken.zip").read_bytes() == b"PK"


def test_media_are_streamed_into_the_zip_not_held(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as fh:
        for i in range(24):  # 24 MiB of incompressible bytes (an already-compressed image as far as zip knows)
            fh.write(os.urandom(1 << 20) if i == 0 else bytes([i]) * (1 << 20))
    store = MediaStore(tmp_path / "blobs")
    ref = MediaRef(Medium.IMAGE, "f" * 64, "image/png", None, {"width": 640, "height": 480})
    store.files[ref.sha256] = big
    rec = ExportRecord(make_item(1, ref, "big.png"), [box("b1", "cat", [1, 1, 100, 100])])
    tracemalloc.start()
    try:
        report = EXPORTERS["coco"]([rec], BOX_SCHEMA, tmp_path / "big.zip", store)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.items == 1
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB for a 24 MiB medium"
    with zipfile.ZipFile(tmp_path / "big.zip") as zf:
        info = zf.getinfo("images/big.png")
        assert info.compress_type == zipfile.ZIP_STORED and info.file_size == 24 << 20
        with zf.open(info) as src, big.open("rb") as orig:
            while block := src.read(1 << 20):
                assert block == orig.read(len(block))


def test_spooled_files_may_be_open_together_and_vanish_on_error(tmp_path: Path) -> None:
    out = tmp_path / "two.zip"
    with atomic_output(out) as dest:
        a, b = dest.open_text("a.txt"), dest.open("b.bin")
        a.write("é\n")
        dest.write("c/d.txt", b"direct")
        b.write(b"\x00\x01")
        b.close()
        a.close()
    with zipfile.ZipFile(out) as zf:
        assert zf.read("a.txt") == "é\n".encode() and zf.read("b.bin") == b"\x00\x01"
        assert zf.read("c/d.txt") == b"direct"
    with pytest.raises(_Boom), atomic_output(tmp_path / "three.zip") as dest:
        with dest.open("x.txt") as fh:
            fh.write(b"half")
        raise _Boom("stop")
    assert sorted(os.listdir(tmp_path)) == ["two.zip"]


def test_a_name_is_written_once(tmp_path: Path) -> None:
    with pytest.raises(FileExistsError), atomic_output(tmp_path / "dup.zip") as dest:
        dest.write("a.txt", b"1")
        dest.write("a.txt", b"2")
    with pytest.raises(FileExistsError), atomic_output(tmp_path / "dup") as dest:
        dest.write("a.txt", b"1")
        dest.write("a.txt", b"2")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("size", [0, 3, (1 << 20) + 7])
def test_copy_file_stops_at_the_source_size(tmp_path: Path, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.write_bytes(os.urandom(size))
    counts: list[int] = []
    real = os.sendfile

    def counting(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        counts.append(count)
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", counting)
    copy_file(src, tmp_path / "dest")
    assert (tmp_path / "dest").read_bytes() == src.read_bytes()
    if sys.platform.startswith("linux"):
        assert counts == ([size] if size else [])  # one call per file, no final zero-length read


def _unzip_test(path: Path) -> None:
    """Check the archive with Info-ZIP's ``unzip -t`` too, where it is installed."""
    import shutil
    import subprocess

    if shutil.which("unzip"):
        done = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("zip64", [False, True])
def test_the_zip_writer_writes_standard_archives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zip64: bool) -> None:
    from labelloop.formats import _zipwrite

    if zip64:  # every size, offset and count past the limits: ZIP64 records throughout
        monkeypatch.setattr(_zipwrite, "ZIP64_LIMIT", 100)
        monkeypatch.setattr(_zipwrite, "ZIP64_COUNT", 3)
    big = os.urandom(3 << 20)  # streamed: flushed before its header is patched (pwrite)
    (tmp_path / "big.bin").write_bytes(big)
    out = tmp_path / "w.zip"
    with atomic_output(out) as dest:
        dest.write("small.txt", b"x" * 50)
        dest.write("text/ünïcode.json", b'{"a": 1}' * 100)
        dest.makedirs("empty/dir")
        dest.place(tmp_path / "big.bin", "media/big.bin")
        dest.place(tmp_path / "big.bin", "media/big.png")  # stored
        with dest.open_text("spooled.txt") as fh:
            fh.write("line\n" * 1000)
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        assert zf.read("media/big.bin") == zf.read("media/big.png") == big
        assert zf.read("text/ünïcode.json") == b'{"a": 1}' * 100 and zf.read("spooled.txt") == b"line\n" * 1000
        assert zf.getinfo("media/big.png").compress_type == zipfile.ZIP_STORED
        assert zf.getinfo("spooled.txt").compress_type == zipfile.ZIP_DEFLATED
        assert "empty/dir/" in zf.namelist() and zf.getinfo("empty/dir/").is_dir()
        assert zf.getinfo("small.txt").external_attr >> 16 == 0o100644
    _unzip_test(out)


def test_docs_run() -> None:
    import doctest

    from labelloop.formats import _output, _zipwrite

    for module in (_output, _zipwrite):
        assert doctest.testmod(module).failed == 0
