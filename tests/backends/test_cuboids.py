"""Real inference on simulated LiDAR sweeps (scenes come from the samples service, in tests only)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labelloop.backends.geometry3d import Box3D, cuboid_iou, recall_at_iou
from labelloop.backends.pointcloud_cuboids import CuboidConfig, create, detect_cuboids, fit_ground
from labelloop.errors import InvalidSchema
from labelloop.services.samples import make_scene
from labelloop.services.samples._pointclouds import visible_objects


@pytest.mark.parametrize(
    ("b", "iou"),
    [
        (Box3D((0, 0, 0), (2, 2, 2), 0.0), 1.0),
        (Box3D((1, 0, 0), (2, 2, 2), 0.0), 1 / 3),
        (Box3D((0, 0, 1), (2, 2, 2), 0.0), 1 / 3),
        (Box3D((0, 0, 0), (2, 2, 2), math.pi / 2), 1.0),
        (Box3D((0, 0, 0), (2, 2, 2), math.pi / 4), 16 * (math.sqrt(2) - 1) / (16 - 16 * (math.sqrt(2) - 1))),
        (Box3D((5, 0, 0), (2, 2, 2), 0.3), 0.0),
    ],
)
def test_cuboid_iou(b: Box3D, iou: float) -> None:
    a = Box3D((0, 0, 0), (2, 2, 2), 0.0)
    assert cuboid_iou(a, b) == pytest.approx(iou, abs=1e-9)
    assert cuboid_iou(b, a) == pytest.approx(iou, abs=1e-9)


def test_ransac_finds_a_sloped_ground() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(-30, 30, (5000, 2))
    z = 0.01 * xy[:, 0] - 0.02 * xy[:, 1] - 1.7 + rng.normal(0, 0.01, 5000)
    clutter = np.c_[rng.uniform(-30, 30, (1500, 2)), rng.uniform(-1, 2, 1500)]
    a, b, c = fit_ground(np.vstack([np.c_[xy, z], clutter]), CuboidConfig(), rng)
    assert (a, b, c) == pytest.approx((0.01, -0.02, -1.7), abs=0.01)


def test_recall_on_simulated_scenes() -> None:
    cfg = CuboidConfig()
    hit = total = 0
    for seed in range(3):
        scene = make_scene(np.random.default_rng(seed), n_objects=8, n_points=40_000)
        dets = detect_cuboids(scene.xyz, cfg)
        truth = [Box3D(c.center, c.size, c.yaw) for c in (scene.cuboids[k] for k in visible_objects(scene))]
        h, n = recall_at_iou([d.box for d in dets if d.label], truth, 0.5)
        hit, total = hit + h, total + n
        assert all(d.label in {"car", "pedestrian", "cyclist", None} for d in dets)
    assert total >= 15 and hit / total >= 0.7


def test_empty_and_tiny_clouds() -> None:
    assert detect_cuboids(np.zeros((0, 3), np.float32), CuboidConfig()) == []
    assert detect_cuboids(np.ones((5, 3), np.float32), CuboidConfig()) == []


def test_bad_config() -> None:
    with pytest.raises(InvalidSchema, match="eps_m"):
        create({"eps_m": -1})
