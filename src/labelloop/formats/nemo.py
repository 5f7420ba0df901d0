"""NVIDIA NeMo ASR manifests (JSON lines) from transcribed audio segments.

Layout: ``<out>/<split>_manifest.json`` (one JSON object per line) and the audio files under
``<out>/audio/``. ``audio_filepath`` is relative to the manifest's folder (NeMo resolves
relative paths against it) unless ``absolute_paths`` is set.

Two granularities (``per``):

* ``"segment"`` (default) — one line per segment of the segments control:
  ``{"audio_filepath", "offset": start_s, "duration": end_s - start_s, "text": transcript,
  "label": label}``. NeMo's ASR datasets read ``offset``/``duration`` to cut the clip, so no
  audio is re-encoded. Segments with an empty transcript are skipped (counted as ignored).
* ``"item"`` — one line per item: ``{"audio_filepath", "duration": <audio length>,
  "text": transcripts joined by a space in time order}``.

Durations come from the media reference (``duration_s``) or, failing that, the file header
(``soundfile``, else the standard-library ``wave`` for WAV). A segment past the end of the audio
or a value that does not validate skips the item with an error.

Example:
    >>> manifest_line("audio/a.wav", 2.5, "hello", offset=1.0)
    '{"audio_filepath": "audio/a.wav", "duration": 2.5, "text": "hello", "offset": 1.0}'
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Literal

from labelloop.core import Control, ControlKind, ItemError, LabelSchema, Medium
from labelloop.errors import FormatError
from labelloop.formats._base import (
    ExportRecord,
    ExportReport,
    MediaPath,
    check_problems,
    pick_control,
    safe_split,
)
from labelloop.formats._media import MediaWriter
from labelloop.formats._output import atomic_output

__all__ = ["audio_duration", "export_nemo", "manifest_line"]

Per = Literal["segment", "item"]


def manifest_line(path: str, duration: float, text: str, **extra: Any) -> str:
    """One manifest line (no newline); ``extra`` keys (``offset``, ``label``) follow."""
    row: dict[str, Any] = {"audio_filepath": path, "duration": round(duration, 6), "text": text}
    row |= {k: v for k, v in extra.items() if v is not None}
    return json.dumps(row, ensure_ascii=False, allow_nan=False)


def audio_duration(path: Path) -> float:
    """The length of an audio file in seconds, from its header.

    Raises:
        ValueError: when the file cannot be read as audio.
    """
    try:
        import soundfile

        info = soundfile.info(str(path))
        return float(info.frames) / float(info.samplerate)
    except ImportError:
        pass
    except Exception as exc:  # soundfile raises its own RuntimeError subclasses
        raise ValueError(f"{path.name} is not readable audio ({exc})") from exc
    import wave

    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (OSError, EOFError, wave.Error) as exc:
        raise ValueError(f"{path.name} is not readable audio ({exc})") from exc


def _segments_control(schema: LabelSchema, control: str | None) -> Control:
    return pick_control(schema, ControlKind.SEGMENTS, control, fmt="NeMo", prefer=lambda c: c.transcript)


def export_nemo(
    records: Iterable[ExportRecord],
    schema: LabelSchema,
    out: Path,
    media_path: MediaPath,
    /,
    *,
    per: Per = "segment",
    control: str | None = None,
    absolute_paths: bool = False,
    link: bool = False,
    with_media: bool = True,
) -> ExportReport:
    """Export transcribed segments as NeMo ASR manifests (streamed, published atomically).

    Args:
        records: Audio items (``split`` from the record or ``item.meta``).
        schema: The label schema (a segments control, usually with ``transcript``).
        out: The folder to create (must not exist, or be empty), or a new ``.zip`` file.
        media_path: Maps an audio blob's SHA-256 to its file.
        per: ``"segment"`` (a line per segment, with ``offset``) or ``"item"``.
        control: The segments control (default: the first with transcripts).
        absolute_paths: Write ``audio_filepath`` as the absolute published path.
        link: Hard-link audio instead of copying.
        with_media: Write the media files (False: a labels-only export whose label
            files still name the media as a full export would).

    Returns:
        The report; ``regions`` counts the segments written.

    Example:
        >>> # export_nemo(records, schema, Path("release/nemo"), store.path_of, per="item")
    """
    if per not in ("segment", "item"):
        raise FormatError(f"per must be 'segment' or 'item', got {per!r}")
    ctl = _segments_control(schema, control)
    if schema.medium_of(ctl.target) != Medium.AUDIO:
        raise FormatError(f"NeMo needs an audio field; {ctl.target!r} is {schema.medium_of(ctl.target)}")
    report = ExportReport(out)
    handles: dict[str, IO[str]] = {}
    with atomic_output(out) as dest:
        media = MediaWriter(dest, media_path, link=link, write=with_media)
        try:
            for rec in records:
                try:
                    split = safe_split(rec.split_name)
                    lines, written, ignored, place = _item_lines(rec, schema, ctl, media, per, out, absolute_paths)
                except ValueError as exc:
                    report.errors.append(ItemError(rec.where, str(exc), code="LL-FORMAT"))
                    continue
                media.place(*place)
                fh = handles.get(split)
                if fh is None:
                    fh = handles[split] = dest.open_text(f"{split}_manifest.json")
                fh.writelines(f"{ln}\n" for ln in lines)
                report.items += 1
                report.regions += written
                report.ignored_regions += ignored
        finally:
            for fh in handles.values():
                fh.close()
    return report


def _item_lines(
    rec: ExportRecord, schema: LabelSchema, ctl: Control, media: MediaWriter, per: Per, out: Path, absolute: bool
) -> tuple[list[str], int, int, tuple[Path, str, str]]:
    ref = rec.item.data.get(ctl.target)
    if ref is None or ref.kind != Medium.AUDIO:
        raise ValueError(f"the item has no audio in field {ctl.target!r}")
    src = media.source(ref)
    dur = ref.meta.get("duration_s")
    duration = float(dur) if isinstance(dur, int | float) and dur > 0 else audio_duration(src)
    value = rec.value or []
    problems = check_problems(schema, ctl.target, value, {})
    segs = sorted((r for r in value if r.get("control") == ctl.name), key=lambda r: (r["start_s"], r["end_s"]))
    problems += [f"segment {r['id']!r} ends at {r['end_s']} s, past the audio ({duration:.3f} s)"
                 for r in segs if r["end_s"] > duration + 1e-6]  # fmt: skip
    if problems:
        raise ValueError("invalid annotation: " + "; ".join(problems))
    name = media.name_for(rec.item, ref, "audio", src)
    path = str((out / "audio" / name).resolve()) if absolute else f"audio/{name}"
    ignored = len(value) - len(segs)
    if per == "item":
        text = " ".join(t for r in segs if (t := str(r.get("transcript") or "").strip()))
        return [manifest_line(path, duration, text)], len(segs), ignored, (src, "audio", name)
    lines = []
    for r in segs:
        text = str(r.get("transcript") or "").strip()
        if not text:
            ignored += 1
            continue
        lines.append(
            manifest_line(path, r["end_s"] - r["start_s"], text, offset=round(r["start_s"], 6), label=r["label"])
        )
    return lines, len(lines), ignored, (src, "audio", name)
