"""YOLO (Ultralytics) detect and segment: exporter and importer.

Layout: ``images/<split>/<name>``, ``labels/<split>/<stem>.txt`` (same stem), ``data.yaml``
with ``path`` (the published folder, absolute; left out of a ``.zip`` export, which has no
folder yet: Ultralytics then takes the yaml's folder), ``train``, ``val`` (the train images
when no record is in ``val``), ``test`` when present, and ``names`` (``{id: name}``, 0-based
in label order of the exported control).

One line per region: ``class cx cy w h`` (detect) or ``class x1 y1 ... xn yn`` (segment), all
normalised by the image width/height and written with exact (shortest round-trip) decimals.
Items without regions get an empty label file (a background image). Suggestions are not
written (YOLO labels carry no scores).

The importer reads ``data.yaml`` with ``yaml.safe_load``; ``train``/``val``/``test`` must be
folders inside the dataset root (an absolute ``path`` is ignored: the yaml's folder is the
root). A label file's line with a class id out of range, a NaN, a coordinate outside [0, 1] or
a wrong number of values refuses that image, naming the file and line.

Example:
    >>> yolo_box_line(1, [10, 20, 50, 60], 100, 100)
    '1 0.3 0.4 0.4 0.4'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from labelloop.core import Control, ControlKind, ItemError, LabelSchema
from labelloop.errors import FormatError
from labelloop.formats._base import (
    ExportRecord,
    ExportReport,
    ImportedItem,
    MediaPath,
    Value,
    check_problems,
    controls_of,
    fmt_num,
    image_ref,
    resolve_inside,
    safe_split,
)
from labelloop.formats._media import MediaWriter, image_size, probe_image
from labelloop.formats._output import atomic_output, is_zip_target

__all__ = ["export_yolo", "import_yolo", "yolo_box_line"]

Task = Literal["detect", "segment"]
IMAGE_SUFFIXES = frozenset({".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp", ".gif"})
_TOL = 1e-6
MAX_LABEL_BYTES = 64 * 1024**2


def _control(schema: LabelSchema, task: Task | None, control: str | None) -> tuple[Control, Task]:
    if control is not None:
        ctl = schema.control(control)
        if ctl.kind not in (ControlKind.BOXES, ControlKind.POLYGONS):
            raise FormatError(f"YOLO exports a boxes or polygons control; {control!r} is {ctl.kind}")
        return ctl, "detect" if ctl.kind == ControlKind.BOXES else "segment"
    boxes = controls_of(schema, [ControlKind.BOXES])
    polys = controls_of(schema, [ControlKind.POLYGONS])
    if task is None:
        task = "detect" if boxes or not polys else "segment"
    pick = boxes if task == "detect" else polys
    if not pick:
        raise FormatError(f"YOLO {task} needs a {'boxes' if task == 'detect' else 'polygons'} control")
    return pick[0], task


def yolo_box_line(cls: int, xyxy: list[float], width: int, height: int) -> str:
    """One normalised ``class cx cy w h`` line."""
    x0, y0, x1, y1 = xyxy
    vals = ((x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height)
    return " ".join([str(cls), *(fmt_num(v) for v in vals)])


def yolo_polygon_line(cls: int, points: list[list[float]], width: int, height: int) -> str:
    """One normalised ``class x1 y1 ... xn yn`` line."""
    return " ".join([str(cls), *(f"{fmt_num(p[0] / width)} {fmt_num(p[1] / height)}" for p in points)])


def export_yolo(
    records: Iterable[ExportRecord],
    schema: LabelSchema,
    out: Path,
    media_path: MediaPath,
    /,
    *,
    task: Task | None = None,
    control: str | None = None,
    link: bool = False,
    with_media: bool = True,
) -> ExportReport:
    """Export records as an Ultralytics YOLO dataset folder (streamed, published atomically).

    Args:
        records: The items to export (``split`` from the record or ``item.meta``).
        schema: The project's label schema.
        out: The folder to create (must not exist, or be empty), or a new ``.zip`` file.
        media_path: Maps an image's SHA-256 to its file.
        task: ``detect`` (boxes) or ``segment`` (polygons); default from the schema.
        control: The control to export (default: the first of the task's kind).
        link: Hard-link images instead of copying them.
        with_media: Write the media files (False: a labels-only export whose label
            files still name the media as a full export would).

    Returns:
        The report; regions of other controls are counted in ``ignored_regions``.

    Example:
        >>> # export_yolo(records, schema, Path("release/yolo"), store.path_of, task="detect")
    """
    import yaml

    ctl, task = _control(schema, task, control)
    classes = {label: i for i, label in enumerate(ctl.labels)}
    report = ExportReport(out)
    splits: set[str] = set()
    with atomic_output(out) as dest:
        media = MediaWriter(dest, media_path, link=link, write=with_media)
        for rec in records:
            try:
                split = safe_split(rec.split_name)
                ref = image_ref(rec.item, ctl.target)
                src = media.source(ref)
                w, h = image_size(ref, src)
                value = rec.value or []
                problems = check_problems(schema, ctl.target, value, {"width": w, "height": h})
                if problems:
                    raise ValueError("invalid annotation: " + "; ".join(problems))
                lines = []
                for r in value:
                    if r.get("control") != ctl.name:
                        continue
                    c = classes[r["label"]]
                    lines.append(
                        yolo_box_line(c, r["xyxy"], w, h)
                        if task == "detect"
                        else yolo_polygon_line(c, r["points"], w, h)
                    )
            except ValueError as exc:
                report.errors.append(ItemError(rec.where, str(exc), code="LL-FORMAT"))
                continue
            name = media.name_for(rec.item, ref, f"images/{split}", src)
            media.place(src, f"images/{split}", name)
            label_file = media.folder(f"labels/{split}") + name.rsplit(".", 1)[0] + ".txt"
            dest.write(label_file, "".join(f"{ln}\n" for ln in lines).encode())
            splits.add(split)
            report.items += 1
            report.regions += len(lines)
            report.ignored_regions += len(value) - len(lines)
        train = "train" if "train" in splits or not splits else sorted(splits)[0]
        data: dict[str, Any] = {} if is_zip_target(out) else {"path": str(out.resolve())}
        data["train"] = f"images/{train}"
        data["val"] = f"images/{'val' if 'val' in splits else train}"
        if "test" in splits:
            data["test"] = "images/test"
        data["nc"] = len(ctl.labels)
        data["names"] = dict(enumerate(ctl.labels))
        dest.write("data.yaml", yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode())
    return report


# ---------------------------------------------------------------------- import
def _names(data: dict[str, Any]) -> list[str]:
    names = data.get("names")
    if isinstance(names, list):
        return [str(n) for n in names]
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        if sorted(names) != list(range(len(names))):
            raise ValueError("'names' ids must be 0..n-1")
        return [str(names[k]) for k in sorted(names)]
    raise ValueError("'names' must be a list or a {id: name} mapping")


def _split_dirs(root: Path, data: dict[str, Any], splits: Iterable[str]) -> list[tuple[str, Path]]:
    base = data.get("path")
    prefix = base if isinstance(base, str) and base and not Path(base).is_absolute() else ""
    out: list[tuple[str, Path]] = []
    seen: set[Path] = set()
    for split in splits:
        entry = data.get(split)
        if entry is None:
            continue
        for rel in entry if isinstance(entry, list) else [entry]:
            if not isinstance(rel, str):
                raise ValueError(f"{split!r}: expected a folder path, got {rel!r}")
            folder = resolve_inside(root, rel, base=prefix)
            if not folder.is_dir():
                raise ValueError(f"{split!r}: {rel!r} is not a folder inside the dataset (image lists unsupported)")
            if folder not in seen:
                seen.add(folder)
                out.append((split, folder))
    return out


def _label_path(root: Path, image: Path) -> Path:
    parts = list(image.relative_to(root).parts)
    idx = max((i for i, p in enumerate(parts[:-1]) if p == "images"), default=None)
    if idx is None:
        raise ValueError(f"{image.relative_to(root).as_posix()!r} is not under an 'images' folder")
    parts[idx] = "labels"
    return root.joinpath(*parts).with_suffix(".txt")


def _parse_line(text: str, names: list[str]) -> tuple[str, list[float]]:
    vals = text.split()
    try:
        cls_f = float(vals[0])
        coords = [float(v) for v in vals[1:]]
    except ValueError:
        raise ValueError(f"expected numbers, got {text[:60]!r}") from None
    if not cls_f.is_integer() or not 0 <= cls_f < len(names):
        raise ValueError(f"class id {vals[0]} is out of range 0..{len(names) - 1}")
    if not all(math.isfinite(v) for v in coords):
        raise ValueError("coordinates must be finite numbers (got NaN or inf)")
    if any(v < -_TOL or v > 1 + _TOL for v in coords):
        raise ValueError("coordinates must be normalised to [0, 1]")
    if len(coords) != 4 and (len(coords) < 6 or len(coords) % 2):
        raise ValueError(f"expected 'class cx cy w h' or 'class x1 y1 ... xn yn' (n >= 3), got {len(coords)} values")
    return names[int(cls_f)], coords


def _clamp(v: float, hi: int) -> float:
    return min(max(v, 0.0), float(hi))


def _region(
    label: str, coords: list[float], w: int, h: int, box: Control | None, poly: Control | None, n: int
) -> dict[str, Any]:
    rid = f"r{n}"
    if len(coords) == 4:
        if box is None or label not in box.labels:
            raise ValueError(f"a box of {label!r}, but no boxes control of the schema takes it")
        cx, cy, bw, bh = coords
        xyxy = [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
        xyxy = [_clamp(v, w if i % 2 == 0 else h) for i, v in enumerate(xyxy)]
        return {"id": rid, "control": box.name, "label": label, "xyxy": xyxy}
    if poly is None or label not in poly.labels:
        raise ValueError(f"a polygon of {label!r}, but no polygons control of the schema takes it")
    pts = [[_clamp(coords[i] * w, w), _clamp(coords[i + 1] * h, h)] for i in range(0, len(coords), 2)]
    return {"id": rid, "control": poly.name, "label": label, "points": pts}


def import_yolo(
    root: Path,
    schema: LabelSchema,
    /,
    *,
    data_yaml: str = "data.yaml",
    splits: Iterable[str] = ("train", "val", "test"),
) -> Iterator[ImportedItem | ItemError]:
    """Read an Ultralytics YOLO dataset folder; never reads outside ``root``.

    Args:
        root: The dataset folder.
        schema: The label schema; ``names`` are matched to the labels of its boxes and
            polygons controls.
        data_yaml: The dataset yaml, relative to ``root``.
        splits: The yaml keys to read.

    Yields:
        One :class:`ImportedItem` per image (key: its path relative to ``root``; no label file
        means a background image), or an :class:`ItemError` with the label file and line.
    """
    import yaml

    box = next(iter(controls_of(schema, [ControlKind.BOXES])), None)
    poly = next(iter(controls_of(schema, [ControlKind.POLYGONS])), None)
    if box is None and poly is None:
        raise FormatError("YOLO import needs a boxes or polygons control")
    field_name = (box or poly).target  # type: ignore[union-attr]
    top = root.resolve()
    try:
        yaml_path = resolve_inside(top, data_yaml)
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("expected a mapping at the top of the yaml")
        names = _names(data)
        folders = _split_dirs(top, data, splits)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        yield ItemError(data_yaml, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return
    for split, folder in folders:
        for image in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            rel = image.relative_to(top).as_posix() if image.is_relative_to(top) else image.name
            try:
                yield _read_item(top, image, rel, split, names, schema, field_name, box, poly)
            except _LineError as exc:
                yield ItemError(exc.source, exc.reason, line=exc.line)
            except ValueError as exc:
                yield ItemError(rel, str(exc))


class _LineError(Exception):
    def __init__(self, source: str, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.source, self.line, self.reason = source, line, reason


def _read_item(
    top: Path,
    image: Path,
    rel: str,
    split: str,
    names: list[str],
    schema: LabelSchema,
    field_name: str,
    box: Control | None,
    poly: Control | None,
) -> ImportedItem:
    real = resolve_inside(top, rel)  # refuses symlinks that lead outside the root
    w, h = probe_image(real)
    label = _label_path(top, image)
    regions: Value = []
    if label.exists():
        lrel = label.relative_to(top).as_posix()
        label = resolve_inside(top, lrel)
        if label.stat().st_size > MAX_LABEL_BYTES:
            raise _LineError(lrel, None, f"label file larger than {MAX_LABEL_BYTES} bytes")
        for n, text in enumerate(label.read_text(encoding="utf-8").splitlines(), 1):
            if not text.strip():
                continue
            try:
                name, coords = _parse_line(text, names)
                regions.append(_region(name, coords, w, h, box, poly, len(regions) + 1))
            except ValueError as exc:
                raise _LineError(lrel, n, str(exc)) from None
        problems = check_problems(schema, field_name, regions, {"width": w, "height": h})
        if problems:
            raise _LineError(lrel, None, "; ".join(problems))
    return ImportedItem(rel, field_name, real, None, regions, rel, {"split": split, "width": w, "height": h})
