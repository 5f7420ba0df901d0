"""Safe extraction of zip archives.

The whole archive is refused, before anything is written, if any member is unsafe: an
absolute or drive path, a ``..`` component, a symbolic link, a duplicate name, too many
members, too many bytes in total, or a suspicious compression ratio. While extracting, the
bytes actually written are counted too, so a member that lies about its size is caught.

Example:
    >>> import io, zipfile, tempfile, pathlib
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("../evil.txt", "x")
    >>> extract_zip(buf, pathlib.Path(tempfile.mkdtemp()), name="a.zip", limits=ZipLimits())
    Traceback (most recent call last):
    ...
    labelloop.errors.InputRejected: a.zip: expected an archive whose members stay inside it, got member '../evil.txt'
"""

from __future__ import annotations

import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from labelloop.errors import InputRejected
from labelloop.formats import UnsafePath, check_relative

__all__ = ["ZipLimits", "extract_zip", "is_zip"]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """Limits that stop zip bombs and hostile archives."""

    max_members: int = 100_000
    max_total_bytes: int = 8 * 2**30
    max_ratio: float = 250.0


def is_zip(head: bytes) -> bool:
    """True if ``head`` starts like a zip archive."""
    return head.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def _check_member(info: zipfile.ZipInfo, name: str) -> str:
    member = info.filename
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InputRejected(name, "an archive of plain files", f"symbolic link {member!r}")
    try:
        posix = check_relative(member)
    except UnsafePath:
        raise InputRejected(name, "an archive whose members stay inside it", f"member {member!r}") from None
    return unicodedata.normalize("NFC", str(posix)).casefold()


def extract_zip(src: BinaryIO | Path, dest: Path, *, name: str, limits: ZipLimits) -> int:
    """Extract ``src`` into the empty directory ``dest``; return the number of files.

    Raises:
        InputRejected: the archive is corrupt or unsafe (nothing is left in ``dest`` that the
            caller must keep: it should remove ``dest`` on error).
    """
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputRejected(name, "a readable zip archive", f"a corrupt archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise InputRejected(name, f"at most {limits.max_members} members", f"{len(infos)} members")
        seen: set[str] = set()
        total = 0
        files = []
        for info in infos:
            norm = _check_member(info, name)
            if norm in seen:
                raise InputRejected(name, "unique member names", f"duplicate member {info.filename!r}")
            seen.add(norm)
            if info.is_dir():
                continue
            total += info.file_size
            if total > limits.max_total_bytes:
                raise InputRejected(
                    name, f"at most {limits.max_total_bytes} bytes uncompressed", "more (possible zip bomb)"
                )
            if info.compress_size and info.file_size / info.compress_size > limits.max_ratio:
                raise InputRejected(
                    name,
                    f"a compression ratio under {limits.max_ratio:g}",
                    f"{info.file_size / info.compress_size:.0f} for {info.filename!r} (possible zip bomb)",
                )
            files.append(info)
        written = 0
        base = dest.resolve()
        for info in files:
            target = (base / PurePosixPath(info.filename.replace("\\", "/"))).resolve()
            if not target.is_relative_to(base):
                raise InputRejected(name, "an archive whose members stay inside it", f"member {info.filename!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            member_bytes = 0
            try:
                with zf.open(info) as fin, target.open("xb") as fout:
                    while chunk := fin.read(_CHUNK):
                        member_bytes += len(chunk)
                        written += len(chunk)
                        if member_bytes > info.file_size or written > limits.max_total_bytes:
                            raise InputRejected(name, "members no larger than declared", f"{info.filename!r} larger")
                        fout.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
                raise InputRejected(
                    name, "a readable zip archive", f"a corrupt member {info.filename!r} ({exc})"
                ) from None
        return len(files)
