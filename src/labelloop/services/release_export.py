"""Export a release in any format as a signed directory, and verify such a directory.

The directory holds ``release.json`` (the signed manifest, which also records the project's
provenance chain head at export time), ``labels.jsonl`` and
``labels.sha256`` (the frozen label records and their hashes, whose Merkle root must equal the
release's), ``lineage.jsonl`` (who or what produced each label) and ``data/`` (the dataset in
the chosen format: ``native`` is the lossless project export as it was at the release's
moment; any other name is a registered exporter fed exactly the frozen annotation versions,
whatever was edited since). Everything is written in a temporary folder and renamed into
place when complete; reading is keyset-paged, so memory stays flat. An ``out`` ending in
``.zip`` gives one zip file with the same files instead (written in a temporary sibling,
renamed when complete); :func:`verify_release_export` reads either.

Example:
    >>> # export_release(store, "pets", "v1", "coco", Path("out/pets-v1"))
    >>> # verify_release_export(store, Path("out/pets-v1")).ok
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

import orjson

from labelloop.compliance.signing import (
    FILES_EXCLUDED,
    LABEL_HASHES,
    LABELS,
    MANIFEST,
    MANIFEST_FORMAT,
    MerkleTree,
    TamperDetected,
    VerifyReport,
    file_sha256,
    read_public_key,
    sign_manifest,
    verify_release_dir,
)
from labelloop.core import Actor
from labelloop.errors import InputRejected, LabelloopError, NotFound
from labelloop.formats import (
    EXPORTERS,
    ExportOutput,
    ExportRecord,
    FolderOutput,
    ZipOutput,
    atomic_output,
    is_zip_target,
    nested,
)
from labelloop.services._gc import without_gc
from labelloop.services.audit import missing_head
from labelloop.services.ingest.archive import ZipLimits, extract_zip
from labelloop.services.native import export_native
from labelloop.services.releases import (
    default_key_path,
    label_record,
    lineage_entry,
    signing_key,
)
from labelloop.storage import Store, UnitOfWork

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from labelloop.core.releases import Release

__all__ = ["LINEAGE", "VERIFY_LIMITS", "ReleaseExport", "export_release", "verify_release_export"]

LINEAGE = "lineage.jsonl"
DATA = "data"
ProgressFn = Callable[[int, int | None], None]
VERIFY_LIMITS = ZipLimits()
"""What a release zip may hold before verifying refuses to unpack it (zip bombs, hostile zips)."""


@dataclass(slots=True)
class ReleaseExport:
    """What :func:`export_release` wrote."""

    path: Path
    release: str
    fmt: str
    items: int = 0
    regions: int = 0
    files: int = 0
    merkle_root: str = ""
    skipped: int = 0


class _Writer:
    """Streams a release's frozen labels to the label files while feeding an exporter."""

    def __init__(self, tx: UnitOfWork, rel: Release, tmp: Path, batch: int, progress: ProgressFn | None) -> None:
        self.tx, self.rel, self.batch, self.progress = tx, rel, batch, progress
        self.tree = MerkleTree()
        self.regions = 0
        self.tmp = tmp

    def records(self, labels: IO[bytes], hashes: IO[bytes], lineage: IO[bytes]) -> Iterator[ExportRecord]:
        after = 0
        while page := self.tx.releases.frozen_page(self.rel.id, after_item_id=after, limit=self.batch):
            anns = [fl.annotation for fl in page if fl.annotation is not None]
            sugg = self.tx.releases.suggestions([a.suggestion_id for a in anns if a.suggestion_id is not None])
            reviews: dict[int, list[Any]] = {}
            for r in self.tx.releases.reviews_of([a.id for a in anns], as_of=self.rel.as_of):
                reviews.setdefault(r.annotation_id, []).append(r)
            for fl in page:
                record = label_record(fl.item, fl.annotation)
                digest = hashlib.sha256(record).digest()
                if digest.hex() != fl.record_sha256:
                    raise TamperDetected(
                        f"release {self.rel.name!r}: the stored label of item {fl.item.id} no longer matches "
                        "the hash frozen in the release (the database was altered)"
                    )
                self.tree.add(digest)
                labels.write(record + b"\n")
                hashes.write(digest.hex().encode("ascii") + b"\n")
                lineage.write(orjson.dumps(lineage_entry(fl.item, fl.annotation, sugg, reviews)) + b"\n")
                value = None if fl.annotation is None else fl.annotation.value
                self.regions += len(value or [])
                yield ExportRecord(fl.item, value)
            after = page[-1].item.id
            if self.progress:
                self.progress(self.tree.count, self.rel.items)


def _hashes(dest: ExportOutput) -> dict[str, tuple[str, int]]:
    """``{path: (sha256, size)}`` of every file written so far (a zip's, recorded as written)."""
    if isinstance(dest, ZipOutput) and dest.hashes is not None:
        return dest.hashes
    assert isinstance(dest, FolderOutput)
    return {
        p.relative_to(dest.root).as_posix(): (file_sha256(p), p.stat().st_size)
        for p in dest.root.rglob("*")
        if p.is_file()
    }


def _root(dest: ExportOutput) -> Path:
    assert isinstance(dest, FolderOutput)
    return dest.root


def _native_into(dest: ExportOutput, store: Store, project_id: int, **kwargs: Any) -> None:
    """``export_native`` into ``data/`` of ``dest`` (a zip: through a scratch folder beside it)."""
    if isinstance(dest, FolderOutput):
        export_native(store, project_id, dest.root / DATA, **kwargs)
        return
    scratch = Path(tempfile.mkdtemp(prefix=".native-", dir=dest.out.parent))
    try:
        export_native(store, project_id, scratch / DATA, **kwargs)
        for p in sorted((scratch / DATA).rglob("*")):
            if p.is_file():
                dest.place(p, f"{DATA}/{p.relative_to(scratch / DATA).as_posix()}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@without_gc
def export_release(
    store: Store,
    project: str | int,
    release: str,
    fmt: str,
    out: Path,
    *,
    key: Ed25519PrivateKey | None = None,
    batch: int = 2000,
    progress: ProgressFn | None = None,
    actor: str = Actor.system("export"),
    destination: str | None = None,
    **options: Any,
) -> ReleaseExport:
    """Write release ``release`` of ``project`` to ``out`` in format ``fmt``, signed.

    The finished export is an ``export`` event in the project's provenance log, recorded by
    ``actor``: the release, the format, the counts and the SHA-256 of the signed manifest
    (which lists every file's hash).

    Args:
        store: The store.
        project: Project name or id.
        release: The release's name.
        fmt: ``native`` or a registered exporter (``coco``, ``yolo``, ...).
        out: A new (or empty) folder.
        key: The signing key; default the store's key.
        batch: Items per page.
        progress: ``progress(done, total)`` callback.
        actor: Who exports (``user:alice``), for the provenance event.
        destination: Where the export goes, for the provenance event; default ``out``
            (the API names the download instead of its temporary folder).
        **options: Passed to the exporter (``task="segment"`` for YOLO, ...); ``with_media=False``
            also leaves the media out of a ``native`` export.

    Raises:
        NotFound: no such project or release.
        PluginError: no such format (the message lists them).
        TamperDetected: the stored labels no longer give the release's Merkle root.
        FormatError: ``out`` exists and is not empty.

    Example:
        >>> # export_release(store, "pets", "v1", "coco", Path("out/pets-v1")).merkle_root
    """
    exporter = None if fmt == "native" else EXPORTERS[fmt]
    key = key or signing_key(store)
    with atomic_output(out, hashes=True) as dest, store.read() as tx:
        proj = tx.projects.get(project)
        rel = tx.releases.get(proj.id, release)
        parent = None if rel.parent_id is None else tx.releases.by_id(rel.parent_id)
        chain = proj.id
        head_seq, head_hash = tx.provenance.head(chain)  # the log as this export saw it
        writer = _Writer(tx, rel, dest.out, batch, progress)
        report = ReleaseExport(out, rel.name, fmt)
        with dest.open(LABELS) as lf, dest.open(LABEL_HASHES) as hf, dest.open(LINEAGE) as gf:
            records = writer.records(lf, hf, gf)
            if exporter is None:
                for _ in records:
                    pass
                _native_into(
                    dest, store, proj.id, as_of=rel.as_of, actor=actor,
                    include_media=bool(options.get("with_media", True)),
                )  # fmt: skip
            else:
                with nested(dest, DATA) if is_zip_target(out) else nullcontext(_root(dest) / DATA) as data:
                    rep = exporter(records, proj.schema, data, store.blobs.path, **options)
                report.skipped = len(rep.errors)
                for _ in records:  # an exporter that stopped early must not shorten the label files
                    pass
        if writer.tree.root_hex() != rel.merkle_root or writer.tree.count != rel.items:
            raise TamperDetected(
                f"release {rel.name!r}: the stored labels give Merkle root {writer.tree.root_hex()[:16]}… over "
                f"{writer.tree.count} items, the release says {str(rel.merkle_root)[:16]}… over {rel.items}"
            )
        hashes = _hashes(dest)
        files = [
            {"path": path, "sha256": sha, "size": size}
            for path, (sha, size) in sorted(hashes.items(), key=lambda kv: PurePosixPath(kv[0]))
            if path not in FILES_EXCLUDED
        ]
        manifest = {
            "format": MANIFEST_FORMAT,
            "version": 1,
            "project": proj.name,
            "release": rel.name,
            "as_of": rel.as_of.isoformat(),
            "created_at": rel.created_at.isoformat(),
            "created_by": rel.created_by,
            "parent": None if parent is None else {"name": parent.name, "merkle_root": parent.merkle_root},
            "counts": {"items": rel.items, "labelled": rel.labelled, "regions": rel.regions},
            "merkle_root": rel.merkle_root,
            "release_signature": rel.signature,
            "quality_certificate": rel.quality,
            "export": {"format": fmt, "path": DATA, "skipped_items": report.skipped},
            "labels": {"records": LABELS, "hashes": LABEL_HASHES, "hashes_sha256": hashes[LABEL_HASHES][0]},
            "files": files,
            "provenance": {"chain": chain, "seq": head_seq, "hash": head_hash},
        }
        signed = orjson.dumps(sign_manifest(manifest, key), option=orjson.OPT_INDENT_2)
        dest.write(MANIFEST, signed)
        report.items, report.regions, report.files = rel.items, writer.regions, len(files)
        report.merkle_root = rel.merkle_root or ""
    with store.transaction() as tx:
        tx.provenance.append(
            "export", actor=actor, project_id=chain,
            subject={"release": rel.name, "release_id": rel.id, "format": fmt, "path": destination or str(out)},
            payload={
                "items": report.items, "regions": report.regions, "files": report.files,
                "skipped_items": report.skipped, "merkle_root": report.merkle_root,
                "manifest_sha256": hashlib.sha256(signed).hexdigest(),
            },
        )  # fmt: skip
    return report


def verify_release_export(
    store: Store | None,
    path: Path,
    *,
    public_key: Ed25519PublicKey | None = None,
    parent: Path | None = None,
) -> VerifyReport:
    """Verify an exported release directory; cross-check it with the database when it knows it.

    The trusted key is ``public_key``, else the store's own key when one exists; without
    either, the key embedded in the manifest is used and ``report.trusted`` is False. When the
    store holds the project and release, the release's Merkle root and its parent's root must
    match the manifest, and the provenance chain head the manifest recorded must still be in
    the project's chain (events cut after it are reported).

    Example:
        >>> # verify_release_export(store, Path("out/pets-v1")).first
    """
    if public_key is None and store is not None and default_key_path(store.data_dir).is_file():
        public_key = read_public_key(default_key_path(store.data_dir))
    with ExitStack() as stack:
        try:
            folder = stack.enter_context(_unpacked(path)) if path.is_file() and is_zip_target(path) else path
            if parent is not None and parent.is_file() and is_zip_target(parent):
                parent = stack.enter_context(_unpacked(parent))
        except InputRejected as exc:
            report = VerifyReport(path)
            report.add(f"not a release zip: {exc}")
            return report
        report = _verify(store, folder, public_key, parent)
    report.path = path
    return report


@contextmanager
def _unpacked(path: Path) -> Iterator[Path]:
    """A zipped release unpacked in a temporary folder beside it, under :data:`VERIFY_LIMITS`.

    Unsafe names, links, duplicates, too many members or bytes and bomb-like compression
    ratios refuse the zip before anything is written (:func:`extract_zip`).
    """
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".verify", dir=path.parent))
    try:
        extract_zip(path, folder, name=path.name, limits=VERIFY_LIMITS)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _verify(store: Store | None, path: Path, public_key: Ed25519PublicKey | None, parent: Path | None) -> VerifyReport:
    report = verify_release_dir(path, trusted_key=public_key, parent=parent)
    if store is None or not report.manifest or not report.ok:
        return report
    m = report.manifest
    recorded = m.get("provenance")
    try:
        with store.read() as tx:
            proj = tx.projects.get(str(m.get("project")))
            rel = tx.releases.get(proj.id, str(m.get("release")))
            db_parent = None if rel.parent_id is None else tx.releases.by_id(rel.parent_id)
    except NotFound:
        return report  # a release made elsewhere: the signature is all there is to check
    except LabelloopError as exc:  # pragma: no cover - a database problem is not a verdict
        report.add(f"database: could not cross-check ({exc})")
        return report
    if isinstance(recorded, dict) and recorded.get("chain") == proj.id:
        problem = missing_head(store, proj.id, int(recorded.get("seq") or 0), str(recorded.get("hash")))
        if problem is not None:
            report.add(f"provenance: {problem}")
    if rel.merkle_root != m.get("merkle_root"):
        report.add(
            f"merkle_root: the manifest says {str(m.get('merkle_root'))[:16]}…, release {rel.name!r} in the "
            f"database has {str(rel.merkle_root)[:16]}…"
        )
    named = m.get("parent") or None
    want = None if db_parent is None else {"name": db_parent.name, "merkle_root": db_parent.merkle_root}
    if named != want:
        report.add(f"parent: the manifest names {named}, the database says the parent is {want}")
    return report
