"""sniff(): the medium from the first bytes and the size, never from a name."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from labelloop.core.media import Medium
from labelloop.modalities import sniff
from labelloop.modalities.detect import describe, identify, looks_like_text
from tests.modalities.conftest import Media


def head_of(path: Path) -> tuple[bytes, int]:
    data = path.read_bytes()
    return data[:4096], len(data)


@pytest.mark.parametrize(
    ("build", "medium", "name"),
    [
        pytest.param(lambda m: m.png(), Medium.IMAGE, "PNG", id="png"),
        pytest.param(lambda m: m.jpeg(), Medium.IMAGE, "JPEG", id="jpeg"),
        pytest.param(lambda m: m.webp(), Medium.IMAGE, "WebP", id="webp"),
        pytest.param(lambda m: m.bmp(), Medium.IMAGE, "BMP", id="bmp"),
        pytest.param(lambda m: m.wav(), Medium.AUDIO, "WAV", id="wav"),
        pytest.param(lambda m: m.flac(), Medium.AUDIO, "FLAC", id="flac"),
        pytest.param(lambda m: m.ogg(), Medium.AUDIO, "OGG", id="ogg"),
        pytest.param(lambda m: m.mp3(), Medium.AUDIO, "MP3", id="mp3"),
        pytest.param(lambda m: m.pcd(encoding="ascii"), Medium.POINTCLOUD, "PCD", id="pcd"),
        pytest.param(lambda m: m.ply(), Medium.POINTCLOUD, "PLY", id="ply"),
        pytest.param(lambda m: m.las(), Medium.POINTCLOUD, "LAS", id="las"),
        pytest.param(lambda m: m.laz(), Medium.POINTCLOUD, "LAS", id="laz"),
        pytest.param(lambda m: m.kitti(), Medium.POINTCLOUD, "KITTI", id="kitti"),
        pytest.param(lambda m: m.write("a.jpg", "English 和中文".encode()), Medium.TEXT, "text", id="text-named-jpg"),
        pytest.param(
            lambda m: m.write("a.png", b"<!DOCTYPE html><img src=x onerror=alert(1)>"), Medium.TEXT, "text", id="html"
        ),
        pytest.param(lambda m: m.write("a.txt", b"\xef\xbb\xbfwith BOM"), Medium.TEXT, "text", id="bom"),
        pytest.param(lambda m: m.write("a.bmp", b"BMW makes cars, not bitmaps."), Medium.TEXT, "text", id="bm-text"),
        pytest.param(lambda m: m.write("a.bin", b"1234567890abcdef" * 16), Medium.TEXT, "text", id="digits-not-kitti"),
        pytest.param(lambda m: m.gif(), None, "GIF", id="gif"),
        pytest.param(lambda m: m.image("a.tif", "TIFF"), None, "TIFF", id="tiff"),
        pytest.param(
            lambda m: m.write("a.mp4", b"\x00\x00\x00\x18ftypisom" + bytes(20)), None, "MP4/QuickTime", id="mp4"
        ),
        pytest.param(
            lambda m: m.write("a.heic", b"\x00\x00\x00\x18ftypheic" + bytes(20)), None, "HEIF/AVIF", id="heic"
        ),
        pytest.param(lambda m: m.write("a.txt", "hi".encode("utf-16")), None, "UTF-16", id="utf16"),
    ],
)
def test_sniff_recognises_content(
    media: Media, build: Callable[[Media], Path], medium: Medium | None, name: str
) -> None:
    head, size = head_of(build(media))
    assert sniff(head, size=size) is medium
    fmt = identify(head, size=size)
    assert fmt is not None
    assert fmt.name == name


@pytest.mark.parametrize(
    ("head", "size"),
    [
        pytest.param(b"", 0, id="empty"),
        pytest.param(b"\x00\x01\x02\x03" * 8, 32, id="nul-blob"),
        pytest.param(b"caf\xe9", 4, id="latin1"),
        pytest.param(bytes(range(256)) * 2, 512, id="all-bytes"),
        pytest.param(np.full(64, np.nan, dtype=np.float32).tobytes(), 256, id="nan-floats"),
        pytest.param(np.zeros(64, dtype=np.float32).tobytes(), 256, id="zeros-not-kitti"),
        pytest.param(np.ones(64, dtype=np.float32).tobytes()[:-1], 255, id="kitti-size-not-16"),
        pytest.param(np.ones(28, dtype=np.float32).tobytes(), 112, id="kitti-under-8-points"),
    ],
)
def test_sniff_undecided(head: bytes, size: int) -> None:
    assert sniff(head, size=size) is None


def test_text_cut_inside_a_character_at_the_head_boundary() -> None:
    data = ("a" * 4095 + "猫").encode()
    assert sniff(data[:4096], size=len(data)) is Medium.TEXT  # the head ends mid-character
    assert sniff(data[:4096], size=4096) is None  # ... but is the whole file: invalid


def test_kitti_needs_finite_small_coordinates() -> None:
    pts = np.ones((16, 4), dtype=np.float32)
    assert sniff(pts.tobytes(), size=pts.nbytes) is Medium.POINTCLOUD
    pts[3, 0] = 2e4
    assert sniff(pts.tobytes(), size=pts.nbytes) is None


def test_mpeg_sync_needs_a_consistent_second_frame() -> None:
    frame = b"\xff\xfb\x90\x00"  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 417-byte frames
    good = (frame + bytes(413)) * 3
    assert sniff(good, size=len(good)) is Medium.AUDIO
    bad = frame + bytes(413) + b"\x12\x34\x56\x78" + bytes(500)
    assert sniff(bad, size=len(bad)) is None


def test_bmp_needs_a_known_dib_header() -> None:
    header = b"BM" + struct.pack("<IHHI", 1000, 0, 0, 54) + struct.pack("<I", 40) + bytes(20)
    assert sniff(header, size=1000) is Medium.IMAGE


def test_describe_and_text_heuristic() -> None:
    assert describe(identify(b"OggS" + bytes(30), size=34)) == "OGG audio"
    assert looks_like_text("中文".encode("gbk"))
    assert not looks_like_text(bytes(range(1, 40)))
