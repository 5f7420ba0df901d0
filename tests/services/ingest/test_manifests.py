"""JSONL and CSV manifests: per-line errors with line numbers while the rest imports."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from labelloop.services.ingest import ImportLimits, import_source
from labelloop.storage import Store
from tests.helpers import IMAGE_SCHEMA, TEXT_SCHEMA, png_bytes, write


def _jsonl(*rows: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows)


GOOD_ANN = {"annotator": "alice", "value": [{"id": "s", "control": "sentiment", "labels": ["pos"]}], "lead_time_s": 2.5}


# Both ways of preparing a manifest: a helper thread, and a helper process (large text manifests).
PREPARE_MODES = pytest.mark.parametrize("process_min_bytes", [None, 0], ids=["thread", "helper-process"])


@PREPARE_MODES
def test_jsonl_imports_items_labels_and_reports_each_bad_line(
    sqlite_store: Store, make_project, tmp_path: Path, process_min_bytes: int | None
) -> None:
    make_project("t", TEXT_SCHEMA)
    manifest = write(
        tmp_path / "items.jsonl",
        "\ufeff"
        + _jsonl(
            {
                "key": "a",
                "text": "Alice loves it",
                "annotations": [GOOD_ANN],
                "suggestions": [
                    {
                        "backend": "rules",
                        "model_version": "1",
                        "score": 0.8,
                        "value": [{"id": "e", "control": "entities", "label": "PER", "start": 0, "end": 5}],
                    }
                ],
            },
            {"text": "第二条 中文 文本", "meta": {"lang": "zh"}, "licence": "CC0-1.0"},
            "{not json",
            {"txt": "wrong field"},
            {
                "text": "bad label",
                "annotations": [
                    {"annotator": "x", "value": [{"id": "s", "control": "sentiment", "labels": ["great"]}]}
                ],
            },
            {
                "text": "span past end",
                "annotations": [
                    {
                        "annotator": "x",
                        "value": [{"id": "e", "control": "entities", "label": "PER", "start": 0, "end": 99}],
                    }
                ],
            },
            [1, 2],
            "",
            {"text": "Alice loves it"},
        ),
    )
    with manifest.open("ab") as f:
        f.write(b'{"text": "bad \xff utf8"}\n')
    limits = ImportLimits(process_min_bytes=process_min_bytes)
    report = import_source(sqlite_store, "t", manifest, actor="user:test", limits=limits)
    assert (report.items, report.duplicates, report.annotations, report.suggestions) == (2, 1, 1, 1)
    by_line = {e.line: e.reason for e in report.errors}
    assert set(by_line) == {3, 4, 5, 6, 7, 10}
    assert "malformed JSON" in by_line[3]
    assert "media field 'text'" in by_line[4]
    assert "annotations[0] to fit the label schema" in by_line[5] and "'great'" not in by_line[5][:20]
    assert "past the end of the text" in by_line[6]
    assert "JSON object per line" in by_line[7]
    assert "invalid UTF-8 at byte" in by_line[10]
    assert all(e.source == "items.jsonl" for e in report.errors)
    with sqlite_store.read() as tx:
        p = tx.projects.get("t")
        items = tx.items.page(p.id)
        assert [i.key for i in items] == ["a", None]
        assert items[1].meta == {"licence": "CC0-1.0", "lang": "zh"}
        assert items[0].source == "items.jsonl:1" and items[0].created_by == "user:test"
        _, anns, _ = tx.labels.for_items([items[0].id])
        assert anns[0].lead_time_s == 2.5 and anns[0].annotator == "alice"
        recorded = tx.imports.get(report.import_id or 0)
        assert recorded["status"] == "committed" and recorded["errors"] == 6
        assert len(tx.imports.errors(report.import_id or 0)) == 6


@PREPARE_MODES
def test_reimport_is_idempotent(
    sqlite_store: Store, make_project, tmp_path: Path, process_min_bytes: int | None
) -> None:
    make_project("t", TEXT_SCHEMA)
    manifest = write(tmp_path / "m.jsonl", _jsonl({"text": "one", "annotations": [GOOD_ANN]}, {"text": "two"}))
    limits = ImportLimits(process_min_bytes=process_min_bytes)
    first = import_source(sqlite_store, "t", manifest, actor="user:test", limits=limits)
    second = import_source(sqlite_store, "t", manifest, actor="user:test", limits=limits)
    assert (first.items, second.items, second.duplicates, second.annotations) == (2, 0, 2, 0)


def test_huge_line_is_skipped_with_bounded_memory(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    make_project("t", TEXT_SCHEMA)
    manifest = tmp_path / "big.jsonl"
    with manifest.open("w") as f:
        f.write(json.dumps({"text": "before"}) + "\n")
        f.write('{"text": "' + "x" * (40 * 2**20) + '"}\n')  # a 40 MB line
        f.write(json.dumps({"text": "after"}) + "\n")
    tracemalloc.start()
    report = import_source(sqlite_store, "t", manifest, actor="user:test", limits=ImportLimits(max_line_bytes=2**20))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.items == 2
    assert len(report.errors) == 1 and report.errors[0].line == 2 and "over the limit" in report.errors[0].reason
    assert peak < 8 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB"


def test_manifest_media_paths_cannot_leave_the_dataset(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    make_project("img", IMAGE_SCHEMA)
    root = tmp_path / "ds"
    write(root / "ok.png", png_bytes())
    secret = write(tmp_path / "secret.png", png_bytes(color=(1, 2, 3)))
    (root / "link.png").symlink_to(secret)
    manifest = write(
        root / "m.jsonl",
        _jsonl(
            {"image": "ok.png"},
            {"image": "../secret.png"},
            {"image": str(secret)},
            {"image": "link.png"},
            {"image": "C:\\windows\\x.png"},
            {"image": "http://169.254.169.254/latest"},
            {"image": "missing.png"},
            {
                "image": "ok.png",
                "annotations": [
                    {
                        "annotator": "a",
                        "value": [{"id": "b", "control": "objects", "label": "cat", "xyxy": [0, 0, 500, 10]}],
                    }
                ],
            },
        ),
    )
    report = import_source(sqlite_store, "img", manifest, actor="user:test")
    assert report.items == 1
    reasons = {e.line: e.reason for e in report.errors}
    for line in (2, 3, 5):
        assert "a path inside the dataset folder" in reasons[line]
    assert "links outside it" in reasons[4]
    assert "URLs are not fetched" in reasons[6]
    assert "no file at 'missing.png'" in reasons[7]
    assert "outside the 32x24 image" in reasons[8]


def test_csv_manifest_rows_and_broken_rows(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    make_project("t", TEXT_SCHEMA)
    manifest = write(
        tmp_path / "m.csv",
        'key,text,source\n1,"hello, world",web\n2,second,web,extra\n3,"multi\nline",web\n4,"unterminated\n',
    )
    report = import_source(sqlite_store, "t", manifest, actor="user:test")
    assert report.items == 2
    reasons = {e.line: e.reason for e in report.errors}
    assert "expected 3 columns, got 4" in reasons[3]
    assert any("malformed CSV" in r for r in reasons.values())
    with sqlite_store.read() as tx:
        items = tx.items.page(tx.projects.get("t").id)
    assert [i.data["text"].text for i in items] == ["hello, world", "multi\nline"]
    assert items[0].meta == {"source": "web"} and items[0].key == "1"


def test_csv_without_media_column_is_refused(sqlite_store: Store, make_project, tmp_path: Path) -> None:
    make_project("t", TEXT_SCHEMA)
    report = import_source(sqlite_store, "t", write(tmp_path / "m.csv", "body\nhello\n"), actor="user:test")
    assert report.items == 0 and "CSV columns for media ['text']" in report.errors[0].reason


def test_import_on_postgresql_too(store: Store, make_project, tmp_path: Path) -> None:
    make_project("t", TEXT_SCHEMA, store)
    manifest = write(
        tmp_path / "m.jsonl", _jsonl({"text": "a", "annotations": [GOOD_ANN]}, {"text": "b"}, {"text": "a"})
    )
    report = import_source(store, "t", manifest, actor="user:test")
    assert (report.items, report.duplicates, report.annotations) == (2, 1, 1)
