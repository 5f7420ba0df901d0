"""Imports from the browser and the API: a streamed upload, then the import as a job.

The upload is written to its own folder under ``<data dir>/uploads`` as it arrives (never
held in memory), bounded by a byte limit; the import then runs as a job through the same
pipeline as ``labelloop import`` (:func:`~labelloop.services.ingest.import_source`): safe zip
extraction, per-item errors while the rest imports, all or nothing for the import as a whole.
The upload folder is removed when the job ends, however it ends.

What an upload may be (``format``):

* ``auto``: a zip (a folder of media files, or one with a root ``manifest.jsonl``/``.csv``),
  a JSONL/CSV manifest of inline text, or one media file (an image, a text, a recording).
* ``native``: a zip of a ``labelloop export`` folder (items with their whole history), or its
  ``labelloop.jsonl`` alone where every medium is text.
* a dataset format (``coco``, ``yolo``, ``voc``, ``label_studio``, ``conll2003`` ...): a zip
  of the dataset folder; formats that live in one file (Label Studio ``tasks.json``, COCO
  ``annotations.json``, CoNLL, Parquet, OpenLABEL) may also come as that file alone.

Example:
    >>> safe_name("../../etc/passwd"), safe_name("Ünïcode photo (1).PNG"), safe_name("...")
    ('passwd', 'Ünïcode_photo_1_.PNG', 'upload')
    >>> check_format("pickle")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labelloop.errors.InputRejected: format: expected one of auto, native, coco, conll2003, ..., yolo, got 'pickle'
"""

from __future__ import annotations

import os
import re
import shutil
import time
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from labelloop.core import ImportReport
from labelloop.errors import InputRejected, LabelloopError
from labelloop.formats import IMPORTERS
from labelloop.services.ingest import ImportLimits, import_source
from labelloop.services.ingest.archive import is_zip
from labelloop.services.jobs import CancelFlag, JobFn, Progress
from labelloop.storage import Store

__all__ = [
    "MAX_UPLOAD",
    "Upload",
    "UploadTooLarge",
    "check_format",
    "clean_stale_uploads",
    "import_formats",
    "import_job",
    "run_import",
    "safe_name",
]

MAX_UPLOAD = 2 * 2**30
"""Default largest upload (bytes); ``Settings.max_upload_bytes`` sets the server's."""
MAX_ERRORS = 1000
"""Per-item errors carried in a job's result (all of them stay in the import's record)."""

_MANIFEST_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".tsv")
_ONE_FILE = {
    "native": "labelloop.jsonl",  # a text project's export holds no media files
    "label_studio": "tasks.json",
    "coco": "annotations.json",
    "conll2003": "{stem}.conll",
    "hf_parquet": "{stem}.parquet",
    "openlabel": "{stem}.json",
}
"""Formats whose dataset may be one file, and the name their importer looks for."""
_UNSAFE = re.compile(r"[^\w.-]+")


class UploadTooLarge(LabelloopError):
    """An upload went over the size limit."""

    code = "LL-TOOLARGE"
    exit_code = 2
    http_status = 413


def safe_name(filename: str) -> str:
    """The base name of an uploaded file, reduced to letters, digits, ``.``, ``_`` and ``-``."""
    base = unicodedata.normalize("NFC", filename.replace("\\", "/").rsplit("/", 1)[-1])
    cleaned = _UNSAFE.sub("_", base).lstrip(".")[:100]
    return cleaned or "upload"


def import_formats() -> list[dict[str, Any]]:
    """What an upload may be: ``[{"name", "single_file", "description"}]``.

    ``single_file``: the format may come as one file rather than a zip.
    """
    out: list[dict[str, Any]] = [
        {"name": "auto", "single_file": True,
         "description": "a zip of media files (or with a root manifest.jsonl/.csv), a JSONL/CSV manifest, "
                        "or one media file"},
        {"name": "native", "single_file": True,
         "description": "a zip of a labelloop export (with history), or its labelloop.jsonl alone (text)"},
    ]  # fmt: skip
    for name in sorted(IMPORTERS):
        alone = f", or its {_ONE_FILE[name].format(stem='data')} alone" if name in _ONE_FILE else ""
        out.append({"name": name, "single_file": bool(alone), "description": f"a zip of a {name} dataset{alone}"})
    return out


def check_format(fmt: str) -> str:
    """The format, if an upload may be in it.

    Raises:
        InputRejected: an unknown format (the message lists the known ones).
    """
    known = [f["name"] for f in import_formats()]
    if fmt not in known:
        raise InputRejected("format", f"one of {', '.join(known)}", repr(fmt[:50]))
    return fmt


class Upload:
    """A file being received: written chunk by chunk into a folder of its own.

    Args:
        store: Its data dir holds the ``uploads`` folder.
        filename: The client's name for the file (only a safe base name is kept).
        max_bytes: The most bytes accepted.
    """

    def __init__(self, store: Store, filename: str, max_bytes: int = MAX_UPLOAD) -> None:
        self.name = safe_name(filename)
        self.max_bytes = max_bytes
        self.folder = store.data_dir / "uploads" / uuid.uuid4().hex
        self.folder.mkdir(parents=True)
        self.path = self.folder / self.name
        self.size = 0
        self._file = self.path.open("xb")

    def write(self, chunk: bytes) -> None:
        """Append a chunk.

        Raises:
            UploadTooLarge: the upload went over ``max_bytes`` (the caller discards it).
        """
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise UploadTooLarge(f"{self.name}: expected at most {self.max_bytes} bytes, got more")
        self._file.write(chunk)

    def finish(self) -> None:
        """Close the file.

        Raises:
            InputRejected: nothing came.
        """
        self._file.close()
        if self.size == 0:
            raise InputRejected(self.name, "a file with content", "an empty body")

    def discard(self) -> None:
        """Close and remove the upload (again is harmless)."""
        self._file.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def clean_stale_uploads(store: Store, older_than_s: float = 86_400.0) -> int:
    """Remove upload folders left by a server that stopped mid-import; return how many."""
    root = store.data_dir / "uploads"
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for folder in root.iterdir():
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _source(upload: Upload, fmt: str) -> tuple[Path, str | None]:
    """Where :func:`import_source` should read the upload from, and with which format."""
    with upload.path.open("rb") as fh:
        zipped = is_zip(fh.read(8))
    suffix = upload.path.suffix.lower()
    if fmt == "auto":
        if zipped or suffix in _MANIFEST_SUFFIXES:
            return upload.path, None
        if suffix == ".json":
            raise InputRejected(
                upload.name, "a format chosen for a .json file (label_studio, coco, openlabel ...)", "auto"
            )
        return upload.folder, None  # one media file: a folder of one
    if zipped:
        return upload.path, fmt
    if fmt not in _ONE_FILE:
        raise InputRejected(upload.name, f"a zip archive of a {fmt} dataset folder", "a single file")
    os.replace(upload.path, upload.folder / _ONE_FILE[fmt].format(stem=upload.path.stem or "data"))
    return upload.folder, fmt


def _scrubbed(exc: LabelloopError, store: Store, upload: Upload) -> LabelloopError:
    """The error with server paths replaced by the upload's name (the message reaches the client)."""
    message = str(exc)
    for path in (upload.path, upload.folder, store.data_dir):
        message = message.replace(str(path), upload.name)
    if message == str(exc):
        return exc
    clean = LabelloopError(message)
    clean.code, clean.http_status = exc.code, exc.http_status
    return clean


def _summary(report: ImportReport) -> dict[str, Any]:
    errors = report.errors[:MAX_ERRORS]
    return {
        "import_id": report.import_id, "items": report.items, "duplicates": report.duplicates,
        "annotations": report.annotations, "suggestions": report.suggestions, "refused": len(report.errors),
        "errors": [{"source": e.source, "line": e.line, "code": e.code, "reason": e.reason} for e in errors],
        "errors_truncated": len(report.errors) > len(errors),
    }  # fmt: skip


def run_import(
    store: Store,
    project_id: int,
    upload: Upload,
    fmt: str,
    *,
    actor: str,
    progress: Progress | None = None,
    cancel: CancelFlag | None = None,
    limits: ImportLimits | None = None,
) -> dict[str, Any]:
    """Import a received upload into the project; return the counts and the per-item errors.

    The upload's folder is removed afterwards, whatever happens. Per-item problems are in
    ``errors`` (the first :data:`MAX_ERRORS`; ``refused`` counts them all) while the rest is
    imported; a cancel or a failure of the whole import rolls all of it back.

    Raises:
        InputRejected: the upload cannot be read in that format (nothing imported).
        JobCancelled: cancelled (nothing imported).
    """
    report = progress or Progress()
    flag = cancel or CancelFlag()

    def step(done: int, total: int | None) -> None:
        flag.raise_if_set()
        report(done, total, "importing")

    try:
        source, as_format = _source(upload, check_format(fmt))
        flag.raise_if_set()
        result = import_source(store, project_id, source, actor=actor, fmt=as_format, limits=limits, progress=step)
    except LabelloopError as exc:
        raise _scrubbed(exc, store, upload) from None
    finally:
        upload.discard()
    done, total, _ = report.snapshot()
    report(total or done, total or done, "imported")  # (files holding no item, such as a manifest, count as done)
    return _summary(result)


def import_job(store: Store, project_id: int, upload: Upload, fmt: str, actor: str) -> JobFn:
    """The import as a job function for :meth:`~labelloop.services.jobs.JobRunner.submit`."""

    def work(progress: Progress, cancel: CancelFlag) -> dict[str, Any]:
        return run_import(store, project_id, upload, fmt, actor=actor, progress=progress, cancel=cancel)

    return work
