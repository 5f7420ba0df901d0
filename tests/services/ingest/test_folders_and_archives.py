"""Folder and zip imports: content-based media detection, hostile archives, all-or-nothing."""

from __future__ import annotations

import io
import re
import stat
import zipfile
from pathlib import Path

import pytest

from labelloop.errors import InputRejected
from labelloop.services.ingest import ImportLimits, ZipLimits, import_source
from labelloop.storage import Store
from labelloop.storage import repositories as repos
from tests.helpers import IMAGE_SCHEMA, jpeg_bytes, pcd_ascii, png_bomb, png_bytes, wav_bytes, write

MULTI_SCHEMA = {
    "media": [{"name": "image", "kind": "image"}, {"name": "caption", "kind": "text"}],
    "controls": [],
}


def _blob_files(store: Store) -> list[Path]:
    return [p for p in store.blobs.root.rglob("*") if p.is_file() and ".staging" not in p.parts]


def test_folder_detects_media_from_content(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    make_project("img", IMAGE_SCHEMA)
    src = tmp_path / "photos"
    write(src / "a.png", png_bytes())
    write(src / "sub" / "b.jpg", jpeg_bytes())
    write(src / "mislabelled.txt", png_bytes(color=(0, 0, 255)))  # a PNG named .txt: still an image
    write(src / "page.png", "<html><script>alert(1)</script></html>")  # HTML named .png
    write(src / "truncated.jpg", jpeg_bytes(seed=3)[:200])
    write(src / "song.wav", wav_bytes())
    write(src / "empty.png", b"")
    write(src / "bomb.png", png_bomb())
    write(src / ".hidden.png", png_bytes(color=(9, 9, 9)))
    report = import_source(sqlite_store, "img", src, actor="user:test")
    assert report.items == 3, report.errors
    reasons = {e.source: e.reason for e in report.errors}
    assert set(reasons) == {"page.png", "truncated.jpg", "song.wav", "empty.png", "bomb.png"}
    assert "100000x100000" in reasons["bomb.png"]
    assert "image content" in reasons["page.png"] and "got text content" in reasons["page.png"]
    assert "got audio content" in reasons["song.wav"]
    with sqlite_store.read() as tx:
        items = tx.items.page(tx.projects.get("img").id)
    assert sorted(i.key or "" for i in items) == ["a.png", "mislabelled.txt", "sub/b.jpg"]
    png = next(i for i in items if i.key == "a.png").data["image"]
    assert png.media_type == "image/png" and (png.meta["width"], png.meta["height"]) == (32, 24)
    assert sqlite_store.blobs.read_bytes(png.sha256) == png_bytes()
    again = import_source(sqlite_store, "img", src, actor="user:test")
    assert again.items == 0 and again.duplicates == 3 and again.blobs_new == 0


def test_multimodal_folder_groups_files_by_stem(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    make_project("mm", MULTI_SCHEMA)
    src = tmp_path / "pairs"
    write(src / "cat.png", png_bytes())
    write(src / "cat.txt", "一只猫 a cat")
    write(src / "dog.jpg", jpeg_bytes())
    write(src / "dog.txt", "a dog")
    write(src / "lonely.png", png_bytes(color=(1, 1, 1)))
    write(src / "cloud.pcd", pcd_ascii())
    report = import_source(sqlite_store, "mm", src, actor="user:test")
    assert report.items == 2
    reasons = {e.source: e.reason for e in report.errors}
    assert "missing ['caption']" in reasons["lonely"]
    assert "got pointcloud" in reasons["cloud.pcd"]
    with sqlite_store.read() as tx:
        items = tx.items.page(tx.projects.get("mm").id)
    cat = next(i for i in items if i.key == "cat")
    assert cat.data["caption"].text == "一只猫 a cat" and cat.data["image"].kind.value == "image"


def _zip(members: dict[str, bytes], *, symlink: str | None = None, level: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=level) as z:
        for name, data in members.items():
            z.writestr(name, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc")
    return buf.getvalue()


def test_zip_import(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    make_project("img", IMAGE_SCHEMA)
    archive = write(
        tmp_path / "batch.zip", _zip({"x/a.png": png_bytes(), "b.jpg": jpeg_bytes(), "__MACOSX/._a.png": b"junk"})
    )
    report = import_source(sqlite_store, "img", archive, actor="user:test")
    assert report.items == 2 and report.errors == []
    assert not list((sqlite_store.data_dir / "tmp").iterdir())


@pytest.mark.parametrize(
    ("members", "symlink", "limits", "error"),
    [
        ({"../evil.png": b"x"}, None, ZipLimits(), "member '../evil.png'"),
        ({"/etc/evil.png": b"x"}, None, ZipLimits(), "member '/etc/evil.png'"),
        ({"C:\\evil.png": b"x"}, None, ZipLimits(), "member 'C:\\\\evil.png'"),
        ({"ok.png": b"x"}, "link", ZipLimits(), "symbolic link 'link'"),
        ({"a.png": b"x", "A.PNG": b"y"}, None, ZipLimits(), "duplicate member"),
        ({"bomb.txt": b"\0" * (4 * 2**20)}, None, ZipLimits(), "possible zip bomb"),
        ({f"{i}.png": b"x" for i in range(20)}, None, ZipLimits(max_members=10), "at most 10 members"),
        (
            {"a.png": b"x" * 5000, "b.png": b"y" * 5000},
            None,
            ZipLimits(max_total_bytes=8000, max_ratio=1e9),
            "at most 8000 bytes",
        ),
    ],
)
def test_hostile_zips_are_refused_whole(
    sqlite_store: Store,
    make_project,
    tmp_path: Path,
    members: dict[str, bytes],
    symlink: str | None,
    limits: ZipLimits,
    error: str,
) -> None:
    make_project("img", IMAGE_SCHEMA)
    members = {"good.png": png_bytes(), **members}
    archive = write(tmp_path / "evil.zip", _zip(members, symlink=symlink))
    with pytest.raises(InputRejected, match=re.escape(error)):
        import_source(sqlite_store, "img", archive, actor="user:test", limits=ImportLimits(zip=limits))
    with sqlite_store.read() as tx:
        p = tx.projects.get("img")
        assert tx.projects.counts(p.id)["items"] == 0
        rows = tx.conn.exec_driver_sql("select status, message from imports").all()
    assert rows[-1][0] == "failed" and error.split("'", maxsplit=1)[0] in rows[-1][1]
    assert _blob_files(sqlite_store) == []
    assert not (tmp_path.parent / "evil.png").exists()
    assert not list((sqlite_store.data_dir / "tmp").iterdir())


def test_corrupt_zip_is_a_clear_error(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    make_project("img", IMAGE_SCHEMA)
    data = _zip({"a.png": png_bytes()})
    archive = write(tmp_path / "cut.zip", data[: len(data) // 2])
    with pytest.raises(InputRejected, match=r"cut\.zip: expected a readable zip archive"):
        import_source(sqlite_store, "img", archive, actor="user:test")


def test_failure_mid_import_rolls_back_everything(
    sqlite_store: Store, make_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project("img", IMAGE_SCHEMA)
    src = tmp_path / "many"
    for i in range(6):
        write(src / f"{i}.png", png_bytes(color=(i, 0, 0)))
    real = repos.ItemRepo.add_rows
    calls = {"n": 0}

    def flaky(self, *a, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(self, *a, **kw)

    monkeypatch.setattr(repos.ItemRepo, "add_rows", flaky)
    with pytest.raises(OSError, match="disk full"):
        import_source(sqlite_store, "img", src, actor="user:test", limits=ImportLimits(batch_size=2))
    with sqlite_store.read() as tx:
        assert tx.projects.counts(tx.projects.get("img").id)["items"] == 0
        status, message = tx.conn.exec_driver_sql("select status, message from imports").one()
    assert status == "failed" and "disk full" in message
    assert _blob_files(sqlite_store) == []


def test_missing_source_is_a_clear_error(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    make_project("img", IMAGE_SCHEMA)
    with pytest.raises(InputRejected, match="nothing at that path"):
        import_source(sqlite_store, "img", tmp_path / "nope", actor="user:test")
