"""Lossless native export and restore of a project (JSONL plus media files).

An export is a folder::

    labelloop.jsonl     header line, one line per item (with all its suggestions,
                        annotation versions and reviews), and an end line with counts
    media/<sha256>      every binary media file the items refer to

It is written to a temporary folder and renamed into place when complete, so a published
export is never partial. ``as_of`` exports the project as it was at that moment: every record
is append-only and timestamped, so this is exact. Restoring an export creates a new project
with the same items, history, authors and timestamps (ids are re-numbered, references kept).

Example:
    >>> # export_native(store, "demo", Path("out")); restore_native(store, Path("out"), name="copy")
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from labelloop.core import (
    Actor,
    Annotation,
    AnnotationStatus,
    LabelSchema,
    MediaRef,
    Medium,
    NewAnnotation,
    NewItem,
    NewReview,
    NewSuggestion,
    Review,
    ReviewVerdict,
    Suggestion,
)
from labelloop.errors import Conflict, FormatError, LabelloopError
from labelloop.services._gc import without_gc
from labelloop.services.audit import record_export
from labelloop.services.ingest.lines import LineTooLong, iter_lines
from labelloop.storage import BlobRow, Store, UnitOfWork, now

__all__ = ["FORMAT", "VERSION", "NativeReport", "canonical_export", "export_native", "restore_native"]

FORMAT = "labelloop.native"
VERSION = 1
JSONL = "labelloop.jsonl"
ProgressFn = Callable[[int, int | None], None]


@dataclass(slots=True)
class NativeReport:
    """Counts of what was exported or restored."""

    project: str
    items: int = 0
    suggestions: int = 0
    annotations: int = 0
    reviews: int = 0
    media_files: int = 0
    path: Path | None = None


def _ts(d: datetime) -> str:
    return d.isoformat()


def _suggestion_json(s: Suggestion) -> dict[str, Any]:
    return {
        "id": s.id,
        "value": s.value,
        "score": s.score,
        "backend": s.backend,
        "model_version": s.model_version,
        "created_at": _ts(s.created_at),
        "created_by": s.created_by,
    }


def _annotation_json(a: Annotation) -> dict[str, Any]:
    return {
        "id": a.id,
        "value": a.value,
        "annotator": a.annotator,
        "status": a.status.value,
        "lead_time_s": a.lead_time_s,
        "parent_id": a.parent_id,
        "suggestion_id": a.suggestion_id,
        "created_at": _ts(a.created_at),
        "created_by": a.created_by,
    }


def _review_json(r: Review) -> dict[str, Any]:
    return {
        "id": r.id,
        "annotation_id": r.annotation_id,
        "reviewer": r.reviewer,
        "verdict": r.verdict.value,
        "correction_id": r.correction_id,
        "comment": r.comment,
        "created_at": _ts(r.created_at),
        "created_by": r.created_by,
    }


@without_gc
def export_native(
    store: Store,
    project: str | int,
    out: Path,
    *,
    as_of: datetime | None = None,
    include_media: bool = True,
    batch: int = 2000,
    progress: ProgressFn | None = None,
    actor: str = Actor.system("export"),
) -> NativeReport:
    """Export a project (or its state at ``as_of``) to the folder ``out``.

    The finished export is an ``export`` event in the project's provenance log.

    Raises:
        Conflict: ``out`` exists and is not empty.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise Conflict(f"{out}: the export folder exists and is not empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        with store.read() as tx:
            proj = tx.projects.get(project)
            total = tx.projects.counts(proj.id)["items"]
            report = NativeReport(proj.name)
            media_dir = tmp / "media"
            if include_media:
                media_dir.mkdir()
            with (tmp / JSONL).open("wb") as f:
                header = {
                    "format": FORMAT,
                    "version": VERSION,
                    "exported_at": _ts(now()),
                    "as_of": _ts(as_of) if as_of else None,
                    "media_included": include_media,
                    "project": {
                        "name": proj.name,
                        "schema": proj.schema.model_dump(mode="json", exclude_defaults=True),
                        "created_at": _ts(proj.created_at),
                        "created_by": proj.created_by,
                    },
                }
                f.write(orjson.dumps(header, option=orjson.OPT_APPEND_NEWLINE))
                for page in tx.items.iter_all(proj.id, batch=batch, as_of=as_of):
                    _write_page(tx, page, f, report, media_dir if include_media else None, store, as_of)
                    if progress:
                        progress(report.items, total)
                end = {
                    "end": {
                        "items": report.items,
                        "suggestions": report.suggestions,
                        "annotations": report.annotations,
                        "reviews": report.reviews,
                    }
                }
                f.write(orjson.dumps(end, option=orjson.OPT_APPEND_NEWLINE))
                f.flush()
                os.fsync(f.fileno())
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
        report.path = out
        record_export(store, proj.id, actor, "native", out, items=report.items, annotations=report.annotations)
        return report
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_page(
    tx: UnitOfWork,
    page: list[Any],
    f: BinaryIO,
    report: NativeReport,
    media_dir: Path | None,
    store: Store,
    as_of: datetime | None,
) -> None:
    sugg, anns, revs = tx.labels.for_item_range(page[0].project_id, page[0].id, page[-1].id, as_of=as_of)
    by_item: dict[int, tuple[list[Any], list[Any], list[Any]]] = {it.id: ([], [], []) for it in page}
    for s in sugg:
        by_item[s.item_id][0].append(_suggestion_json(s))
    for a in anns:
        by_item[a.item_id][1].append(_annotation_json(a))
    for r in revs:
        by_item[r.item_id][2].append(_review_json(r))
    for it in page:
        s_list, a_list, r_list = by_item[it.id]
        line = {
            "id": it.id,
            "key": it.key,
            "content_hash": it.content_hash,
            "data": {k: v.to_json() for k, v in it.data.items()},
            "meta": it.meta,
            "source": it.source,
            "created_at": _ts(it.created_at),
            "created_by": it.created_by,
            "suggestions": s_list,
            "annotations": a_list,
            "reviews": r_list,
        }
        f.write(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))
        report.items += 1
        report.suggestions += len(s_list)
        report.annotations += len(a_list)
        report.reviews += len(r_list)
        if media_dir is not None:
            for ref in it.data.values():
                if ref.kind != Medium.TEXT and not (media_dir / ref.sha256).exists():
                    store.blobs.copy_to(ref.sha256, media_dir / ref.sha256)
                    report.media_files += 1


# ---------------------------------------------------------------------------- restore
def _lines(f: BinaryIO, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in iter_lines(f, max_bytes=256 * 2**20):
        if isinstance(raw, LineTooLong):
            raise FormatError(f"{name}:{number}: line of {raw.size} bytes exceeds the 256 MiB limit")
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise FormatError(f"{name}:{number}: expected a JSON object, got malformed JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise FormatError(f"{name}:{number}: expected a JSON object, got {type(obj).__name__}")
        yield number, obj


class _Restorer:
    def __init__(self, store: Store, tx: UnitOfWork, src: Path, schema: LabelSchema, project_id: int) -> None:
        self.store, self.tx, self.src, self.schema, self.project_id = store, tx, src, schema, project_id
        self.new_blobs: list[str] = []

    def media(self, ref: MediaRef, where: str) -> BlobRow | None:
        if ref.kind == Medium.TEXT:
            return None
        path = self.src / "media" / ref.sha256
        if not path.is_file():
            if self.store.blobs.exists(ref.sha256):
                return BlobRow(
                    ref.sha256,
                    self.store.blobs.path(ref.sha256).stat().st_size,
                    ref.kind.value,
                    ref.media_type,
                    ref.meta,
                )
            raise FormatError(f"{where}: media file media/{ref.sha256} is missing from the export")
        with path.open("rb") as fh, self.store.blobs.stage(fh, source=where, max_bytes=2**40) as staged:
            if staged.sha256 != ref.sha256:
                raise FormatError(f"{where}: media/{ref.sha256} does not match its hash (got {staged.sha256})")
            if self.store.blobs.commit_staged(staged):
                self.new_blobs.append(staged.sha256)
            return BlobRow(staged.sha256, staged.size, ref.kind.value, ref.media_type, ref.meta)

    def batch(self, lines: list[tuple[int, dict[str, Any]]], name: str, report: NativeReport) -> None:
        items: list[NewItem] = []
        blobs: list[BlobRow] = []
        for number, obj in lines:
            where = f"{name}:{number}"
            try:
                data = {k: MediaRef.from_json(v) for k, v in obj["data"].items()}
                items.append(
                    NewItem(data, obj["content_hash"], obj.get("key"), obj.get("source", ""), obj.get("meta") or {})
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise FormatError(f"{where}: expected a labelloop item, got a malformed one ({exc!r})") from None
            for ref in data.values():
                row = self.media(ref, where)
                if row is not None:
                    blobs.append(row)
        self.tx.items.add_blobs(blobs)
        ids = self.tx.items.add_many(
            self.project_id,
            items,
            created_by=[o["created_by"] for _, o in lines],
            created_at=[datetime.fromisoformat(o["created_at"]) for _, o in lines],
        )
        if any(i is None for i in ids):
            raise FormatError(f"{name}: the export holds the same item content twice")
        for (number, obj), item_id in zip(lines, ids, strict=True):
            assert item_id is not None
            self.labels(obj, item_id, f"{name}:{number}", report)
        report.items += len(lines)

    def labels(self, obj: dict[str, Any], item_id: int, where: str, report: NativeReport) -> None:
        try:
            s_rows = obj.get("suggestions") or []
            s_ids = self.tx.labels.add_suggestions(
                self.project_id,
                [NewSuggestion(item_id, s["value"], s["backend"], s["model_version"], s.get("score")) for s in s_rows],
                created_at=[datetime.fromisoformat(s["created_at"]) for s in s_rows],
                created_by=[s["created_by"] for s in s_rows],
            )
            s_map = {s["id"]: new for s, new in zip(s_rows, s_ids, strict=True)}
            a_map: dict[int, int] = {}
            pending = list(obj.get("annotations") or [])
            while pending:  # parents first: a version is inserted once its parent has a new id
                ready = [a for a in pending if a.get("parent_id") is None or a["parent_id"] in a_map]
                if not ready:
                    raise FormatError(f"{where}: annotation parents are missing or circular")
                new_ids = self.tx.labels.add_annotations(
                    self.project_id,
                    [
                        NewAnnotation(
                            item_id,
                            a["value"],
                            a["annotator"],
                            AnnotationStatus(a["status"]),
                            a.get("lead_time_s"),
                            a_map.get(a["parent_id"]) if a.get("parent_id") is not None else None,
                            s_map[a["suggestion_id"]] if a.get("suggestion_id") is not None else None,
                        )
                        for a in ready
                    ],
                    created_at=[datetime.fromisoformat(a["created_at"]) for a in ready],
                    created_by=[a["created_by"] for a in ready],
                )
                a_map.update({a["id"]: new for a, new in zip(ready, new_ids, strict=True)})
                pending = [a for a in pending if a["id"] not in a_map]
            r_rows = obj.get("reviews") or []
            self.tx.labels.add_reviews(
                self.project_id,
                [
                    NewReview(
                        a_map[r["annotation_id"]],
                        r["reviewer"],
                        ReviewVerdict(r["verdict"]),
                        a_map[r["correction_id"]] if r.get("correction_id") is not None else None,
                        r.get("comment", ""),
                    )
                    for r in r_rows
                ],
                [item_id] * len(r_rows),
                created_at=[datetime.fromisoformat(r["created_at"]) for r in r_rows],
                created_by=[r["created_by"] for r in r_rows],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"{where}: expected labelloop label records, got a malformed one ({exc!r})") from None
        report.suggestions += len(s_rows)
        report.annotations += len(a_map)
        report.reviews += len(r_rows)


def read_header(lines: Iterator[tuple[int, dict[str, Any]]], name: str) -> dict[str, Any]:
    """Read and check the header line of a native export.

    Raises:
        FormatError: no header, another format, or another version.
    """
    first = next(lines, None)
    if first is None or first[1].get("format") != FORMAT:
        raise FormatError(f"{name}: expected a {FORMAT} header line, got {str(first and first[1])[:80]}")
    if first[1].get("version") != VERSION:
        raise FormatError(f"{name}: expected format version {VERSION}, got {first[1].get('version')!r}")
    return first[1]


def item_batches(
    lines: Iterator[tuple[int, dict[str, Any]]], name: str, batch: int, end: dict[str, Any]
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Yield the item lines after the header in batches; fill ``end`` from the end line.

    Raises:
        FormatError: anything after the end line, or no end line (a truncated export).
    """
    pending: list[tuple[int, dict[str, Any]]] = []
    seen_end = False
    for number, obj in lines:
        if seen_end:
            raise FormatError(f"{name}:{number}: expected nothing after the end line")
        if "end" in obj:
            end.update(obj["end"] if isinstance(obj["end"], dict) else {})
            seen_end = True
            continue
        pending.append((number, obj))
        if len(pending) >= batch:
            yield pending
            pending = []
    if pending:
        yield pending
    if not seen_end:
        raise FormatError(f"{name}: the export is truncated (no end line)")


@without_gc
def restore_native(
    store: Store, src: Path, *, name: str | None = None, batch: int = 1000, progress: ProgressFn | None = None
) -> NativeReport:
    """Restore a native export as a new project, all or nothing.

    Raises:
        FormatError: the export is malformed, truncated, or its media do not match their hashes.
        Conflict: a project of that name exists.
    """
    path = src / JSONL if src.is_dir() else src
    if not path.is_file():
        raise FormatError(f"{src}: expected a labelloop export folder with {JSONL}, got none")
    root = path.parent
    restorer: _Restorer | None = None
    try:
        with path.open("rb") as f, store.transaction() as tx:
            total = path.stat().st_size
            lines = _lines(f, path.name)
            header = read_header(lines, path.name)
            pj = header["project"]
            schema = LabelSchema.model_validate(pj["schema"])
            proj = tx.projects.create(
                name or pj["name"], schema, pj["created_by"], datetime.fromisoformat(pj["created_at"])
            )
            report = NativeReport(proj.name)
            restorer = _Restorer(store, tx, root, schema, proj.id)
            end: dict[str, Any] = {}
            for pending in item_batches(lines, path.name, batch, end):
                restorer.batch(pending, path.name, report)
                if progress:
                    progress(f.tell(), total)
            got = {
                "items": report.items,
                "suggestions": report.suggestions,
                "annotations": report.annotations,
                "reviews": report.reviews,
            }
            if {k: end.get(k) for k in got} != got:
                raise FormatError(f"{path.name}: the end line counts {end} do not match the content {got}")
        return report
    except BaseException as exc:
        if restorer is not None:
            with store.read() as rtx:
                known = rtx.items.blob_known(restorer.new_blobs)
            for sha in restorer.new_blobs:
                if sha not in known:
                    store.blobs.delete(sha)
        if isinstance(exc, LabelloopError | KeyboardInterrupt):
            raise
        if isinstance(exc, KeyError | TypeError | ValueError):
            raise FormatError(f"{path.name}: malformed export ({exc!r})") from exc
        raise


def canonical_export(src: Path) -> list[dict[str, Any]]:
    """Read an export with database ids replaced by per-item ordinals.

    Two exports of identical projects (same items, history, authors and times) give equal
    lists, whatever ids the databases assigned. The export time is dropped.
    """
    out: list[dict[str, Any]] = []
    path = src / JSONL if src.is_dir() else src
    with path.open("rb") as f:
        for _, obj in _lines(f, path.name):
            if obj.get("format") == FORMAT:
                out.append({k: v for k, v in obj.items() if k != "exported_at"})
            elif "end" in obj:
                out.append(obj)
            else:
                out.append(_canonical_item(obj))
    return out


def _canonical_item(obj: dict[str, Any]) -> dict[str, Any]:
    maps: dict[str, dict[int, int]] = {}
    for kind in ("suggestions", "annotations", "reviews"):
        maps[kind] = {row["id"]: n for n, row in enumerate(obj.get(kind) or [])}

    def ref(kind: str, value: int | None) -> int | None:
        return None if value is None else maps[kind][value]

    item = {k: v for k, v in obj.items() if k != "id"}
    item["suggestions"] = [{**s, "id": ref("suggestions", s["id"])} for s in obj.get("suggestions") or []]
    item["annotations"] = [
        {
            **a,
            "id": ref("annotations", a["id"]),
            "parent_id": ref("annotations", a["parent_id"]),
            "suggestion_id": ref("suggestions", a["suggestion_id"]),
        }
        for a in obj.get("annotations") or []
    ]
    item["reviews"] = [
        {
            **r,
            "id": ref("reviews", r["id"]),
            "annotation_id": ref("annotations", r["annotation_id"]),
            "correction_id": ref("annotations", r["correction_id"]),
        }
        for r in obj.get("reviews") or []
    ]
    return item
