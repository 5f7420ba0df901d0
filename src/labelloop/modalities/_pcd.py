"""PCD (Point Cloud Library) files: ascii, binary and binary_compressed, read with pypcd4.

The header is checked here before pypcd4 touches the data: the declared point count must
respect the limit and match what the data section holds, so a short or lying file is refused
with both numbers and never makes pypcd4 allocate for points that are not there.
"""

from __future__ import annotations

import io
import struct
from typing import Any

from labelloop.modalities._cloud import Sink
from labelloop.modalities._common import Input, ProbeLimits, why

__all__ = ["read_pcd"]

_EXPECTED = "a point cloud"
_MAX_HEADER = 1 << 16
_MAX_LINES = 10  # pypcd4 stops reading the header after 10 lines
_PAD = "#$%&~~"  # pypcd4's name for "_" padding fields
_TYPES = {("F", 4), ("F", 8), ("U", 1), ("U", 2), ("U", 4), ("U", 8), ("I", 1), ("I", 2), ("I", 4), ("I", 8)}


def read_pcd(inp: Input, limits: ProbeLimits, sink: Sink) -> tuple[str, list[str]]:
    """Validate and read a PCD file into ``sink``; return its format name and field names."""
    import numpy as np
    from pypcd4.pypcd4 import Encoding, MetaData
    from pypcd4.pypcd4 import PointCloud as PcdCloud

    data = inp.read()
    lines, offset = _header_lines(inp, data)
    try:
        meta = MetaData.parse_header(lines)
    except Exception as exc:
        raise inp.reject(_EXPECTED, f"a malformed PCD header ({_reason(exc)})") from None
    names = [str(n) for n in meta.fields]
    if not len(names) == len(meta.size) == len(meta.type) == len(meta.count):
        raise inp.reject(_EXPECTED, "a malformed PCD header (FIELDS, SIZE, TYPE and COUNT differ in length)")
    bad = [f"{n}:{t}{s}" for n, t, s in zip(names, meta.type, meta.size, strict=True) if (t, s) not in _TYPES]
    if bad:
        raise inp.reject(_EXPECTED, f"a PCD header with unsupported field types ({', '.join(bad)})")
    missing = [axis for axis in "xyz" if axis not in names]
    if missing:
        raise inp.reject(_EXPECTED, f"a PCD file without {'/'.join(missing)} fields (has: {' '.join(names)})")
    declared = int(meta.points)
    if declared > limits.max_points:
        raise inp.reject(f"a point cloud of at most {limits.max_points} points", f"a PCD header declaring {declared}")
    encoding = Encoding.BINARY_COMPRESSED if meta.data == Encoding.BINARYSCOMPRESSED else Encoding(meta.data)
    _check_data(inp, data[offset:], encoding, declared, meta.build_dtype().itemsize)
    try:
        cloud = PcdCloud.from_fileobj(io.BytesIO(data))  # type: ignore[arg-type]
        rows = np.atleast_1d(cloud.pc_data)
    except Exception as exc:
        raise inp.reject(_EXPECTED, f"a PCD file whose data does not match its header ({why(exc, inp)})") from None
    if len(rows) != declared:
        raise inp.reject(_EXPECTED, _short(declared, len(rows)))
    if rows.dtype.names is None:  # pragma: no cover - pypcd4 always builds a structured dtype
        raise inp.reject(_EXPECTED, "a PCD file pypcd4 could not split into fields")
    xyz = np.stack([rows["x"], rows["y"], rows["z"]], axis=1)
    fields: dict[str, Any] = {}
    for name, count in zip(names, meta.count, strict=True):
        if name in ("x", "y", "z") or name.startswith(_PAD):
            continue
        if count == 1:
            fields[name] = np.array(rows[name])
        else:
            fields[name] = np.stack([rows[f"{name}__{i:04d}"] for i in range(count)], axis=1)
    sink.add(xyz, fields)
    return f"pcd-{encoding.value}", [n for n in names if not n.startswith(_PAD)]


def _header_lines(inp: Input, data: bytes) -> tuple[list[str], int]:
    """The header's non-comment lines up to ``DATA``, and the offset where the data starts."""
    lines: list[str] = []
    pos = 0
    while True:
        end = data.find(b"\n", pos, pos + _MAX_HEADER)
        if end < 0 or end > _MAX_HEADER:
            raise inp.reject(_EXPECTED, "a PCD header without a DATA line")
        raw, pos = data[pos:end], end + 1
        try:
            line = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise inp.reject(_EXPECTED, "a PCD header with non-ASCII bytes") from None
        if not line or line.startswith("#"):
            continue
        lines.append(line)
        if line.startswith("DATA"):
            return lines, pos
        if len(lines) >= _MAX_LINES:
            raise inp.reject(_EXPECTED, "a PCD header with more than 10 lines before DATA")


def _check_data(inp: Input, body: bytes, encoding: Any, declared: int, itemsize: int) -> None:
    from pypcd4.pypcd4 import Encoding

    if encoding == Encoding.ASCII:
        found = sum(1 for line in body.splitlines() if line.strip())
        if found != declared:
            raise inp.reject(_EXPECTED, _short(declared, found))
    elif encoding == Encoding.BINARY:
        if len(body) < declared * itemsize:
            raise inp.reject(_EXPECTED, _short(declared, len(body) // itemsize))
    elif declared > 0:
        if len(body) < 8:
            raise inp.reject(_EXPECTED, _short(declared, 0))
        compressed, uncompressed = struct.unpack_from("<II", body)
        if uncompressed != declared * itemsize:
            raise inp.reject(_EXPECTED, _short(declared, uncompressed // itemsize))
        if compressed > len(body) - 8:
            raise inp.reject(
                _EXPECTED,
                f"a truncated PCD (compressed data of {compressed} bytes, {len(body) - 8} present)",
            )


def _short(declared: int, found: int) -> str:
    return f"a PCD header declaring {declared} points but {found} in the data"


def _reason(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'header'}: {e['msg']}" for e in exc.errors()[:3])
    return why(exc)
