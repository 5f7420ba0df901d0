"""Release rows: create, seal, look up, and page through a release's frozen labels.

Example:
    >>> # with store.transaction() as tx: rid = tx.releases.create(project_id, "v1", ...)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from labelloop.core import Annotation, AnnotationStatus, Item, Review, Suggestion
from labelloop.core.releases import Release
from labelloop.errors import Conflict, NotFound
from labelloop.storage import tables as t
from labelloop.storage.repositories import _annotation, _item, _review, _suggestion, now
from labelloop.storage.tables_releases import release_labels, releases

__all__ = ["FrozenLabel", "ReleaseLabelRow", "ReleaseRepo"]


@dataclass(frozen=True, slots=True)
class ReleaseLabelRow:
    """What a release holds for one item (ids only)."""

    item_id: int
    annotation_id: int | None
    suggestion_id: int | None
    record_sha256: str


@dataclass(frozen=True, slots=True)
class FrozenLabel:
    """An item of a release with the label version frozen for it."""

    item: Item
    annotation: Annotation | None
    suggestion: Suggestion | None
    record_sha256: str


def _release(r: Row[Any]) -> Release:
    return Release(
        r.id,
        r.project_id,
        r.name,
        r.parent_id,
        r.as_of,
        r.items,
        r.labelled,
        r.regions,
        r.merkle_root,
        r.signature,
        r.key_id,
        r.quality,
        r.created_at,
        r.created_by,
    )


_ANNOTATION_FIELDS = (
    "id", "project_id", "item_id", "value", "annotator", "status",
    "lead_time_s", "parent_id", "suggestion_id", "created_at", "created_by",
)  # fmt: skip
_SUGGESTION_FIELDS = (
    "id", "project_id", "item_id", "value", "score", "backend", "model_version", "created_at", "created_by",
)  # fmt: skip


class ReleaseRepo:
    """Releases and their label rows (append-only; a sealed release never changes)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(
        self,
        project_id: int,
        name: str,
        *,
        parent_id: int | None,
        as_of: datetime,
        created_by: str,
        quality: dict[str, Any] | None = None,
    ) -> int:
        """Start a release (unsealed); return its id.

        Raises:
            Conflict: the project has a release of that name.
        """
        taken = select(releases.c.id).where(releases.c.project_id == project_id, releases.c.name == name)
        if self.conn.execute(taken).first():
            raise Conflict(f"release {name!r} already exists in this project")
        try:
            return int(
                self.conn.execute(
                    insert(releases)
                    .values(
                        project_id=project_id,
                        name=name,
                        parent_id=parent_id,
                        as_of=as_of,
                        items=0,
                        labelled=0,
                        regions=0,
                        quality=quality,
                        created_at=now(),
                        created_by=created_by,
                    )
                    .returning(releases.c.id)
                ).scalar_one()
            )
        except IntegrityError as exc:  # a concurrent create of the same name
            raise Conflict(f"release {name!r} already exists in this project") from exc

    def add_labels(self, release_id: int, rows: Sequence[ReleaseLabelRow]) -> None:
        """Record the frozen label of each item (one bulk insert)."""
        if rows:
            self.conn.execute(
                insert(release_labels),
                [
                    {
                        "release_id": release_id,
                        "item_id": r.item_id,
                        "annotation_id": r.annotation_id,
                        "suggestion_id": r.suggestion_id,
                        "record_sha256": r.record_sha256,
                    }
                    for r in rows
                ],
            )

    def seal(
        self,
        release_id: int,
        *,
        items: int,
        labelled: int,
        regions: int,
        merkle_root: str,
        signature: str | None,
        key_id: str | None,
    ) -> None:
        """Record counts, Merkle root and signature; afterwards the row is immutable."""
        self.conn.execute(
            update(releases)
            .where(releases.c.id == release_id)
            .values(
                items=items,
                labelled=labelled,
                regions=regions,
                merkle_root=merkle_root,
                signature=signature,
                key_id=key_id,
            )
        )

    def get(self, project_id: int, name_or_id: str | int) -> Release:
        """A sealed release of a project by name (or id).

        Raises:
            NotFound: no such release.
        """
        q = select(releases).where(releases.c.project_id == project_id, releases.c.merkle_root.is_not(None))
        row = self.conn.execute(q.where(releases.c.name == str(name_or_id))).first()
        if row is None and (isinstance(name_or_id, int) or str(name_or_id).isdigit()):
            row = self.conn.execute(q.where(releases.c.id == int(name_or_id))).first()
        if row is None:
            raise NotFound("release", name_or_id)
        return _release(row)

    def by_id(self, release_id: int) -> Release:
        """A release by id.

        Raises:
            NotFound: no such release.
        """
        row = self.conn.execute(select(releases).where(releases.c.id == release_id)).first()
        if row is None:
            raise NotFound("release", release_id)
        return _release(row)

    def all(self, project_id: int) -> list[Release]:
        """A project's sealed releases, oldest first."""
        q = (
            select(releases)
            .where(releases.c.project_id == project_id, releases.c.merkle_root.is_not(None))
            .order_by(releases.c.id)
        )
        return [_release(r) for r in self.conn.execute(q)]

    def latest(self, project_id: int) -> Release | None:
        """A project's newest sealed release, if any."""
        q = (
            select(releases)
            .where(releases.c.project_id == project_id, releases.c.merkle_root.is_not(None))
            .order_by(releases.c.id.desc())
            .limit(1)
        )
        row = self.conn.execute(q).first()
        return None if row is None else _release(row)

    def label_rows(self, release_id: int, *, after_item_id: int = 0, limit: int = 2000) -> list[ReleaseLabelRow]:
        """A keyset page of a release's label rows, by item id."""
        rl = release_labels
        q = (
            select(rl.c.item_id, rl.c.annotation_id, rl.c.suggestion_id, rl.c.record_sha256)
            .where(rl.c.release_id == release_id, rl.c.item_id > after_item_id)
            .order_by(rl.c.item_id)
            .limit(limit)
        )
        return [ReleaseLabelRow(r[0], r[1], r[2], r[3]) for r in self.conn.execute(q)]

    def frozen_page(self, release_id: int, *, after_item_id: int = 0, limit: int = 2000) -> list[FrozenLabel]:
        """A keyset page of a release's items with their frozen annotation or suggestion."""
        rl, a, s = release_labels, t.annotations, t.suggestions
        # Explicit columns in the dataclasses' field order, read by position (a mapping lookup
        # per field cost more than the rest of the page).
        a_cols = [getattr(a.c, f) for f in _ANNOTATION_FIELDS]
        s_cols = [getattr(s.c, f) for f in _SUGGESTION_FIELDS]
        q = (
            select(t.items, rl.c.record_sha256, *a_cols, *s_cols)
            .join(rl, and_(rl.c.item_id == t.items.c.id, rl.c.release_id == release_id))
            .outerjoin(a, a.c.id == rl.c.annotation_id)
            .outerjoin(s, s.c.id == rl.c.suggestion_id)
            .where(rl.c.item_id > after_item_id)
            .order_by(rl.c.item_id)
            .limit(limit)
        )
        n_item = len(t.items.c)
        a0, s0 = n_item + 1, n_item + 1 + len(a_cols)
        out: list[FrozenLabel] = []
        for row in self.conn.execute(q):
            av, sv = row[a0:s0], row[s0:]
            ann = sug = None
            if av[0] is not None:
                ann = Annotation(
                    av[0], av[1], av[2], av[3], av[4], AnnotationStatus(av[5]), av[6], av[7], av[8], av[9], av[10]
                )
            if sv[0] is not None:
                sug = Suggestion(sv[0], sv[1], sv[2], sv[3], sv[4], sv[5], sv[6], sv[7], sv[8])
            sha = row[n_item]
            out.append(FrozenLabel(_item(row), ann, sug, sha if isinstance(sha, str) else bytes(sha).hex()))
        return out

    def item_keys(self, ids: Sequence[int]) -> dict[int, str | None]:
        """Item keys by id."""
        if not ids:
            return {}
        rows = self.conn.execute(select(t.items.c.id, t.items.c.key).where(t.items.c.id.in_(list(set(ids)))))
        return {r[0]: r[1] for r in rows}

    def annotations(self, ids: Sequence[int]) -> dict[int, Annotation]:
        """Annotation versions by id."""
        if not ids:
            return {}
        rows = self.conn.execute(select(t.annotations).where(t.annotations.c.id.in_(list(set(ids)))))
        return {r.id: _annotation(r) for r in rows}

    def suggestions(self, ids: Sequence[int]) -> dict[int, Suggestion]:
        """Suggestions by id."""
        if not ids:
            return {}
        rows = self.conn.execute(select(t.suggestions).where(t.suggestions.c.id.in_(list(set(ids)))))
        return {r.id: _suggestion(r) for r in rows}

    def reviews_of(self, annotation_ids: Sequence[int], *, as_of: datetime | None = None) -> list[Review]:
        """Reviews of the given annotation versions (up to ``as_of``), in id order."""
        if not annotation_ids:
            return []
        r = t.reviews
        q = select(r).where(r.c.annotation_id.in_(list(set(annotation_ids))))
        if as_of is not None:
            q = q.where(r.c.created_at <= as_of)
        return [_review(x) for x in self.conn.execute(q.order_by(r.c.id))]
