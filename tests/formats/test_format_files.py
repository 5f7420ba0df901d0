"""The file primitives every exporter writes through: kernel copies and exclusive creation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labelloop.formats._media import copy_file, write_new


def test_copy_file_copies_bytes_of_any_size(tmp_path: Path) -> None:
    for size in (0, 1, 3 << 20):  # empty, tiny, and larger than one sendfile chunk
        src, dest = tmp_path / f"s{size}", tmp_path / f"d{size}"
        data = os.urandom(size)
        src.write_bytes(data)
        copy_file(src, dest)
        assert dest.read_bytes() == data


def test_copy_file_never_writes_through_an_existing_name(tmp_path: Path) -> None:
    src, dest, victim = tmp_path / "s", tmp_path / "d", tmp_path / "victim"
    src.write_bytes(b"new")
    victim.write_bytes(b"keep")
    dest.symlink_to(victim)  # a planted link in the export folder
    with pytest.raises(FileExistsError):
        copy_file(src, dest)
    assert victim.read_bytes() == b"keep"


def test_copy_file_of_a_missing_source_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        copy_file(tmp_path / "missing", tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_copy_file_of_a_folder_leaves_no_partial_file(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(OSError):
        copy_file(tmp_path / "dir", tmp_path / "d")  # sendfile from a directory fails after the create
    assert not (tmp_path / "d").exists()


def test_write_new_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    write_new(target, b"one")
    with pytest.raises(FileExistsError):
        write_new(target, b"two")
    assert target.read_bytes() == b"one"


def test_write_new_finishes_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    calls: list[int] = []

    def short_write(fd: int, data: bytes | memoryview) -> int:  # as a pipe or a full disk may answer
        calls.append(len(data))
        return real_write(fd, bytes(data[:3]))

    monkeypatch.setattr(os, "write", short_write)
    write_new(tmp_path / "f", b"0123456789")
    assert (tmp_path / "f").read_bytes() == b"0123456789" and calls == [10, 7, 4, 1]
