"""Our COCO, Pascal VOC and YOLO exports read back by Datumaro (the reader CVAT is built on).

Datumaro 1.13 pins ``pandas~=2.3``, ``pillow~=12`` and ``pyarrow~=25``; labelloop's environment
has newer ones, so Datumaro runs in its own environment: ``LABELLOOP_DATUMARO_PYTHON`` names an
interpreter that can ``import datumaro`` (CI makes one with ``python -m venv .dm && .dm/bin/pip
install datumaro==1.13.12``). Without one these tests skip, saying why; they never fake the reader.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import LabelSchema
from labelloop.formats import EXPORTERS, ExportRecord
from tests.formats.fmt_helpers import MediaStore, box, make_item

READER = Path(__file__).with_name("datumaro_read.py")
SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "image", "kind": "image"}],
        "controls": [{"name": "objects", "kind": "boxes", "target": "image", "labels": ["widget", "cat", "dog"]}],
    }
)


def _python() -> str:
    configured = os.environ.get("LABELLOOP_DATUMARO_PYTHON")
    if configured:
        return configured
    probe = subprocess.run([sys.executable, "-c", "import datumaro"], capture_output=True, check=False)
    if probe.returncode == 0:
        return sys.executable
    pytest.skip(
        "datumaro is not importable here (1.13.12 pins pandas~=2.3, pillow~=12, pyarrow~=25, older than this "
        "environment's); set LABELLOOP_DATUMARO_PYTHON to an interpreter of a venv with datumaro"
    )


def _read(path: Path, fmt: str) -> dict[str, Any]:
    r = subprocess.run([_python(), str(READER), str(path), fmt], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    out: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


@pytest.fixture
def records(tmp_path: Path) -> tuple[list[ExportRecord], MediaStore]:
    media = MediaStore(tmp_path / "media")
    recs = []
    for i in range(3):
        ref = media.image(40 + i, 30, (i * 40, 10, 10))
        value = [box("a", "widget", [1, 2, 20, 22]), box("b", "dog", [3.5, 4, 30, 25])] if i < 2 else []
        recs.append(ExportRecord(make_item(i + 1, ref, f"img/{i}.png"), value, split="train"))
    return recs, media


EXPECTED = {  # item stem -> (label, x, y, w, h) in pixels, top-left origin
    "0": [("dog", 3.5, 4.0, 26.5, 21.0), ("widget", 1.0, 2.0, 19.0, 20.0)],
    "1": [("dog", 3.5, 4.0, 26.5, 21.0), ("widget", 1.0, 2.0, 19.0, 20.0)],
}


def _boxes(got: dict[str, Any]) -> dict[str, list[tuple[str, float, float, float, float]]]:
    out: dict[str, list[tuple[str, float, float, float, float]]] = {}
    for item, label, x, y, w, h in got["boxes"]:
        out.setdefault(Path(item).name, []).append((label, x, y, w, h))
    return {k: sorted(v) for k, v in out.items()}


def _close(a: dict[str, list[Any]], b: dict[str, list[Any]], tol: float) -> bool:
    if a.keys() != b.keys():
        return False
    for k, rows in a.items():
        if len(rows) != len(b[k]):
            return False
        for (la, *ca), (lb, *cb) in zip(rows, b[k], strict=True):
            if la != lb or any(abs(u - v) > tol for u, v in zip(ca, cb, strict=True)):
                return False
    return True


def test_datumaro_reads_our_coco(records: tuple[list[ExportRecord], MediaStore], tmp_path: Path) -> None:
    recs, media = records
    EXPORTERS["coco"](recs, SCHEMA, tmp_path / "coco", media)
    # Datumaro finds COCO only in the original layout (annotations/instances_<subset>.json,
    # images/<subset>/): the same files, arranged so; their content is not touched.
    dm = tmp_path / "dm"
    (dm / "annotations").mkdir(parents=True)
    shutil.copy(tmp_path / "coco" / "annotations.json", dm / "annotations" / "instances_default.json")
    (dm / "images").mkdir()
    (dm / "images" / "default").symlink_to(tmp_path / "coco" / "images")
    got = _read(dm, "coco_instances")
    assert got["items"] == 3 and got["labels"] == ["widget", "cat", "dog"]
    assert _close(_boxes(got), EXPECTED, 1e-6), got["boxes"]
    assert sorted(got["sizes"].values()) == [[30, 40], [30, 41], [30, 42]]  # the image without boxes too


def test_datumaro_reads_our_voc_with_any_class_names(
    records: tuple[list[ExportRecord], MediaStore], tmp_path: Path
) -> None:
    recs, media = records
    EXPORTERS["voc"](recs, SCHEMA, tmp_path / "voc", media)
    got = _read(tmp_path / "voc", "voc_detection")
    assert got["items"] == 3 and got["labels"] == ["background", "widget", "cat", "dog"]
    # Datumaro reads VOC corners as 0-based; ours follow the devkit (1-based): within 1 px
    assert _close(_boxes(got), EXPECTED, 1.0 + 1e-6), got["boxes"]


def test_datumaro_reads_our_yolo(records: tuple[list[ExportRecord], MediaStore], tmp_path: Path) -> None:
    recs, media = records
    EXPORTERS["yolo"](recs, SCHEMA, tmp_path / "yolo", media)
    got = _read(tmp_path / "yolo", "yolo")
    assert got["items"] == 3 and got["labels"] == ["widget", "cat", "dog"]
    assert _close(_boxes(got), EXPECTED, 1e-3), got["boxes"]
