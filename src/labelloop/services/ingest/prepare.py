"""Preparing a batch of an import outside the database transaction.

Resolving a candidate (reading and probing its media files, hashing inline text, validating
its labels) and serialising its row needs no database, so it runs ahead of the writes: in a
helper thread, or for large text manifests in a helper process (:mod:`.parallel`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labelloop.core import ItemError, LabelSchema, MediaRef, Medium, NewItem, content_hash, sha256_text
from labelloop.errors import InputRejected
from labelloop.modalities import ProbeLimits, probe_file
from labelloop.services.ingest.archive import ZipLimits
from labelloop.services.ingest.candidates import Candidate, FileRef
from labelloop.services.ingest.labels import IncomingAnnotation, IncomingSuggestion, parse_labels
from labelloop.storage import BlobRow, BlobStore, ItemRow, item_row

__all__ = ["ImportLimits", "Prepared", "Preparer"]


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Limits of one import.

    Attributes:
        process_min_bytes: A manifest of only inline text at least this large is parsed in a
            helper process, in parallel with the database writes; ``None`` never does.
    """

    max_file_bytes: int = 2 * 2**30
    max_line_bytes: int = 16 * 2**20
    batch_size: int = 2000
    zip: ZipLimits = field(default_factory=ZipLimits)
    probe: ProbeLimits = field(default_factory=ProbeLimits)
    process_min_bytes: int | None = 16 * 2**20


@dataclass(slots=True)
class Prepared:
    """A batch ready to write: item rows, their labels, new blobs, refusals, progress.

    ``labels`` maps an index into ``rows`` to that item's labels; items without labels (the
    common case of a plain import) have no entry.
    """

    rows: list[ItemRow]
    labels: dict[int, tuple[list[IncomingAnnotation], list[IncomingSuggestion]]]
    blob_rows: list[BlobRow]
    errors: list[ItemError]
    position: int


class Preparer:
    """Resolves batches of candidates against a schema; touches no database.

    Args:
        schema: The project's label schema.
        limits: The import's limits.
        blobs: Where media files go; ``None`` where every media field is inline text.

    Attributes:
        new_blobs: Blob files added to the store so far, recorded the moment each is added, so
            a failed import can remove them even from batches it never wrote.
    """

    def __init__(self, schema: LabelSchema, limits: ImportLimits, blobs: BlobStore | None) -> None:
        self.schema = schema
        self.limits = limits
        self.blobs = blobs
        self.kinds = {m.name: m.kind for m in schema.media}
        self.max_text = limits.probe.max_text_bytes
        self.new_blobs: list[str] = []

    def _media_from_file(self, ref: FileRef, field_name: str, kind: Medium, mine: list[BlobRow]) -> MediaRef:
        if self.blobs is None:
            raise InputRejected(ref.display, f"inline text for {field_name!r}", "a file")
        try:
            f = ref.path.open("rb")
        except OSError as exc:
            raise InputRejected(ref.display, "a readable file", f"an OS error ({exc.strerror})") from None
        with f, self.blobs.stage(f, source=ref.display, max_bytes=self.limits.max_file_bytes) as staged:
            probed = probe_file(staged.path, source=ref.display, limits=self.limits.probe)
            if probed.kind != kind:
                raise InputRejected(
                    ref.display, f"{kind.value} content for {field_name!r}", f"{probed.kind.value} content"
                )
            if probed.kind == Medium.TEXT:
                assert probed.text is not None
                return MediaRef(Medium.TEXT, sha256_text(probed.text), "text/plain", probed.text, dict(probed.meta))
            if self.blobs.commit_staged(staged):
                self.new_blobs.append(staged.sha256)
            mine.append(BlobRow(staged.sha256, staged.size, kind.value, probed.media_type, dict(probed.meta)))
            return MediaRef(kind, staged.sha256, probed.media_type, None, dict(probed.meta))

    def _resolve(self, c: Candidate, out: Prepared) -> None:
        data: dict[str, MediaRef] = {}
        mine: list[BlobRow] = []  # blob rows are kept only if the whole candidate resolves
        for name, value in c.fields.items():
            kind = self.kinds[name]
            if type(value) is str:
                if kind != Medium.TEXT:
                    raise InputRejected(c.source, f"a file path for {kind.value} field {name!r}", "inline text")
                if len(value) > self.max_text:
                    raise InputRejected(c.source, f"text under {self.max_text} bytes", "longer text")
                data[name] = MediaRef.from_text(value)
            else:
                assert isinstance(value, FileRef)
                data[name] = self._media_from_file(value, name, kind, mine)
        labels = (
            parse_labels(c.annotations, c.suggestions, self.schema, data, c.source)
            if c.annotations or c.suggestions
            else None
        )
        digest = content_hash({n: r.sha256 for n, r in data.items()})
        if labels is not None:
            out.labels[len(out.rows)] = labels
        if mine:
            out.blob_rows.extend(mine)
        out.rows.append(item_row(NewItem(data, digest, c.key, c.source, c.meta)))

    def prepare(self, batch: list[Candidate | ItemError], position: int) -> Prepared:
        """Resolve a batch: per-candidate refusals become errors, the rest rows to write."""
        out = Prepared([], {}, [], [], position)
        resolve = self._resolve
        for entry in batch:
            if isinstance(entry, ItemError):
                out.errors.append(entry)
                continue
            try:
                resolve(entry, out)
            except InputRejected as exc:
                reason = f"expected {exc.expected}, got {exc.got}"
                if exc.source not in (entry.source, entry.origin):
                    reason = f"{exc.source}: {reason}"  # a media file named by a manifest line
                out.errors.append(ItemError(entry.origin, reason, exc.code, entry.line))
        return out
