"""NVIDIA NeMo ASR manifests: importer (the exporter is :mod:`labelloop.formats.nemo`).

Reads every ``<split>_manifest.json`` (or ``*.json`` manifest given) under ``root``: one JSON
object per line with ``audio_filepath`` (relative to the manifest's folder; absolute paths
and ``..`` are refused, nothing outside ``root`` is read), ``duration``, ``text`` and
optionally ``offset`` and ``label``. Lines naming the same audio file become one item: a line
with ``offset`` is the segment ``[offset, offset + duration]``; a line without is the whole
clip ``[0, duration]``. Segments must lie within the audio (its header gives the length).
A bad line refuses its audio file's item, naming manifest and line; the rest imports.

Example:
    >>> # list(import_nemo(Path("datasets/asr"), schema))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from labelloop.core import ControlKind, ItemError, LabelSchema, Medium
from labelloop.errors import FormatError
from labelloop.formats._base import (
    ImportedItem,
    UnsafePath,
    check_problems,
    is_finite_number,
    pick_control,
    resolve_inside,
)

__all__ = ["import_nemo"]

_SUFFIX = "_manifest.json"


class _Bad(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line


def _segment(obj: Any, number: int, ctl_labels: list[str], default_label: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _Bad(number, f"expected a JSON object, got {type(obj).__name__}")
    row: dict[str, Any] = obj
    raw_duration: Any = row.get("duration")
    raw_offset: Any = row.get("offset", 0.0)
    if not is_finite_number(raw_duration) or float(raw_duration) <= 0:
        raise _Bad(number, f"expected a positive finite 'duration', got {raw_duration!r}")
    if not is_finite_number(raw_offset) or float(raw_offset) < 0:
        raise _Bad(number, f"expected a non-negative finite 'offset', got {raw_offset!r}")
    duration, offset = float(raw_duration), float(raw_offset)
    text = row.get("text", "")
    if not isinstance(text, str):
        raise _Bad(number, f"expected 'text' to be a string, got {type(text).__name__}")
    label = row.get("label", default_label)
    if label not in ctl_labels:
        raise _Bad(number, f"label {label!r} is not one of {ctl_labels}")
    end = round(offset + duration, 9)  # 1.6 + 0.3 is 1.9, not 1.9000000000000001
    return {"start_s": offset, "end_s": end, "transcript": text, "label": label}


def import_nemo(
    root: Path,
    schema: LabelSchema,
    /,
    *,
    manifests: Iterable[str] | None = None,
    control: str | None = None,
) -> Iterator[ImportedItem | ItemError]:
    """Read NeMo ASR manifests under ``root``; never reads outside it.

    Args:
        root: The dataset folder.
        schema: The label schema (a segments control on an audio field, with transcripts).
        manifests: Manifest files relative to ``root`` (default: every ``*_manifest.json``).
        control: The segments control (default: the first with transcripts).

    Yields:
        One :class:`ImportedItem` per audio file (key: its path relative to ``root``; split from
        the manifest name), or an :class:`ItemError` naming the manifest line.

    Raises:
        FormatError: the schema has no segments control on an audio field.
    """
    from labelloop.formats.nemo import audio_duration

    ctl = pick_control(schema, ControlKind.SEGMENTS, control, fmt="NeMo", prefer=lambda c: c.transcript)
    if schema.medium_of(ctl.target) != Medium.AUDIO:
        raise FormatError(f"NeMo needs an audio field; {ctl.target!r} is {schema.medium_of(ctl.target)}")
    top = root.resolve()
    names = list(manifests) if manifests is not None else sorted(p.name for p in top.glob(f"*{_SUFFIX}"))
    if not names:
        yield ItemError(str(root), f"expected NeMo manifests (*{_SUFFIX}), found none")
        return
    for name in names:
        try:
            manifest = resolve_inside(top, name)
            lines = manifest.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError, UnsafePath) as exc:
            yield ItemError(name, f"expected a readable UTF-8 manifest inside the dataset, got {exc}")
            continue
        split = name.removesuffix(_SUFFIX) if name.endswith(_SUFFIX) else "train"
        by_file: dict[str, list[tuple[int, Any]]] = {}
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                yield ItemError(name, f"expected a JSON object, got malformed JSON ({exc.msg})", line=number)
                continue
            path = row.get("audio_filepath") if isinstance(row, dict) else None
            by_file.setdefault(path if isinstance(path, str) else "", []).append((number, row))
        for rel, rows in by_file.items():
            yield _item(top, manifest, name, split, rel, rows, schema, ctl, audio_duration)


def _item(
    top: Path,
    manifest: Path,
    name: str,
    split: str,
    rel: str,
    rows: list[tuple[int, Any]],
    schema: LabelSchema,
    ctl: Any,
    audio_duration: Any,
) -> ImportedItem | ItemError:
    first = rows[0][0]
    try:
        base = manifest.parent.relative_to(top).as_posix()
        path = resolve_inside(top, rel, base="" if base == "." else base)
    except UnsafePath as exc:
        return ItemError(name, f"audio_filepath: {exc}", line=first)
    if not path.is_file():
        return ItemError(name, f"audio file {rel!r} is missing", line=first)
    try:
        length = audio_duration(path)
        regions = []
        for n, (number, row) in enumerate(rows, 1):
            seg = _segment(row, number, list(ctl.labels), ctl.labels[0])
            if seg["end_s"] > length + 1e-3:
                raise _Bad(number, f"segment ends at {seg['end_s']:.3f} s, past the audio ({length:.3f} s)")
            regions.append({"id": f"s{n}", "control": ctl.name, **seg})
    except _Bad as exc:
        return ItemError(name, str(exc), line=exc.line)
    except ValueError as exc:
        return ItemError(name, str(exc), line=first)
    regions.sort(key=lambda r: (r["start_s"], r["end_s"]))
    problems = check_problems(schema, ctl.target, regions, {})
    if problems:
        return ItemError(name, "; ".join(problems), line=first)
    key = path.relative_to(top).as_posix()
    return ImportedItem(key, ctl.target, path, None, regions, f"{name}:{first}", {"split": split})
