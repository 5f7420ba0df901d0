"""A small LiDAR simulator: a sloped ground, road users and distant clutter, seen by ray casting.

A spinning sensor at the origin (``x`` forward, ``y`` left, ``z`` up, metres; the "lidar"
frame) casts rays on fixed elevation rings. Each ray returns its nearest hit on the ground plane
or on an oriented box; objects are built from a few boxes (a car is a body and a cabin), so
only surfaces that face the sensor return points and near objects shadow far ones. Ranges get
Gaussian noise; intensity falls with range.

Example:
    >>> scene = make_scene(np.random.default_rng(0), n_objects=4, n_points=5000)
    >>> scene.xyz.shape, scene.xyz.dtype.name
    ((5000, 3), 'float32')
    >>> sorted({c.label for c in scene.cuboids}) <= ["car", "cyclist", "pedestrian"]
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["CLUTTER", "GROUND", "OBJECT_SIZES", "SENSOR_HEIGHT_M", "Cuboid", "Scene", "make_scene"]

#: Typical (length, width, height) in metres per class.
OBJECT_SIZES: dict[str, tuple[float, float, float]] = {
    "car": (4.5, 1.8, 1.5),
    "pedestrian": (0.6, 0.6, 1.75),
    "cyclist": (1.8, 0.6, 1.7),
}
SENSOR_HEIGHT_M = 1.73
GROUND = -1
CLUTTER = -2
_MAX_RANGE_M = 80.0
_RANGE_NOISE_M = 0.015
_INSET_M = 0.04  # object surfaces lie this far inside their cuboid, as an annotator draws it
_REFLECTIVITY = {"car": 0.55, "pedestrian": 0.25, "cyclist": 0.35, "ground": 0.2, "clutter": 0.3}


@dataclass(frozen=True, slots=True)
class Cuboid:
    """An oriented 3D box in the lidar frame.

    Attributes:
        label: ``car``, ``pedestrian`` or ``cyclist``.
        center: The box centre (x, y, z) in metres.
        size: (length along the heading, width, height) in metres.
        yaw: The heading in radians, counter-clockwise from +x about +z.
    """

    label: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float

    def as_dict(self) -> dict[str, Any]:
        """Return ``{"center": [x, y, z], "size": [l, w, h], "yaw": yaw}`` (rounded to mm/mrad)."""
        return {
            "center": [round(v, 3) for v in self.center],
            "size": [round(v, 3) for v in self.size],
            "yaw": round(self.yaw, 4),
        }

    def local(self, xyz: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """Express points (N, 3) in the box frame (origin at the centre, +x along the heading)."""
        d = np.asarray(xyz, dtype=np.float64) - np.asarray(self.center)
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]], axis=1)

    def contains(self, xyz: NDArray[np.floating[Any]], margin: float = 0.0) -> NDArray[np.bool_]:
        """Return which points (N, 3) lie inside the box grown by ``margin`` metres.

        Example:
            >>> Cuboid("car", (10.0, 0.0, 0.0), (4.0, 2.0, 1.5), 0.0).contains(np.array([[11.9, 0.9, 0.7]])).tolist()
            [True]
        """
        half = np.asarray(self.size) / 2.0 + margin
        inside: NDArray[np.bool_] = np.all(np.abs(self.local(xyz)) <= half, axis=1)
        return inside

    def corners(self) -> NDArray[np.float64]:
        """Return the 8 corners (8, 3), bottom face first."""
        hl, hw, hh = (v / 2.0 for v in self.size)
        signs = [(sx, sy, sz) for sz in (-1, 1) for sx, sy in ((1, 1), (1, -1), (-1, -1), (-1, 1))]
        local = np.array(signs, dtype=np.float64) * np.array([hl, hw, hh])
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        out: NDArray[np.float64] = local @ rot.T + np.asarray(self.center)
        return out


class Scene(NamedTuple):
    """A simulated sweep.

    Attributes:
        xyz: Points (N, 3), float32, lidar frame, in scan order (ring by ring).
        intensity: Reflectance in [0, 1], float32, (N,).
        cuboids: Every placed object; some may be hidden behind others.
        instance: Per point: the index into ``cuboids``, :data:`GROUND` or :data:`CLUTTER`.
        ring: Per point: the laser ring (0 = lowest elevation), uint16.
    """

    xyz: NDArray[np.float32]
    intensity: NDArray[np.float32]
    cuboids: list[Cuboid]
    instance: NDArray[np.int32]
    ring: NDArray[np.uint16]


class _Part(NamedTuple):
    center: tuple[float, float, float]
    half: tuple[float, float, float]
    yaw: float
    owner: int  # cuboid index or CLUTTER
    reflectivity: float


def _object_parts(k: int, cub: Cuboid) -> list[_Part]:
    """Split an object's cuboid into the boxes that form its silhouette (all inside the cuboid)."""
    (cx, cy, cz), (length_m, w, h), yaw = cub.center, cub.size, cub.yaw
    bottom = cz - h / 2.0
    c, s = math.cos(yaw), math.sin(yaw)
    refl = _REFLECTIVITY[cub.label]

    def part(dx: float, length: float, width: float, z0: float, z1: float) -> _Part:
        center = (cx + c * dx * length_m, cy + s * dx * length_m, bottom + (z0 + z1) * h / 2.0)
        half = (length * length_m / 2.0, width * w / 2.0, (z1 - z0) * h / 2.0)
        return _Part(center, tuple(max(v - _INSET_M, 0.02) for v in half), yaw, k, refl)  # type: ignore[arg-type]

    if cub.label == "car":  # body above the wheels' clearance, then a shorter cabin
        return [part(0.0, 1.0, 1.0, 0.12, 0.6), part(-0.05, 0.55, 0.92, 0.6, 1.0), part(0.0, 0.9, 0.9, 0.0, 0.12)]
    if cub.label == "pedestrian":  # legs, torso, head
        return [part(0.0, 0.5, 0.6, 0.0, 0.5), part(0.0, 0.8, 1.0, 0.5, 0.87), part(0.0, 0.4, 0.45, 0.87, 1.0)]
    return [part(0.0, 1.0, 0.25, 0.0, 0.55), part(0.0, 0.45, 1.0, 0.45, 1.0)]  # cyclist: bike, rider


def _ground_z(x: float, y: float, slope: tuple[float, float]) -> float:
    return -SENSOR_HEIGHT_M + slope[0] * x + slope[1] * y


def _place_objects(
    rng: np.random.Generator, n: int, slope: tuple[float, float], azimuth_range: tuple[float, float]
) -> list[Cuboid]:
    placed: list[tuple[float, float, float]] = []  # x, y, footprint radius
    out: list[Cuboid] = []
    labels = rng.choice(list(OBJECT_SIZES), size=n, p=[0.5, 0.25, 0.25])
    for label in labels:
        size = tuple(float(v) * float(rng.uniform(0.92, 1.08)) for v in OBJECT_SIZES[str(label)])
        radius = math.hypot(size[0], size[1]) / 2.0
        for _ in range(200):
            az = float(rng.uniform(*azimuth_range))
            r = float(rng.uniform(5.0 + radius, 35.0))
            x, y = r * math.cos(az), r * math.sin(az)
            if all(math.hypot(x - px, y - py) > radius + pr + 0.5 for px, py, pr in placed):
                break
        else:
            continue  # no room left: fewer objects than asked
        placed.append((x, y, radius))
        z = _ground_z(x, y, slope) + size[2] / 2.0
        yaw = float(rng.uniform(-math.pi, math.pi))
        out.append(Cuboid(str(label), (x, y, z), (size[0], size[1], size[2]), yaw))
    return out


def _clutter(rng: np.random.Generator, slope: tuple[float, float], n_objects: int) -> list[_Part]:
    """Buildings and trees beyond the road users, and a few poles; none overlaps a 35 m disc."""
    parts = []
    for _ in range(int(rng.integers(6, 12))):
        az, r = float(rng.uniform(-math.pi, math.pi)), float(rng.uniform(45.0, 72.0))
        x, y = r * math.cos(az), r * math.sin(az)
        if rng.random() < 0.6:  # a building front facing the sensor
            half = (float(rng.uniform(1.0, 3.0)), float(rng.uniform(4.0, 12.0)), float(rng.uniform(2.5, 6.0)))
            yaw = az + float(rng.normal(0.0, 0.2))
        else:  # a tree crown on a trunk
            half = (float(rng.uniform(1.0, 2.5)),) * 2 + (float(rng.uniform(1.5, 3.0)),)
            yaw = float(rng.uniform(0, math.pi))
        z = _ground_z(x, y, slope) + half[2]
        parts.append(_Part((x, y, z), half, yaw, CLUTTER, float(rng.uniform(0.15, 0.45))))
    for _ in range(max(2, n_objects // 3)):  # poles at 36-44 m
        az, r = float(rng.uniform(-math.pi, math.pi)), float(rng.uniform(36.0, 44.0))
        x, y = r * math.cos(az), r * math.sin(az)
        parts.append(_Part((x, y, _ground_z(x, y, slope) + 3.0), (0.1, 0.1, 3.0), 0.0, CLUTTER, 0.5))
    return parts


def _cast_boxes(dirs: NDArray[np.float64], parts: list[_Part]) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Return, per ray, the nearest hit distance on any part (inf when none) and that part's index."""
    best = np.full(len(dirs), np.inf)
    who = np.full(len(dirs), -1, dtype=np.intp)
    for k, p in enumerate(parts):
        c, s = math.cos(p.yaw), math.sin(p.yaw)
        d = np.stack([c * dirs[:, 0] + s * dirs[:, 1], -s * dirs[:, 0] + c * dirs[:, 1], dirs[:, 2]], axis=1)
        cx, cy, cz = p.center
        origin = np.array([-(c * cx + s * cy), -(-s * cx + c * cy), -cz])
        d = np.where(np.abs(d) < 1e-12, 1e-12, d)
        half = np.asarray(p.half)
        t1, t2 = (-half - origin) / d, (half - origin) / d
        t_near = np.minimum(t1, t2).max(axis=1)
        t_far = np.maximum(t1, t2).min(axis=1)
        hit = (t_far >= t_near) & (t_near > 0.0) & (t_near < best)
        best[hit] = t_near[hit]
        who[hit] = k
    return best, who


def make_scene(
    rng: np.random.Generator,
    n_objects: int = 8,
    n_points: int = 30_000,
    *,
    n_rings: int = 32,
    azimuth_range: tuple[float, float] = (-math.pi, math.pi),
) -> Scene:
    """Simulate one LiDAR sweep of a street-like scene.

    Args:
        rng: The only source of randomness; a fixed seed gives the same scene.
        n_objects: Road users to place (cars about half, pedestrians and cyclists a quarter each),
            at 5-35 m from the sensor, not overlapping.
        n_points: The number of points returned (fewer only if too few rays hit anything).
        n_rings: Laser rings, spread over elevations of -24.8° to +2°.
        azimuth_range: Where objects may be placed (radians; 0 is straight ahead). The sweep
            always covers the full circle.

    Returns:
        A :class:`Scene`; ``xyz[i]`` belongs to ``cuboids[instance[i]]`` when ``instance[i] >= 0``.

    Example:
        >>> s = make_scene(np.random.default_rng(1), n_objects=3, n_points=4000)
        >>> int((s.instance == GROUND).sum()) > 2000
        True
    """
    slope = (float(rng.uniform(-0.012, 0.012)), float(rng.uniform(-0.012, 0.012)))
    cuboids = _place_objects(rng, n_objects, slope, azimuth_range)
    parts = [p for k, c in enumerate(cuboids) for p in _object_parts(k, c)] + _clutter(rng, slope, n_objects)

    elevations = np.deg2rad(np.linspace(-24.8, 2.0, n_rings)) + rng.normal(0.0, 0.0004, n_rings)
    ground_rings = int(np.sum(np.tan(-elevations) > SENSOR_HEIGHT_M / _MAX_RANGE_M))
    n_az = max(16, math.ceil(1.2 * n_points / max(ground_rings, 1)))
    offsets = rng.uniform(0, 2 * math.pi / n_az, (n_rings, 1))  # rings do not fire in lockstep
    az = np.linspace(-math.pi, math.pi, n_az, endpoint=False)[None, :] + offsets
    el = np.broadcast_to(elevations[:, None], az.shape)
    dirs = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1).reshape(-1, 3)

    denom = dirs[:, 2] - slope[0] * dirs[:, 0] - slope[1] * dirs[:, 1]
    with np.errstate(divide="ignore"):
        t_ground = np.where(denom < -1e-9, -SENSOR_HEIGHT_M / denom, np.inf)
    t_box, who = _cast_boxes(dirs, parts)
    t = np.minimum(t_ground, t_box)
    keep = np.flatnonzero(t < _MAX_RANGE_M)
    if len(keep) > n_points:
        keep = np.sort(rng.choice(keep, n_points, replace=False))

    on_box = t_box[keep] < t_ground[keep]
    owners = np.array([p.owner for p in parts] + [GROUND], dtype=np.int32)
    refl = np.array([p.reflectivity for p in parts] + [_REFLECTIVITY["ground"]])
    part_idx = np.where(on_box, who[keep], len(parts))
    rng_m = t[keep] + rng.normal(0.0, _RANGE_NOISE_M, len(keep))
    xyz = dirs[keep] * rng_m[:, None]
    intensity = refl[part_idx] * (1.0 - 0.5 * rng_m / _MAX_RANGE_M) + rng.normal(0.0, 0.03, len(keep))
    instance = owners[part_idx]
    n_spurious = len(keep) // 500  # a few dust / multipath returns, labelled clutter
    if n_spurious:
        idx = rng.choice(len(keep), n_spurious, replace=False)
        xyz[idx] *= rng.uniform(0.3, 0.95, (n_spurious, 1))
        instance[idx] = CLUTTER
    ring = (keep // n_az).astype(np.uint16)
    return Scene(xyz.astype(np.float32), np.clip(intensity, 0.0, 1.0).astype(np.float32), cuboids, instance, ring)
