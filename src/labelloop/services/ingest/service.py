"""Import use case: a folder, a zip, or a JSONL/CSV manifest into a project, all or nothing.

Per-item problems (a corrupt file, a broken line, an annotation that does not fit the schema)
are reported with file, line and reason while the rest imports. A failure of the import as a
whole (an unsafe archive, a database error, an interrupt) rolls everything back: no item, no
label and no new blob file is left behind, and the import is recorded as failed.
"""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from itertools import islice
from pathlib import Path

from labelloop.core import ImportReport, ItemError, LabelSchema, NewAnnotation, NewSuggestion
from labelloop.errors import InputRejected
from labelloop.formats import IMPORTERS
from labelloop.services._gc import without_gc
from labelloop.services.desensitise import HOLD_PENDING
from labelloop.services.desensitise import SETTING as COMPLIANCE_SETTING
from labelloop.services.ingest.archive import extract_zip, is_zip
from labelloop.services.ingest.candidates import Candidate, FileRef
from labelloop.services.ingest.folder import iter_files, read_folder
from labelloop.services.ingest.manifests import read_manifest
from labelloop.services.ingest.parallel import prepared_in_process, suits_process
from labelloop.services.ingest.prepare import ImportLimits, Prepared, Preparer
from labelloop.storage import Store, UnitOfWork

__all__ = ["ImportLimits", "ProgressFn", "import_source"]

ProgressFn = Callable[[int, int | None], None]
_MANIFEST_NAMES = ("manifest.jsonl", "manifest.csv")


_END = object()


def _pipelined(batches: Iterator[Prepared], depth: int = 2) -> Iterator[Prepared]:
    """Run ``batches`` in a helper thread, at most ``depth`` batches ahead of the consumer.

    Parsing, hashing, probing and validation overlap with the database writes of the
    previous batch (SQLite and psycopg release the GIL while they work). Memory stays bounded
    by ``depth`` batches. An error in the helper thread is raised here; when the consumer
    stops (error or interrupt) the helper is told to stop and is joined before returning.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(obj: object) -> bool:
        while not stop.is_set():
            try:
                q.put(obj, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for prepared in batches:
                if not put(prepared):
                    return
            put(_END)
        except BaseException as exc:
            put(exc)

    worker = threading.Thread(target=produce, name="labelloop-import-prepare", daemon=True)
    worker.start()
    try:
        while True:
            got = q.get()
            if got is _END:
                return
            if isinstance(got, BaseException):
                raise got
            assert isinstance(got, Prepared)
            yield got
    finally:
        stop.set()
        worker.join()


class _Run:
    """State of one import run inside its transaction: the writer side."""

    def __init__(self, store: Store, tx: UnitOfWork, schema: LabelSchema, limits: ImportLimits) -> None:
        self.store = store
        self.tx = tx
        self.preparer = Preparer(schema, limits, store.blobs)
        self.new_blobs = self.preparer.new_blobs
        self.report = ImportReport()
        self.hold_new = False  # the project desensitises: new items wait for it, hidden

    def prepare(self, batch: list[Candidate | ItemError], position: int) -> Prepared:
        """Resolve a batch without touching the database (runs in the prepare thread)."""
        return self.preparer.prepare(batch, position)

    def write(self, project_id: int, import_id: int, prepared: Prepared, actor: str) -> None:
        """Store a prepared batch in the import's transaction."""
        self.report.errors.extend(prepared.errors)
        if not prepared.rows:
            return
        self.tx.items.add_blobs(prepared.blob_rows)
        ids = self.tx.items.add_rows(project_id, prepared.rows, created_by=actor, import_id=import_id)
        duplicates = ids.count(None)
        self.report.duplicates += duplicates
        self.report.items += len(ids) - duplicates
        if self.hold_new:
            self.tx.compliance.hold(project_id, [i for i in ids if i is not None], HOLD_PENDING)
        if not prepared.labels:
            return
        new_s: list[NewSuggestion] = []
        new_a: list[NewAnnotation] = []
        for index, (incoming_a, incoming_s) in prepared.labels.items():
            item_id = ids[index]
            if item_id is None:
                continue
            new_s.extend(NewSuggestion(item_id, s.value, s.backend, s.model_version, s.score) for s in incoming_s)
            new_a.extend(NewAnnotation(item_id, a.value, a.annotator, a.status, a.lead_time_s) for a in incoming_a)
        self.tx.labels.add_suggestions(project_id, new_s)
        self.tx.labels.add_annotations(project_id, new_a)
        self.report.suggestions += len(new_s)
        self.report.annotations += len(new_a)

    def drop_orphan_blobs(self) -> None:
        """Delete new blob files that no committed blob row refers to."""
        if not self.new_blobs:
            return
        with self.store.read() as tx:
            known = tx.items.blob_known(self.new_blobs)
        for sha in self.new_blobs:
            if sha not in known:
                self.store.blobs.delete(sha)


def _batched(it: Iterable[Candidate | ItemError], n: int) -> Iterator[list[Candidate | ItemError]]:
    iterator = iter(it)
    while batch := list(islice(iterator, n)):
        yield batch


def _count(batches: Iterator[list[Candidate | ItemError]]) -> Iterator[tuple[list[Candidate | ItemError], int]]:
    done = 0
    for batch in batches:
        done += len(batch)
        yield batch, done


def _format_entries(fmt: str, root: Path, schema: LabelSchema) -> Iterator[Candidate | ItemError]:
    """Candidates from a dataset-format importer; its labels become annotations of ``external:<fmt>``."""
    for got in IMPORTERS[fmt](root, schema):
        if isinstance(got, ItemError):
            yield got
            continue
        media: str | FileRef | None = got.text if got.path is None else FileRef(got.path, got.key)
        if media is None:
            yield ItemError(got.source, "expected media (a file or text), got none")
            continue
        annotations = [{"annotator": f"external:{fmt}", "value": got.regions}] if got.regions else []
        yield Candidate(
            source=got.source, line=None, fields={got.field: media}, key=got.key, meta=got.meta, annotations=annotations
        )


def _import_native(
    store: Store, project: str | int, source: Path, *, actor: str, limits: ImportLimits, progress: ProgressFn | None
) -> ImportReport:
    """A native export folder, or a zip of one (extracted safely into a temporary folder first)."""
    from labelloop.services.native_import import import_native

    if not source.is_file():
        return import_native(store, project, source, actor=actor, progress=progress)
    with source.open("rb") as fh:
        if not is_zip(fh.read(8)):
            raise InputRejected(source.name, "a labelloop export folder or a zip of one", "a single file")
    (store.data_dir / "tmp").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="import-", dir=store.data_dir / "tmp"))
    try:
        extract_zip(source, tmp, name=source.name, limits=limits.zip)
        inner = [p for p in tmp.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
        root = inner[0] if len(inner) == 1 and inner[0].is_dir() else tmp  # a zip of the export folder itself
        return import_native(store, project, root, actor=actor, progress=progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@without_gc
def import_source(
    store: Store,
    project: str | int,
    source: Path,
    *,
    actor: str,
    fmt: str | None = None,
    limits: ImportLimits | None = None,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import ``source`` into ``project`` and return what happened.

    Args:
        store: The store.
        project: Project name or id.
        source: A folder (every file an item, or a root ``manifest.jsonl``/``manifest.csv``),
            a zip archive (extracted safely, then as a folder), or a JSONL/CSV manifest.
        actor: Who imports (``user:alice``); recorded on every item.
        fmt: A dataset format (``coco``, ``yolo``, ``voc``, ``conll2003``) of the folder or zip;
            its labels are validated against the schema and stored as annotations. ``native``
            imports a ``labelloop export`` folder (or a zip of one) with its whole label history.
        limits: Size limits; defaults are generous but finite.
        progress: Called as ``progress(done, total)`` (bytes for manifests, files otherwise).

    Raises:
        InputRejected: the source as a whole is unusable (unsafe archive, unknown kind).
        LabelloopError: the import failed and was rolled back.
    """
    limits = limits or ImportLimits()
    if fmt == "native":  # a labelloop export, with its whole label history
        return _import_native(store, project, source, actor=actor, limits=limits, progress=progress)
    with store.read() as tx:
        proj = tx.projects.get(project)
        hold_new = tx.compliance.setting(proj.id, COMPLIANCE_SETTING) is not None
    display = source.name or str(source)
    with store.transaction() as tx:
        import_id = tx.imports.start(proj.id, display, actor)
    tmp: Path | None = None
    run: _Run | None = None
    try:
        if not source.exists():
            raise InputRejected(display, "an existing folder, zip archive or manifest", "nothing at that path")
        root = source
        manifest: Path | None = None
        if source.is_file():
            with source.open("rb") as fh:
                head = fh.read(8)
            if is_zip(head):
                (store.data_dir / "tmp").mkdir(parents=True, exist_ok=True)
                tmp = Path(tempfile.mkdtemp(prefix="import-", dir=store.data_dir / "tmp"))
                extract_zip(source, tmp, name=display, limits=limits.zip)
                root = tmp
            else:
                manifest, root = source, source.parent
        if fmt is not None:
            if manifest is not None:
                raise InputRejected(display, f"a {fmt} dataset folder or zip", "a single file")
            _ = IMPORTERS[fmt]  # an unknown format fails here, naming the known ones
        elif manifest is None:
            manifest = next((root / n for n in _MANIFEST_NAMES if (root / n).is_file()), None)
        with store.transaction() as tx:
            run = _Run(store, tx, proj.schema, limits)
            run.hold_new = hold_new
            if manifest is not None and suits_process(proj.schema, manifest.stat().st_size, limits):
                total = manifest.stat().st_size
                with closing(prepared_in_process(manifest, proj.schema, limits)) as batches:
                    for prepared in batches:
                        run.write(proj.id, import_id, prepared, actor)
                        if progress:
                            progress(prepared.position, total)
            elif manifest is not None:
                total = manifest.stat().st_size
                with manifest.open("rb") as f:
                    entries = read_manifest(
                        f, name=manifest.name, root=root, schema=proj.schema, max_line_bytes=limits.max_line_bytes
                    )
                    batches = (run.prepare(b, f.tell()) for b in _batched(entries, limits.batch_size))
                    for prepared in _pipelined(batches):
                        run.write(proj.id, import_id, prepared, actor)
                        if progress:
                            progress(prepared.position, total)
            else:
                total = sum(1 for _ in iter_files(root))
                entries = read_folder(root, proj.schema) if fmt is None else _format_entries(fmt, root, proj.schema)
                counted = _count(_batched(entries, limits.batch_size))
                batches = (run.prepare(b, done) for b, done in counted)
                for prepared in _pipelined(batches):
                    run.write(proj.id, import_id, prepared, actor)
                    if progress:
                        progress(min(prepared.position, total), total)
            report = run.report
            report.import_id = import_id
            report.blobs_new = len(run.new_blobs)
            tx.imports.commit(import_id, report)
        run.drop_orphan_blobs()
        return report
    except BaseException as exc:
        if run is not None:
            run.drop_orphan_blobs()
        with store.transaction() as tx:
            tx.imports.fail(import_id, exc)
        raise
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
