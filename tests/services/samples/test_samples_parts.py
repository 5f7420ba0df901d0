"""The building blocks: scene simulator, point-cloud formats, camera, energy segmenter, bundled data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from labelloop.services.samples import (
    CLUTTER,
    GROUND,
    Camera,
    Cuboid,
    active_segments,
    make_scene,
    read_points,
    render_camera,
    tone_clip,
    write_points,
)
from labelloop.services.samples._common import data_file
from labelloop.services.samples._pointclouds import WRITERS
from labelloop.services.samples._text import load_sentences


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_scene_cuboids_contain_their_points(seed: int) -> None:
    scene = make_scene(np.random.default_rng(seed), n_objects=8, n_points=30_000)
    assert scene.xyz.shape == (30_000, 3) and scene.xyz.dtype == np.float32
    assert scene.intensity.shape == scene.instance.shape == scene.ring.shape == (30_000,)
    assert 5 <= len(scene.cuboids) <= 8
    hit = 0
    for k, cub in enumerate(scene.cuboids):
        pts = scene.xyz[scene.instance == k]
        if len(pts):
            hit += 1
            assert cub.contains(pts).mean() >= 0.95, (seed, k, cub.label)
    assert hit >= 4
    assert (scene.instance == GROUND).mean() > 0.6
    assert (scene.instance == CLUTTER).any()


def test_scene_geometry_is_lidar_like() -> None:
    scene = make_scene(np.random.default_rng(7), n_objects=6, n_points=20_000)
    ground = scene.xyz[scene.instance == GROUND]
    assert np.abs(ground[:, 2] + 1.73).max() < 1.2  # a slight slope around the sensor height
    rng_m = np.linalg.norm(scene.xyz, axis=1)
    assert rng_m.max() < 81 and rng_m.min() > 0.5
    for cub in scene.cuboids:
        length, width, height = cub.size
        ref = {"car": (4.5, 1.8, 1.5), "pedestrian": (0.6, 0.6, 1.75), "cyclist": (1.8, 0.6, 1.7)}[cub.label]
        assert np.allclose((length, width, height), ref, rtol=0.1)
        assert 5 < math.hypot(cub.center[0], cub.center[1]) < 36
    # points of one ring share an elevation (up to range noise): the scanline structure
    for ring in np.unique(scene.ring[scene.instance == GROUND])[:5]:
        pts = scene.xyz[(scene.ring == ring) & (scene.instance == GROUND)]
        el = np.arctan2(pts[:, 2], np.linalg.norm(pts[:, :2], axis=1))
        assert el.std() < 0.002


def test_scene_is_deterministic_per_seed() -> None:
    a = make_scene(np.random.default_rng(5), 5, 8000)
    b = make_scene(np.random.default_rng(5), 5, 8000)
    c = make_scene(np.random.default_rng(6), 5, 8000)
    assert np.array_equal(a.xyz, b.xyz) and a.cuboids == b.cuboids and np.array_equal(a.instance, b.instance)
    assert not np.array_equal(a.xyz, c.xyz)


def test_objects_hide_what_lies_behind_them() -> None:
    scene = make_scene(np.random.default_rng(3), n_objects=10, n_points=30_000)
    for k, cub in enumerate(scene.cuboids):
        pts = scene.xyz[scene.instance == k]
        if len(pts) < 30:
            continue
        local = cub.local(pts)
        to_sensor = cub.local(np.zeros((1, 3)))[0]  # the sensor, seen from the box centre
        # the side facing the sensor carries the points: their mean lies towards the sensor
        assert float(np.dot(local.mean(axis=0)[:2], to_sensor[:2])) > 0, cub.label


def test_cuboid_contains_and_corners_agree() -> None:
    cub = Cuboid("car", (10.0, -2.0, -1.0), (4.5, 1.8, 1.5), math.pi / 5)
    corners = cub.corners()
    assert corners.shape == (8, 3)
    assert cub.contains(corners, margin=1e-6).all()
    assert not cub.contains(corners * 1.1 + np.array([0.5, 0.5, 0.5])).all()
    assert cub.as_dict() == {"center": [10.0, -2.0, -1.0], "size": [4.5, 1.8, 1.5], "yaw": 0.6283}


@pytest.mark.parametrize(("suffix", "fmt"), [(w[0], w[1]) for w in WRITERS])
def test_point_formats_round_trip(tmp_path: Path, suffix: str, fmt: str) -> None:
    scene = make_scene(np.random.default_rng(11), 4, 3000)
    path = tmp_path / f"cloud{suffix}"
    write_points(path, fmt, scene.xyz, scene.intensity, scene.ring)
    xyz, intensity = read_points(path)
    assert xyz.shape == scene.xyz.shape
    tol = 1e-3 if fmt == "laz" else 1e-4
    assert np.abs(xyz - scene.xyz).max() <= tol
    assert np.abs(intensity - scene.intensity).max() <= tol


def test_unknown_point_format_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="kitti-bin"):
        write_points(tmp_path / "x.xyz", "xyz", np.zeros((1, 3), np.float32), np.zeros(1, np.float32))
    with pytest.raises(ValueError, match=r"\.pcd"):
        read_points(tmp_path / "x.xyz")


def test_camera_projects_and_boxes_what_it_sees() -> None:
    cam = Camera()
    assert cam.project(np.array([[10.0, 10.0, 0.0]]))[0] == pytest.approx([0.0, 180.0])  # 45° left: the edge
    ahead = Cuboid("car", (15.0, 0.0, -0.98), (4.5, 1.8, 1.5), 0.3)
    behind = Cuboid("car", (-15.0, 0.0, -0.98), (4.5, 1.8, 1.5), 0.3)
    box = cam.box_of(ahead)
    assert box is not None and box[0] < 320 < box[2]
    assert 180 < box[1] < box[3] < 360  # the camera sits above the car's roof: all below the horizon
    assert cam.box_of(behind) is None
    scene = make_scene(np.random.default_rng(2), 4, 4000, azimuth_range=(-0.5, 0.5))
    img = render_camera(scene, cam)
    assert img.shape == (360, 640, 3) and img.dtype == np.uint8
    assert len({tuple(px) for px in img[170:260:4, ::4].reshape(-1, 3)}) > 10  # objects were drawn


def test_active_segments_find_a_burst() -> None:
    sr = 16_000
    x, (start, end) = tone_clip(np.random.default_rng(0), sr)
    ((a, b),) = active_segments(x, sr)
    assert abs(a - start) < 0.05 and abs(b - end) < 0.05
    assert active_segments(np.zeros(sr), sr) == []
    assert active_segments(np.zeros(10), sr) == []
    two = np.zeros(3 * sr)
    two[sr // 2 : sr] = 0.5
    two[2 * sr : 5 * sr // 2] = 0.5
    assert len(active_segments(two, sr, min_gap_s=0.3, pad_s=0.0)) == 2
    assert len(active_segments(two, sr, min_gap_s=1.5, pad_s=0.0)) == 1


def test_bundled_text_offsets_and_languages() -> None:
    rows = load_sentences()
    assert len(rows) >= 40 and {r["lang"] for r in rows} == {"en", "zh"}
    labels: set[str] = set()
    for r in rows:
        for start, end, label, surface in r.get("gold", {}).get("entities", []):
            assert r["text"][start:end] == surface
            labels.add(label)
        for i, j, _rel in r.get("gold", {}).get("relations", []):
            assert i < len(r["gold"]["entities"]) and j < len(r["gold"]["entities"])
    assert labels == {"PER", "ORG", "LOC"}


def test_bundled_audio_clips_are_short_16k_mono_flac() -> None:
    import orjson

    info = orjson.loads(data_file("audio", "transcripts.json").read_bytes())
    assert len(info["clips"]) == 4
    for clip in info["clips"]:
        node = data_file("audio", clip["file"])
        raw = node.read_bytes()
        assert len(raw) < 100_000
        with node.open("rb") as fh:
            meta = sf.info(fh)
        assert (meta.format, meta.samplerate, meta.channels) == ("FLAC", 16_000, 1)
        assert 2.0 <= meta.duration <= 3.5
        assert clip["text"]
