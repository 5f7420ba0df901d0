"""A minimal sequential zip writer for export artifacts: many small members, cheaply.

:mod:`zipfile` spends most of a small member's time setting up a full-size deflate state
(about 70 µs each, more than creating a file on a local disk) and seeks back over its
buffer to patch each local header. This writer compresses a small member with a small
deflate state in one call (a few µs), writes headers with their final sizes, buffers its
output itself and patches only streamed members' headers (in the buffer, or with ``pwrite``
once flushed). Archives are standard: ZIP64 records are written where an offset, a size or
the member count needs them, names are UTF-8 (flag bit 11 when not ASCII), Unix modes are set.

Example:
    >>> import io, os, tempfile, zipfile
    >>> fd, name = tempfile.mkstemp(suffix=".zip")
    >>> zw = ZipWriter(fd, (2026, 1, 2, 3, 4, 5))
    >>> zw.add_bytes("a/b.txt", b"hello " * 10, compress=True)
    >>> zw.add_dir("empty/")
    >>> zw.close(); os.close(fd)
    >>> zf = zipfile.ZipFile(name)
    >>> zf.read("a/b.txt") == b"hello " * 10, zf.namelist()
    (True, ['a/b.txt', 'empty/'])
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable

__all__ = ["ZipWriter"]

ZIP64_LIMIT = 0xFFFFFFFF
"""Sizes and offsets from this on need ZIP64 fields (a module constant so tests can lower it)."""
ZIP64_COUNT = 0xFFFF
_MAX32, _MAX16 = 0xFFFFFFFF, 0xFFFF  # "see the ZIP64 record" markers
_BUFFER = 1 << 20
_SMALL = 64 << 10  # members up to this size get a small deflate state
_FILE_ATTR = 0o100644 << 16
_DIR_ATTR = (0o040755 << 16) | 0x10
_MADE_BY = (3 << 8) | 45  # Unix, spec 4.5
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_END = struct.Struct("<4sHHHHIIH")
_END64 = struct.Struct("<4sQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<4sIQI")
_CRC_SIZES = struct.Struct("<III")


def _dos(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    y, mo, d, h, mi, s = date_time
    return (h << 11) | (mi << 5) | (s // 2), ((max(y, 1980) - 1980) << 9) | (mo << 5) | d


class ZipWriter:
    """Writes a zip archive to an open file descriptor, member after member.

    Args:
        fd: A file descriptor open for writing at offset 0 (the writer never closes it).
        date_time: The modification time stamped on every member.
    """

    def __init__(self, fd: int, date_time: tuple[int, int, int, int, int, int]) -> None:
        self.fd = fd
        self._time, self._date = _dos(date_time)
        self._buf = bytearray(_BUFFER)
        self._n = 0  # bytes in the buffer
        self._flushed = 0  # bytes already handed to the file
        self._central: list[bytes] = []
        self._names: set[str] = set()

    def __contains__(self, name: object) -> bool:
        return name in self._names

    # ------------------------------------------------------------------ output
    @property
    def offset(self) -> int:
        """Bytes written so far (flushed or buffered)."""
        return self._flushed + self._n

    def _out(self, data: bytes | bytearray | memoryview) -> None:
        k = len(data)
        if self._n + k > _BUFFER:
            self.flush()
            if k >= _BUFFER // 2:  # a large block goes to the file as is
                self._write_all(data)
                self._flushed += k
                return
        self._buf[self._n : self._n + k] = data  # into the fixed buffer: no reallocation
        self._n += k

    def _write_all(self, data: bytes | bytearray | memoryview) -> None:
        with memoryview(data) as view:
            done = 0
            while done < len(view):
                done += os.write(self.fd, view[done:])

    def flush(self) -> None:
        """Hand the buffered bytes to the file."""
        with memoryview(self._buf) as view:
            self._write_all(view[: self._n])
        self._flushed += self._n
        self._n = 0

    def _patch(self, at: int, data: bytes) -> None:
        if at >= self._flushed:
            self._buf[at - self._flushed : at - self._flushed + len(data)] = data
        else:
            os.pwrite(self.fd, data, at)

    # ------------------------------------------------------------------ members
    def _name(self, name: str) -> tuple[bytes, int]:
        if name in self._names:
            raise FileExistsError(f"{name!r}: already in the zip")
        self._names.add(name)
        try:
            return name.encode("ascii"), 0
        except UnicodeEncodeError:
            return name.encode("utf-8"), 0x800

    def _local(self, raw: bytes, flags: int, method: int, crc: int, csize: int, usize: int, zip64: bool) -> None:
        extra = struct.pack("<HHQQ", 1, 16, usize, csize) if zip64 else b""
        sizes = (_MAX32, _MAX32) if zip64 else (csize, usize)
        version = 45 if zip64 else 20
        self._out(
            _LOCAL.pack(
                b"PK\x03\x04", version, flags, method, self._time, self._date, crc, *sizes, len(raw), len(extra)
            )
            + raw
            + extra
        )

    def _entry(self, raw: bytes, flags: int, method: int, crc: int, csize: int, usize: int, at: int, attr: int) -> None:
        fields: list[int] = []
        csz, usz, off = csize, usize, at
        if usize >= ZIP64_LIMIT or csize >= ZIP64_LIMIT:
            fields += [usize, csize]
            csz = usz = _MAX32
        if at >= ZIP64_LIMIT:
            fields.append(at)
            off = _MAX32
        extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
        version = 45 if fields else 20
        head = _CENTRAL.pack(
            b"PK\x01\x02", _MADE_BY, version, flags, method, self._time, self._date, crc, csz, usz,
            len(raw), len(extra), 0, 0, 0, attr, off,
        )  # fmt: skip
        self._central.append(head + raw + extra)

    def add_bytes(self, name: str, data: bytes, *, compress: bool) -> None:
        """Add a member holding ``data`` (deflated when ``compress`` and it gets smaller)."""
        raw, flags = self._name(name)
        crc = zlib.crc32(data)
        method, body = 0, data
        if compress and data:
            co = zlib.compressobj(6, zlib.DEFLATED, -15, 8 if len(data) > _SMALL else 2)
            packed = co.compress(data) + co.flush()
            if len(packed) < len(data):
                method, body = 8, packed
        at = self.offset
        zip64 = len(data) >= ZIP64_LIMIT
        self._local(raw, flags, method, crc, len(body), len(data), zip64)
        self._out(body)
        self._entry(raw, flags, method, crc, len(body), len(data), at, _FILE_ATTR)

    def add_stream(self, name: str, read: Callable[[int], bytes], size: int, *, compress: bool) -> None:
        """Add a member of ``size`` bytes from ``read(n)`` calls, a chunk at a time.

        Raises:
            ValueError: when ``read`` gives other than ``size`` bytes in all.
        """
        raw, flags = self._name(name)
        method = 8 if compress else 0
        at = self.offset
        zip64 = size >= ZIP64_LIMIT - (size >> 6) - 1024  # a deflated size may exceed the input a little
        self._local(raw, flags, method, 0, 0, 0, zip64)
        co = zlib.compressobj(6, zlib.DEFLATED, -15) if compress else None
        crc = usize = csize = 0
        while usize < size and (block := read(min(_BUFFER, size - usize))):
            crc = zlib.crc32(block, crc)
            usize += len(block)
            out = co.compress(block) if co is not None else block
            csize += len(out)
            self._out(out)
        if co is not None:
            tail = co.flush()
            csize += len(tail)
            self._out(tail)
        if usize != size:
            raise ValueError(f"{name!r}: expected {size} bytes, read {usize}")
        if zip64:
            self._patch(at + 14, struct.pack("<I", crc))
            self._patch(at + _LOCAL.size + len(raw) + 4, struct.pack("<QQ", usize, csize))
        else:
            self._patch(at + 14, _CRC_SIZES.pack(crc, csize, usize))
        self._entry(raw, flags, method, crc, csize, usize, at, _FILE_ATTR)

    def add_dir(self, name: str) -> None:
        """Add a directory entry (``name`` ends in ``/``)."""
        raw, flags = self._name(name)
        at = self.offset
        self._local(raw, flags, 0, 0, 0, 0, False)
        self._entry(raw, flags, 0, 0, 0, 0, at, _DIR_ATTR)

    def close(self) -> None:
        """Write the central directory (and ZIP64 end records where needed) and flush."""
        start = self.offset
        for entry in self._central:
            self._out(entry)
        size = self.offset - start
        count = len(self._central)
        n, cd_size, cd_start = count, size, start
        if count >= ZIP64_COUNT or start >= ZIP64_LIMIT or size >= ZIP64_LIMIT:
            end64 = self.offset
            self._out(_END64.pack(b"PK\x06\x06", 44, _MADE_BY, 45, 0, 0, count, count, size, start))
            self._out(_LOCATOR64.pack(b"PK\x06\x07", 0, end64, 1))
            n, cd_size, cd_start = min(count, _MAX16), min(size, _MAX32), _MAX32
        self._out(_END.pack(b"PK\x05\x06", 0, 0, n, n, cd_size, cd_start, 0))
        self.flush()
        self._central.clear()
