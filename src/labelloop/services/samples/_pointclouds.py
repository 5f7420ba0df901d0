"""The point-cloud demo: simulated sweeps in six file formats, two with gold cuboids and ground."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelloop.services.samples._common import SampleProject, fresh_dir, gold, meta, write_manifest
from labelloop.services.samples._scene import GROUND, OBJECT_SIZES, SENSOR_HEIGHT_M, Scene, make_scene

__all__ = [
    "POINTCLOUD_SCHEMA",
    "WRITERS",
    "cuboid_regions",
    "read_points",
    "visible_objects",
    "write_pointclouds",
    "write_points",
]

POINTCLOUD_SCHEMA: dict[str, Any] = {
    "media": [{"name": "pointcloud", "kind": "pointcloud"}],
    "controls": [
        {
            "name": "objects",
            "kind": "cuboids",
            "target": "pointcloud",
            "labels": list(OBJECT_SIZES),
            "description": "One cuboid per road user, in the sensor's 'lidar' frame (x forward, z up).",
        },
        {
            "name": "ground",
            "kind": "point_labels",
            "target": "pointcloud",
            "labels": ["ground", "object"],
            "description": "Drivable ground points, and points on annotated objects.",
        },
    ],
}
_MIN_POINTS = 5  # gold cuboids are drawn for objects with at least this many returns


_Writer = Callable[[Path, NDArray[np.float32], NDArray[np.float32], NDArray[np.uint16]], None]


def _pcd(encoding: str) -> _Writer:
    def write(path: Path, xyz: NDArray[np.float32], intensity: NDArray[np.float32], ring: NDArray[np.uint16]) -> None:
        from pypcd4.pypcd4 import Encoding, PointCloud

        # the ring field also keeps LZF from giving up on noisy floats: pypcd4 silently writes
        # plain binary when compression does not shrink the data
        cols = (xyz[:, 0], xyz[:, 1], xyz[:, 2], intensity, ring)
        pc = PointCloud.from_points(list(cols), ("x", "y", "z", "intensity", "ring"), ("f4",) * 4 + ("u2",))
        pc.save(path, encoding=Encoding(encoding))

    return write


def _ply(path: Path, xyz: NDArray[np.float32], intensity: NDArray[np.float32], ring: NDArray[np.uint16]) -> None:
    from plyfile import PlyData, PlyElement

    vertex = np.empty(len(xyz), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f4")])
    vertex["x"], vertex["y"], vertex["z"], vertex["intensity"] = xyz[:, 0], xyz[:, 1], xyz[:, 2], intensity
    PlyData([PlyElement.describe(vertex, "vertex")], text=False, byte_order="<").write(str(path))


def _las(path: Path, xyz: NDArray[np.float32], intensity: NDArray[np.float32], ring: NDArray[np.uint16]) -> None:
    import laspy

    header = laspy.LasHeader(point_format=0, version="1.2")
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.zeros(3)
    header.creation_date = datetime.date(2024, 1, 1)  # fixed, so that the bytes depend on the seed only
    header.system_identifier = "labelloop demo"
    las = laspy.LasData(header)
    las.x, las.y, las.z = xyz[:, 0].astype(np.float64), xyz[:, 1].astype(np.float64), xyz[:, 2].astype(np.float64)
    las.intensity = np.round(np.clip(intensity, 0.0, 1.0) * 65535).astype(np.uint16)
    las.write(str(path))


def _kitti(path: Path, xyz: NDArray[np.float32], intensity: NDArray[np.float32], ring: NDArray[np.uint16]) -> None:
    np.column_stack([xyz, intensity]).astype("<f4").tofile(path)


#: (file suffix, format name, writer) per output format, in scene order.
WRITERS: tuple[tuple[str, str, _Writer], ...] = (
    (".pcd", "pcd-ascii", _pcd("ascii")),
    (".pcd", "pcd-binary", _pcd("binary")),
    (".pcd", "pcd-binary_compressed", _pcd("binary_compressed")),
    (".ply", "ply-binary", _ply),
    (".laz", "laz", _las),
    (".bin", "kitti-bin", _kitti),
)


def write_points(
    path: Path,
    fmt: str,
    xyz: NDArray[np.float32],
    intensity: NDArray[np.float32],
    ring: NDArray[np.uint16] | None = None,
) -> None:
    """Write points in one of the :data:`WRITERS` formats (``pcd-ascii``, ``laz``, ``kitti-bin``, ...).

    PCD files carry a ``ring`` field (zeros when ``ring`` is None); the other formats do not.

    Example:
        >>> import tempfile
        >>> pts = np.zeros((3, 3), np.float32)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_points(Path(d) / "a.bin", "kitti-bin", pts, np.ones(3, np.float32))
        ...     read_points(Path(d) / "a.bin")[0].shape
        (3, 3)
    """
    for _suffix, name, writer in WRITERS:
        if name == fmt:
            writer(path, xyz, intensity, np.zeros(len(xyz), np.uint16) if ring is None else ring)
            return
    raise KeyError(f"no point-cloud format {fmt!r}; formats: {[w[1] for w in WRITERS]}")


def read_points(path: Path) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Read back what :func:`write_points` wrote: ``(xyz (N, 3), intensity (N,))``, float32.

    LAZ intensities come back scaled to [0, 1] and coordinates rounded to 1 mm.
    """
    suffix = path.suffix.lower()
    if suffix == ".pcd":
        from pypcd4.pypcd4 import PointCloud

        arr = PointCloud.from_path(path).numpy(("x", "y", "z", "intensity"))
    elif suffix == ".ply":
        from plyfile import PlyData

        v = PlyData.read(str(path))["vertex"]
        arr = np.column_stack([v["x"], v["y"], v["z"], v["intensity"]])
    elif suffix in (".las", ".laz"):
        import laspy

        las = laspy.read(str(path))
        arr = np.column_stack([las.x, las.y, las.z, np.asarray(las.intensity) / 65535.0])
    elif suffix == ".bin":
        arr = np.fromfile(path, dtype="<f4").reshape(-1, 4)
    else:
        raise ValueError(f"{path}: expected .pcd, .ply, .las, .laz or .bin, got {suffix!r}")
    arr = np.asarray(arr, dtype=np.float32)
    return arr[:, :3], arr[:, 3]


def visible_objects(scene: Scene, min_points: int = _MIN_POINTS) -> list[int]:
    """Return the indices of the scene's cuboids with at least ``min_points`` returns."""
    counts = np.bincount(scene.instance[scene.instance >= 0], minlength=len(scene.cuboids))
    return [k for k in range(len(scene.cuboids)) if counts[k] >= min_points]


def cuboid_regions(scene: Scene, *, min_points: int = _MIN_POINTS, prefix: str = "obj") -> list[dict[str, Any]]:
    """Return ``objects`` cuboid regions (ids ``obj<k+1>``) for the objects with enough returns.

    Example:
        >>> s = make_scene(np.random.default_rng(0), n_objects=3, n_points=3000)
        >>> all(r["control"] == "objects" for r in cuboid_regions(s))
        True
    """
    return [
        {
            "id": f"{prefix}{k + 1}",
            "control": "objects",
            "label": scene.cuboids[k].label,
            **scene.cuboids[k].as_dict(),
            "frame": "lidar",
        }
        for k in visible_objects(scene, min_points)
    ]


def _gold_value(scene: Scene) -> list[dict[str, Any]]:
    value = cuboid_regions(scene)
    ground = np.flatnonzero(scene.instance == GROUND)
    value.append({"id": "pts-ground", "control": "ground", "label": "ground", "indices": ground.tolist()})
    on_objects = np.flatnonzero(np.isin(scene.instance, visible_objects(scene)))
    if len(on_objects):
        value.append({"id": "pts-object", "control": "ground", "label": "object", "indices": on_objects.tolist()})
    return value


def scene_meta(scene: Scene, fmt: str, seed: int) -> dict[str, Any]:
    """Return a point-cloud item's ``meta``."""
    return meta(
        "CC0-1.0",
        generator="labelloop.services.samples.make_scene",
        seed=seed,
        format=fmt,
        frame="lidar",
        sensor_height_m=SENSOR_HEIGHT_M,
        points=len(scene.xyz),
    )


def write_pointclouds(
    dest: Path, *, seed: int = 0, n_points: int = 30_000, gold_scenes: tuple[int, ...] = (1, 5)
) -> SampleProject:
    """Write ``dest/pointclouds`` (one scene per format + ``items.jsonl``); return ``pointcloud-demo``."""
    folder = fresh_dir(dest / "pointclouds")
    (folder / "files").mkdir()
    lines: list[dict[str, Any]] = []
    for i, (suffix, fmt, writer) in enumerate(WRITERS):
        scene = make_scene(np.random.default_rng([seed, i]), n_objects=6 + i % 4, n_points=n_points)
        rel = f"files/scene_{i:02d}_{fmt.replace('-', '_')}{suffix}"
        writer(folder / rel, scene.xyz, scene.intensity, scene.ring)
        line: dict[str, Any] = {"key": f"scene-{i:02d}", "pointcloud": rel, "meta": scene_meta(scene, fmt, seed)}
        if i in gold_scenes:
            line["annotations"] = [gold(_gold_value(scene))]
        lines.append(line)
    manifest = folder / "items.jsonl"
    n, annotated = write_manifest(manifest, lines)
    return SampleProject(
        name="pointcloud-demo",
        schema=POINTCLOUD_SCHEMA,
        source=manifest,
        description="Simulated LiDAR sweeps (PCD ascii/binary/compressed, PLY, LAZ, KITTI .bin) "
        "with cars, pedestrians and cyclists.",
        items=n,
        annotated=annotated,
    )
