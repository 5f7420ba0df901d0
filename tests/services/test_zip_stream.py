"""Zips streamed from a folder: every member intact, read back by zipfile, memory held to a chunk."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from labelloop.services.zip_stream import iter_zip, zip_members
from tests.helpers import png_bytes, write


def test_every_file_round_trips_with_its_relative_path(tmp_path: Path) -> None:
    root = tmp_path / "out"
    write(root / "release.json", '{"a": 1}')
    write(root / "data" / "labels" / "x.txt", "0 0.5 0.5 0.1 0.1\n" * 1000)
    (root / "data" / "images").mkdir(parents=True)
    (root / "data" / "images" / "cat.png").write_bytes(png_bytes())
    big = os.urandom(3 * 1024 * 1024 + 17)  # several chunks
    (root / "data" / "blob.bin").write_bytes(big)
    (root / "empty").mkdir()
    pieces = list(iter_zip(root, chunk=64 * 1024))
    assert max(len(p) for p in pieces) < 200 * 1024  # never the whole archive at once
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == [
            "data/blob.bin", "data/images/cat.png", "data/labels/x.txt", "release.json",
        ]  # fmt: skip
        assert zf.read("data/blob.bin") == big
        assert zf.read("data/labels/x.txt") == (root / "data" / "labels" / "x.txt").read_bytes()
        assert zf.getinfo("data/images/cat.png").compress_type == zipfile.ZIP_STORED  # compressed already
        assert zf.getinfo("data/labels/x.txt").compress_type == zipfile.ZIP_DEFLATED
        assert zf.getinfo("data/labels/x.txt").compress_size < 2000


def test_symbolic_links_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "out"
    write(root / "a.txt", "a")
    write(tmp_path / "secret.txt", "outside")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    assert [p.name for p in zip_members(root)] == ["a.txt"]
    with zipfile.ZipFile(io.BytesIO(b"".join(iter_zip(root)))) as zf:
        assert zf.namelist() == ["a.txt"]
