"""LAS and LAZ (ASPRS LiDAR) files, read with laspy (LAZ through lazrs) in chunks.

Points are streamed a million at a time, so probing keeps flat memory; the number of points
read must equal the header's point count.
"""

from __future__ import annotations

import struct
from typing import Any

from labelloop.errors import InputRejected
from labelloop.modalities._cloud import Sink
from labelloop.modalities._common import Input, ProbeLimits, why

__all__ = ["read_las"]

_EXPECTED = "a point cloud"
_CHUNK = 1_000_000
_XYZ = ("X", "Y", "Z")
_VLR_HEADER = 54
_EVLR_HEADER = 60


def read_las(inp: Input, limits: ProbeLimits, sink: Sink) -> tuple[str, str, list[str]]:
    """Validate and read a LAS/LAZ file into ``sink``; return (media type, format, fields)."""
    import laspy
    import numpy as np

    _check_header(inp)
    with inp.open() as fp:
        try:
            with laspy.LasReader(fp, closefd=False) as reader:
                header = reader.header
                declared = int(header.point_count)
                compressed = bool(header.are_points_compressed)
                kind = "LAZ" if compressed else "LAS"
                if declared > limits.max_points:
                    raise inp.reject(
                        f"a point cloud of at most {limits.max_points} points", f"a {kind} header declaring {declared}"
                    )
                if not compressed:
                    room = inp.size - int(header.offset_to_point_data)
                    record = int(header.point_format.size)
                    if declared * record > room:
                        raise inp.reject(_EXPECTED, _short(kind, declared, max(room, 0) // record))
                names = [str(n) for n in header.point_format.dimension_names]
                found = 0
                for chunk in reader.chunk_iterator(_CHUNK):
                    xyz = np.stack([np.asarray(chunk.x), np.asarray(chunk.y), np.asarray(chunk.z)], axis=1)
                    fields: dict[str, Any] = {}
                    if sink.keep:
                        fields = {n: np.array(chunk[n]) for n in names if n not in _XYZ}
                    sink.add(xyz, fields)
                    found += len(xyz)
        except InputRejected:
            raise
        except Exception as exc:
            raise inp.reject(_EXPECTED, f"an unreadable LAS/LAZ file ({why(exc, inp)})") from None
    if found != declared:
        raise inp.reject(_EXPECTED, _short(kind, declared, found))
    fields_out = ["x", "y", "z", *(n for n in names if n not in _XYZ)]
    if compressed:
        return "application/vnd.laszip", "laz", fields_out
    return "application/vnd.las", "las", fields_out


def _check_header(inp: Input) -> None:
    """Bound the VLR and EVLR counts by the bytes that could hold them, before laspy loops over them."""
    head = inp.head()
    if len(head) < 227:
        raise inp.reject(_EXPECTED, f"a LAS header cut short ({inp.size} bytes)")
    header_size, point_offset, vlrs = struct.unpack_from("<HII", head, 94)
    if header_size < 227 or not header_size <= point_offset <= inp.size:
        raise inp.reject(
            _EXPECTED, f"a LAS header with impossible offsets (header {header_size}, points at {point_offset})"
        )
    if vlrs * _VLR_HEADER > point_offset - header_size:
        raise inp.reject(_EXPECTED, f"a LAS header declaring {vlrs} VLRs in {point_offset - header_size} bytes")
    if head[24:26] >= b"\x01\x04" and header_size >= 247 and len(head) >= 247:
        evlr_start, evlrs = struct.unpack_from("<QI", head, 235)
        if evlrs and (evlr_start > inp.size or evlrs * _EVLR_HEADER > inp.size - evlr_start):
            raise inp.reject(_EXPECTED, f"a LAS header declaring {evlrs} EVLRs that the file cannot hold")


def _short(kind: str, declared: int, found: int) -> str:
    return f"a {kind} header declaring {declared} points but {found} in the data"
