"""KITTI 3D object labels from cuboids: exporter and importer.

Layout: ``label_2/NNNNNN.txt`` (one object per line), ``calib/NNNNNN.txt``,
``velodyne/NNNNNN<ext>`` (the point cloud blob as stored: ``.bin`` for KITTI float32 x y z r,
otherwise its own extension), ``ImageSets/<split>.txt`` (frame ids) and ``labelloop_keys.tsv``
(``frame id <TAB> item key``) so a re-import keeps the keys. Frames are numbered in export order.

A label line has the 15 KITTI fields::

    type truncated occluded alpha left top right bottom h w l x y z rotation_y

Coordinate convention. Our cuboids are in the LiDAR frame (x forward, y left, z up; ``center``
is the box centre; ``size`` = [l, w, h]; ``yaw`` about +z, 0 = heading along +x). KITTI wants
the rectified camera frame (x right, y down, z forward), ``location`` = bottom centre,
``dimensions`` = h w l and ``rotation_y`` about +y. A point goes
``X_cam = R0_rect · (Tr_velo_to_cam · X_lidar)``. Without a :class:`KittiCalib`, the
**identity calibration** is used: co-located sensors, no translation, only the fixed axis
change ``Tr_velo_to_cam = [[0,-1,0,0],[0,0,-1,0],[1,0,0,0]]``, ``R0_rect = I``, and
``P0..P3 = [I | 0]``; then ``rotation_y = -yaw - π/2`` (wrapped to (-π, π]). The calib file
written beside every label holds exactly the matrices used. The 2D box is the projection of
the 8 corners with ``P2`` when a calibration with a camera is given, else ``0 0 0 0``; ``alpha``
is ``rotation_y - atan2(x, z)``; truncated/occluded come from the region's attributes of those
names, else 0. Types are the labels (a label with whitespace skips the item).

Example:
    >>> cam_yaw(0.0)
    -1.5707963267948966
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from labelloop.core import Control, ControlKind, ItemError, LabelSchema, Medium
from labelloop.formats._base import (
    ExportRecord,
    ExportReport,
    ImportedItem,
    MediaPath,
    Value,
    check_problems,
    fmt_num,
    pick_control,
    resolve_inside,
    safe_split,
)
from labelloop.formats._media import MediaWriter
from labelloop.formats._output import atomic_output

__all__ = ["KittiCalib", "cam_yaw", "export_kitti3d", "fmt_nums9", "import_kitti3d"]

Mat = list[list[float]]
_AXES: Mat = [[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
_I3: Mat = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
_P0: Mat = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
MAX_LABEL_BYTES = 16 * 1024**2


@dataclass(frozen=True, slots=True)
class KittiCalib:
    """A KITTI calibration (row-major matrices).

    Attributes:
        tr_velo_to_cam: 3x4 LiDAR → camera.
        r0_rect: 3x3 rectifying rotation.
        p2: 3x4 projection of the left colour camera (used for the 2D boxes).
        has_camera: Whether ``p2`` is a real camera (else 2D boxes are written as zeros).
    """

    tr_velo_to_cam: Mat = field(default_factory=lambda: [r[:] for r in _AXES])
    r0_rect: Mat = field(default_factory=lambda: [r[:] for r in _I3])
    p2: Mat = field(default_factory=lambda: [r[:] for r in _P0])
    has_camera: bool = False

    def to_text(self) -> str:
        """The ``calib/NNNNNN.txt`` content."""

        def row(m: Mat) -> str:
            return " ".join(fmt_num(v) for r in m for v in r)

        lines = [f"P{i}: {row(self.p2 if i == 2 else _P0)}" for i in range(4)]
        lines += [f"R0_rect: {row(self.r0_rect)}", f"Tr_velo_to_cam: {row(self.tr_velo_to_cam)}"]
        lines.append(f"Tr_imu_to_velo: {row(_P0)}")
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> KittiCalib:
        """Read a calib file.

        Raises:
            ValueError: on missing or non-finite matrices.
        """
        rows: dict[str, list[float]] = {}
        for line in text.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                rows[k.strip()] = [float(x) for x in v.split()]
        for k, n in (("P2", 12), ("R0_rect", 9), ("Tr_velo_to_cam", 12)):
            if len(rows.get(k, [])) != n or not all(math.isfinite(x) for x in rows[k]):
                raise ValueError(f"calib {k}: expected {n} finite numbers")

        def mat(v: list[float], cols: int) -> Mat:
            return [v[i : i + cols] for i in range(0, len(v), cols)]

        return cls(
            mat(rows["Tr_velo_to_cam"], 4),
            mat(rows["R0_rect"], 3),
            mat(rows["P2"], 4),
            rows["P2"] != [v for r in _P0 for v in r],
        )


def _wrap(a: float) -> float:
    a = math.remainder(a, 2 * math.pi)
    return math.pi if math.isclose(a, -math.pi) else a


def cam_yaw(yaw: float) -> float:
    """KITTI ``rotation_y`` of a LiDAR yaw under the identity calibration."""
    return _wrap(-yaw - math.pi / 2)


def _mv(m: Mat, v: list[float]) -> list[float]:
    return [sum(r[i] * v[i] for i in range(len(v))) for r in m]


def _rot(c: KittiCalib) -> Mat:
    """The 3x3 rotation LiDAR → rectified camera."""
    tr = c.tr_velo_to_cam
    return [[sum(c.r0_rect[i][k] * tr[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def _to_cam(c: KittiCalib, p: list[float]) -> list[float]:
    return _mv(c.r0_rect, _mv(c.tr_velo_to_cam, [*p, 1.0]))


def _inv3(m: Mat) -> Mat:
    a, b, cc = m
    det = (
        a[0] * (b[1] * cc[2] - b[2] * cc[1])
        - a[1] * (b[0] * cc[2] - b[2] * cc[0])
        + a[2] * (b[0] * cc[1] - b[1] * cc[0])
    )
    if abs(det) < 1e-12:
        raise ValueError("calibration matrix is singular")
    cof = [
        [b[1] * cc[2] - b[2] * cc[1], a[2] * cc[1] - a[1] * cc[2], a[1] * b[2] - a[2] * b[1]],
        [b[2] * cc[0] - b[0] * cc[2], a[0] * cc[2] - a[2] * cc[0], a[2] * b[0] - a[0] * b[2]],
        [b[0] * cc[1] - b[1] * cc[0], a[1] * cc[0] - a[0] * cc[1], a[0] * b[1] - a[1] * b[0]],
    ]
    return [[v / det for v in r] for r in cof]


def _from_cam(c: KittiCalib, p: list[float]) -> list[float]:
    q = _mv(_inv3(c.r0_rect), p)
    rt = [r[:3] for r in c.tr_velo_to_cam]
    t = [r[3] for r in c.tr_velo_to_cam]
    return _mv(_inv3(rt), [q[i] - t[i] for i in range(3)])


@dataclass(frozen=True, slots=True)
class _Projection:
    """A calibration's matrices combined once per export (a cuboid line then costs a few products).

    ``cam`` = ``R0_rect · Tr_velo_to_cam`` (3x4: LiDAR → rectified camera); ``image`` =
    ``P2 · [cam; 0 0 0 1]`` (3x4: LiDAR → image plane).
    """

    cam: Mat
    image: Mat | None

    @classmethod
    def of(cls, calib: KittiCalib) -> _Projection:
        r0, tr = calib.r0_rect, calib.tr_velo_to_cam
        cam = [[sum(r0[i][k] * tr[k][j] for k in range(3)) for j in range(4)] for i in range(3)]
        image = None
        if calib.has_camera:
            cam4 = [*cam, [0.0, 0.0, 0.0, 1.0]]
            image = [[sum(calib.p2[i][k] * cam4[k][j] for k in range(4)) for j in range(4)] for i in range(3)]
        return cls(cam, image)


def _affine(m: Mat, x: float, y: float, z: float) -> tuple[float, float, float]:
    a, b, c = m
    return (
        a[0] * x + a[1] * y + a[2] * z + a[3],
        b[0] * x + b[1] * y + b[2] * z + b[3],
        c[0] * x + c[1] * y + c[2] * z + c[3],
    )


def cuboid_line(r: dict[str, Any], calib: KittiCalib, proj: _Projection | None = None) -> str:
    """The KITTI label line of one cuboid region (LiDAR frame).

    ``proj`` is ``_Projection.of(calib)``, passed in by the exporter so it is computed once.
    """
    p = proj or _Projection.of(calib)
    (cx, cy, cz), (ln, wd, ht), yaw = r["center"], r["size"], float(r.get("yaw", 0.0))
    cos, sin = math.cos(yaw), math.sin(yaw)
    x, y, z = _affine(p.cam, cx, cy, cz - ht / 2)
    (a, _b, c) = p.cam
    hx, hz = a[0] * cos + a[1] * sin, c[0] * cos + c[1] * sin  # the heading, rotated only
    ry = _wrap(math.atan2(-hz, hx))
    alpha = _wrap(ry - math.atan2(x, z))
    bbox = [0.0, 0.0, 0.0, 0.0]
    if p.image is not None:
        us, vs = [], []
        for dx in (-ln / 2, ln / 2):
            for dy in (-wd / 2, wd / 2):
                for dz in (-ht / 2, ht / 2):
                    px = cx + dx * cos - dy * sin
                    py = cy + dx * sin + dy * cos
                    u, v, w = _affine(p.image, px, py, cz + dz)
                    if w <= 1e-6:
                        continue
                    us.append(u / w)
                    vs.append(v / w)
        if us:
            bbox = [min(us), min(vs), max(us), max(vs)]
    attrs = r.get("attributes") or {}
    trunc = float(attrs.get("truncated") or 0.0)
    occl = int(attrs.get("occluded") or 0)
    return f"{r['label']} {fmt_nums9([trunc, occl, alpha, *bbox, ht, wd, ln, x, y, z, ry])}"


def fmt_nums9(values: list[float]) -> str:
    """``" ".join(fmt_num(round(v, 9)) for v in values)``, about three times faster.

    For ``1e-4 <= |v| < 1e6``, ``f"{v:.9f}"`` without its trailing zeros is that
    text: both round the exact binary value to 9 decimals, and a decimal of at most 15
    significant digits is the shortest text of the float nearest to it. Other values (tiny,
    huge, not finite) take the exact path.

    Example:
        >>> fmt_nums9([0.0, -0.0, 2, 1.25, 1e-12, -1.0000000004, 5e-05])
        '0 0 2 1.25 0 -1 0.00005'
    """
    out = []
    for v in values:
        if v == 0:  # -0.0 too; common (no 2D box without a camera, no truncation)
            out.append("0")
        elif -1e6 < v < 1e6 and not -1e-4 < v < 1e-4:  # NaN fails the first test
            out.append(f"{v:.9f}".rstrip("0").rstrip("."))
        else:
            out.append(fmt_num(round(v, 9)))
    return " ".join(out)


def _cuboids(schema: LabelSchema, control: str | None) -> Control:
    return pick_control(schema, ControlKind.CUBOIDS, control, fmt="KITTI 3D")


def export_kitti3d(
    records: Iterable[ExportRecord],
    schema: LabelSchema,
    out: Path,
    media_path: MediaPath,
    /,
    *,
    calib: KittiCalib | None = None,
    control: str | None = None,
    link: bool = False,
    with_media: bool = True,
) -> ExportReport:
    """Export cuboids as KITTI 3D object labels with calib files (published atomically).

    Args:
        records: Point cloud items (``split`` from the record or ``item.meta``).
        schema: The label schema (a cuboids control on a point cloud field).
        out: The folder to create (must not exist, or be empty), or a new ``.zip`` file.
        media_path: Maps a point cloud blob's SHA-256 to its file.
        calib: The sensor calibration (default: the identity calibration, see the module).
        control: The cuboids control (default: the first).
        link: Hard-link point clouds instead of copying.
        with_media: Write the media files (False: a labels-only export whose label
            files still name the media as a full export would).

    Returns:
        The report; regions of other controls are counted in ``ignored_regions``.

    Example:
        >>> # export_kitti3d(records, schema, Path("release/kitti"), store.path_of)
    """
    ctl = _cuboids(schema, control)
    calib = calib or KittiCalib()
    proj = _Projection.of(calib)
    calib_bytes = calib.to_text().encode()
    report = ExportReport(out)
    with atomic_output(out) as dest:
        media = MediaWriter(dest, media_path, link=link, write=with_media)
        label_dir, calib_dir = media.folder("label_2"), media.folder("calib")
        media.folder("velodyne")
        sets_dir = media.folder("ImageSets")
        sets: dict[str, IO[str]] = {}
        try:
            with dest.open_text("labelloop_keys.tsv") as keys:
                for rec in records:
                    try:
                        split = safe_split(rec.split_name)
                        ref = rec.item.data.get(ctl.target)
                        if ref is None or ref.kind != Medium.POINTCLOUD:
                            raise ValueError(f"the item has no point cloud in field {ctl.target!r}")
                        src = media.source(ref)
                        value = rec.value or []
                        problems = check_problems(schema, ctl.target, value, {})
                        if problems:
                            raise ValueError("invalid annotation: " + "; ".join(problems))
                        mine = [r for r in value if r.get("control") == ctl.name]
                        if any(len(r["label"].split()) != 1 for r in mine):
                            raise ValueError("KITTI types cannot contain whitespace")
                        lines = [cuboid_line(r, calib, proj) for r in mine]
                    except ValueError as exc:
                        report.errors.append(ItemError(rec.where, str(exc), code="LL-FORMAT"))
                        continue
                    fid = f"{report.items:06d}"
                    ext = ".bin" if ref.media_type.endswith(("kitti-bin", "x-bin")) else (src.suffix or ".bin")
                    media.place(src, "velodyne", fid + ext)
                    dest.write(f"{label_dir}{fid}.txt", "".join(f"{ln}\n" for ln in lines).encode())
                    dest.write(f"{calib_dir}{fid}.txt", calib_bytes)
                    if split not in sets:
                        sets[split] = dest.open_text(f"{sets_dir}{split}.txt")
                    sets[split].write(fid + "\n")
                    keys.write(f"{fid}\t{(rec.item.key or '').replace(chr(9), ' ').replace(chr(10), ' ')}\n")
                    report.items += 1
                    report.regions += len(lines)
                    report.ignored_regions += len(value) - len(lines)
        finally:
            for fh in sets.values():
                fh.close()
    return report


# ---------------------------------------------------------------------- import
def parse_line(text: str, calib: KittiCalib, n: int) -> dict[str, Any] | None:
    """A cuboid region (LiDAR frame) from one label line; ``None`` for ``DontCare``.

    Raises:
        ValueError: on a wrong field count or non-finite numbers.
    """
    parts = text.split()
    if len(parts) not in (15, 16):
        raise ValueError(f"expected 15 fields (16 with a score), got {len(parts)}")
    if parts[0] == "DontCare":
        return None
    try:
        vals = [float(v) for v in parts[1:]]
    except ValueError:
        raise ValueError(f"expected numbers after the type, got {text[:60]!r}") from None
    if not all(math.isfinite(v) for v in vals):
        raise ValueError("fields must be finite numbers (got NaN or inf)")
    ht, wd, ln, x, y, z, ry = vals[7:14]
    if min(ht, wd, ln) < 0:
        raise ValueError("dimensions must not be negative")
    bx, by, bz = _from_cam(calib, [x, y, z])
    heading = _mv(_inv3(_rot(calib)), [math.cos(ry), 0.0, -math.sin(ry)])
    yaw = math.atan2(heading[1], heading[0])
    region: dict[str, Any] = {"id": f"c{n}", "label": parts[0], "center": [bx, by, bz + ht / 2]}
    region |= {"size": [ln, wd, ht], "yaw": yaw}
    if len(parts) == 16:
        region["score"] = vals[14]
    return region


def _keys(top: Path) -> dict[str, str]:
    path = top / "labelloop_keys.tsv"
    if not path.is_file():
        return {}
    out = {}
    for line in resolve_inside(top, "labelloop_keys.tsv").read_text(encoding="utf-8").splitlines():
        fid, _, key = line.partition("\t")
        if key:
            out[fid] = key
    return out


def import_kitti3d(
    root: Path, schema: LabelSchema, /, *, calib: KittiCalib | None = None, control: str | None = None
) -> Iterator[ImportedItem | ItemError]:
    """Read KITTI 3D object labels back into LiDAR-frame cuboids; never reads outside ``root``.

    Args:
        root: The dataset folder (with ``label_2/``; ``calib/`` and ``velodyne/`` optional).
        schema: The label schema (a cuboids control).
        calib: Used when a frame has no ``calib/NNNNNN.txt`` (default: identity calibration).
        control: The cuboids control (default: the first).

    Yields:
        One :class:`ImportedItem` per label file (key from ``labelloop_keys.tsv``, else the
        velodyne file, else the label file), or an :class:`ItemError` naming file and line.

    Example:
        >>> # for got in import_kitti3d(Path("kitti"), schema): ...
    """
    ctl = _cuboids(schema, control)
    top = root.resolve()
    default = calib or KittiCalib()
    keys = _keys(top)
    splits: dict[str, str] = {}
    sets = top / "ImageSets"
    if sets.is_dir():
        for f in sorted(sets.glob("*.txt")):
            for fid in f.read_text(encoding="utf-8").split():
                splits[fid] = f.stem
    for label in sorted((top / "label_2").glob("*.txt")):
        rel = f"label_2/{label.name}"
        fid = label.stem
        try:
            path = resolve_inside(top, rel)
            if path.stat().st_size > MAX_LABEL_BYTES:
                raise ValueError(f"label file larger than {MAX_LABEL_BYTES} bytes")
            cpath = top / "calib" / f"{fid}.txt"
            cal = KittiCalib.parse(resolve_inside(top, f"calib/{fid}.txt").read_text()) if cpath.is_file() else default
            regions: Value = []
            for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not text.strip():
                    continue
                try:
                    r = parse_line(text, cal, len(regions) + 1)
                except ValueError as exc:
                    raise ValueError(f"line {n}: {exc}") from None
                if r is not None:
                    r.pop("score", None)
                    regions.append({"id": r.pop("id"), "control": ctl.name, **r, "frame": "lidar"})
            problems = check_problems(schema, ctl.target, regions, {})
            if problems:
                raise ValueError("; ".join(problems))
            clouds = sorted((top / "velodyne").glob(f"{fid}.*")) if (top / "velodyne").is_dir() else []
            cloud = resolve_inside(top, f"velodyne/{clouds[0].name}") if clouds else None
            key = keys.get(fid) or (f"velodyne/{cloud.name}" if cloud else rel)
            meta = {"split": splits.get(fid, "train"), "frame_id": fid}
            yield ImportedItem(key, ctl.target, cloud, None, regions, rel, meta)
        except (OSError, ValueError) as exc:
            yield ItemError(rel, str(exc))
