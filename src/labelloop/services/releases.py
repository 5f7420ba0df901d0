"""Dataset releases: immutable, signed snapshots of a project's labels; diff and lineage.

A release freezes, for every item that existed at ``as_of``, the annotation version that
:func:`~labelloop.services.exports.current_annotation` chooses (the newest submitted version
no other replaces), or none. Each (item, label) pair becomes a canonical *label record*; the
SHA-256 of each record is a leaf of a Merkle tree whose root, with the parent release's root
and the quality certificate, is signed with the project's Ed25519 key. The release is a
``release`` event in the project's provenance log (so its commit anchors the chain head outside
the database). Rows are written in keyset pages (memory bounded by the page size) inside one
transaction, so a release is either complete or absent, and the database refuses to change a
sealed one.

Example:
    >>> # rel = create_release(store, "pets", "v1", "user:alice")
    >>> # diff = diff_releases(store, "pets", "v1", "v2"); diff.items["changed"]
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelloop.compliance.signing import (
    MerkleTree,
    canonical_json,
    key_id,
    load_or_create_key,
    read_public_key,
    verify_statement,
)
from labelloop.core import Annotation, Item
from labelloop.core.releases import Release
from labelloop.errors import InputRejected
from labelloop.services.versions import current_annotation, withdrawn_auto_labels
from labelloop.storage import Store, UnitOfWork, now
from labelloop.storage.releases_repo import ReleaseLabelRow

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "AUTO",
    "DiffReport",
    "DiffRow",
    "ReleaseInfo",
    "create_release",
    "default_key_path",
    "diff_releases",
    "iter_lineage",
    "label_record",
    "lineage_entry",
    "list_releases",
    "region_classes",
    "release_statement",
    "show_release",
    "signing_key",
]

AUTO = "auto"
"""``parent=AUTO``: the project's newest release becomes the parent."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
KEY_FILE = Path("keys") / "release-ed25519.pem"


def default_key_path(data_dir: Path) -> Path:
    """Where the release signing key lives when none is configured."""
    return data_dir / KEY_FILE


def signing_key(store: Store, configured: Path | None = None) -> Ed25519PrivateKey:
    """The release signing key: ``configured``, else ``<data dir>/keys/release-ed25519.pem``.

    Created (mode 0600) on first use.
    """
    return load_or_create_key(configured or default_key_path(store.data_dir))


def _ts(d: datetime) -> str:
    return d.isoformat()


def label_record(item: Item, annotation: Annotation | None) -> bytes:
    """The canonical bytes of one item's frozen label (a Merkle leaf's content).

    Example:
        >>> from datetime import UTC, datetime
        >>> from labelloop.core import MediaRef
        >>> t = datetime(2026, 1, 1, tzinfo=UTC)
        >>> it = Item(1, 1, {"text": MediaRef.from_text("hi")}, "h", "k1", "", {}, None, t, "user:a")
        >>> label_record(it, None)[:40]
        b'{"item":{"content_hash":"h","id":1,"key"'
    """
    label = None
    if annotation is not None:
        a = annotation
        label = {
            "annotation_id": a.id,
            "value": a.value,
            "annotator": a.annotator,
            "status": a.status.value,
            "parent_id": a.parent_id,
            "suggestion_id": a.suggestion_id,
            "created_at": _ts(a.created_at),
            "created_by": a.created_by,
        }
    media = {name: ref.sha256 for name, ref in item.data.items()}
    return canonical_json(
        {"item": {"id": item.id, "key": item.key, "content_hash": item.content_hash, "media": media}, "label": label}
    )


def release_statement(project: str, rel: Release, parent: Release | None) -> dict[str, Any]:
    """What a release's database signature covers."""
    return {
        "format": "labelloop.release-statement",
        "project": project,
        "release": rel.name,
        "as_of": _ts(rel.as_of),
        "items": rel.items,
        "labelled": rel.labelled,
        "regions": rel.regions,
        "merkle_root": rel.merkle_root,
        "parent": None if parent is None else {"name": parent.name, "merkle_root": parent.merkle_root},
        "quality": rel.quality,
    }


def _resolve_parent(tx: UnitOfWork, project_id: int, parent: str | None) -> Release | None:
    if parent == AUTO:
        return tx.releases.latest(project_id)
    return None if parent is None else tx.releases.get(project_id, parent)


def create_release(
    store: Store,
    project: str | int,
    name: str,
    actor: str,
    *,
    as_of: datetime | None = None,
    parent: str | None = AUTO,
    quality: dict[str, Any] | None = None,
    key: Ed25519PrivateKey | None = None,
    batch: int = 2000,
) -> Release:
    """Freeze the project's current labels (at ``as_of``, default now) as release ``name``.

    Args:
        store: The store.
        project: Project name or id.
        name: Unique in the project; letters, digits and ``._+-``.
        actor: Who makes it (``user:alice``).
        as_of: The moment to freeze (not in the future); default now.
        parent: A release name, :data:`AUTO` (the newest release) or None.
        quality: A quality certificate to attach (signed with the release).
        key: The Ed25519 signing key; default the store's key (created on first use).
        batch: Items per page.

    Raises:
        InputRejected: a bad name, or ``as_of`` in the future or without a time zone.
        Conflict: the project already has a release of that name.
        NotFound: no such project or parent release.

    Example:
        >>> # create_release(store, "pets", "v1", "user:alice").merkle_root
    """
    if not _NAME.match(name):
        raise InputRejected("release name", "letters, digits and . _ + - (at most 200, starting alphanumeric)", name)
    moment = now()
    if as_of is not None and as_of.tzinfo is None:
        raise InputRejected("as_of", "a time with a time zone", as_of.isoformat())
    if as_of is not None and as_of > moment:
        raise InputRejected("as_of", f"a time not after now ({moment.isoformat()})", as_of.isoformat())
    frozen_at = as_of or moment
    key = key or signing_key(store)
    with store.transaction() as tx:
        proj = tx.projects.get(project)
        parent_rel = _resolve_parent(tx, proj.id, parent)
        rid = tx.releases.create(
            proj.id,
            name,
            parent_id=None if parent_rel is None else parent_rel.id,
            as_of=frozen_at,
            created_by=actor,
            quality=quality,
        )
        tree = MerkleTree()
        labelled = regions = 0
        for page in tx.items.iter_all(proj.id, batch=batch, as_of=frozen_at):
            _, anns, revs = tx.labels.for_item_range(proj.id, page[0].id, page[-1].id, as_of=frozen_at)
            withdrawn = withdrawn_auto_labels(anns, revs)
            by_item: dict[int, list[Annotation]] = {}
            for a in anns:
                by_item.setdefault(a.item_id, []).append(a)
            rows: list[ReleaseLabelRow] = []
            for it in page:
                cur = current_annotation(by_item.get(it.id, []), withdrawn)
                digest = hashlib.sha256(label_record(it, cur)).digest()
                tree.add(digest)
                rows.append(ReleaseLabelRow(it.id, None if cur is None else cur.id, None, digest.hex()))
                if cur is not None:
                    labelled += 1
                    regions += len(cur.value)
            tx.releases.add_labels(rid, rows)
        draft = tx.releases.by_id(rid)
        sealed = dataclasses.replace(
            draft, items=tree.count, labelled=labelled, regions=regions, merkle_root=tree.root_hex()
        )
        signature = base64.b64encode(key.sign(canonical_json(release_statement(proj.name, sealed, parent_rel))))
        tx.releases.seal(
            rid,
            items=tree.count,
            labelled=labelled,
            regions=regions,
            merkle_root=tree.root_hex(),
            signature=signature.decode("ascii"),
            key_id=key_id(key.public_key()),
        )
        tx.provenance.append(
            "release", actor=actor, project_id=proj.id, subject={"release": name, "release_id": rid},
            payload={
                "as_of": _ts(frozen_at), "items": tree.count, "labelled": labelled, "regions": regions,
                "merkle_root": tree.root_hex(), "parent": None if parent_rel is None else parent_rel.name,
                "key_id": key_id(key.public_key()),
            },
        )  # fmt: skip
        return tx.releases.by_id(rid)


def list_releases(store: Store, project: str | int) -> list[Release]:
    """A project's releases, oldest first.

    Example:
        >>> # [r.name for r in list_releases(store, "pets")]
    """
    with store.read() as tx:
        return tx.releases.all(tx.projects.get(project).id)


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    """A release with its parent and the state of its database signature.

    Attributes:
        release: The release.
        parent: Its parent, if any.
        signature_ok: True / False when a verifying key was available, None otherwise.
        classes: Regions per class in the release.
    """

    release: Release
    parent: Release | None
    signature_ok: bool | None
    classes: dict[str, int]


def region_classes(region: dict[str, Any]) -> list[str]:
    """The class names a region carries (``label`` or ``labels``; ``-`` when none)."""
    if isinstance(region.get("labels"), list):
        return [str(x) for x in region["labels"]] or ["-"]
    label = region.get("label")
    return [str(label)] if label is not None else ["-"]


def show_release(
    store: Store, project: str | int, name: str, *, public_key: Ed25519PublicKey | None = None
) -> ReleaseInfo:
    """A release, its parent, per-class region counts, and whether its signature holds.

    ``public_key`` defaults to the store's own key when that exists (never created here).

    Raises:
        NotFound: no such project or release.
    """
    if public_key is None and default_key_path(store.data_dir).is_file():
        public_key = read_public_key(default_key_path(store.data_dir))
    with store.read() as tx:
        proj = tx.projects.get(project)
        rel = tx.releases.get(proj.id, name)
        parent = None if rel.parent_id is None else tx.releases.by_id(rel.parent_id)
        classes: Counter[str] = Counter()
        after = 0
        while page := tx.releases.frozen_page(rel.id, after_item_id=after):
            for fl in page:
                for region in fl.annotation.value if fl.annotation else []:
                    classes.update(region_classes(region))
            after = page[-1].item.id
    ok: bool | None = None
    if public_key is not None and rel.signature is not None:
        ok = rel.key_id == key_id(public_key) and verify_statement(
            release_statement(proj.name, rel, parent), rel.signature, public_key
        )
    return ReleaseInfo(rel, parent, ok, dict(sorted(classes.items())))


# ---------------------------------------------------------------------- diff
@dataclass(frozen=True, slots=True)
class DiffRow:
    """One item whose label differs between two releases."""

    item_id: int
    key: str | None
    change: str  # added / removed / changed
    a_annotation_id: int | None
    b_annotation_id: int | None
    classes: dict[str, dict[str, int]]


@dataclass(slots=True)
class DiffReport:
    """Differences between release ``a`` and release ``b`` (``b`` seen as the newer).

    Attributes:
        items: Items per change: ``added`` (labelled in b only), ``removed`` (labelled in a
            only), ``changed`` (another value), ``unchanged``.
        classes: Per class, regions ``added`` / ``removed`` / ``changed``.
        rows: The differing items (up to ``max_rows``).
        truncated: True when more rows differed than were kept.
    """

    a: str
    b: str
    items: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("added", "removed", "changed", "unchanged"), 0)
    )
    classes: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: list[DiffRow] = field(default_factory=list)
    truncated: bool = False


def _region_diff(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per class: regions added, removed, changed. Identical regions match first, then by id."""
    left = Counter(canonical_json(r) for r in a)
    right = Counter(canonical_json(r) for r in b)
    only_a = [r for r in a if left[canonical_json(r)] > right[canonical_json(r)]]
    only_b = [r for r in b if right[canonical_json(r)] > left[canonical_json(r)]]
    out: dict[str, dict[str, int]] = {}

    def bump(regions: list[dict[str, Any]], what: str) -> None:
        for r in regions:
            for c in region_classes(r):
                out.setdefault(c, {"added": 0, "removed": 0, "changed": 0})[what] += 1

    a_ids = {r.get("id"): r for r in only_a if r.get("id") is not None}
    changed = [r for r in only_b if r.get("id") in a_ids]
    changed_ids = {r.get("id") for r in changed}
    for r in changed:  # a relabelled region counts as changed under its old and its new class
        for c in dict.fromkeys(region_classes(a_ids[r.get("id")]) + region_classes(r)):
            out.setdefault(c, {"added": 0, "removed": 0, "changed": 0})["changed"] += 1
    bump([r for r in only_b if r.get("id") not in changed_ids or r.get("id") is None], "added")
    bump([r for r in only_a if r.get("id") not in changed_ids or r.get("id") is None], "removed")
    return out


def _pairs(tx: UnitOfWork, a_id: int, b_id: int, batch: int) -> Iterator[tuple[int, int | None, int | None]]:
    """Merge-join two releases' label rows by item id: (item, a annotation, b annotation)."""

    def rows(rid: int) -> Iterator[ReleaseLabelRow]:
        after = 0
        while page := tx.releases.label_rows(rid, after_item_id=after, limit=batch):
            yield from page
            after = page[-1].item_id

    ia, ib = rows(a_id), rows(b_id)
    ra, rb = next(ia, None), next(ib, None)
    while ra is not None or rb is not None:
        if rb is None or (ra is not None and ra.item_id < rb.item_id):
            assert ra is not None
            yield ra.item_id, ra.annotation_id, None
            ra = next(ia, None)
        elif ra is None or rb.item_id < ra.item_id:
            yield rb.item_id, None, rb.annotation_id
            rb = next(ib, None)
        else:
            yield ra.item_id, ra.annotation_id, rb.annotation_id
            ra, rb = next(ia, None), next(ib, None)


def diff_releases(
    store: Store, project: str | int, a: str, b: str, *, max_rows: int | None = 1000, batch: int = 2000
) -> DiffReport:
    """Compare two releases item by item and class by class, streaming both in item order.

    Raises:
        NotFound: no such project or release.

    Example:
        >>> # diff_releases(store, "pets", "v1", "v2").classes["cat"]["changed"]
    """
    report = DiffReport(a, b)
    with store.read() as tx:
        proj = tx.projects.get(project)
        ra, rb = tx.releases.get(proj.id, a), tx.releases.get(proj.id, b)
        chunk: list[tuple[int, int | None, int | None]] = []

        def flush() -> None:
            anns = tx.releases.annotations([x for _, p, q in chunk for x in (p, q) if x is not None])
            keys = tx.releases.item_keys([c[0] for c in chunk])
            for item_id, pa, pb in chunk:
                va = anns[pa].value if pa is not None else []
                vb = anns[pb].value if pb is not None else []
                if pa is not None and pb is not None and canonical_json(va) == canonical_json(vb):
                    report.items["unchanged"] += 1
                    continue
                change = "added" if pa is None else "removed" if pb is None else "changed"
                report.items[change] += 1
                classes = _region_diff(va, vb)
                for c, counts in classes.items():
                    total = report.classes.setdefault(c, {"added": 0, "removed": 0, "changed": 0})
                    for k, v in counts.items():
                        total[k] += v
                if max_rows is None or len(report.rows) < max_rows:
                    report.rows.append(DiffRow(item_id, keys.get(item_id), change, pa, pb, classes))
                else:
                    report.truncated = True
            chunk.clear()

        for item_id, pa, pb in _pairs(tx, ra.id, rb.id, batch):
            if pa == pb:
                report.items["unchanged"] += 1
                continue
            chunk.append((item_id, pa, pb))
            if len(chunk) >= batch:
                flush()
        if chunk:
            flush()
    report.classes = dict(sorted(report.classes.items()))
    return report


# ---------------------------------------------------------------------- lineage
def lineage_entry(
    fl_item: Item, ann: Annotation | None, sugg: dict[int, Any], reviews: dict[int, list[Any]]
) -> dict[str, Any]:
    """The lineage of one item's frozen label, given its annotation's suggestion and reviews."""
    if ann is None:
        return {"item_id": fl_item.id, "key": fl_item.key, "label": None}
    s = sugg.get(ann.suggestion_id) if ann.suggestion_id is not None else None
    origin = "import" if ann.annotator.startswith("external:") else "human"
    if s is not None:
        origin = "suggestion-accepted" if canonical_json(s.value) == canonical_json(ann.value) else "suggestion-edited"
    return {
        "item_id": fl_item.id,
        "key": fl_item.key,
        "label": {
            "annotation_id": ann.id,
            "origin": origin,
            "annotator": ann.annotator,
            "created_by": ann.created_by,
            "created_at": _ts(ann.created_at),
            "parent_id": ann.parent_id,
            "suggestion": None
            if s is None
            else {"id": s.id, "backend": s.backend, "model_version": s.model_version, "score": s.score},
            "reviews": [
                {"reviewer": r.reviewer, "verdict": r.verdict.value, "created_at": _ts(r.created_at)}
                for r in reviews.get(ann.id, [])
            ],
        },
    }


def iter_lineage(
    store: Store,
    project: str | int,
    release: str,
    *,
    batch: int = 2000,
    after_item_id: int = 0,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield, per item of a release (in item id order), who or what produced its label.

    ``origin`` is ``human``, ``import`` (an external dataset), ``suggestion-accepted`` (a
    person accepted a backend's suggestion unchanged) or ``suggestion-edited``; the
    suggestion names its backend and model version; reviews made up to the release follow.

    Args:
        store: The store.
        project: Project name or id.
        release: The release's name.
        batch: Items read per page.
        after_item_id: Start after this item id (a keyset cursor: the last ``item_id`` seen).
        limit: Stop after this many entries (None: all).

    Raises:
        NotFound: no such project or release.

    Example:
        >>> # next(iter_lineage(store, "pets", "v1"))["label"]["origin"]
    """
    left = limit
    with store.read() as tx:
        proj = tx.projects.get(project)
        rel = tx.releases.get(proj.id, release)
        after = after_item_id
        while left != 0 and (
            page := tx.releases.frozen_page(
                rel.id, after_item_id=after, limit=batch if left is None else min(batch, left)
            )
        ):
            if left is not None:
                left -= len(page)
            anns = [fl.annotation for fl in page if fl.annotation is not None]
            sugg = tx.releases.suggestions([a.suggestion_id for a in anns if a.suggestion_id is not None])
            reviews: dict[int, list[Any]] = {}
            for r in tx.releases.reviews_of([a.id for a in anns], as_of=rel.as_of):
                reviews.setdefault(r.annotation_id, []).append(r)
            for fl in page:
                yield lineage_entry(fl.item, fl.annotation, sugg, reviews)
            after = page[-1].item.id
