"""Point clouds: PCD, PLY, LAS/LAZ and KITTI ``.bin``, recognised by content.

Probing reads every point (a corrupt or short file is refused) and reports the count, the
fields, the encoding and the bounds over finite points. KITTI velodyne files have no header:
they are float32 ``(x, y, z, reflectance)`` quadruples, accepted when the size is a multiple
of 16 and every point is finite with ``|x|, |y|, |z| < 1e4``.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> path = Path(tempfile.mkdtemp()) / "000000.bin"
    >>> pts = np.tile(np.array([[1.0, 2.0, 3.0, 0.5]], dtype=np.float32), (10, 1))
    >>> pts.tofile(path)
    >>> cloud = load_pointcloud(path)
    >>> cloud.xyz.shape, cloud.fields["intensity"].shape
    ((10, 3), (10,))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labelloop.core.media import Medium
from labelloop.modalities import detect
from labelloop.modalities._cloud import PointCloud, Sink
from labelloop.modalities._common import DEFAULT_LIMITS, Input, Probed, ProbeLimits

__all__ = ["PointCloud", "load_pointcloud", "probe_pointcloud"]

_EXPECTED = "a point cloud"
_KITTI_CHUNK = 16 << 16  # 65536 points per chunk
_KITTI_FIELDS = ["x", "y", "z", "intensity"]


def probe_pointcloud(inp: Input, fmt: detect.Format, limits: ProbeLimits) -> Probed:
    """Probe a point cloud: header checks, then every point read (arrays not kept)."""
    sink = Sink(keep=False)
    media_type, form, fields = _read(inp, fmt, limits, sink)
    meta: dict[str, Any] = {"points": sink.count, "fields": fields, "format": form, "bounds": sink.bounds}
    return Probed(Medium.POINTCLOUD, media_type, meta)


def load_pointcloud(path: Path, *, source: str | None = None, limits: ProbeLimits = DEFAULT_LIMITS) -> PointCloud:
    """Read a point-cloud file.

    Args:
        path: A PCD, PLY, LAS, LAZ or KITTI ``.bin`` file (recognised by content).
        source: Human name used in errors (default: the path).
        limits: ``max_points`` applies.

    Returns:
        The points: ``xyz`` as ``(N, 3)`` float32 and the other per-point fields
        (``intensity`` for KITTI; PCD/PLY properties; LAS dimensions such as
        ``intensity``, ``classification``, ``return_number``).

    Raises:
        InputRejected: Not a point cloud, unsupported, too many points, or inconsistent.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from plyfile import PlyData, PlyElement
        >>> p = Path(tempfile.mkdtemp()) / "a.ply"
        >>> v = np.array([(0, 0, 0), (1, 2, 3)], dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")])
        >>> PlyData([PlyElement.describe(v, "vertex")]).write(str(p))
        >>> load_pointcloud(p).xyz.tolist()
        [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]
    """
    inp = Input(source or str(path), path=path)
    if inp.size == 0:
        raise inp.reject(_EXPECTED, "an empty file")
    fmt = detect.identify(inp.head(), size=inp.size)
    if fmt is None or fmt.medium is not Medium.POINTCLOUD:
        raise inp.reject(_EXPECTED, detect.describe(fmt))
    sink = Sink(keep=True)
    _read(inp, fmt, limits, sink)
    return sink.cloud()


def _read(inp: Input, fmt: detect.Format, limits: ProbeLimits, sink: Sink) -> tuple[str, str, list[str]]:
    """Feed ``sink``; return (media type, format name, field names)."""
    if fmt is detect.PCD:
        from labelloop.modalities._pcd import read_pcd

        form, fields = read_pcd(inp, limits, sink)
        return fmt.media_type, form, fields
    if fmt is detect.PLY:
        from labelloop.modalities._ply import read_ply

        form, fields = read_ply(inp, limits, sink)
        return fmt.media_type, form, fields
    if fmt is detect.LAS:
        from labelloop.modalities._las import read_las

        return read_las(inp, limits, sink)
    if fmt is detect.KITTI:
        _read_kitti(inp, limits, sink)
        return fmt.media_type, "kitti-bin", list(_KITTI_FIELDS)
    raise inp.reject(_EXPECTED, detect.describe(fmt))  # pragma: no cover - dispatch is exhaustive


def _read_kitti(inp: Input, limits: ProbeLimits, sink: Sink) -> None:
    import numpy as np

    points = inp.size // 16
    if inp.size % 16:
        raise inp.reject(_EXPECTED, f"a .bin file of {inp.size} bytes, not a whole number of KITTI points")
    if points > limits.max_points:
        raise inp.reject(f"a point cloud of at most {limits.max_points} points", f"a KITTI .bin of {points}")
    seen = 0
    for piece in inp.chunks(_KITTI_CHUNK):
        if len(piece) % 16:
            raise inp.reject(_EXPECTED, "a KITTI .bin that changed size while being read")
        rows = np.frombuffer(piece, dtype="<f4").reshape(-1, 4)
        bad = ~np.isfinite(rows).all(axis=1) | (np.abs(rows[:, :3]) >= 1e4).any(axis=1)
        if bad.any():
            index = seen + int(np.flatnonzero(bad)[0])
            raise inp.reject(
                _EXPECTED,
                f"a .bin file that is not a KITTI point cloud (point {index} is not finite or beyond 1e4)",
            )
        sink.add(rows[:, :3], {"intensity": rows[:, 3].astype(np.float32)})
        seen += len(rows)
    if seen != points:
        raise inp.reject(_EXPECTED, f"a KITTI .bin of {points} points but {seen} read")
