from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from PIL import Image

from labelloop.compliance import FaceRegion, blur_regions, detect_faces, redact_faces_file, write_image_atomic
from labelloop.errors import BackendUnavailable

skdata = pytest.importorskip("skimage.data")


def test_astronaut_has_one_face() -> None:
    faces = detect_faces(skdata.astronaut())
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].xyxy
    assert abs(x0 - 177) <= 12 and abs(y0 - 66) <= 12 and abs(x1 - 272) <= 12 and abs(y1 - 161) <= 12
    assert 0.0 <= faces[0].score <= 1.0


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket", "camera"])
def test_no_false_positives(name: str) -> None:
    assert detect_faces(getattr(skdata, name)()) == []


@pytest.mark.parametrize("method", ["blur", "pixelate"])
def test_blur_changes_only_the_region(method: Literal["blur", "pixelate"]) -> None:
    img = skdata.astronaut()
    faces = detect_faces(img)
    out = blur_regions(img, faces, method=method, pad=0.0)
    x0, y0, x1, y1 = faces[0].xyxy
    assert not np.array_equal(out[y0:y1, x0:x1], img[y0:y1, x0:x1])
    mask = np.ones(img.shape[:2], dtype=bool)
    mask[y0:y1, x0:x1] = False
    assert np.array_equal(out[mask], img[mask])
    assert detect_faces(out) == []


def test_redact_file_round_trip(tmp_path: Path) -> None:
    src, dst = tmp_path / "a.png", tmp_path / "out.jpg"
    Image.fromarray(skdata.astronaut()).save(src)
    faces = redact_faces_file(src, dst, method="pixelate")
    assert [f.xyxy for f in faces] == [f.xyxy for f in detect_faces(skdata.astronaut())]
    assert Image.open(dst).size == (512, 512)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "out.jpg"]


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dst = tmp_path / "out.png"
    dst.write_bytes(b"old")

    def broken_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"\x89PNG partial")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_image_atomic(np.zeros((4, 4, 3), dtype=np.uint8), dst)
    assert dst.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_missing_cascade_raises_backend_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cv2.data.haarcascades", "/nonexistent/")
    with pytest.raises(BackendUnavailable, match="OpenCV 5 removed"):
        detect_faces(np.zeros((40, 40), dtype=np.uint8))


def test_face_region_validation() -> None:
    with pytest.raises(ValueError):
        FaceRegion((10, 10, 5, 20), 1.0)
