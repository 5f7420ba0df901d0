"""Fixture factory: every test medium is generated here, small, inside tmp_path."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class Media:
    """Builds real media files with their own libraries."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rng = np.random.default_rng(7)

    def write(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path

    # images ---------------------------------------------------------------------------
    def image(self, name: str, fmt: str, size: tuple[int, int] = (24, 16), mode: str = "RGB", **save: Any) -> Path:
        from PIL import Image

        w, h = size
        channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
        arr = (self.rng.random((h, w, channels)) * 255).astype(np.uint8)
        img = Image.fromarray(arr[:, :, 0] if channels == 1 else arr, mode)
        path = self.root / name
        img.save(path, fmt, **save)
        return path

    def png(self, name: str = "a.png", **kw: Any) -> Path:
        return self.image(name, "PNG", **kw)

    def jpeg(self, name: str = "a.jpg", **kw: Any) -> Path:
        return self.image(name, "JPEG", **kw)

    def webp(self, name: str = "a.webp", **kw: Any) -> Path:
        return self.image(name, "WEBP", **kw)

    def bmp(self, name: str = "a.bmp", **kw: Any) -> Path:
        return self.image(name, "BMP", **kw)

    def bomb_png(self, name: str = "bomb.png", width: int = 100_000, height: int = 100_000) -> Path:
        """A 1 KB PNG whose IHDR declares ``width`` x ``height`` RGB pixels."""
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        idat = zlib.compress(b"\x00" * 1024)
        sig = b"\x89PNG\r\n\x1a\n"
        return self.write(name, sig + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))

    def gif(self, name: str = "a.gif") -> Path:
        return self.image(name, "GIF")

    def truncated(self, path: Path, keep: float = 0.5, name: str | None = None) -> Path:
        data = path.read_bytes()
        return self.write(name or f"cut-{path.name}", data[: int(len(data) * keep)])

    # audio ------------------------------------------------------------------------------
    def audio(self, name: str, fmt: str, seconds: float = 0.25, rate: int = 16000, channels: int = 1) -> Path:
        import soundfile as sf

        t = np.arange(int(seconds * rate)) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        data = tone if channels == 1 else np.stack([tone] * channels, axis=1)
        path = self.root / name
        subtype = {"MP3": "MPEG_LAYER_III", "OGG": "VORBIS"}.get(fmt)
        sf.write(path, data, rate, format=fmt, subtype=subtype)
        return path

    def wav(self, name: str = "a.wav", **kw: Any) -> Path:
        return self.audio(name, "WAV", **kw)

    def flac(self, name: str = "a.flac", **kw: Any) -> Path:
        return self.audio(name, "FLAC", **kw)

    def ogg(self, name: str = "a.ogg", **kw: Any) -> Path:
        return self.audio(name, "OGG", **kw)

    def mp3(self, name: str = "a.mp3", **kw: Any) -> Path:
        return self.audio(name, "MP3", **kw)

    # point clouds -------------------------------------------------------------------------
    def points(self, n: int = 64) -> np.ndarray:
        """Quantised points (compressible, so pypcd4 really writes binary_compressed)."""
        xyz = np.round(self.rng.uniform(-20, 20, (n, 3)), 1)
        intensity = np.round(self.rng.uniform(0, 1, (n, 1)), 1)
        return np.concatenate([xyz, intensity], axis=1).astype(np.float32)

    def pcd(self, name: str = "a.pcd", encoding: str = "binary", n: int = 64) -> Path:
        from pypcd4.pypcd4 import Encoding, PointCloud

        cloud = PointCloud.from_points(self.points(n), ("x", "y", "z", "intensity"), (np.float32,) * 4)
        path = self.root / name
        cloud.save(path, encoding=Encoding(encoding))
        return path

    def ply(self, name: str = "a.ply", text: bool = False, n: int = 64, props: str = "xyz") -> Path:
        from plyfile import PlyData, PlyElement

        pts = self.points(n)
        names = [*props, "intensity"]
        vertex = np.empty(n, dtype=[(p, "f4") for p in names])
        for i, p in enumerate(names):
            vertex[p] = pts[:, i]
        path = self.root / name
        PlyData([PlyElement.describe(vertex, "vertex")], text=text).write(str(path))
        return path

    def las(self, name: str = "a.las", n: int = 64) -> Path:
        import laspy

        header = laspy.LasHeader(point_format=3, version="1.2")
        header.scales = np.array([0.01, 0.01, 0.01])
        header.offsets = np.zeros(3)
        las = laspy.LasData(header)
        pts = self.points(n)
        las.x, las.y, las.z = pts[:, 0], pts[:, 1], pts[:, 2]
        las.intensity = (pts[:, 3] * 1000).astype(np.uint16)
        path = self.root / name
        las.write(str(path))
        return path

    def laz(self, name: str = "a.laz", n: int = 64) -> Path:
        return self.las(name, n)

    def kitti(self, name: str = "000000.bin", n: int = 64) -> Path:
        path = self.root / name
        self.points(n).tofile(path)
        return path


@pytest.fixture
def media(tmp_path: Path) -> Media:
    return Media(tmp_path)
