"""Native export → restore → export is identical; broken exports are refused whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from labelloop.core import (
    LabelSchema,
    MediaRef,
    Medium,
    NewAnnotation,
    NewItem,
    NewReview,
    NewSuggestion,
    ReviewVerdict,
    content_hash,
)
from labelloop.errors import Conflict, FormatError
from labelloop.services import native
from labelloop.services.native import canonical_export, export_native, restore_native
from labelloop.storage import BlobRow, Store
from tests.helpers import png_bytes

SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "image", "kind": "image"}, {"name": "caption", "kind": "text"}],
        "controls": [
            {"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat", "dog"]},
            {"name": "topic", "kind": "classification", "target": "caption", "labels": ["pets", "other"]},
        ],
    }
)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _fill(store: Store, n: int = 5) -> str:
    with store.transaction() as tx:
        p = tx.projects.create("pets", SCHEMA, "user:owner", created_at=T0)
        for i in range(n):
            sha, size, _ = store.blobs.put_bytes(png_bytes(color=(i, 10, 10)))
            meta = {"width": 32, "height": 24}
            tx.items.add_blobs([BlobRow(sha, size, "image", "image/png", meta)])
            data = {
                "image": MediaRef(Medium.IMAGE, sha, "image/png", None, meta),
                "caption": MediaRef.from_text(f"猫 {i}"),
            }
            (item_id,) = tx.items.add_many(
                p.id,
                [NewItem(data, content_hash({k: v.sha256 for k, v in data.items()}), f"k{i}", f"src{i}", {"i": i})],
                created_by="user:importer",
                created_at=[T0 + timedelta(minutes=i)],
            )
            assert item_id is not None
            box = [{"id": "b", "control": "objects", "label": "cat", "xyxy": [1, 1, 10, 10]}]
            (sid,) = tx.labels.add_suggestions(
                p.id, [NewSuggestion(item_id, box, "det", "v1", 0.9)], created_at=[T0 + timedelta(hours=1)]
            )
            (a1,) = tx.labels.add_annotations(
                p.id,
                [NewAnnotation(item_id, box, "ann", suggestion_id=sid, lead_time_s=3)],
                created_at=[T0 + timedelta(hours=2)],
            )
            fixed = [
                {"id": "b", "control": "objects", "label": "dog", "xyxy": [1, 1, 12, 12]},
                {"id": "t", "control": "topic", "labels": ["pets"]},
            ]
            (a2,) = tx.labels.add_annotations(
                p.id, [NewAnnotation(item_id, fixed, "rev", parent_id=a1)], created_at=[T0 + timedelta(hours=3)]
            )
            tx.labels.add_reviews(
                p.id,
                [NewReview(a1, "rev", ReviewVerdict.CORRECT, a2, "dog, not cat")],
                [item_id],
                created_at=[T0 + timedelta(hours=3)],
            )
    return "pets"


def test_round_trip_is_identical(store: Store, tmp_path: Path) -> None:
    _fill(store)
    first = export_native(store, "pets", tmp_path / "e1")
    assert (first.items, first.suggestions, first.annotations, first.reviews, first.media_files) == (5, 5, 10, 5, 5)
    other = Store.open(None, tmp_path / "other")
    restored = restore_native(other, tmp_path / "e1", name="pets")
    assert (restored.items, restored.annotations, restored.reviews) == (5, 10, 5)
    export_native(other, "pets", tmp_path / "e2")
    assert canonical_export(tmp_path / "e1") == canonical_export(tmp_path / "e2")
    with other.read() as tx:
        p = tx.projects.get("pets")
        assert p.created_at == T0 and p.created_by == "user:owner" and p.schema == SCHEMA
        items = tx.items.page(p.id)
        _, anns, revs = tx.labels.for_items([items[0].id])
    assert anns[1].parent_id == anns[0].id and revs[0].correction_id == anns[1].id
    assert other.blobs.read_bytes(items[0].data["image"].sha256) == png_bytes(color=(0, 10, 10))
    other.close()


def test_restore_into_the_same_database_renumbers(store: Store, tmp_path: Path) -> None:
    _fill(store, 2)
    export_native(store, "pets", tmp_path / "e1")
    restore_native(store, tmp_path / "e1", name="pets-copy")
    export_native(store, "pets-copy", tmp_path / "e2")
    a, b = canonical_export(tmp_path / "e1"), canonical_export(tmp_path / "e2")
    assert a[0]["project"]["name"] == "pets" and b[0]["project"]["name"] == "pets-copy"
    assert a[1:] == b[1:]
    with pytest.raises(Conflict):
        restore_native(store, tmp_path / "e1", name="pets-copy")


def test_as_of_exports_the_past_state(sqlite_store: Store, tmp_path: Path) -> None:
    _fill(sqlite_store, 3)
    ex = export_native(sqlite_store, "pets", tmp_path / "early", as_of=T0 + timedelta(minutes=1, seconds=30))
    assert (ex.items, ex.suggestions, ex.annotations, ex.reviews) == (2, 0, 0, 0)
    ex = export_native(sqlite_store, "pets", tmp_path / "later", as_of=T0 + timedelta(hours=2, minutes=30))
    assert (ex.items, ex.suggestions, ex.annotations, ex.reviews) == (3, 3, 3, 0)
    header = canonical_export(tmp_path / "later")[0]
    assert header["as_of"] == (T0 + timedelta(hours=2, minutes=30)).isoformat()


def test_export_refuses_a_non_empty_folder(sqlite_store: Store, tmp_path: Path) -> None:
    _fill(sqlite_store, 1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(Conflict, match="not empty"):
        export_native(sqlite_store, "pets", tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_failed_export_publishes_nothing(sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(sqlite_store, 3)

    def boom(*_a: object, **_k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(native, "_write_page", boom)
    with pytest.raises(OSError, match="disk full"):
        export_native(sqlite_store, "pets", tmp_path / "out")
    assert list(tmp_path.iterdir()) == [tmp_path / "data"]


def _rewrite(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join(edit(lines)) + b"\n")


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda lines: lines[:-1], "truncated"),
        (lambda lines: lines[:-2] + lines[-1:], "do not match the content"),
        (lambda lines: [b'{"format": "other"}', *lines[1:]], "expected a labelloop.native header"),
        (lambda lines: [lines[0], b"{oops", *lines[1:]], "malformed JSON"),
        (lambda lines: [lines[0].replace(b'"version":1', b'"version":99'), *lines[1:]], "format version 1"),
        (
            lambda lines: [lines[0], orjson.dumps({**orjson.loads(lines[1]), "annotations": [{"id": 1}]}), *lines[2:]],
            "malformed",
        ),
    ],
)
def test_broken_exports_are_refused_whole(sqlite_store: Store, tmp_path: Path, edit, error: str) -> None:  # type: ignore[no-untyped-def]
    _fill(sqlite_store, 3)
    export_native(sqlite_store, "pets", tmp_path / "e")
    _rewrite(tmp_path / "e" / "labelloop.jsonl", edit)
    other = Store.open(None, tmp_path / "other")
    with pytest.raises(FormatError, match=error):
        restore_native(other, tmp_path / "e", name="x")
    with other.read() as tx:
        assert tx.projects.list() == []
    assert [p for p in other.blobs.root.rglob("*") if p.is_file() and ".staging" not in p.parts] == []
    other.close()


def test_tampered_media_is_refused(sqlite_store: Store, tmp_path: Path) -> None:
    _fill(sqlite_store, 2)
    export_native(sqlite_store, "pets", tmp_path / "e")
    victim = next((tmp_path / "e" / "media").iterdir())
    victim.write_bytes(b"not the original")
    other = Store.open(None, tmp_path / "other")
    with pytest.raises(FormatError, match="does not match its hash"):
        restore_native(other, tmp_path / "e")
    other.close()
