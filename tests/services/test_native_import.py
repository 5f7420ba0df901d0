"""``import --format native``: a native export into an existing project, with its whole history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelloop.core import NewAnnotation, NewReview, NewSuggestion, ReviewVerdict
from labelloop.errors import FormatError
from labelloop.services.ingest import import_source
from labelloop.services.native import canonical_export, export_native
from labelloop.storage import Store
from tests.helpers import IMAGE_SCHEMA, png_bytes, write

CAT_ONLY = {
    "media": [{"name": "image", "kind": "image"}],
    "controls": [{"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat"]}],
}


def _box(label: str, x: int = 1) -> dict:  # type: ignore[type-arg]
    return {"id": "b", "control": "objects", "label": label, "xyxy": [x, 1, 10, 10]}


@pytest.fixture
def exported(store: Store, make_project, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A project with suggestions, edited versions and reviews, exported natively."""
    make_project("src", IMAGE_SCHEMA, store)
    lines = []
    for i in range(3):
        write(tmp_path / "ds" / f"{i}.png", png_bytes(color=(i, 7, 7)))
        lines.append(json.dumps({"image": f"{i}.png", "annotations": [{"annotator": "a", "value": [_box("cat")]}]}))
    write(tmp_path / "ds" / "m.jsonl", "\n".join(lines) + "\n")
    import_source(store, "src", tmp_path / "ds" / "m.jsonl", actor="user:test")
    with store.transaction() as tx:
        p = tx.projects.get("src")
        items = tx.items.page(p.id)
        _, anns, _ = tx.labels.for_items([i.id for i in items])
        (sid,) = tx.labels.add_suggestions(p.id, [NewSuggestion(items[2].id, [_box("dog", 2)], "det", "v1", 0.8)])
        (aid,) = tx.labels.add_annotations(
            p.id, [NewAnnotation(items[2].id, [_box("dog", 2)], "b", parent_id=anns[2].id, suggestion_id=sid)]
        )
        tx.labels.add_reviews(p.id, [NewReview(aid, "rev", ReviewVerdict.ACCEPT, comment="ok")], [items[2].id])
    export_native(store, "src", tmp_path / "export")
    return tmp_path / "export"


def _items(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [x for x in canonical_export(path) if "content_hash" in x]


def test_round_trip_keeps_items_history_and_authors(store: Store, make_project, exported: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_project("copy", IMAGE_SCHEMA, store)
    rep = import_source(store, "copy", exported, actor="user:test", fmt="native")
    assert (rep.items, rep.duplicates, rep.annotations, rep.suggestions, rep.errors) == (3, 0, 4, 1, [])
    export_native(store, "copy", tmp_path / "again")
    assert _items(tmp_path / "again") == _items(exported)
    make_project("third", IMAGE_SCHEMA, store)
    import_source(store, "third", tmp_path / "again", actor="user:test", fmt="native")
    export_native(store, "third", tmp_path / "third")
    assert _items(tmp_path / "third") == _items(exported)
    again = import_source(store, "copy", exported, actor="user:test", fmt="native")
    assert (again.items, again.duplicates, again.annotations) == (0, 3, 0)


def test_items_that_do_not_fit_the_schema_are_refused_one_by_one(
    store: Store,
    make_project,
    exported: Path,  # type: ignore[no-untyped-def]
) -> None:
    make_project("cats", CAT_ONLY, store)
    rep = import_source(store, "cats", exported, actor="user:test", fmt="native")
    assert (rep.items, rep.annotations) == (2, 2)
    assert len(rep.errors) == 1 and rep.errors[0].line == 4 and "Input should be 'cat'" in rep.errors[0].reason
    assert str(rep.errors[0]).startswith("labelloop.jsonl:4: suggestions[0]")


def test_missing_media_refuses_that_item_only(store: Store, make_project, exported: Path) -> None:  # type: ignore[no-untyped-def]
    victim = sorted((exported / "media").iterdir())[0]
    victim.unlink()
    make_project("copy", IMAGE_SCHEMA, store)
    rep = import_source(store, "copy", exported, actor="user:test", fmt="native")
    # the blob is still in this store, so it is found there; in a fresh store it would be refused
    assert rep.items == 3 and rep.errors == []


def test_missing_media_in_a_fresh_store_is_a_per_item_error(exported: Path, tmp_path: Path) -> None:
    from labelloop.core import LabelSchema
    from labelloop.services.projects import create_project

    victim = sorted((exported / "media").iterdir())[0]
    victim.write_bytes(b"not the image")
    other = Store.open(None, tmp_path / "other")
    try:
        create_project(other, "copy", LabelSchema.model_validate(IMAGE_SCHEMA), "user:test")
        rep = import_source(other, "copy", exported, actor="user:test", fmt="native")
        assert rep.items == 2 and len(rep.errors) == 1
        assert "does not match its hash" in rep.errors[0].reason
    finally:
        other.close()


def test_truncated_export_imports_nothing(store: Store, make_project, exported: Path) -> None:  # type: ignore[no-untyped-def]
    jsonl = exported / "labelloop.jsonl"
    jsonl.write_text("".join(jsonl.read_text().splitlines(keepends=True)[:-1]))
    make_project("copy", IMAGE_SCHEMA, store)
    with pytest.raises(FormatError, match="truncated"):
        import_source(store, "copy", exported, actor="user:test", fmt="native")
    with store.read() as tx:
        assert tx.projects.counts(tx.projects.get("copy").id)["items"] == 0
