"""PLY files (ascii and binary), read with plyfile; the ``vertex`` element holds the points.

The header is scanned here first: the vertex element must have scalar ``x``, ``y``, ``z``
properties, the vertex count must respect the limit, and the declared element counts must fit
in the bytes that follow the header, so plyfile never allocates rows that cannot exist.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import IO, Any

from labelloop.modalities._cloud import Sink
from labelloop.modalities._common import Input, ProbeLimits, why

__all__ = ["read_ply"]

_EXPECTED = "a point cloud"
_MAX_HEADER = 1 << 20
_SIZES = {
    "char": 1, "int8": 1, "uchar": 1, "uint8": 1,
    "short": 2, "int16": 2, "ushort": 2, "uint16": 2,
    "int": 4, "int32": 4, "uint": 4, "uint32": 4, "float": 4, "float32": 4,
    "double": 8, "float64": 8,
}  # fmt: skip


@dataclass(slots=True)
class _Element:
    name: str
    count: int
    scalars: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    row_bytes: int = 0  # binary: bytes of scalars plus list length prefixes


def read_ply(inp: Input, limits: ProbeLimits, sink: Sink) -> tuple[str, list[str]]:
    """Validate and read a PLY file into ``sink``; return its format name and vertex fields."""
    import numpy as np
    from plyfile import PlyData, PlyElementParseError

    with inp.open() as fp:
        encoding, elements, start = _scan_header(inp, fp)
    vertex = next((e for e in elements if e.name == "vertex"), None)
    if vertex is None:
        raise inp.reject(_EXPECTED, "a PLY file without a vertex element")
    missing = [axis for axis in "xyz" if axis not in vertex.scalars]
    if missing:
        has = " ".join(vertex.scalars + vertex.lists) or "none"
        raise inp.reject(
            _EXPECTED, f"a PLY file without x/y/z vertex properties (missing {'/'.join(missing)}; has: {has})"
        )
    if vertex.count > limits.max_points:
        raise inp.reject(
            f"a point cloud of at most {limits.max_points} points", f"a PLY header declaring {vertex.count}"
        )
    _check_room(inp, encoding, elements, inp.size - start)

    with inp.open() as fp:
        # An ascii PLY is handed over as text: a wrapper plyfile made itself would close our file
        # when garbage-collected (ResourceWarning). Binary files from disk are memory-mapped.
        stream: IO[Any] = io.TextIOWrapper(fp, encoding="ascii") if encoding == "ascii" else fp
        try:
            ply = PlyData.read(stream, mmap="c" if inp.path is not None else False)
            data = ply["vertex"].data
            xyz = np.stack([np.asarray(data[a], dtype=np.float64) for a in "xyz"], axis=1)
            fields: dict[str, Any] = {
                n: np.array(data[n]) for n in vertex.scalars if n not in ("x", "y", "z") and sink.keep
            }
        except PlyElementParseError as exc:
            if exc.element is not None and exc.element.name == "vertex" and "end-of-file" in exc.message:
                raise inp.reject(
                    _EXPECTED, f"a PLY header declaring {vertex.count} vertices but {exc.row} in the data"
                ) from None
            raise inp.reject(_EXPECTED, f"a PLY file whose data does not match its header ({why(exc, inp)})") from None
        except Exception as exc:
            raise inp.reject(_EXPECTED, f"an unreadable PLY file ({why(exc, inp)})") from None
        finally:
            if isinstance(stream, io.TextIOWrapper):
                stream.detach()
    sink.add(xyz, fields)
    del ply, data
    return ("ply-ascii" if encoding == "ascii" else "ply-binary"), vertex.scalars + vertex.lists


def _scan_header(inp: Input, fp: IO[bytes]) -> tuple[str, list[_Element], int]:
    """Return (format, elements, offset of the data) or refuse a malformed header."""
    encoding = ""
    elements: list[_Element] = []
    read = 0
    number = 0
    while True:
        raw = fp.readline(_MAX_HEADER)
        read += len(raw)
        number += 1
        if not raw or read > _MAX_HEADER:
            raise inp.reject(_EXPECTED, "a PLY header without end_header")
        try:
            parts = raw.decode("ascii").split()
        except UnicodeDecodeError:
            raise inp.reject(_EXPECTED, f"a PLY header with non-ASCII bytes on line {number}") from None
        if not parts or parts[0] in ("comment", "obj_info"):
            continue
        try:
            if number == 1:
                if parts != ["ply"]:
                    raise ValueError("first line is not 'ply'")
            elif parts[0] == "format":
                encoding = parts[1]
                if encoding not in ("ascii", "binary_little_endian", "binary_big_endian"):
                    raise ValueError(f"unknown format {encoding!r}")
            elif parts[0] == "element":
                count = int(parts[2])
                if count < 0:
                    raise ValueError("negative element count")
                elements.append(_Element(parts[1], count))
            elif parts[0] == "property":
                _add_property(elements[-1], parts)
            elif parts[0] == "end_header":
                if not encoding:
                    raise ValueError("no format line")
                return encoding, elements, read
            else:
                raise ValueError(f"unknown keyword {parts[0]!r}")
        except (ValueError, IndexError, KeyError) as exc:
            raise inp.reject(_EXPECTED, f"a malformed PLY header (line {number}: {why(exc)})") from None


def _add_property(element: _Element, parts: list[str]) -> None:
    if parts[1] == "list":
        if parts[3] not in _SIZES:
            raise KeyError(parts[3])
        element.row_bytes += _SIZES[parts[2]]
        element.lists.append(parts[4])
    else:
        element.row_bytes += _SIZES[parts[1]]
        element.scalars.append(parts[2])


def _check_room(inp: Input, encoding: str, elements: list[_Element], room: int) -> None:
    """Refuse counts that the data section cannot possibly hold."""
    if encoding == "ascii":  # each value takes at least one character and one separator
        need = sum(e.count * (len(e.scalars) + len(e.lists)) for e in elements) * 2 - 1
    else:
        need = sum(e.count * e.row_bytes for e in elements)
    if need <= room:
        return
    first = elements[0]
    if first.name == "vertex" and encoding != "ascii" and first.row_bytes:
        raise inp.reject(
            _EXPECTED, f"a PLY header declaring {first.count} vertices but {room // first.row_bytes} in the data"
        )
    counts = ", ".join(f"{e.count} {e.name}" for e in elements)
    raise inp.reject(_EXPECTED, f"a PLY header declaring {counts} but only {room} bytes of data")
