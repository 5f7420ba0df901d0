"""The helper process that parses large text manifests: failures and early stops lose nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelloop.core import LabelSchema
from labelloop.errors import LabelloopError
from labelloop.services.ingest import ImportLimits, import_source, parallel
from labelloop.services.ingest.service import _Run
from labelloop.storage import Store
from tests.helpers import IMAGE_SCHEMA, TEXT_SCHEMA

ALWAYS = ImportLimits(process_min_bytes=0, batch_size=50)


def _manifest(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"text": f"item {i} 中文"}, ensure_ascii=False) + "\n")
    return path


def _count_items(store: Store) -> int:
    with store.read() as tx:
        return len(tx.items.page(tx.projects.get("t").id, limit=100_000))


def test_only_large_text_manifests_use_a_helper_process() -> None:
    text = LabelSchema.model_validate(TEXT_SCHEMA)
    image = LabelSchema.model_validate(IMAGE_SCHEMA)
    limits = ImportLimits(process_min_bytes=1000)
    assert parallel.suits_process(text, 1000, limits)
    assert not parallel.suits_process(text, 999, limits)
    assert not parallel.suits_process(image, 10**9, limits)  # media files: blobs stay in this process
    assert not parallel.suits_process(text, 10**9, ImportLimits(process_min_bytes=None))


def test_helper_process_imports_in_order_across_batches(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    make_project("t", TEXT_SCHEMA)
    manifest = _manifest(tmp_path / "m.jsonl", 230)
    seen: list[tuple[int, int | None]] = []
    report = import_source(
        sqlite_store, "t", manifest, actor="user:test", limits=ALWAYS, progress=lambda d, t: seen.append((d, t))
    )
    assert report.items == 230 and not report.errors
    assert len(seen) == 5 and seen[-1] == (manifest.stat().st_size, manifest.stat().st_size)
    with sqlite_store.read() as tx:
        items = tx.items.page(tx.projects.get("t").id, limit=1000)
    assert [i.data["text"].text for i in items] == [f"item {i} 中文" for i in range(230)]
    assert items[7].source == "m.jsonl:8"


def test_a_helper_that_dies_fails_the_import_and_leaves_nothing(
    sqlite_store: Store, make_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project("t", TEXT_SCHEMA)
    manifest = _manifest(tmp_path / "m.jsonl", 120)
    # A module that reads our pickled request as JSON, fails and exits: the helper "died".
    monkeypatch.setattr(parallel, "_HELPER_MODULE", "json.tool")
    with pytest.raises(LabelloopError, match=r"helper parsing m.jsonl ended early \(exit code 1\)"):
        import_source(sqlite_store, "t", manifest, actor="user:test", limits=ALWAYS)
    assert _count_items(sqlite_store) == 0
    with sqlite_store.read() as tx:
        recorded = tx.imports.get(1)  # the only import of this store
    assert recorded["status"] == "failed" and "ended early" in recorded["message"]


def test_an_error_in_the_writer_stops_the_helper_and_rolls_back(
    sqlite_store: Store, make_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project("t", TEXT_SCHEMA)
    manifest = _manifest(tmp_path / "m.jsonl", 400)
    real_write = _Run.write
    calls = {"n": 0}

    def failing_write(self: _Run, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        real_write(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_Run, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        import_source(sqlite_store, "t", manifest, actor="user:test", limits=ALWAYS)
    assert _count_items(sqlite_store) == 0


def test_helper_reports_a_missing_manifest(tmp_path: Path) -> None:
    schema = LabelSchema.model_validate(TEXT_SCHEMA)
    with pytest.raises(LabelloopError, match=r"parsing gone.jsonl failed: FileNotFoundError"):
        list(parallel.prepared_in_process(tmp_path / "gone.jsonl", schema, ALWAYS))
