"""Imports of uploaded files: every shape the CLI takes, per-item errors, and hostile uploads
that are refused whole with nothing written."""

from __future__ import annotations

import doctest
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import LabelSchema
from labelloop.errors import FormatError, InputRejected
from labelloop.services import web_imports
from labelloop.services.ingest import ImportLimits
from labelloop.services.jobs import CancelFlag, JobCancelled, Progress
from labelloop.services.projects import create_project
from labelloop.services.web_exports import export_file, run_export
from labelloop.services.web_imports import Upload, UploadTooLarge, clean_stale_uploads, run_import
from labelloop.storage import Store
from tests.helpers import IMAGE_SCHEMA, TEXT_SCHEMA, png_bytes

NER_SCHEMA = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [{"name": "entities", "kind": "spans", "target": "text", "labels": ["PER", "ORG", "LOC"]}],
}


def test_docs_run() -> None:
    assert doctest.testmod(web_imports, optionflags=doctest.ELLIPSIS).failed == 0


def _project(store: Store, schema: dict[str, Any], name: str = "p") -> int:
    return create_project(store, name, LabelSchema.model_validate(schema), "user:test").id


def _upload(store: Store, name: str, data: bytes, max_bytes: int = 10**8) -> Upload:
    up = Upload(store, name, max_bytes)
    for i in range(0, len(data), 1000):
        up.write(data[i : i + 1000])
    up.finish()
    return up


def _zip(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _count(store: Store, pid: int) -> int:
    with store.read() as tx:
        return int(tx.projects.counts(pid)["items"])


def _nothing_left(store: Store) -> None:
    for sub in ("uploads", "tmp"):
        folder = store.data_dir / sub
        assert not folder.exists() or list(folder.iterdir()) == [], (sub, list(folder.iterdir()))


def test_upload_limits_and_names(sqlite_store: Store) -> None:
    up = Upload(sqlite_store, "../../etc/passwd", max_bytes=10)
    assert up.path.parent == up.folder and up.path.name == "passwd"
    up.write(b"12345")
    with pytest.raises(UploadTooLarge, match="at most 10 bytes"):
        up.write(b"678901")
    up.discard()
    empty = Upload(sqlite_store, "x.jsonl")
    with pytest.raises(InputRejected, match="an empty body"):
        empty.finish()
    empty.discard()
    _nothing_left(sqlite_store)


def test_a_manifest_with_bad_lines_imports_the_rest(store: Store) -> None:
    pid = _project(store, TEXT_SCHEMA)
    good = {"id": "a", "control": "sentiment", "labels": ["pos"]}
    lines = [
        json.dumps({"text": "fine one", "annotations": [{"annotator": "x", "value": [good]}]}),
        "{not json",
        json.dumps(
            {"text": "wrong label", "annotations": [{"annotator": "x", "value": [{**good, "labels": ["meh"]}]}]}
        ),
        json.dumps({"text": "fine two"}),
        json.dumps({"nope": 1}),
    ]
    up_bytes = ("\n".join(lines) + "\n").encode()
    up = _upload(store, "reviews.jsonl", up_bytes)
    rec = Progress()
    out = run_import(store, pid, up, "auto", actor="user:mgr", progress=rec)
    assert out["items"] == 2 and out["annotations"] == 1 and out["refused"] == 3 and not out["errors_truncated"]
    assert [(e["source"], e["line"]) for e in out["errors"]] == [
        ("reviews.jsonl", 2),
        ("reviews.jsonl", 3),
        ("reviews.jsonl", 5),
    ]
    assert "labels.0: Input should be 'pos'" in out["errors"][1]["reason"]
    assert _count(store, pid) == 2  # the refused lines left nothing, not even an item without its label
    assert rec.snapshot() == (len(up_bytes), len(up_bytes), "imported")  # bytes of the manifest, all read
    with store.read() as tx:
        assert tx.imports.get(out["import_id"])["created_by"] == "user:mgr"
        assert len(tx.imports.errors(out["import_id"])) == 3
    _nothing_left(store)


def test_one_media_file_and_a_zip_of_them(sqlite_store: Store) -> None:
    pid = _project(sqlite_store, IMAGE_SCHEMA)
    assert run_import(sqlite_store, pid, _upload(sqlite_store, "cat.png", png_bytes()), "auto", actor="u")["items"] == 1
    z = _zip({"a.png": png_bytes(color=(1, 2, 3)), "b/b.png": png_bytes(color=(4, 5, 6)), "bad.png": b"<html>"})
    out = run_import(sqlite_store, pid, _upload(sqlite_store, "pics.zip", z), "auto", actor="u")
    assert out["items"] == 2 and out["refused"] == 1 and out["errors"][0]["source"] == "bad.png"
    _nothing_left(sqlite_store)


def test_media_references_cannot_leave_the_upload(sqlite_store: Store, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes(color=(9, 9, 9)))
    pid = _project(sqlite_store, IMAGE_SCHEMA)
    manifest = "".join(
        json.dumps({"image": ref}) + "\n"
        for ref in ("ok.png", "../../secret.png", str(secret), "..%2f..%2fsecret.png", "C:\\secret.png")
    )
    z = _zip({"manifest.jsonl": manifest, "ok.png": png_bytes()})
    out = run_import(sqlite_store, pid, _upload(sqlite_store, "m.zip", z), "auto", actor="u")
    assert out["items"] == 1 and out["refused"] == 4, out
    with sqlite_store.read() as tx:
        (item,) = tx.items.page(pid, limit=10)
    assert item.data["image"].sha256 != hashlib.sha256(secret.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "members",
    [
        {"../../evil.png": png_bytes()},
        {"/etc/evil.png": png_bytes()},
        {"C:\\evil.png": png_bytes()},
        {"a.png": png_bytes(), "A.PNG": png_bytes(color=(1, 1, 1))},
    ],
    ids=["dotdot", "absolute", "drive", "duplicate"],
)
def test_a_hostile_zip_is_refused_whole(store: Store, members: dict[str, bytes]) -> None:
    pid = _project(store, IMAGE_SCHEMA)
    with pytest.raises(InputRejected) as exc:
        run_import(
            store, pid, _upload(store, "evil.zip", _zip({"fine.png": png_bytes(), **members})), "auto", actor="u"
        )
    assert str(exc.value).startswith("evil.zip: expected") and str(store.data_dir) not in str(exc.value)
    assert _count(store, pid) == 0
    assert not (store.data_dir / "blobs").exists() or not any(
        p.is_file() for p in (store.data_dir / "blobs").rglob("*")
    )
    assert not (store.data_dir.parent / "evil.png").exists() and not Path("/etc/evil.png").exists()
    _nothing_left(store)


def test_a_symlink_member_is_refused(sqlite_store: Store) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link.png")
        info.external_attr = (0o120777 << 16) | 0x20
        zf.writestr(info, "/")
    pid = _project(sqlite_store, IMAGE_SCHEMA)
    with pytest.raises(InputRejected, match="symbolic link"):
        run_import(sqlite_store, pid, _upload(sqlite_store, "l.zip", buf.getvalue()), "auto", actor="u")
    _nothing_left(sqlite_store)


def test_voc_with_xml_entities_is_an_item_error(sqlite_store: Store) -> None:
    pid = _project(sqlite_store, IMAGE_SCHEMA)

    def xml(name: str, doctype: str = "") -> str:
        return (
            f"{doctype}<annotation><filename>{name}</filename><size><width>32</width><height>24</height></size>"
            "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>10</xmax><ymax>12</ymax></bndbox>"
            "</object></annotation>"
        )

    evil = '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    z = _zip({
        "Annotations/a.xml": xml("a.png"), "JPEGImages/a.png": png_bytes(),
        "Annotations/b.xml": xml("b.png", evil), "JPEGImages/b.png": png_bytes(color=(1, 1, 1)),
    })  # fmt: skip
    out = run_import(sqlite_store, pid, _upload(sqlite_store, "voc.zip", z), "voc", actor="u")
    assert out["items"] == 1 and out["annotations"] == 1 and out["refused"] == 1
    assert "XML entities not allowed" in out["errors"][0]["reason"]


def test_coco_with_a_path_out_of_the_dataset(sqlite_store: Store) -> None:
    pid = _project(sqlite_store, IMAGE_SCHEMA)
    coco = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 32, "height": 24},
            {"id": 2, "file_name": "../../../etc/passwd", "width": 32, "height": 24},
        ],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 8]}],
        "categories": [{"id": 1, "name": "cat"}],
    }
    z = _zip({"annotations.json": json.dumps(coco), "images/a.png": png_bytes()})
    out = run_import(sqlite_store, pid, _upload(sqlite_store, "coco.zip", z), "coco", actor="u")
    assert out["items"] == 1 and out["annotations"] == 1 and out["refused"] == 1
    assert "images[1]" in out["errors"][0]["source"] or "passwd" in out["errors"][0]["reason"], out["errors"]


def test_formats_that_fit_in_one_file(sqlite_store: Store) -> None:
    ner = _project(sqlite_store, NER_SCHEMA, "ner")
    conll = "-DOCSTART- O\n\nAlice B-PER\nworks O\nat O\nACME B-ORG\n\nBob B-PER\nlaughs O\n"
    out = run_import(sqlite_store, ner, _upload(sqlite_store, "train.txt", conll.encode()), "conll2003", actor="u")
    assert out["items"] == 1 and out["refused"] == 0, out
    tasks = [
        {"data": {"text": "hello Alice"}, "annotations": [{"result": [
            {"id": "r1", "from_name": "entities", "to_name": "text", "type": "labels",
             "value": {"start": 6, "end": 11, "text": "Alice", "labels": ["PER"]}}]}]},
        {"data": {"text": "bad label"}, "annotations": [{"result": [
            {"id": "r2", "from_name": "entities", "to_name": "text", "type": "labels",
             "value": {"start": 0, "end": 3, "text": "bad", "labels": ["NOPE"]}}]}]},
    ]  # fmt: skip
    out = run_import(
        sqlite_store, ner, _upload(sqlite_store, "export.json", json.dumps(tasks).encode()), "label_studio", actor="u"
    )
    assert out["items"] == 1 and out["refused"] == 1 and "tasks.json[1]" in out["errors"][0]["source"], out["errors"]
    with pytest.raises(InputRejected, match=r"a format chosen for a \.json file"):
        run_import(sqlite_store, ner, _upload(sqlite_store, "export.json", b"[]"), "auto", actor="u")
    with pytest.raises(InputRejected, match="a zip archive of a yolo dataset folder, got a single file"):
        run_import(sqlite_store, ner, _upload(sqlite_store, "data.yaml", b"names: [a]"), "yolo", actor="u")
    with pytest.raises(InputRejected, match="format: expected one of"):
        run_import(sqlite_store, ner, _upload(sqlite_store, "x.bin", b"x"), "pickle", actor="u")
    _nothing_left(sqlite_store)


def test_native_zip_round_trip(store: Store) -> None:
    src = _project(store, TEXT_SCHEMA, "src")
    lines = "".join(json.dumps({"text": f"t{i}"}) + "\n" for i in range(5))
    run_import(store, src, _upload(store, "t.jsonl", lines.encode()), "auto", actor="u")
    zipped = export_file(store, src, run_export(store, src, "native", {})["file"]).read_bytes()
    dst = _project(store, TEXT_SCHEMA, "dst")
    out = run_import(store, dst, _upload(store, "backup.zip", zipped), "native", actor="u")
    assert out["items"] == 5 and _count(store, dst) == 5
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        jsonl = zf.read("labelloop.jsonl")
    alone = _project(store, TEXT_SCHEMA, "alone")  # a text project's export is its JSONL alone
    out = run_import(store, alone, _upload(store, "pets-export.jsonl", jsonl), "native", actor="u")
    assert out["items"] == 5 and _count(store, alone) == 5
    with pytest.raises(FormatError, match=r"expected a labelloop\.native header line"):  # a plain manifest
        run_import(store, dst, _upload(store, "t.jsonl", lines.encode()), "native", actor="u")
    _nothing_left(store)


def test_a_cancelled_import_keeps_nothing(store: Store) -> None:
    pid = _project(store, IMAGE_SCHEMA)
    z = _zip({f"{i}.png": png_bytes(color=(i, 0, 0)) for i in range(30)})
    flag = CancelFlag()

    class CancelOnFirst(Progress):
        def __call__(self, done: int, total: int | None = None, message: str | None = None) -> None:
            super().__call__(done, total, message)
            flag.set("user")

    with pytest.raises(JobCancelled):  # (batches of 5: progress comes between batches)
        run_import(
            store, pid, _upload(store, "pics.zip", z), "auto", actor="u", progress=CancelOnFirst(), cancel=flag,
            limits=ImportLimits(batch_size=5),
        )  # fmt: skip
    assert _count(store, pid) == 0
    assert not any(p.is_file() for p in (store.data_dir / "blobs").rglob("*"))  # new blob files removed again
    with store.read() as tx:
        rows = tx.conn.exec_driver_sql("SELECT status FROM imports").all()
    assert [r[0] for r in rows] == ["failed"]
    _nothing_left(store)


def test_stale_upload_folders_are_cleaned(sqlite_store: Store) -> None:
    up = Upload(sqlite_store, "left.zip")
    up.write(b"PK")
    assert clean_stale_uploads(sqlite_store, older_than_s=3600) == 0  # fresh: a running import's
    assert clean_stale_uploads(sqlite_store, older_than_s=-1) == 1
    assert not up.folder.exists()
