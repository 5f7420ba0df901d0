"""Exports for the web: option checks, zips published whole, progress that moves, cancel, pruning."""

from __future__ import annotations

import doctest
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from pycocotools.coco import COCO

from labelloop.core import LabelSchema, NewAnnotation
from labelloop.errors import InputRejected
from labelloop.services import web_exports
from labelloop.services.ingest import import_source
from labelloop.services.jobs import CancelFlag, JobCancelled, Progress
from labelloop.services.projects import create_project
from labelloop.services.web_exports import check_options, export_file, export_formats, run_export
from labelloop.storage import Store
from tests.helpers import IMAGE_SCHEMA, TEXT_SCHEMA, png_bytes, write


def test_docs_run() -> None:
    assert doctest.testmod(web_exports, optionflags=doctest.ELLIPSIS).failed == 0


def test_every_format_is_offered_with_json_options_only() -> None:
    formats = export_formats()
    assert {"native", "coco", "yolo", "voc", "conll2003", "csv", "label_studio"} <= set(formats)
    for name, spec in formats.items():
        for opt in spec["options"]:
            assert opt["type"] in ("boolean", "integer", "number", "string"), (name, opt)
            assert opt["name"] not in ("link", "absolute_paths", "calib", "progress", "actor"), (name, opt)
    yolo = {o["name"]: o for o in formats["yolo"]["options"]}
    assert yolo["task"]["choices"] == ["detect", "segment"] and yolo["task"]["nullable"]
    assert {o["name"] for o in formats["native"]["options"]} == {"include_media"}


@pytest.mark.parametrize(
    ("fmt", "options", "error"),
    [
        ("yolo", {"task": "segment"}, None),
        ("yolo", {"task": None, "control": "objects"}, None),
        ("csv", {"include_suggestions": False}, None),
        ("spacy", {"lang": "de", "shard_size": 100}, None),
        ("native", {"include_media": False}, None),
        ("coco", {"with_media": False}, None),  # labels only
        ("yolo", {"tsak": "segment"}, "expected options of yolo: control, task, with_media, got 'tsak'"),
        ("voc", {"link": True}, "expected options of voc: control, with_media, got 'link'"),  # always on
        ("nemo", {"absolute_paths": True}, "got 'absolute_paths'"),  # would name server paths
        ("openlabel", {"x": 1}, "expected options of openlabel: with_media, got 'x'"),
        ("csv", {"x": 1}, "expected options of csv: include_suggestions, got 'x'"),
        ("yolo", {"task": "pose"}, "options.task: expected one of detect, segment, got 'pose'"),
        ("csv", {"include_suggestions": "yes"}, "options.include_suggestions: expected a boolean for csv, got str"),
        ("spacy", {"shard_size": 0}, "expected an integer from 1 to 1000000000, got 0"),
        ("spacy", {"shard_size": True}, "expected a integer for spacy, got bool"),
        ("spacy", {"lang": "../../etc"}, "options.lang: expected a short plain string like en"),
        ("label_studio", {"media_prefix": "x\n"}, "options.media_prefix"),
        ("coco", {"field": "a" * 201}, "options.field"),
        ("pickle", {}, "format: expected one of native, coco"),
    ],
)
def test_options_are_checked_against_the_exporter(fmt: str, options: dict[str, Any], error: str | None) -> None:
    if error is None:
        assert check_options(fmt, options) == options
    else:
        with pytest.raises(InputRejected) as exc:
            check_options(fmt, options)
        assert error in str(exc.value), str(exc.value)


def _image_project(store: Store, tmp_path: Path, n: int) -> int:
    pid = create_project(store, "img", LabelSchema.model_validate(IMAGE_SCHEMA), "user:test").id
    for i in range(n):
        write(tmp_path / "imgs" / f"{i:04d}.png", png_bytes(32, 24, (i % 256, i // 256, 90)))
    import_source(store, pid, tmp_path / "imgs", actor="user:test")
    with store.transaction() as tx:
        items = tx.items.page(pid, limit=n)
        box = [{"id": "b", "control": "objects", "label": "cat", "xyxy": [2, 3, 20, 15]}]
        tx.labels.add_annotations(pid, [NewAnnotation(it.id, box, "ann") for it in items[: n // 2]])
    return pid


class Recorder(Progress):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, int | None, str]] = []

    def __call__(self, done: int, total: int | None = None, message: str | None = None) -> None:
        super().__call__(done, total, message)
        self.calls.append(self.snapshot())


def test_a_coco_export_job_reads_back_and_progress_moves(store: Store, tmp_path: Path) -> None:
    pid = _image_project(store, tmp_path, 600)
    rec = Recorder()
    out = run_export(store, pid, "coco", {}, actor="user:mgr", progress=rec)
    assert out["items"] == 600 and out["regions"] == 300 and out["skipped"] == 0 and out["format"] == "coco"
    exporting = [c for c in rec.calls if c[2] == "exporting items"]
    assert [c[0] for c in exporting][:2] == [256, 512] and exporting[-1][:2] == (600, 600)  # during the export
    packing = [c for c in rec.calls if c[2] == "packing files"]
    assert packing == [(601, 601, "packing files")]  # written into the zip as exported: 600 images + the json
    path = export_file(store, pid, out["file"])
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        ann = next(n for n in names if n.endswith(".json"))
        (tmp_path / "coco.json").write_bytes(zf.read(ann))
        assert sum(n.endswith(".png") for n in names) == 600
    coco = COCO(str(tmp_path / "coco.json"))
    assert len(coco.getImgIds()) == 600 and len(coco.getAnnIds()) == 300
    folder = path.parent
    assert [p.name for p in folder.iterdir()] == [out["file"]]  # no work folder left behind
    with store.read() as tx:
        events = [e for e in tx.provenance.events(pid) if e.kind == "export"]
    assert events[-1].actor == "user:mgr"


def test_a_cancelled_export_publishes_nothing(sqlite_store: Store, tmp_path: Path) -> None:
    pid = _image_project(sqlite_store, tmp_path, 600)
    flag = CancelFlag()
    rec = Recorder()

    class CancelAt300(Recorder):
        def __call__(self, done: int, total: int | None = None, message: str | None = None) -> None:
            rec(done, total, message)
            if done >= 256:
                flag.set("user")

    with pytest.raises(JobCancelled):
        run_export(sqlite_store, pid, "coco", {}, progress=CancelAt300(), cancel=flag)
    assert rec.calls[-1][0] == 256  # stopped at the next step
    folder = web_exports.export_dir(sqlite_store, pid)
    assert list(folder.iterdir()) == []  # no zip, no partial folder
    with sqlite_store.read() as tx:
        assert [e for e in tx.provenance.events(pid) if e.kind == "export"] == []


def test_options_reach_the_exporter_and_old_zips_are_pruned(sqlite_store: Store, tmp_path: Path) -> None:
    pid = create_project(sqlite_store, "t", LabelSchema.model_validate(TEXT_SCHEMA), "user:test").id
    write(tmp_path / "t.jsonl", "".join(json.dumps({"text": f"line {i}"}) + "\n" for i in range(3)))
    import_source(sqlite_store, pid, tmp_path / "t.jsonl", actor="user:test")
    files = [run_export(sqlite_store, pid, "native", {"include_media": False}, keep=2)["file"] for _ in range(3)]
    folder = web_exports.export_dir(sqlite_store, pid)
    assert sorted(p.name for p in folder.iterdir()) == sorted(files[1:])  # the oldest was pruned
    with zipfile.ZipFile(io.BytesIO((folder / files[-1]).read_bytes())) as zf:
        header = json.loads(zf.read("labelloop.jsonl").splitlines()[0])
    assert header["media_included"] is False
    with pytest.raises(InputRejected, match="got 'nope'"):
        run_export(sqlite_store, pid, "csv", {"nope": 1})


def test_a_labels_only_export(sqlite_store: Store, tmp_path: Path) -> None:
    pid = _image_project(sqlite_store, tmp_path, 4)
    out = run_export(sqlite_store, pid, "coco", {"with_media": False})
    with zipfile.ZipFile(export_file(sqlite_store, pid, out["file"])) as zf:
        names = zf.namelist()
    assert not any(n.endswith(".png") for n in names) and any(n.endswith(".json") for n in names), names
