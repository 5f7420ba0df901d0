"""Pascal VOC detection: exporter and importer (XML parsed only with ``defusedxml``).

Layout: ``JPEGImages/<name>`` (whatever the image type), ``Annotations/<stem>.xml`` and
``ImageSets/Main/<split>.txt`` (one stem per line), and ``labelmap.txt`` with the class
names (read by Datumaro and CVAT; without it they assume the 20 VOC classes).

Corners follow the VOC devkit: 1-based, inclusive pixel indices, so a continuous box
``xyxy = [x0, y0, x1, y1]`` is written ``xmin = x0 + 1``, ``ymin = y0 + 1``, ``xmax = x1``,
``ymax = y1`` (as ``supervision`` reads them); on import ``xmin``/``ymin`` below 1 (0-based
writers) become 0. Non-integer corners are written as exact
decimals. ``truncated``/``difficult`` come from bool region attributes of those names, else 0.

The importer refuses any DTD or entity declaration ("XML entities not allowed"): no external
file is read and no entity expands.

Example:
    >>> voc_corners([0, 0, 10, 20])
    ('1', '1', '10', '20')
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any
from xml.sax.saxutils import escape

from labelloop.core import Control, ControlKind, ItemError, LabelSchema
from labelloop.formats._base import (
    ExportRecord,
    ExportReport,
    ImportedItem,
    MediaPath,
    Value,
    check_problems,
    fmt_num,
    image_ref,
    is_finite_number,
    pick_control,
    resolve_inside,
    safe_split,
)
from labelloop.formats._media import MediaWriter, image_size
from labelloop.formats._output import ExportOutput, atomic_output

__all__ = ["export_voc", "import_voc", "voc_corners"]

MAX_XML_BYTES = 8 * 1024**2
ENTITIES_REFUSED = "XML entities not allowed"


def _boxes(schema: LabelSchema, control: str | None) -> Control:
    return pick_control(schema, ControlKind.BOXES, control, fmt="Pascal VOC")


def voc_corners(xyxy: list[float]) -> tuple[str, str, str, str]:
    """``xmin, ymin, xmax, ymax`` text of a continuous pixel box (1-based, inclusive)."""
    x0, y0, x1, y1 = xyxy
    return fmt_num(x0 + 1), fmt_num(y0 + 1), fmt_num(x1), fmt_num(y1)


def _xml(name: str, width: int, height: int, regions: list[dict[str, Any]]) -> str:
    """The annotation XML of one image (text escaped; ``truncated``/``difficult`` from bool attributes)."""
    objs = []
    for r in regions:
        x0, y0, x1, y1 = r["xyxy"]  # the corners of voc_corners, inline (a call less per box)
        attrs = r.get("attributes")
        truncated = 1 if attrs and attrs.get("truncated") is True else 0
        difficult = 1 if attrs and attrs.get("difficult") is True else 0
        objs.append(
            f"  <object>\n    <name>{escape(r['label'])}</name>\n    <pose>Unspecified</pose>\n"
            f"    <truncated>{truncated}</truncated>\n"
            f"    <difficult>{difficult}</difficult>\n"
            f"    <bndbox>\n      <xmin>{fmt_num(x0 + 1)}</xmin>\n      <ymin>{fmt_num(y0 + 1)}</ymin>\n"
            f"      <xmax>{fmt_num(x1)}</xmax>\n      <ymax>{fmt_num(y1)}</ymax>\n    </bndbox>\n  </object>\n"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n  <folder>JPEGImages</folder>\n'
        f"  <filename>{escape(name)}</filename>\n  <source><database>labelloop</database></source>\n"
        f"  <size>\n    <width>{width}</width>\n    <height>{height}</height>\n    <depth>3</depth>\n  </size>\n"
        f"  <segmented>0</segmented>\n{''.join(objs)}</annotation>\n"
    )


def export_voc(
    records: Iterable[ExportRecord],
    schema: LabelSchema,
    out: Path,
    media_path: MediaPath,
    /,
    *,
    control: str | None = None,
    link: bool = False,
    with_media: bool = True,
) -> ExportReport:
    """Export a boxes control as a Pascal VOC folder (streamed, published atomically).

    Args:
        records: The items to export (``split`` from the record or ``item.meta``).
        schema: The project's label schema.
        out: The folder to create (must not exist, or be empty), or a new ``.zip`` file.
        media_path: Maps an image's SHA-256 to its file.
        control: The boxes control (default: the first one).
        link: Hard-link images instead of copying them.
        with_media: Write the media files (False: a labels-only export whose label
            files still name the media as a full export would).

    Returns:
        The report.

    Example:
        >>> # export_voc(records, schema, Path("release/voc"), store.path_of)
    """
    ctl = _boxes(schema, control)
    report = ExportReport(out)
    with atomic_output(out) as dest:
        media = MediaWriter(dest, media_path, link=link, write=with_media)
        annotations = media.folder("Annotations")
        dest.makedirs("ImageSets/Main")
        lists: dict[str, IO[str]] = {}
        try:
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
                except ValueError as exc:
                    report.errors.append(ItemError(rec.where, str(exc), code="LL-FORMAT"))
                    continue
                regions = [r for r in value if r.get("control") == ctl.name]
                name = media.name_for(rec.item, ref, "JPEGImages", src)
                media.place(src, "JPEGImages", name)
                stem = name.rsplit(".", 1)[0]
                dest.write(f"{annotations}{stem}.xml", _xml(name, w, h, regions).encode())
                if split not in lists:
                    lists[split] = dest.open_text(f"ImageSets/Main/{split}.txt")
                lists[split].write(stem + "\n")
                report.items += 1
                report.regions += len(regions)
                report.ignored_regions += len(value) - len(regions)
        finally:
            for fh in lists.values():
                fh.close()
        _write_labelmap(dest, ctl.labels)
    return report


def _write_labelmap(dest: ExportOutput, labels: Iterable[str]) -> None:
    """Write ``labelmap.txt`` (``name:color:parts:actions``), the class list Datumaro and CVAT read.

    Without it Datumaro assumes the 20 VOC classes and refuses any other name. Skipped when a
    label holds a ``:`` or a line break, which that format cannot carry.
    """
    names = ["background", *(x for x in labels if x != "background")]
    if any(":" in x or "\n" in x or "\r" in x for x in names):
        return
    lines = ["# label:color_rgb:parts:actions"]
    lines += [f"{x}:{(n * 67) % 256},{(n * 131) % 256},{(n * 197) % 256}::" for n, x in enumerate(names)]
    dest.write("labelmap.txt", ("\n".join(lines) + "\n").encode())


# ---------------------------------------------------------------------- import
def parse_voc_xml(data: bytes) -> Any:
    """Parse VOC XML with ``defusedxml``; DTDs and entities are refused.

    Raises:
        ValueError: ``XML entities not allowed`` or ``malformed XML ...``.
    """
    import defusedxml
    from defusedxml import ElementTree as DefusedET

    try:
        return DefusedET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise ValueError(ENTITIES_REFUSED) from None
    except DefusedET.ParseError as exc:
        raise ValueError(f"malformed XML ({exc})") from None


def _text(node: Any, path: str) -> str:
    found = node.find(path)
    if found is None or found.text is None or not found.text.strip():
        raise ValueError(f"<{path}> is missing")
    return str(found.text).strip()


def _num(node: Any, path: str) -> float:
    raw = _text(node, path)
    try:
        v = float(raw)
    except ValueError:
        raise ValueError(f"<{path}>: expected a number, got {raw[:40]!r}") from None
    if not is_finite_number(v):
        raise ValueError(f"<{path}>: expected a finite number, got {raw!r}")
    return v


def _splits(root: Path, stems_dir: str) -> dict[str, str]:
    """Stem -> split from ``ImageSets/Main/{train,val,test,trainval}.txt`` (class lists skipped)."""
    out: dict[str, str] = {}
    folder = root / stems_dir
    if not folder.is_dir():
        return out
    for split in ("trainval", "test", "val", "train"):  # later (more specific) names win
        try:
            f = resolve_inside(root, f"{stems_dir}/{split}.txt")
        except ValueError:
            continue  # a link leading outside the root is not followed
        if f.is_file() and f.stat().st_size <= MAX_XML_BYTES:
            for line in f.read_text(encoding="utf-8", errors="replace").split():
                out[line] = split
    return out


def import_voc(
    root: Path,
    schema: LabelSchema,
    /,
    *,
    annotations_dir: str = "Annotations",
    images_dir: str = "JPEGImages",
    control: str | None = None,
) -> Iterator[ImportedItem | ItemError]:
    """Read a Pascal VOC folder; never reads outside ``root``.

    Args:
        root: The dataset folder.
        schema: The label schema; object names must be labels of the boxes control.
        annotations_dir: The folder of ``*.xml``, relative to ``root``.
        images_dir: Where ``<filename>`` is resolved, relative to ``root``.
        control: The boxes control (default: the first one).

    Yields:
        One :class:`ImportedItem` per XML file, or an :class:`ItemError` naming it.
    """
    ctl = _boxes(schema, control)
    top = root.resolve()
    try:
        ann_dir = resolve_inside(top, annotations_dir)
    except ValueError as exc:
        yield ItemError(annotations_dir, str(exc))
        return
    splits = _splits(top, "ImageSets/Main")
    for xml_path in sorted(ann_dir.glob("*.xml")):
        rel = xml_path.relative_to(top).as_posix()
        try:
            yield _read(top, rel, images_dir, ctl, schema, splits)
        except (ValueError, OSError) as exc:
            yield ItemError(rel, str(exc))


def _read(
    top: Path, rel: str, images_dir: str, ctl: Control, schema: LabelSchema, splits: dict[str, str]
) -> ImportedItem:
    path = resolve_inside(top, rel)
    if path.stat().st_size > MAX_XML_BYTES:
        raise ValueError(f"larger than {MAX_XML_BYTES} bytes")
    doc = parse_voc_xml(path.read_bytes())
    if doc.tag != "annotation":
        raise ValueError(f"expected <annotation>, got <{doc.tag}>")
    filename = _text(doc, "filename")
    image = resolve_inside(top, filename, base=images_dir)
    if not image.is_file():
        raise ValueError(f"missing image {filename!r}")
    w, h = int(_num(doc, "size/width")), int(_num(doc, "size/height"))
    attr_names = {a.name for a in ctl.attributes if a.type == "bool"}
    regions: Value = []
    for i, obj in enumerate(doc.findall("object")):
        try:
            label = _text(obj, "name")
            if label not in ctl.labels:
                raise ValueError(f"class {label!r} is not a label of {ctl.name!r} {ctl.labels}")
            xyxy = [_num(obj, f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")]
        except ValueError as exc:
            raise ValueError(f"object[{i}]: {exc}") from None
        region: dict[str, Any] = {
            "id": f"r{len(regions) + 1}",
            "control": ctl.name,
            "label": label,
            # 1-based corners; a 0-based writer's 0 becomes 0, not -1
            "xyxy": [max(xyxy[0] - 1, 0.0), max(xyxy[1] - 1, 0.0), xyxy[2], xyxy[3]],
        }
        attrs = {k: obj.findtext(k, "0").strip() == "1" for k in ("difficult", "truncated") if k in attr_names}
        if attrs:
            region["attributes"] = attrs
        regions.append(region)
    problems = check_problems(schema, ctl.target, regions, {"width": w, "height": h})
    if problems:
        raise ValueError("; ".join(problems))
    stem = PurePosixPath(rel).stem
    key = PurePosixPath(filename.replace("\\", "/")).as_posix()
    return ImportedItem(
        key, ctl.target, image, None, regions, rel, {"split": splits.get(stem, "train"), "width": w, "height": h}
    )
