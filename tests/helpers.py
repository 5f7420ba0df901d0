"""Test helpers: schemas and real media files made on the spot."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import soundfile as sf
from PIL import Image

TEXT_SCHEMA = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [
        {"name": "sentiment", "kind": "classification", "target": "text", "labels": ["pos", "neg", "neu"]},
        {"name": "entities", "kind": "spans", "target": "text", "labels": ["PER", "ORG", "LOC"]},
    ],
}

IMAGE_SCHEMA = {
    "media": [{"name": "image", "kind": "image"}],
    "controls": [
        {"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat", "dog"]},
    ],
}


def cjk_font() -> str | None:
    """A font with Chinese glyphs, if the machine has one (``.ci/run`` installs fonts-wqy-zenhei)."""
    debian = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
    if debian.is_file():
        return str(debian)
    patterns = ("wqy*.tt[cf]", "*CJK*.tt[cf]", "*CJK*.otf", "DroidSansFallback*.ttf", "uming.tt[cf]")
    for root in (Path("/usr/share/fonts"), Path("/usr/local/share/fonts")):
        for pattern in patterns:
            found = sorted(root.rglob(pattern)) if root.is_dir() else []
            if found:
                return str(found[0])
    return None


def png_bytes(w: int = 32, h: int = 24, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes(w: int = 40, h: int = 30, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def wav_bytes(seconds: float = 0.5, sr: int = 16000) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, format="WAV")
    return buf.getvalue()


def pcd_ascii(n: int = 50) -> bytes:
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(n, 3)).astype(np.float32)
    header = (
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
        f"COUNT 1 1 1\nWIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA ascii\n"
    )
    return (header + "\n".join(" ".join(f"{v:.5f}" for v in p) for p in pts) + "\n").encode()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A few-hundred-byte PNG whose header declares ``width`` x ``height`` pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


T = TypeVar("T")


def race(n: int, fn: Callable[[int], T]) -> list[T | None]:
    """Run ``fn(0) ... fn(n - 1)`` in ``n`` threads released together; their results in order.

    An exception in any thread fails the calling test (after every thread has ended).
    """
    barrier = threading.Barrier(n)
    got: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            got[i] = fn(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return got
