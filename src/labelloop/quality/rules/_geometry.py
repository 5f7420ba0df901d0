"""Built-in rules for image and point-cloud geometry: boxes, polygons and cuboids."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from labelloop.core.media import MediaRef
from labelloop.core.schema import Control
from labelloop.quality.geometry_agreement import box_iou_matrix
from labelloop.quality.rules._context import Emit, RuleContext, floats, region_label

__all__ = [
    "BoxBoundsParams",
    "BoxMinSizeParams",
    "BoxOverlapParams",
    "CuboidSizeParams",
    "PolygonParams",
    "box_bounds",
    "box_min_size",
    "box_overlap",
    "cuboid_size",
    "polygon_validity",
]


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _image_size(ctx: RuleContext, ctl: Control) -> tuple[int, int] | None:
    ref: MediaRef | None = ctx.media.get(ctl.target)
    if ref is None:
        return None
    w, h = ref.meta.get("width"), ref.meta.get("height")
    return (w, h) if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0 else None


def _r(x: float) -> float:
    return round(x, 2)


# ---------------------------------------------------------------------- boxes
class BoxBoundsParams(_P):
    """Tolerance in pixels before a box counts as leaving the image."""

    tolerance_px: float = Field(0.5, ge=0)


def box_bounds(ctx: RuleContext, ctl: Control, p: BoxBoundsParams, emit: Emit) -> None:
    """Boxes must lie inside the image; the fix clips them (or deletes one left empty)."""
    size = _image_size(ctx, ctl)
    if size is None:
        return
    w, h = size
    t = p.tolerance_px
    for r in ctx.of(ctl):
        b = floats(r.get("xyxy"), 4)
        if b is None:
            continue
        x0, y0, x1, y1 = b
        if x0 >= -t and y0 >= -t and x1 <= w + t and y1 <= h + t:
            continue
        c = [_r(min(max(x0, 0.0), w)), _r(min(max(y0, 0.0), h)), _r(min(max(x1, 0.0), w)), _r(min(max(y1, 0.0), h))]
        fix: dict[str, Any] = (
            {"action": "set", "field": "xyxy", "value": c} if c[2] > c[0] and c[3] > c[1] else {"action": "delete"}
        )
        emit(f"box {[_r(v) for v in b]} leaves the {w}x{h} image", control=ctl, region=r, fix=fix)


class BoxMinSizeParams(_P):
    """Smallest plausible box, in pixels."""

    min_width: float = Field(2.0, ge=0)
    min_height: float = Field(2.0, ge=0)
    min_area: float = Field(0.0, ge=0)


def box_min_size(ctx: RuleContext, ctl: Control, p: BoxMinSizeParams, emit: Emit) -> None:
    """Boxes must be at least ``min_width`` × ``min_height`` (and ``min_area``); fix: delete."""
    for r in ctx.of(ctl):
        b = floats(r.get("xyxy"), 4)
        if b is None:
            continue
        bw, bh = b[2] - b[0], b[3] - b[1]
        if bw < p.min_width or bh < p.min_height or bw * bh < p.min_area:
            emit(
                f"box is {_r(bw)}x{_r(bh)} px, below the minimum {p.min_width:g}x{p.min_height:g}"
                + (f" / area {p.min_area:g}" if p.min_area else ""),
                control=ctl,
                region=r,
                fix={"action": "delete"},
            )


class BoxOverlapParams(_P):
    """IoU above which two boxes of one class are duplicates, or two classes conflict."""

    duplicate_iou: float = Field(0.9, gt=0, le=1)
    conflict_iou: float = Field(0.95, gt=0, le=1)


def box_overlap(ctx: RuleContext, ctl: Control, p: BoxOverlapParams, emit: Emit) -> None:
    """Duplicate boxes (same class, IoU ≥ ``duplicate_iou``): fix deletes the later one.

    Two classes on nearly the same box (IoU ≥ ``conflict_iou``) are flagged for review.
    """
    regs = [(r, b) for r in ctx.of(ctl) if (b := floats(r.get("xyxy"), 4)) is not None and b[2] > b[0] and b[3] > b[1]]
    if len(regs) < 2:
        return
    iou = box_iou_matrix([b for _, b in regs], [b for _, b in regs])
    i_idx, j_idx = np.nonzero(np.triu(iou, k=1) >= min(p.duplicate_iou, p.conflict_iou))
    dropped: set[int] = set()
    for i, j in zip(i_idx.tolist(), j_idx.tolist(), strict=True):
        if i in dropped or j in dropped:
            continue
        (ri, _), (rj, _) = regs[i], regs[j]
        v = float(iou[i, j])
        same = region_label(ri) == region_label(rj)
        if same and v >= p.duplicate_iou:
            dropped.add(j)
            emit(
                f"duplicate of box {ri.get('id')!r} (IoU {v:.2f}, both {region_label(ri)!r})",
                control=ctl,
                region=rj,
                fix={"action": "delete"},
            )
        elif not same and v >= p.conflict_iou:
            emit(
                f"overlaps box {ri.get('id')!r} at IoU {v:.2f} with another class "
                f"({region_label(rj)!r} vs {region_label(ri)!r})",
                control=ctl,
                region=rj,
                fix={"action": "review", "hint": f"keep one of {region_label(ri)!r} / {region_label(rj)!r}"},
            )


# ---------------------------------------------------------------------- polygons
class PolygonParams(_P):
    """Polygon validity: ``use_shapely`` picks shapely when it is installed."""

    use_shapely: bool = True
    min_area: float = Field(1.0, ge=0)


def _segments_cross(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float]
) -> bool:
    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2, d3, d4 = orient(c, d, a), orient(c, d, b), orient(a, b, c), orient(a, b, d)
    return ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4))


def polygon_problem(points: list[tuple[float, float]]) -> str | None:
    """Our own validity check (no shapely): repeated vertices and self-intersections.

    Example:
        >>> polygon_problem([(0, 0), (2, 2), (2, 0), (0, 2)])
        'edges 0 and 2 cross (self-intersection)'
    """
    n = len(points)
    for i, (p, q) in enumerate(pairwise([*points, points[0]])):
        if p == q:
            return f"vertex {i} repeats vertex {(i + 1) % n}"
    edges = list(pairwise([*points, points[0]]))
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing edge
            if _segments_cross(*edges[i], *edges[j]):
                return f"edges {i} and {j} cross (self-intersection)"
    return None


def _area(points: list[tuple[float, float]]) -> float:
    acc = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise([*points, points[0]]))
    return abs(acc) / 2.0


def _shapely_check(points: list[tuple[float, float]]) -> tuple[str | None, list[list[float]] | None]:
    import shapely  # type: ignore[import-untyped,unused-ignore]
    from shapely.geometry import Polygon  # type: ignore[import-untyped,unused-ignore]
    from shapely.validation import explain_validity  # type: ignore[import-untyped,unused-ignore]

    poly = Polygon(points)
    if poly.is_valid:
        return None, None
    fixed = shapely.make_valid(poly)
    if fixed.geom_type == "MultiPolygon":
        fixed = max(fixed.geoms, key=lambda g: g.area)
    value = None
    if fixed.geom_type == "Polygon" and not fixed.is_empty:
        value = [[_r(x), _r(y)] for x, y in list(fixed.exterior.coords)[:-1]]
    return explain_validity(poly), value


def _dedupe(points: list[tuple[float, float]]) -> list[list[float]]:
    out: list[tuple[float, float]] = []
    for pt in points:
        if not out or out[-1] != pt:
            out.append(pt)
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return [[x, y] for x, y in out]


def polygon_validity(ctx: RuleContext, ctl: Control, p: PolygonParams, emit: Emit) -> None:
    """Polygons must be simple, with area; fix: shapely's ``make_valid`` outline, or de-duplicated vertices."""
    shapely_ok = False
    if p.use_shapely:
        try:
            import shapely  # type: ignore[import-untyped,unused-ignore]  # noqa: F401

            shapely_ok = True
        except ImportError:
            shapely_ok = False
    for r in ctx.of(ctl):
        raw = r.get("points")
        if not isinstance(raw, list) or len(raw) < 3:
            continue
        pts = [tuple(xy) for xy in (floats(v, 2) for v in raw) if xy is not None]
        if len(pts) != len(raw):
            continue
        points: list[tuple[float, float]] = [(a, b) for a, b in pts]
        area = _area(points)
        if area < p.min_area:
            emit(
                f"polygon area {area:.2f} px² is below {p.min_area:g}", control=ctl, region=r, fix={"action": "delete"}
            )
            continue
        if shapely_ok:
            problem, fixed = _shapely_check(points)
        else:
            problem = polygon_problem(points)
            deduped = _dedupe(points)
            fixed = deduped if problem and "repeats" in problem and len(deduped) >= ctl.min_points else None
        if problem is not None:
            fix: dict[str, Any] = (
                {"action": "set", "field": "points", "value": fixed}
                if fixed is not None and len(fixed) >= ctl.min_points
                else {"action": "review", "hint": "redraw the outline without crossing edges"}
            )
            emit(f"invalid polygon: {problem}", control=ctl, region=r, fix=fix)


# ---------------------------------------------------------------------- cuboids
class CuboidSizeParams(_P):
    """Plausible cuboid sizes: ``priors`` (class → l, w, h in metres) override the engine's."""

    priors: dict[str, tuple[float, float, float]] = Field(default_factory=dict)
    tolerance: float = Field(2.0, gt=1.0)


def cuboid_size(ctx: RuleContext, ctl: Control, p: CuboidSizeParams, emit: Emit) -> None:
    """A cuboid's sides must be within ``tolerance`` × (or ÷) its class prior; fix: the prior size.

    Length and width may be swapped (yaw differs by 90°); classes without a prior are skipped.
    """
    priors = {**ctx.size_priors, **p.priors}
    for r in ctx.of(ctl):
        size = floats(r.get("size"), 3)
        lab = region_label(r)
        if size is None or lab is None or lab not in priors:
            continue
        pl, pw, ph = priors[lab]
        length, w, h = size
        swapped = w > length
        obs = (max(length, w), min(length, w), h)
        pri = (max(pl, pw), min(pl, pw), ph)
        bad = [
            name
            for name, o, q in zip(("long side", "short side", "height"), obs, pri, strict=True)
            if q > 0 and (o <= 0 or o / q > p.tolerance or q / o > p.tolerance)
        ]
        if bad:
            long_, short_ = pri[0], pri[1]
            value = [short_, long_, ph] if swapped else [long_, short_, ph]
            emit(
                f"{lab!r} cuboid of size {[_r(v) for v in size]} m is implausible "
                f"({', '.join(bad)} off the prior {[pl, pw, ph]} by more than ×{p.tolerance:g})",
                control=ctl,
                region=r,
                fix={"action": "set", "field": "size", "value": value},
            )
