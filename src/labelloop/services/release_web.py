"""Releases for the web API: wire forms, lineage pages, and exports streamed as zip downloads.

The API's release routes are thin over these: :func:`release_json` and :func:`diff_json`
shape what :mod:`labelloop.services.releases` returns; :func:`lineage_lines` reads a release's
lineage in pages, each page in its own short read (a sealed release never changes, so the
pages agree); :func:`prepare_download` writes a signed release export into a temporary
folder under the data dir (media hard-linked from the store where the format allows) and
returns a :class:`ReleaseDownload` that streams it as a zip and removes the folder once done.

The folder is zipped while it streams rather than written as a zip first: the first byte goes
out as soon as the labels are written, and media take no second copy on disk (a release of
100 GB of images would otherwise need 100 GB more, and minutes before the download starts).

Example:
    >>> "native" in export_formats() and "coco" in export_formats()
    True
    >>> download_name("pets", "v1", "coco")
    'pets-v1-coco.zip'
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from labelloop.compliance.signing import read_public_key
from labelloop.core.releases import Release
from labelloop.errors import InputRejected
from labelloop.formats import EXPORTERS, takes_option
from labelloop.services.accounts import RateLimited
from labelloop.services.release_export import export_release
from labelloop.services.releases import DiffReport, ReleaseInfo, iter_lineage, show_release, signing_key
from labelloop.services.zip_stream import iter_zip
from labelloop.storage import Store

if TYPE_CHECKING:
    from labelloop.services.release_export import ReleaseExport

__all__ = [
    "LINEAGE_PAGE",
    "DownloadSlots",
    "ReleaseDownload",
    "diff_json",
    "download_name",
    "export_formats",
    "info_json",
    "lineage_lines",
    "prepare_download",
    "release_json",
    "show",
]

LINEAGE_PAGE = 2000
"""Items per read when the whole lineage is streamed."""


class DownloadSlots:
    """Bounds the release downloads being made or streamed at once, per caller and in all.

    A release download is exported on request (each is a signed provenance event), so twenty
    parallel requests would otherwise be twenty exports competing for the cores and the disk.
    One more than the bound is refused with :class:`RateLimited` (HTTP 429, ``Retry-After``).
    The bound holds per server process.

    Example:
        >>> slots = DownloadSlots(per_actor=1, total=2)
        >>> slots.take("user:a")
        >>> try:
        ...     slots.take("user:a")
        ... except RateLimited as exc:
        ...     print(exc)
        user:a is already downloading 1 release export(s); wait for it to finish
        >>> slots.give("user:a"); slots.take("user:a")
    """

    def __init__(self, per_actor: int = 2, total: int = 4, retry_after: int = 5) -> None:
        self.per_actor, self.total, self.retry_after = per_actor, total, retry_after
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, actor: str) -> None:
        """Hold a slot for ``actor``.

        Raises:
            RateLimited: ``actor`` holds ``per_actor`` slots, or all ``total`` are held.
        """
        with self._lock:
            if self._held[actor] >= self.per_actor:
                raise RateLimited(
                    f"{actor} is already downloading {self.per_actor} release export(s); wait for it to finish",
                    self.retry_after,
                )
            if self._held.total() >= self.total:
                raise RateLimited(
                    f"{self.total} release exports are being made; try again in a few seconds", self.retry_after
                )
            self._held[actor] += 1

    def give(self, actor: str) -> None:
        """Give back a slot of ``actor``."""
        with self._lock:
            self._held[actor] -= 1
            if self._held[actor] <= 0:
                del self._held[actor]


SLOTS = DownloadSlots()
"""The process's bound on release downloads (:func:`prepare_download`)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def export_formats() -> list[str]:
    """The formats a release can be exported in: ``native`` and every registered exporter."""
    return ["native", *sorted(EXPORTERS)]


def release_json(r: Release, parent: str | None = None) -> dict[str, Any]:
    """A release's wire form (``parent`` is the parent's name, when known).

    Example:
        >>> from datetime import UTC, datetime
        >>> t = datetime(2026, 1, 1, tzinfo=UTC)
        >>> rel = Release(1, 1, "v1", None, t, 10, 8, 12, "ab" * 32, "c2ln", "k" * 64, None, t, "user:me")
        >>> release_json(rel)["signed"], release_json(rel)["counts"]
        (True, {'items': 10, 'labelled': 8, 'regions': 12})
    """
    return {
        "name": r.name,
        "id": r.id,
        "parent": parent,
        "as_of": r.as_of.isoformat(),
        "counts": {"items": r.items, "labelled": r.labelled, "regions": r.regions},
        "merkle_root": r.merkle_root,
        "signed": r.signature is not None,
        "key_id": r.key_id,
        "quality": r.quality,
        "created_at": r.created_at.isoformat(),
        "created_by": r.created_by,
    }


def info_json(info: ReleaseInfo) -> dict[str, Any]:
    """One release in full: its wire form, the parent's root, per-class regions, the signature check."""
    p = info.parent
    return release_json(info.release, None if p is None else p.name) | {
        "parent_merkle_root": None if p is None else p.merkle_root,
        "signature": {
            "key_id": info.release.key_id,
            "algorithm": "ed25519",
            "value": info.release.signature,
            "valid": info.signature_ok,
        },
        "classes": info.classes,
    }


def show(store: Store, project_id: int, name: str, key_file: Path | None = None) -> dict[str, Any]:
    """:func:`info_json` of a release, its signature checked with ``key_file`` (else the store's key).

    Raises:
        NotFound: no such release in the project.
    """
    key = read_public_key(key_file) if key_file is not None and key_file.is_file() else None
    return info_json(show_release(store, project_id, name, public_key=key))


def diff_json(d: DiffReport) -> dict[str, Any]:
    """A diff's wire form: counts per change, per class, and the differing items kept."""
    return {
        "a": d.a,
        "b": d.b,
        "items": d.items,
        "classes": d.classes,
        "rows": [
            {
                "item_id": r.item_id,
                "key": r.key,
                "change": r.change,
                "a_annotation_id": r.a_annotation_id,
                "b_annotation_id": r.b_annotation_id,
                "classes": r.classes,
            }
            for r in d.rows
        ],
        "truncated": d.truncated,
    }


def lineage_lines(store: Store, project_id: int, name: str, *, after: int, limit: int) -> tuple[bytes, int | None]:
    """Up to ``limit`` lineage entries after item ``after`` as JSON lines, and the next cursor.

    The cursor is the last item id when the page is full (more may follow), else None.

    Raises:
        NotFound: no such release in the project.
    """
    rows = list(iter_lineage(store, project_id, name, after_item_id=after, limit=limit, batch=limit))
    body = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)
    return body, (int(rows[-1]["item_id"]) if len(rows) == limit else None)


def download_name(project: str, release: str, fmt: str) -> str:
    """``<project>-<release>-<format>.zip``, with anything but letters, digits and ``._+-`` as ``_``."""
    return "-".join(_UNSAFE.sub("_", part).strip("_") or "_" for part in (project, release, fmt)) + ".zip"


@dataclass(slots=True)
class ReleaseDownload:
    """A finished release export in a temporary folder, to be streamed as a zip.

    Attributes:
        filename: The download's file name.
        folder: The temporary folder (removed by :meth:`cleanup`, and after :meth:`chunks`).
        export: What :func:`export_release` wrote.
        release_slot: Gives back the caller's download slot (on :meth:`cleanup`; only the first call counts).
    """

    filename: str
    folder: Path
    export: ReleaseExport
    release_slot: Callable[[], None] = field(default=lambda: None, repr=False)

    def chunks(self) -> Iterator[bytes]:
        """The zip's bytes; the folder is removed when the stream ends or is abandoned."""
        try:
            yield from iter_zip(self.export.path)
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        """Remove the temporary folder and give back the slot (again is harmless)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.release_slot()


def prepare_download(
    store: Store,
    project_id: int,
    name: str,
    fmt: str,
    actor: str,
    *,
    key_file: Path | None = None,
    slots: DownloadSlots = SLOTS,
) -> ReleaseDownload:
    """Export release ``name`` in ``fmt`` (signed) into a temporary folder, ready to stream.

    The folder is under ``<data dir>/exports`` so that media can be hard-linked from the store
    rather than copied; nothing stays there when this raises. The export is a provenance
    event recorded by ``actor``.

    ``actor`` holds one of ``slots`` from the start until the download is cleaned up.

    Raises:
        InputRejected: an unknown format (the message lists the known ones).
        NotFound: no such release in the project.
        TamperDetected: the stored labels no longer give the release's Merkle root.
        RateLimited: ``actor`` (or everyone together) is downloading as many as ``slots`` allow.

    Example:
        >>> # d = prepare_download(store, 1, "v1", "coco", "user:alice"); b"".join(d.chunks())
    """
    formats = export_formats()
    if fmt not in formats:
        raise InputRejected("format", f"one of {', '.join(formats)}", repr(fmt[:50]))
    slots.take(actor)
    try:
        base = store.data_dir / "exports" / f"p{project_id}"
        base.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".release-", dir=base))
    except BaseException:
        slots.give(actor)
        raise
    try:
        with store.read() as tx:
            project = tx.projects.get(project_id).name
            release = tx.releases.get(project_id, name).name
        options: dict[str, Any] = {"link": True} if fmt != "native" and takes_option(fmt, "link") else {}
        filename = download_name(project, release, fmt)
        report = export_release(
            store, project_id, release, fmt, folder / "release", key=signing_key(store, key_file), actor=actor,
            destination=f"download:{filename}", **options,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        slots.give(actor)
        raise
    once = threading.Lock()  # the stream's end and the response's end may both clean up, in two threads

    def give_back() -> None:
        if once.acquire(blocking=False):
            slots.give(actor)

    return ReleaseDownload(filename, folder, report, give_back)
