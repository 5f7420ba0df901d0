"""Rotated-cuboid maths: bird's-eye-view corners, convex clipping, 3D IoU, recall at an IoU.

The 3D IoU of two yaw-rotated cuboids is the area of intersection of their BEV rectangles
(convex polygon clipping, Sutherland & Hodgman, 1974) times the overlap of their vertical
extents, divided by the union volume.

Example:
    >>> a = Box3D((0.0, 0.0, 0.0), (4.0, 2.0, 1.5), 0.0)
    >>> round(cuboid_iou(a, Box3D((1.0, 0.0, 0.0), (4.0, 2.0, 1.5), 0.0)), 4)
    0.6
    >>> round(cuboid_iou(a, Box3D((0.0, 0.0, 0.0), (4.0, 2.0, 1.5), 3.14159265)), 4)
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Box3D", "bev_corners", "clip_convex", "cuboid_iou", "polygon_area", "recall_at_iou"]

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Box3D:
    """An oriented box: centre (x, y, z), size (length along yaw, width, height), yaw about +z."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float

    @property
    def volume(self) -> float:
        """The box volume."""
        return self.size[0] * self.size[1] * self.size[2]


def bev_corners(box: Box3D) -> list[Point]:
    """The four BEV corners, counter-clockwise."""
    (cx, cy, _), (length, width, _), yaw = box.center, box.size, box.yaw
    c, s = math.cos(yaw), math.sin(yaw)
    out = []
    for dx, dy in ((0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5), (0.5, -0.5)):
        lx, ly = dx * length, dy * width
        out.append((cx + c * lx - s * ly, cy + s * lx + c * ly))
    return out


def polygon_area(poly: Sequence[Point]) -> float:
    """The (unsigned) shoelace area."""
    acc = 0.0
    for i, (x0, y0) in enumerate(poly):
        x1, y1 = poly[(i + 1) % len(poly)]
        acc += x0 * y1 - x1 * y0
    return abs(acc) / 2.0


def clip_convex(subject: Sequence[Point], clip: Sequence[Point]) -> list[Point]:
    """Intersect a polygon with a convex, counter-clockwise ``clip`` polygon (Sutherland-Hodgman)."""
    out = list(subject)
    for i, (ax, ay) in enumerate(clip):
        bx, by = clip[(i + 1) % len(clip)]
        if not out:
            break
        inp, out = out, []

        def side(p: Point, ax: float = ax, ay: float = ay, bx: float = bx, by: float = by) -> float:
            return (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax)

        for j, p in enumerate(inp):
            q = inp[(j + 1) % len(inp)]
            sp, sq = side(p), side(q)
            if sp >= 0:
                out.append(p)
            if (sp >= 0) != (sq >= 0):
                t = sp / (sp - sq)
                out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def cuboid_iou(a: Box3D, b: Box3D) -> float:
    """The 3D intersection over union of two oriented cuboids, in [0, 1]."""
    za0, za1 = a.center[2] - a.size[2] / 2, a.center[2] + a.size[2] / 2
    zb0, zb1 = b.center[2] - b.size[2] / 2, b.center[2] + b.size[2] / 2
    dz = min(za1, zb1) - max(za0, zb0)
    if dz <= 0:
        return 0.0
    inter = polygon_area(clip_convex(bev_corners(a), bev_corners(b))) * dz
    union = a.volume + b.volume - inter
    return 0.0 if union <= 0 else max(0.0, min(1.0, inter / union))


def recall_at_iou(predicted: Sequence[Box3D], truth: Sequence[Box3D], threshold: float = 0.5) -> tuple[int, int]:
    """Greedy one-to-one matching by IoU; return (truths matched at >= ``threshold``, truths).

    Example:
        >>> t = [Box3D((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 0.0)]
        >>> recall_at_iou(t, t)
        (1, 1)
    """
    pairs = sorted(
        ((cuboid_iou(p, t), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)), reverse=True
    )
    used_p: set[int] = set()
    used_t: set[int] = set()
    for iou, i, j in pairs:
        if iou < threshold:
            break
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return len(used_t), len(truth)
