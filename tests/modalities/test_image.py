"""Images: probing, loading, and the decompression-bomb guard."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelloop.core.media import Medium
from labelloop.errors import InputRejected
from labelloop.modalities import ProbeLimits, load_image, probe_bytes, probe_file
from tests.modalities.conftest import Media


@pytest.mark.parametrize(
    ("build", "shape", "media_type", "mode"),
    [
        pytest.param(lambda m: m.png(size=(24, 16)), (16, 24, 3), "image/png", "RGB", id="png-rgb"),
        pytest.param(lambda m: m.png(size=(24, 16), mode="RGBA"), (16, 24, 3), "image/png", "RGBA", id="png-rgba"),
        pytest.param(lambda m: m.png(size=(24, 16), mode="L"), (16, 24), "image/png", "L", id="png-grey"),
        pytest.param(lambda m: m.jpeg(size=(33, 17)), (17, 33, 3), "image/jpeg", "RGB", id="jpeg"),
        pytest.param(lambda m: m.webp(size=(10, 12)), (12, 10, 3), "image/webp", "RGB", id="webp"),
        pytest.param(lambda m: m.webp(size=(10, 12), lossless=True), (12, 10, 3), "image/webp", "RGB", id="webp-ll"),
        pytest.param(lambda m: m.bmp(size=(7, 5)), (5, 7, 3), "image/bmp", "RGB", id="bmp"),
    ],
)
def test_probe_and_load(
    media: Media, build: Callable[[Media], Path], shape: tuple[int, ...], media_type: str, mode: str
) -> None:
    path = build(media)
    probed = probe_file(path, source=path.name)
    assert probed.kind is Medium.IMAGE
    assert probed.media_type == media_type
    assert probed.meta == {"width": shape[1], "height": shape[0], "mode": mode}
    pixels = load_image(path)
    assert pixels.shape == shape and pixels.dtype == np.uint8


def test_load_keeps_stored_pixels(media: Media) -> None:
    arr = np.zeros((4, 6, 3), dtype=np.uint8)
    arr[1, 2] = (255, 0, 0)
    path = media.root / "exact.png"
    Image.fromarray(arr).save(path)
    assert load_image(path).tolist() == arr.tolist()


def test_exif_orientation_is_not_applied(media: Media) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = media.jpeg(size=(40, 20), exif=exif)
    assert load_image(path).shape == (20, 40, 3)  # stored grid, not the displayed one
    assert probe_file(path, source="r.jpg").meta["width"] == 40


def test_sixteen_bit_grey_is_scaled(media: Media) -> None:
    path = media.root / "g16.png"
    Image.fromarray(np.full((3, 3), 0xABCD, dtype=np.uint16)).save(path)
    assert load_image(path).tolist() == [[0xAB] * 3] * 3


def test_animated_webp_reports_frames(media: Media) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "green", "blue")]
    path = media.root / "anim.webp"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    probed = probe_file(path, source="anim.webp")
    assert probed.meta["frames"] == 3
    assert load_image(path).shape == (8, 8, 3)


def _bmp_header(width: int, height: int) -> bytes:
    return b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + struct.pack("<IiiHH", 40, width, height, 1, 24) + bytes(40)


def _jpeg_header(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + bytes(9)
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def _webp_vp8x(width: int, height: int) -> bytes:
    body = b"VP8X" + struct.pack("<I", 10) + bytes(4) + (width - 1).to_bytes(3, "little")
    body += (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


@pytest.mark.parametrize(
    ("data", "dims"),
    [
        pytest.param(_bmp_header(60_000, -60_000), "60000x60000", id="bmp-top-down"),
        pytest.param(_jpeg_header(65_000, 65_000), "65000x65000", id="jpeg-sof"),
        pytest.param(_webp_vp8x(16_000_000, 16_000_000), "16000000x16000000", id="webp-vp8x"),
    ],
)
def test_bomb_headers_are_refused_before_pillow(monkeypatch: pytest.MonkeyPatch, data: bytes, dims: str) -> None:
    def no_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("Pillow must not be reached")

    monkeypatch.setattr(Image, "open", no_decode)
    with pytest.raises(InputRejected, match=rf"expected an image no larger than 100000000 pixels, got {dims}$"):
        probe_bytes(data, source="bomb")


def test_png_bomb_is_refused_from_the_header(media: Media, monkeypatch: pytest.MonkeyPatch) -> None:
    path = media.bomb_png()
    assert path.stat().st_size < 2048
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded a bomb"))
    with pytest.raises(
        InputRejected, match=r"^x\.png: expected an image no larger than 100000000 pixels, got 100000x100000$"
    ):
        load_image(path, source="x.png")


def test_pillow_bomb_error_is_mapped(media: Media) -> None:
    if Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > 10**9:
        pytest.skip("Pillow's bomb guard is disabled in this process")
    path = media.bomb_png()
    with pytest.raises(InputRejected, match=r"too large to decode safely \(Image size"):
        probe_file(path, source="b.png", limits=ProbeLimits(max_image_pixels=10**11))


@pytest.mark.parametrize(
    ("build", "error"),
    [
        pytest.param(lambda m: m.write("a.png", b"<html></html>"), r"expected an image, got text$", id="html"),
        pytest.param(lambda m: m.gif(), r"expected an image, got unsupported image format GIF", id="gif"),
        pytest.param(lambda m: m.wav(), r"expected an image, got WAV audio$", id="wav"),
        pytest.param(lambda m: m.write("e.png", b""), r"expected an image, got an empty file$", id="empty"),
        pytest.param(lambda m: m.truncated(m.jpeg()), r"expected a readable image, got a truncated JPEG", id="cut"),
    ],
)
def test_load_image_refusals(media: Media, build: Callable[[Media], Path], error: str) -> None:
    with pytest.raises(InputRejected, match=error):
        load_image(build(media))
