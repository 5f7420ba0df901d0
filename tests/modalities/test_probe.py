"""probe_file / probe_bytes over every medium: one table, valid inputs and refusals."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelloop.core.media import Medium
from labelloop.errors import InputRejected
from labelloop.modalities import Probed, ProbeLimits, probe_bytes, probe_file
from tests.modalities.conftest import Media

Build = Callable[[Media], Path]


def lying_pcd(encoding: str) -> Build:
    def build(m: Media) -> Path:
        data = m.pcd(f"lie-{encoding}.pcd", encoding=encoding, n=10).read_bytes()
        data = data.replace(b"WIDTH 10\n", b"WIDTH 1000\n").replace(b"POINTS 10\n", b"POINTS 1000\n")
        return m.write(f"lie-{encoding}.pcd", data)

    return build


def ply_ascii_short(m: Media) -> Path:
    lines = m.ply(text=True).read_bytes().splitlines(keepends=True)
    return m.write("short.ply", b"".join(lines[:-10]))


def kitti_nan_late(m: Media) -> Path:
    pts = m.points(400)
    pts[390, 1] = np.nan  # beyond the 4096-byte head that sniffing samples
    path = m.root / "late.bin"
    pts.tofile(path)
    return path


def noise(m: Media) -> Path:
    data = np.random.default_rng(1).integers(0, 256, 16 * 64, dtype=np.uint8).tobytes()
    return m.write("noise.bin", data)


# (id, build, media type when accepted, refusal pattern when refused)
TABLE: list[tuple[str, Build, str | None, str | None]] = [
    ("png", lambda m: m.png(), "image/png", None),
    ("jpeg", lambda m: m.jpeg(), "image/jpeg", None),
    ("webp", lambda m: m.webp(), "image/webp", None),
    ("bmp", lambda m: m.bmp(), "image/bmp", None),
    ("wav", lambda m: m.wav(), "audio/wav", None),
    ("flac", lambda m: m.flac(), "audio/flac", None),
    ("ogg", lambda m: m.ogg(), "audio/ogg", None),
    ("mp3", lambda m: m.mp3(), "audio/mpeg", None),
    ("pcd-ascii", lambda m: m.pcd(encoding="ascii"), "application/x-pcd", None),
    ("pcd-binary", lambda m: m.pcd(encoding="binary"), "application/x-pcd", None),
    ("pcd-compressed", lambda m: m.pcd(encoding="binary_compressed"), "application/x-pcd", None),
    ("ply-ascii", lambda m: m.ply(text=True), "application/x-ply", None),
    ("ply-binary", lambda m: m.ply(), "application/x-ply", None),
    ("las", lambda m: m.las(), "application/vnd.las", None),
    ("laz", lambda m: m.laz(), "application/vnd.laszip", None),
    ("kitti", lambda m: m.kitti(), "application/x-kitti-bin", None),
    ("text", lambda m: m.write("a.txt", "Label this: 猫 sat on the mat.\n".encode()), "text/plain", None),
    ("html-named-png", lambda m: m.write("x.png", b"<html><script>alert(1)</script></html>"), "text/plain", None),
    ("svg-named-png", lambda m: m.write("x.png", b'<svg xmlns="http://www.w3.org/2000/svg"/>'), "text/plain", None),
    # refusals
    ("empty", lambda m: m.write("a.png", b""), None, r"expected media content, got an empty file$"),
    ("truncated-jpeg", lambda m: m.truncated(m.jpeg()), None, r"expected a readable image, got a truncated JPEG \("),
    (
        "truncated-png",
        lambda m: m.truncated(m.png()),
        None,
        r"expected a readable image, got a truncated PNG \(image file is truncated\)$",
    ),
    ("truncated-webp", lambda m: m.truncated(m.webp()), None, r"got a truncated WebP \(header declares \d+ bytes"),
    ("truncated-bmp", lambda m: m.truncated(m.bmp()), None, r"got a truncated BMP"),
    (
        "corrupt-png",
        lambda m: m.write("c.png", b"\x89PNG\r\n\x1a\n" + bytes(range(200))),
        None,
        r"expected a readable image, got a corrupt PNG \(",
    ),
    (
        "png-bomb",
        lambda m: m.bomb_png(),
        None,
        r"expected an image no larger than 100000000 pixels, got 100000x100000$",
    ),
    ("gif", lambda m: m.gif(), None, r"got unsupported image format GIF \(supported: JPEG, PNG, WebP, BMP\)$"),
    ("tiff", lambda m: m.image("a.tif", "TIFF"), None, r"unsupported image format TIFF"),
    ("utf16", lambda m: m.write("u.txt", "hello".encode("utf-16")), None, r"got UTF-16 text"),
    (
        "invalid-utf8",
        lambda m: m.write("notes.txt", b"seventeen bytes: \xff rest"),
        None,
        r"^notes\.txt: expected UTF-8 text, got invalid UTF-8 at byte 17$",
    ),
    ("latin1-text", lambda m: m.write("l.txt", "naïve café".encode("latin-1")), None, r"invalid UTF-8 at byte 2$"),
    ("gbk-text", lambda m: m.write("g.txt", "中文标注".encode("gbk")), None, r"invalid UTF-8 at byte 0$"),
    ("nul-blob", lambda m: m.write("b.dat", b"\x00\x01\x02junk\x00" * 10), None, r"got unrecognised binary data$"),
    ("random-bin", noise, None, r"got unrecognised binary data$"),
    (
        "truncated-flac",
        lambda m: m.truncated(m.flac()),
        None,
        r"expected readable audio, got a corrupt or truncated FLAC",
    ),
    ("truncated-wav", lambda m: m.truncated(m.wav()), None, r"got a truncated WAV \(data chunk declares 8000 bytes"),
    ("truncated-mp3", lambda m: m.truncated(m.mp3(seconds=1.0)), None, r"got a truncated MP3 \(header declares"),
    ("truncated-ogg", lambda m: m.truncated(m.ogg()), None, r"corrupt or truncated OGG"),
    ("pcd-lies-ascii", lying_pcd("ascii"), None, r"got a PCD header declaring 1000 points but 10 in the data$"),
    ("pcd-lies-binary", lying_pcd("binary"), None, r"got a PCD header declaring 1000 points but 10 in the data$"),
    ("pcd-lies-compressed", lying_pcd("binary_compressed"), None, r"got a PCD header declaring 1000 points but 10 in"),
    ("ply-no-xyz", lambda m: m.ply(props="abc"), None, r"got a PLY file without x/y/z vertex properties"),
    ("ply-truncated", lambda m: m.truncated(m.ply(), 0.6), None, r"got a PLY header declaring 64 vertices but \d+ in"),
    ("ply-ascii-short", ply_ascii_short, None, r"got a PLY header declaring 64 vertices but 54 in the data$"),
    ("ply-ascii-cut-row", lambda m: m.truncated(m.ply(text=True), 0.6), None, r"does not match its header \(element"),
    ("las-truncated", lambda m: m.truncated(m.las(), 0.7), None, r"got a LAS header declaring 64 points but \d+ in"),
    ("laz-truncated", lambda m: m.truncated(m.laz(n=2000), 0.7), None, r"got an unreadable LAS/LAZ file"),
    ("kitti-nan-late", kitti_nan_late, None, r"not a KITTI point cloud \(point 390 "),
    ("zip", lambda m: m.write("a.zip", b"PK\x03\x04" + bytes(40)), None, r"unsupported archive format ZIP$"),
]


@pytest.mark.parametrize(("build", "media_type", "error"), [pytest.param(*row[1:], id=row[0]) for row in TABLE])
def test_probe_table(media: Media, build: Build, media_type: str | None, error: str | None) -> None:
    path = build(media)
    source = f"inbox/{path.name}"
    if error is None:
        probed = probe_file(path, source=source)
        assert probed.media_type == media_type
        assert probe_bytes(path.read_bytes(), source=source) == probed
        return
    with pytest.raises(InputRejected) as from_file:
        probe_file(path, source=source)
    with pytest.raises(InputRejected) as from_bytes:
        probe_bytes(path.read_bytes(), source=source)
    message = str(from_file.value)
    assert message.startswith(f"{source}: expected ")
    assert re.search(error, message.removeprefix("inbox/")), message
    assert str(from_bytes.value) == message
    assert from_file.value.source == source
    assert "Traceback" not in message and str(media.root) not in message


@pytest.mark.parametrize(
    ("build", "kind", "meta"),
    [
        pytest.param(
            lambda m: m.png(size=(24, 16)), Medium.IMAGE, {"width": 24, "height": 16, "mode": "RGB"}, id="png"
        ),
        pytest.param(
            lambda m: m.flac(seconds=0.5, channels=2),
            Medium.AUDIO,
            {"duration_s": 0.5, "sample_rate": 16000, "channels": 2, "frames": 8000},
            id="flac",
        ),
        pytest.param(
            lambda m: m.kitti(n=32),
            Medium.POINTCLOUD,
            {"points": 32, "fields": ["x", "y", "z", "intensity"], "format": "kitti-bin"},
            id="kitti",
        ),
        pytest.param(lambda m: m.write("t.txt", "ab\u00e9\u732b".encode()), Medium.TEXT, {"chars": 4}, id="text"),
    ],
)
def test_probe_meta(media: Media, build: Build, kind: Medium, meta: dict[str, object]) -> None:
    probed = probe_file(build(media), source="x")
    assert probed.kind is kind
    assert {k: probed.meta[k] for k in meta} == meta


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputRejected, match=r"^gone\.png: expected a readable file, got no such file$"):
        probe_file(tmp_path / "gone.png", source="gone.png")
    with pytest.raises(InputRejected, match=r"^d: expected a regular file, got a directory$"):
        probe_file(tmp_path, source="d")


def test_limits_apply_to_every_medium(media: Media) -> None:
    tight = ProbeLimits(max_text_bytes=4, max_image_pixels=100, max_audio_seconds=0.1, max_points=10)
    cases = [
        (media.write("t.txt", b"hello"), r"expected text no larger than 4 bytes, got 5 bytes$"),
        (media.png(size=(20, 20)), r"expected an image no larger than 100 pixels, got 20x20$"),
        (media.wav(seconds=0.25), r"expected audio no longer than 0.1 s, got 0.2 s$"),
        (media.pcd(n=11), r"expected a point cloud of at most 10 points, got a PCD header declaring 11$"),
        (media.ply(n=11), r"at most 10 points, got a PLY header declaring 11$"),
        (media.las(n=11), r"at most 10 points, got a LAS header declaring 11$"),
        (media.kitti(n=11), r"at most 10 points, got a KITTI \.bin of 11$"),
    ]
    for path, pattern in cases:
        with pytest.raises(InputRejected, match=pattern):
            probe_file(path, source=path.name, limits=tight)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_points"):
        ProbeLimits(max_points=0)


_MAGICS = [
    b"",
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"RIFF\x00\x01\x00\x00WEBP",
    b"RIFF\x00\x01\x00\x00WAVE",
    b"BM\x00\x01\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00",
    b"fLaC",
    b"OggS",
    b"ID3\x03",
    b"\xff\xfb\x90\x00",
    b"LASF",
    b"ply\nformat binary_little_endian 1.0\n",
    b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n",
    b"# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 2\nPOINTS 2\nDATA ",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(_MAGICS), tail=st.binary(max_size=600))
def test_arbitrary_bytes_are_probed_or_refused(prefix: bytes, tail: bytes) -> None:
    try:
        result = probe_bytes(prefix + tail, source="fuzz")
    except InputRejected as exc:
        assert str(exc).startswith("fuzz: expected ")
    else:
        assert isinstance(result, Probed)


def test_import_is_light() -> None:
    code = (
        "import sys, labelloop.modalities; "
        "heavy = {'numpy', 'PIL', 'soundfile', 'laspy', 'plyfile', 'pypcd4'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
