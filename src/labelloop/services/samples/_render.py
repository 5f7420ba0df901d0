"""A flat-shaded pinhole camera for simulated scenes: the "camera image" beside a LiDAR sweep."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelloop.services.samples._scene import SENSOR_HEIGHT_M, Cuboid, Scene, _object_parts

__all__ = ["Camera", "render_camera"]

_COLOURS = {"car": (178, 34, 34), "pedestrian": (230, 140, 30), "cyclist": (40, 140, 70)}
# the six faces of a box as corner indices (see Cuboid.corners: bottom 0-3, top 4-7)
_FACES = ((0, 1, 2, 3), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7))


@dataclass(frozen=True, slots=True)
class Camera:
    """A pinhole camera at the lidar origin looking along +x (image right = -y, image down = -z).

    Attributes:
        width: Image width in pixels.
        height: Image height in pixels.
        hfov_deg: Horizontal field of view in degrees.
    """

    width: int = 640
    height: int = 360
    hfov_deg: float = 90.0

    @property
    def focal(self) -> float:
        """The focal length in pixels."""
        return self.width / 2.0 / math.tan(math.radians(self.hfov_deg) / 2.0)

    def project(self, xyz: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """Project points (N, 3) in the lidar frame to pixels (N, 2); only meaningful for x > 0.

        Example:
            >>> Camera().project(np.array([[10.0, 0.0, 0.0]])).tolist()
            [[320.0, 180.0]]
        """
        p = np.asarray(xyz, dtype=np.float64)
        f = self.focal
        return np.stack([self.width / 2.0 - f * p[:, 1] / p[:, 0], self.height / 2.0 - f * p[:, 2] / p[:, 0]], axis=1)

    def intrinsics(self) -> dict[str, float | int]:
        """Return ``fx, fy, cx, cy, width, height`` for item metadata."""
        f = round(self.focal, 3)
        return {
            "fx": f,
            "fy": f,
            "cx": self.width / 2.0,
            "cy": self.height / 2.0,
            "width": self.width,
            "height": self.height,
        }

    def box_of(self, cub: Cuboid, *, min_size: float = 4.0) -> tuple[float, float, float, float] | None:
        """Return the image box ``xyxy`` of a cuboid's projection, clipped; None when not in view."""
        corners = cub.corners()
        if corners[:, 0].min() < 0.5:
            return None
        uv = self.project(corners)
        x0, y0 = max(0.0, float(uv[:, 0].min())), max(0.0, float(uv[:, 1].min()))
        x1, y1 = min(float(self.width), float(uv[:, 0].max())), min(float(self.height), float(uv[:, 1].max()))
        if x1 - x0 < min_size or y1 - y0 < min_size:
            return None
        return (round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1))


def _background(cam: Camera) -> NDArray[np.uint8]:
    rows = np.arange(cam.height, dtype=np.float64)[:, None]
    horizon = cam.height / 2.0
    t_sky = np.clip(rows / horizon, 0.0, 1.0)
    sky = np.array([90.0, 140.0, 210.0]) * (1 - t_sky) + np.array([200.0, 215.0, 230.0]) * t_sky
    dist = np.where(rows > horizon, cam.focal * SENSOR_HEIGHT_M / np.maximum(rows - horizon, 1e-6), np.inf)
    fade = np.clip(dist / 60.0, 0.0, 1.0)
    ground = np.array([70.0, 72.0, 75.0]) * (1 - fade) + np.array([150.0, 150.0, 145.0]) * fade
    img = np.where(rows > horizon, ground, sky)
    return np.broadcast_to(img[:, None, :], (cam.height, cam.width, 3)).astype(np.uint8)


def render_camera(scene: Scene, cam: Camera | None = None) -> NDArray[np.uint8]:
    """Draw the scene's objects as shaded boxes over a sky and a road (painter's algorithm).

    Args:
        scene: A scene from :func:`labelloop.services.samples.make_scene`.
        cam: The camera; the default is 640x360 with a 90° field of view.

    Returns:
        An RGB image (height, width, 3), uint8.

    Example:
        >>> from labelloop.services.samples import make_scene
        >>> render_camera(make_scene(np.random.default_rng(0), 3, 2000)).shape
        (360, 640, 3)
    """
    from PIL import Image, ImageDraw

    cam = cam or Camera()
    img = Image.fromarray(_background(cam))
    draw = ImageDraw.Draw(img)
    parts = [(p, scene.cuboids[k].label) for k, c in enumerate(scene.cuboids) for p in _object_parts(k, c)]
    parts.sort(key=lambda pl: -math.hypot(pl[0].center[0], pl[0].center[1]))
    light = np.array([-0.4, 0.3, 0.87])
    for part, label in parts:
        box = Cuboid(label, part.center, tuple(2.0 * v for v in part.half), part.yaw)  # type: ignore[arg-type]
        corners = box.corners()
        if corners[:, 0].min() < 0.5:
            continue
        uv = cam.project(corners)
        centre = corners.mean(axis=0)
        for face in _FACES:
            pts = corners[list(face)]
            normal = pts.mean(axis=0) - centre
            if float(np.dot(normal, pts.mean(axis=0))) >= 0.0:  # faces away from the camera
                continue
            shade = 0.55 + 0.45 * max(0.0, float(np.dot(normal / np.linalg.norm(normal), light)))
            colour = tuple(int(c * shade) for c in _COLOURS[label])
            draw.polygon([(float(u), float(v)) for u, v in uv[list(face)]], fill=colour, outline=(20, 20, 20))
    return np.asarray(img, dtype=np.uint8)
