"""``pointcloud.cuboids``: algorithmic 3D boxes for LiDAR sweeps, no model download.

Pipeline per frame:

1. **Ground** — RANSAC plane fit (Fischler & Bolles, 1981) on a random sample of the lower half
   of the points, hypotheses vectorised, near-horizontal planes only, refined by least squares on
   the inliers. Points higher than ``ground_m`` above the plane (and below ``max_height_m``)
   within ``max_range_m`` are obstacles.
2. **Clusters** — DBSCAN (Ester et al., 1996; scikit-learn) on the bird's-eye view of at most
   ``max_points`` obstacle points (a random subsample keeps a 100k-point frame fast).
3. **Boxes** — yaw from the minimum-area rectangle of the cluster's BEV convex hull (rotating
   calipers, Freeman & Shapira, 1975); the height from the top point to the ground plane.
4. **Classes** — each size prior (car, pedestrian, cyclist) is tried with the footprint's long
   axis as length or width; observed extents may be smaller than the prior (LiDAR sees only the
   faces turned to the sensor) but not much larger. The best prior names the class and completes
   the box away from the sensor to the prior's size. Clusters fitting no prior are skipped, or
   labelled ``other`` when the control has that label.
5. **Score** — ``exp(-cost) * (1 - exp(-points / 20))``: fit to the prior and support.

Example:
    >>> rng = np.random.default_rng(0)
    >>> ground = np.c_[rng.uniform(-20, 20, (4000, 2)), rng.normal(-1.7, 0.01, 4000)]
    >>> car = np.c_[rng.uniform(9.0, 13.5, 600), rng.uniform(2.0, 3.8, 600), rng.uniform(-1.5, -0.2, 600)]
    >>> dets = detect_cuboids(np.vstack([ground, car]).astype(np.float32), CuboidConfig())
    >>> [(d.label, round(d.box.center[0])) for d in dets]
    [('car', 11)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labelloop.backends.base import BaseBackend, media_of
from labelloop.backends.geometry3d import Box3D
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendOutput
from labelloop.errors import InvalidSchema

__all__ = ["CuboidConfig", "CuboidsBackend", "Detection", "create", "detect_cuboids", "fit_ground"]

MODEL_VERSION = "1.0"
F64 = NDArray[np.float64]


class CuboidConfig(BaseModel):
    """Parameters of ``pointcloud.cuboids`` (metres)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ground_m: float = Field(0.2, gt=0)
    ransac_iterations: int = Field(80, ge=5)
    ransac_sample: int = Field(3000, ge=50)
    ransac_threshold_m: float = Field(0.12, gt=0)
    max_height_m: float = Field(3.0, gt=0)
    max_range_m: float = Field(60.0, gt=0)
    eps_m: float = Field(0.45, gt=0)
    min_samples: int = Field(4, ge=1)
    max_points: int = Field(16_000, ge=100)
    min_cluster_points: int = Field(8, ge=3)
    padding_m: float = Field(0.04, ge=0)
    max_cost: float = Field(1.5, gt=0)
    priors: dict[str, tuple[float, float, float]] = Field(
        default_factory=lambda: {"car": (4.5, 1.8, 1.5), "pedestrian": (0.6, 0.6, 1.75), "cyclist": (1.8, 0.6, 1.7)}
    )
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected object: class (None: fits no prior), box, score and supporting points."""

    label: str | None
    box: Box3D
    score: float
    points: int


def fit_ground(xyz: F64, cfg: CuboidConfig, rng: np.random.Generator) -> tuple[float, float, float]:
    """RANSAC ground plane ``z = a x + b y + c`` (Fischler & Bolles, 1981).

    Returns:
        ``(a, b, c)``; a flat plane at the lowest decile when nothing fits.
    """
    z = xyz[:, 2]
    low = xyz[z <= np.partition(z, len(z) // 2)[len(z) // 2]] if len(z) > 10 else xyz
    cand = low[rng.choice(len(low), min(cfg.ransac_sample, len(low)), replace=False)]
    if len(cand) < 3:
        return 0.0, 0.0, float(np.min(z)) if len(z) else 0.0
    tri = cand[rng.integers(0, len(cand), (cfg.ransac_iterations, 3))]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normal, axis=1)
    ok = length > 1e-9
    normal[ok] /= length[ok, None]
    ok &= np.abs(normal[:, 2]) > 0.95  # near-horizontal planes only
    if not ok.any():
        return 0.0, 0.0, float(np.quantile(z, 0.1))
    normal, tri = normal[ok], tri[ok]
    d = -np.einsum("ij,ij->i", normal, tri[:, 0])
    inliers = np.abs(cand @ normal.T + d) < cfg.ransac_threshold_m  # (sample, hypotheses)
    best = inliers[:, int(np.argmax(inliers.sum(axis=0)))]
    p = cand[best]
    design = np.c_[p[:, 0], p[:, 1], np.ones(len(p))]
    (a, b, c), *_ = np.linalg.lstsq(design, p[:, 2], rcond=None)
    return float(a), float(b), float(c)


def _min_area_yaw(xy: F64) -> float:
    """Yaw (mod pi/2) of the minimum-area rectangle around ``xy`` (rotating calipers on the hull)."""
    if len(xy) >= 3:
        from scipy.spatial import ConvexHull, QhullError

        try:
            hull = xy[ConvexHull(xy, qhull_options="QJ").vertices]
        except QhullError:
            hull = xy
    else:
        hull = xy
    edges = np.diff(np.vstack([hull, hull[:1]]), axis=0)
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), math.pi / 2))
    if len(angles) == 0:
        return 0.0
    c, s = np.cos(angles), np.sin(angles)
    u = hull[:, 0, None] * c + hull[:, 1, None] * s  # (hull, angles)
    v = -hull[:, 0, None] * s + hull[:, 1, None] * c
    area = (u.max(0) - u.min(0)) * (v.max(0) - v.min(0))
    return float(angles[int(np.argmin(area))])


def _complete(lo: float, hi: float, target: float, sensor: float) -> tuple[float, float]:
    """Grow the interval [lo, hi] to ``target`` away from the sensor's coordinate."""
    if hi - lo >= target:
        return lo, hi
    if sensor <= lo:
        return lo, lo + target
    if sensor >= hi:
        return hi - target, hi
    mid = (lo + hi) / 2
    return mid - target / 2, mid + target / 2


def _classify(
    ext: tuple[float, float], height: float, cfg: CuboidConfig
) -> tuple[str | None, bool, float, tuple[float, float, float]]:
    """Best prior: (label, first axis is the length, cost, prior size)."""
    best: tuple[str | None, bool, float, tuple[float, float, float]] = (None, True, math.inf, (0.0, 0.0, 0.0))
    for label, (pl, pw, ph) in cfg.priors.items():
        for first_is_length in (True, False):
            ol, ow = ext if first_is_length else (ext[1], ext[0])
            cost = 0.0
            for obs, prior in ((ol, pl), (ow, pw)):
                over = max(0.0, obs - 1.2 * prior) / prior
                cost += 25.0 * over**2 + 0.3 * ((prior - min(obs, prior)) / prior) ** 2
            cost += 6.0 * ((height - ph) / ph) ** 2 + 25.0 * (max(0.0, height - 1.25 * ph) / ph) ** 2
            if cost < best[2]:
                best = (label, first_is_length, cost, (pl, pw, ph))
    if best[2] > cfg.max_cost:
        return None, best[1], best[2], best[3]
    return best


def detect_cuboids(xyz: NDArray[Any], cfg: CuboidConfig) -> list[Detection]:
    """Detect road users in one sweep (``xyz``: (N, 3), sensor at the origin, z up).

    Returns:
        Detections sorted by score, highest first; those fitting no prior have ``label`` None.
    """
    from sklearn.cluster import DBSCAN

    rng = np.random.default_rng(cfg.seed)
    pts = np.asarray(xyz, dtype=np.float64)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) < cfg.min_cluster_points:
        return []
    a, b, c = fit_ground(pts, cfg, rng)
    height = pts[:, 2] - (a * pts[:, 0] + b * pts[:, 1] + c)
    near = np.hypot(pts[:, 0], pts[:, 1]) < cfg.max_range_m
    obstacle = pts[(height > cfg.ground_m) & (height < cfg.max_height_m) & near]
    obstacle_h = height[(height > cfg.ground_m) & (height < cfg.max_height_m) & near]
    if len(obstacle) > cfg.max_points:
        keep = rng.choice(len(obstacle), cfg.max_points, replace=False)
        obstacle, obstacle_h = obstacle[keep], obstacle_h[keep]
    if len(obstacle) < cfg.min_cluster_points:
        return []
    labels = DBSCAN(eps=cfg.eps_m, min_samples=cfg.min_samples).fit(obstacle[:, :2]).labels_
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(labels.max() + 2))
    out = []
    for k in range(labels.max() + 1):
        idx = order[bounds[k] : bounds[k + 1]]
        if len(idx) >= cfg.min_cluster_points:
            out.append(_box_for_cluster(obstacle[idx, :2], float(obstacle_h[idx].max()), (a, b, c), cfg))
    return sorted(out, key=lambda d: -d.score)


def _box_for_cluster(xy: F64, top: float, plane: tuple[float, float, float], cfg: CuboidConfig) -> Detection:
    yaw = _min_area_yaw(xy)
    cy, sy = math.cos(yaw), math.sin(yaw)
    u = xy[:, 0] * cy + xy[:, 1] * sy
    v = -xy[:, 0] * sy + xy[:, 1] * cy
    pad = cfg.padding_m
    (u0, u1), (v0, v1) = (u.min() - pad, u.max() + pad), (v.min() - pad, v.max() + pad)
    height = top + pad
    label, first_is_length, cost, (pl, pw, ph) = _classify((u1 - u0, v1 - v0), height, cfg)
    if label is not None:  # complete to the prior, away from the sensor (origin: u = v = 0)
        tu, tv = (pl, pw) if first_is_length else (pw, pl)
        u0, u1 = _complete(u0, u1, tu, 0.0)
        v0, v1 = _complete(v0, v1, tv, 0.0)
        height = max(height, 0.9 * ph)
    uc, vc = (u0 + u1) / 2, (v0 + v1) / 2
    x, y = uc * cy - vc * sy, uc * sy + vc * cy
    length, width = (u1 - u0, v1 - v0) if first_is_length else (v1 - v0, u1 - u0)
    heading = yaw if first_is_length else yaw + math.pi / 2
    heading = (heading + math.pi / 2) % math.pi - math.pi / 2  # a box is symmetric under a half turn
    ground = plane[0] * x + plane[1] * y + plane[2]
    score = math.exp(-cost) * (1.0 - math.exp(-len(xy) / 20.0)) if label is not None else 0.0
    box = Box3D((x, y, ground + height / 2), (length, width, height), heading)
    return Detection(label, box, score, len(xy))


class CuboidsBackend(BaseBackend):
    """LiDAR cuboid pre-annotation (see the module docstring)."""

    name = "pointcloud.cuboids"
    model_version = MODEL_VERSION
    capabilities = BackendCapabilities(
        media=frozenset({Medium.POINTCLOUD}), controls=frozenset({ControlKind.CUBOIDS}), batch_size=4
    )

    def __init__(self, config: CuboidConfig) -> None:
        super().__init__()
        self.config = config

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Load each item's point cloud and box its objects, for every cuboids control."""
        from labelloop.modalities import load_pointcloud

        outputs = []
        for item in batch:
            value: list[dict[str, Any]] = []
            scores: list[float] = []
            clouds: dict[str, list[Detection]] = {}
            for ctl in controls:
                ref = media_of(item, ctl)
                if ctl.target not in clouds:
                    cloud = load_pointcloud(self.media.path(ref), source=f"item {item.id} {ctl.target}")
                    clouds[ctl.target] = detect_cuboids(cloud.xyz, self.config)
                k = 0
                for det in clouds[ctl.target]:
                    label = det.label if det.label in ctl.labels else ("other" if "other" in ctl.labels else None)
                    if label is None:
                        continue
                    k += 1
                    value.append(_region(f"{ctl.name}-{k}", ctl.name, label, det.box))
                    scores.append(det.score)
            outputs.append(self.ok(item, value, score=float(np.mean(scores)) if scores else None))
        return outputs


def _region(rid: str, control: str, label: str, box: Box3D) -> dict[str, Any]:
    return {
        "id": rid,
        "control": control,
        "label": label,
        "center": [round(float(v), 3) for v in box.center],
        "size": [round(float(v), 3) for v in box.size],
        "yaw": round(float(box.yaw), 4),
        "frame": "lidar",
    }


def create(config: Mapping[str, Any]) -> CuboidsBackend:
    """Build ``pointcloud.cuboids`` from its config (all keys optional, see :class:`CuboidConfig`).

    Raises:
        InvalidSchema: an unknown or out-of-range parameter.
    """
    try:
        return CuboidsBackend(CuboidConfig.model_validate(dict(config)))
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise InvalidSchema("pointcloud.cuboids config: " + "; ".join(lines)) from None
