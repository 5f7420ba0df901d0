"""Releases: frozen label versions, immutability, diff, lineage, signed export, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from pycocotools.coco import COCO
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from labelloop.core import AnnotationStatus, NewAnnotation, NewReview, NewSuggestion, ReviewVerdict
from labelloop.errors import Conflict, InputRejected, NotFound
from labelloop.services.ingest import import_source
from labelloop.services.native import restore_native
from labelloop.services.release_export import export_release, verify_release_export
from labelloop.services.releases import (
    create_release,
    diff_releases,
    iter_lineage,
    list_releases,
    show_release,
)
from labelloop.storage import Store, now
from tests.helpers import IMAGE_SCHEMA, png_bytes, write


def _box(label: str, xyxy: list[float], rid: str = "b") -> dict:  # type: ignore[type-arg]
    return {"id": rid, "control": "objects", "label": label, "xyxy": xyxy}


@pytest.fixture
def pets(store: Store, make_project, tmp_path: Path) -> Store:  # type: ignore[no-untyped-def]
    """Four images; three carry one 'cat' box from the import, the fourth none."""
    make_project("pets", IMAGE_SCHEMA, store)
    lines = []
    for i in range(4):
        write(tmp_path / "ds" / f"{i}.png", png_bytes(color=(i, 50, 50)))
        ann = [{"annotator": "ann", "value": [_box("cat", [1, 2, 20, 22])]}]
        lines.append(json.dumps({"image": f"{i}.png", "id": f"img{i}", "annotations": ann if i < 3 else []}))
    write(tmp_path / "ds" / "m.jsonl", "\n".join(lines) + "\n")
    import_source(store, "pets", tmp_path / "ds" / "m.jsonl", actor="user:test")
    return store


def _edit_first(store: Store, value: list) -> int:  # type: ignore[type-arg]
    """Add a new submitted version of the first item's annotation; return the item id."""
    with store.transaction() as tx:
        p = tx.projects.get("pets")
        first = tx.items.page(p.id, limit=1)[0]
        _, anns, _ = tx.labels.for_items([first.id])
        tx.labels.add_annotations(p.id, [NewAnnotation(first.id, value, "rev", parent_id=anns[-1].id)])
    return first.id


def test_release_freezes_current_versions_and_counts(pets: Store) -> None:
    r = create_release(pets, "pets", "v1", "user:test")
    assert (r.items, r.labelled, r.regions) == (4, 3, 3)
    assert r.sealed and len(r.merkle_root or "") == 64 and r.signature and r.parent_id is None
    _edit_first(pets, [_box("dog", [2, 2, 30, 20]), _box("cat", [5, 5, 9, 9], "c")])
    r2 = create_release(pets, "pets", "v2", "user:test")
    assert r2.parent_id == r.id and r2.regions == 4 and r2.merkle_root != r.merkle_root
    assert [x.name for x in list_releases(pets, "pets")] == ["v1", "v2"]
    info = show_release(pets, "pets", "v2")
    assert info.signature_ok is True and info.parent is not None and info.parent.name == "v1"
    assert info.classes == {"cat": 3, "dog": 1}
    # v1 still shows what it froze
    assert show_release(pets, "pets", "v1").classes == {"cat": 3}


def test_drafts_and_future_edits_are_not_released(pets: Store) -> None:
    with pets.transaction() as tx:
        p = tx.projects.get("pets")
        last = tx.items.page(p.id)[-1]
        tx.labels.add_annotations(
            p.id, [NewAnnotation(last.id, [_box("dog", [1, 1, 5, 5])], "x", AnnotationStatus.DRAFT)]
        )
    before = now()
    _edit_first(pets, [_box("dog", [1, 1, 4, 4])])
    r = create_release(pets, "pets", "past", "user:test", as_of=before - timedelta(microseconds=1))
    assert (r.labelled, r.regions) == (3, 3)
    assert show_release(pets, "pets", "past").classes == {"cat": 3}


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "match"),
    [
        ("bad name/..", {}, InputRejected, "release name"),
        ("", {}, InputRejected, "release name"),
        ("v9", {"as_of": now() + timedelta(days=1)}, InputRejected, "not after now"),
        ("v9", {"parent": "nope"}, NotFound, "release 'nope' not found"),
    ],
)
def test_bad_release_requests_are_refused(pets: Store, name: str, kwargs: dict, error: type, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(error, match=match):
        create_release(pets, "pets", name, "user:test", **kwargs)
    assert list_releases(pets, "pets") == []  # nothing half-written


def test_release_names_are_unique_per_project(pets: Store) -> None:
    create_release(pets, "pets", "v1", "user:test")
    with pytest.raises(Conflict, match="'v1' already exists"):
        create_release(pets, "pets", "v1", "user:test")
    with pytest.raises(NotFound):
        create_release(pets, "nope", "v1", "user:test")


def test_the_database_refuses_to_change_a_sealed_release(pets: Store) -> None:
    create_release(pets, "pets", "v1", "user:test")
    for sql in (
        "UPDATE releases SET merkle_root = 'x'",
        "DELETE FROM releases",
        "UPDATE release_labels SET annotation_id = NULL",
        "DELETE FROM release_labels",
    ):
        with pytest.raises(DBAPIError, match=r"immutable|append-only"), pets.engine.begin() as c:
            c.execute(text(sql))
    assert list_releases(pets, "pets")[0].merkle_root is not None


def test_diff_per_item_and_class(pets: Store) -> None:
    create_release(pets, "pets", "v1", "user:test")
    _edit_first(pets, [_box("dog", [2, 2, 30, 20]), _box("cat", [5, 5, 9, 9], "c")])
    with pets.transaction() as tx:  # label the fourth, unlabelled image
        p = tx.projects.get("pets")
        last = tx.items.page(p.id)[-1]
        tx.labels.add_annotations(p.id, [NewAnnotation(last.id, [_box("dog", [1, 1, 8, 8])], "ann")])
    create_release(pets, "pets", "v2", "user:test")
    d = diff_releases(pets, "pets", "v1", "v2")
    assert d.items == {"added": 1, "removed": 0, "changed": 1, "unchanged": 2}
    # region b: cat -> dog (changed under both), region c: a new cat, last item: a new dog
    assert d.classes == {
        "cat": {"added": 1, "removed": 0, "changed": 1},
        "dog": {"added": 1, "removed": 0, "changed": 1},
    }
    assert sorted(r.change for r in d.rows) == ["added", "changed"]
    assert {r.key for r in d.rows} == {"img0", "img3"}
    back = diff_releases(pets, "pets", "v2", "v1")
    assert back.items["removed"] == 1 and back.classes["dog"]["removed"] == 1
    assert diff_releases(pets, "pets", "v1", "v1").items["unchanged"] == 4
    assert diff_releases(pets, "pets", "v1", "v2", max_rows=1).truncated


def test_lineage_names_annotator_backend_model_and_reviews(pets: Store) -> None:
    with pets.transaction() as tx:
        p = tx.projects.get("pets")
        last = tx.items.page(p.id)[-1]
        (sid,) = tx.labels.add_suggestions(
            p.id, [NewSuggestion(last.id, [_box("dog", [1, 1, 8, 8])], "image.detect", "m-1.2", 0.9)]
        )
        (aid,) = tx.labels.add_annotations(
            p.id, [NewAnnotation(last.id, [_box("dog", [1, 1, 8, 8])], "alice", suggestion_id=sid)]
        )
        tx.labels.add_reviews(p.id, [NewReview(aid, "bob", ReviewVerdict.ACCEPT)], [last.id])
    create_release(pets, "pets", "v1", "user:test")
    rows = list(iter_lineage(pets, "pets", "v1"))
    assert len(rows) == 4
    last_row = rows[-1]["label"]
    assert last_row["origin"] == "suggestion-accepted" and last_row["annotator"] == "alice"
    assert last_row["suggestion"]["backend"] == "image.detect" and last_row["suggestion"]["model_version"] == "m-1.2"
    assert [r["verdict"] for r in last_row["reviews"]] == ["accept"]
    assert rows[0]["label"]["origin"] == "human" and rows[0]["label"]["suggestion"] is None


def test_export_is_the_frozen_version_after_later_edits(pets: Store, tmp_path: Path) -> None:
    create_release(pets, "pets", "v1", "user:test")
    _edit_first(pets, [_box("dog", [2, 2, 30, 20])])  # after the release
    rep = export_release(pets, "pets", "v1", "coco", tmp_path / "v1")
    assert (rep.items, rep.regions, rep.skipped) == (4, 3, 0)
    gt = COCO(str(tmp_path / "v1" / "data" / "annotations.json"))
    names = {c["id"]: c["name"] for c in gt.loadCats(gt.getCatIds())}
    assert sorted(names[a["category_id"]] for a in gt.loadAnns(gt.getAnnIds())) == ["cat", "cat", "cat"]
    assert len(gt.getImgIds()) == 4
    report = verify_release_export(pets, tmp_path / "v1")
    assert report.ok and report.trusted and report.labels == 4 and report.files == 6, report.problems
    lineage = [json.loads(x) for x in (tmp_path / "v1" / "lineage.jsonl").read_text().splitlines()]
    assert [x["label"] is None for x in lineage] == [False, False, False, True]


def test_native_release_export_restores_the_project_as_of_the_release(pets: Store, tmp_path: Path) -> None:
    r1 = create_release(pets, "pets", "v1", "user:test")
    _edit_first(pets, [_box("dog", [2, 2, 30, 20])])
    r2 = create_release(pets, "pets", "v2", "user:test")
    export_release(pets, "pets", "v1", "native", tmp_path / "v1")
    export_release(pets, "pets", "v2", "native", tmp_path / "v2")
    assert verify_release_export(pets, tmp_path / "v2", parent=tmp_path / "v1").ok
    manifest = json.loads((tmp_path / "v2" / "release.json").read_text())["manifest"]
    assert manifest["parent"] == {"name": "v1", "merkle_root": r1.merkle_root}
    assert manifest["merkle_root"] == r2.merkle_root
    restored = restore_native(pets, tmp_path / "v1" / "data", name="pets-v1")
    assert (restored.items, restored.annotations) == (4, 3)  # the edit came after v1


def test_export_refuses_when_the_database_no_longer_matches(pets: Store, tmp_path: Path) -> None:
    create_release(pets, "pets", "v1", "user:test")
    # an attacker with database access bypasses the triggers and rewrites a frozen label
    with pets.engine.begin() as c:
        if c.dialect.name == "sqlite":
            c.execute(text("DROP TRIGGER annotations_no_update"))
        else:
            c.execute(text("ALTER TABLE annotations DISABLE TRIGGER annotations_append_only"))
        c.execute(text("UPDATE annotations SET annotator = 'mallory' WHERE id = (SELECT min(id) FROM annotations)"))
    from labelloop.compliance.signing import TamperDetected

    with pytest.raises(TamperDetected, match="no longer matches"):
        export_release(pets, "pets", "v1", "coco", tmp_path / "v1")
    assert not (tmp_path / "v1").exists()


def test_demo_release_step_releases_exports_and_verifies(pets: Store, tmp_path: Path) -> None:
    from labelloop.services.release_demo import release_demo

    for run in (1, 2):  # re-running the demo makes the next release
        lines = [d for _, d in release_demo(pets, ["pets"], tmp_path / "rel")]
        assert lines[0].startswith(f"pets: demo-{run} of 4 items (3 labelled)")
        assert [("signature verified" in x, "PROBLEM" in x) for x in lines[1:]] == [(True, False)] * 2
        assert (tmp_path / "rel" / f"pets-demo-{run}-coco" / "data" / "annotations.json").is_file()


def test_release_export_is_a_provenance_event_of_its_actor(pets: Store, tmp_path: Path) -> None:
    r = create_release(pets, "pets", "v1", "user:test")
    rep = export_release(pets, "pets", "v1", "coco", tmp_path / "v1", actor="user:alice", destination="download:x.zip")
    with pets.read() as tx:
        p = tx.projects.get("pets")
        (event,) = [e for e in tx.provenance.events(p.id) if e.kind == "export"]
    assert event.actor == "user:alice"
    assert event.subject == {"release": "v1", "release_id": r.id, "format": "coco", "path": "download:x.zip"}
    manifest_sha = hashlib.sha256((tmp_path / "v1" / "release.json").read_bytes()).hexdigest()
    assert event.payload["manifest_sha256"] == manifest_sha and event.payload["files"] == rep.files == 6
    assert event.payload["merkle_root"] == rep.merkle_root and event.payload["items"] == 4


def test_lineage_pages_by_item_cursor(pets: Store) -> None:
    create_release(pets, "pets", "v1", "user:test")
    whole = [r["item_id"] for r in iter_lineage(pets, "pets", "v1")]
    first = [r["item_id"] for r in iter_lineage(pets, "pets", "v1", limit=3, batch=2)]
    rest = [r["item_id"] for r in iter_lineage(pets, "pets", "v1", after_item_id=first[-1], limit=3)]
    assert first + rest == whole and len(first) == 3 and len(rest) == 1
    assert list(iter_lineage(pets, "pets", "v1", after_item_id=whole[-1])) == []


def _zip_files(path: Path) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}


@pytest.mark.parametrize("fmt", ["csv", "voc", "native"])
def test_a_release_exported_as_a_zip_holds_the_folder_and_verifies(pets: Store, tmp_path: Path, fmt: str) -> None:
    create_release(pets, "pets", "v1", "user:test")
    folder = export_release(pets, "pets", "v1", fmt, tmp_path / "v1")
    packed = export_release(pets, "pets", "v1", fmt, tmp_path / "v1.zip")
    assert (packed.items, packed.files, packed.merkle_root) == (folder.items, folder.files, folder.merkle_root)
    files = {
        p.relative_to(tmp_path / "v1").as_posix(): p.read_bytes() for p in (tmp_path / "v1").rglob("*") if p.is_file()
    }
    members = _zip_files(tmp_path / "v1.zip")
    assert sorted(members) == sorted(files)
    manifests = [json.loads(x["release.json"])["manifest"] for x in (files, members)]
    assert manifests[0].pop("provenance") != manifests[1].pop("provenance")  # (the first export is an event)
    if fmt == "native":  # (a native export stamps its own time: the same files and sizes)
        assert [(f["path"], f["size"]) for f in manifests[0]["files"]] == [
            (f["path"], f["size"]) for f in manifests[1]["files"]
        ]
    else:  # every file's hash and size: the same bytes
        assert manifests[0] == manifests[1]
        assert {k: v for k, v in members.items() if k != "release.json"} == {
            k: v for k, v in files.items() if k != "release.json"
        }
    report = verify_release_export(pets, tmp_path / "v1.zip")
    assert report.ok and report.trusted and report.labels == 4 and report.path == tmp_path / "v1.zip", report.problems
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_a_tampered_release_zip_does_not_verify(pets: Store, tmp_path: Path) -> None:
    import zipfile

    create_release(pets, "pets", "v1", "user:test")
    export_release(pets, "pets", "v1", "csv", tmp_path / "v1.zip")
    members = _zip_files(tmp_path / "v1.zip")
    members["data/annotations.csv"] = members["data/annotations.csv"].replace(b"cat", b"dog")
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    report = verify_release_export(pets, tmp_path / "bad.zip")
    assert not report.ok and "data/annotations.csv" in (report.first or ""), report.problems
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("../escape.txt", b"x")
    report = verify_release_export(pets, tmp_path / "evil.zip")
    assert not report.ok and "not a release zip" in (report.first or "")
    assert not (tmp_path.parent / "escape.txt").exists()


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(pets: Store, tmp_path: Path) -> None:
    import zipfile

    create_release(pets, "pets", "v1", "user:test")
    export_release(pets, "pets", "v1", "csv", tmp_path / "v1.zip")
    members = _zip_files(tmp_path / "v1.zip")
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("data/zeros.bin", bytes(50 << 20))  # 50 MiB of zeros deflate about 1000:1
    report = verify_release_export(pets, tmp_path / "bomb.zip")
    assert not report.ok and "zip bomb" in (report.first or "") and "data/zeros.bin" in (report.first or "")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # nothing was left unpacked


def test_a_release_zip_of_ordinary_labels_compresses_within_the_limits(pets: Store, tmp_path: Path) -> None:
    import zipfile

    from labelloop.services.release_export import VERIFY_LIMITS

    create_release(pets, "pets", "v1", "user:test")
    export_release(pets, "pets", "v1", "native", tmp_path / "v1.zip")
    with zipfile.ZipFile(tmp_path / "v1.zip") as zf:
        ratios = [i.file_size / i.compress_size for i in zf.infolist() if i.compress_size]
    assert ratios and max(ratios) < VERIFY_LIMITS.max_ratio
    assert verify_release_export(pets, tmp_path / "v1.zip").ok
