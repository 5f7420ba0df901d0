"""Provenance log and ``audit verify``: the chain, row digests and tamper detection on both backends."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from labelloop.core import LabelSchema, MediaRef, NewAnnotation, NewItem, NewReview, NewSuggestion, ReviewVerdict
from labelloop.core.hashing import content_hash
from labelloop.services.audit import verify
from labelloop.services.exports import export_dataset
from labelloop.services.release_export import export_release, verify_release_export
from labelloop.services.releases import create_release
from labelloop.storage import Store
from labelloop.storage.provenance_repo import GENESIS, event_hash


def _item(s: str, **meta: object) -> NewItem:
    ref = MediaRef.from_text(s)
    return NewItem({"text": ref}, content_hash({"text": ref.sha256}), key=s, source=f"{s}.txt", meta=dict(meta))


def _fill(store: Store, schema: LabelSchema, name: str = "p") -> int:
    with store.transaction() as tx:
        p = tx.projects.create(name, schema, "user:a")
        ids = [
            i
            for i in tx.items.add_many(p.id, [_item(f"t{i}", licence="CC0") for i in range(6)], created_by="user:a")
            if i
        ]
        sid = tx.labels.add_suggestions(p.id, [NewSuggestion(i, [], "rules", "1", 0.5) for i in ids])
        aids = tx.labels.add_annotations(
            p.id,
            [
                NewAnnotation(
                    i, [{"id": "x", "control": "sentiment", "label": "pos"}], "ann", lead_time_s=1.0, suggestion_id=s
                )
                for i, s in zip(ids, sid, strict=True)
            ],
        )
        tx.labels.add_reviews(p.id, [NewReview(aids[0], "rev", ReviewVerdict.ACCEPT)], [ids[0]])
    return p.id


def _untrigger(store: Store, table: str) -> None:
    """The attacker's first move: drop the append-only trigger(s) of ``table``."""
    with store.engine.begin() as c:
        if c.dialect.name == "sqlite":
            for action in ("update", "delete"):
                c.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
        else:
            c.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))


def _sql(store: Store, sql: str, **params: object) -> None:
    with store.engine.begin() as c:
        c.execute(text(sql), params)


def test_one_event_per_batch_chained(store: Store, text_schema: LabelSchema) -> None:
    pid = _fill(store, text_schema)
    with store.read() as tx:
        events = list(tx.provenance.events(pid))
    assert [e.kind for e in events] == ["import", "suggestion", "annotation", "review"]
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert all(event_hash(e.body()) == e.hash for e in events)
    imp = events[0]
    assert imp.payload["count"] == 6 and imp.subject["table"] == "items" and len(imp.payload["sha256"]) == 64
    assert imp.actor == "user:a" and events[2].actor == "user:ann"
    report = verify(store, "p")
    assert report.ok, report.problems
    assert report.chains[0].events == 4 and report.chains[0].rows == 6 + 6 + 6 + 1


def test_events_are_append_only(store: Store, text_schema: LabelSchema) -> None:
    _fill(store, text_schema)
    for sql in ("UPDATE provenance_events SET actor = 'x'", "DELETE FROM provenance_events"):
        with pytest.raises(Exception, match="append-only"):
            _sql(store, sql)


@pytest.mark.parametrize(
    ("attack", "seq", "reason"),
    [
        ("UPDATE provenance_events SET actor = 'user:mallory' WHERE seq = 2", 2, "edited"),
        ("DELETE FROM provenance_events WHERE seq = 2", 3, "removed"),
        ("UPDATE provenance_events SET seq = 5 - seq WHERE seq IN (2, 3)", 3, "reordered"),
        ('UPDATE provenance_events SET payload = \'{"count": 6, "sha256": "00"}\' WHERE seq = 1', 1, "edited"),
    ],
)
def test_tampered_events_name_the_first_bad_one(
    store: Store, text_schema: LabelSchema, attack: str, seq: int, reason: str
) -> None:
    pid = _fill(store, text_schema)
    _untrigger(store, "provenance_events")
    if "seq = 5 - seq" in attack:  # swap two events: the unique (chain, seq) needs a detour
        _sql(store, "UPDATE provenance_events SET seq = seq + 100 WHERE seq IN (2, 3)")
        attack = "UPDATE provenance_events SET seq = 105 - seq WHERE seq IN (102, 103)"
    _sql(store, attack)
    report = verify(store, pid)
    assert not report.ok
    bad = report.first_bad
    assert bad is not None and bad.seq == seq and reason in bad.reason, report.problems


def test_inserted_event_is_detected(store: Store, text_schema: LabelSchema) -> None:
    pid = _fill(store, text_schema)
    _sql(
        store,
        "INSERT INTO provenance_events (chain, seq, ts, actor, kind, project_id, subject, payload, prev_hash, hash) "
        "VALUES (:c, 5, '2026-01-01T00:00:00+00:00', 'user:m', 'annotation', :c, '{}', '{}', :h, :h)",
        c=pid,
        h="ab" * 32,
    )
    bad = verify(store, pid).first_bad
    assert bad is not None and bad.seq == 5 and "prev_hash" in bad.reason


@pytest.mark.parametrize(
    ("table", "attack", "kind", "reason"),
    [
        ("annotations", "UPDATE annotations SET value = '[]' WHERE id = 2", "annotation", "edited"),
        ("items", "UPDATE items SET meta = '{\"licence\": \"proprietary\"}' WHERE key = 't3'", "import", "edited"),
        ("suggestions", "DELETE FROM suggestions WHERE id = 4", "suggestion", "removed"),
        ("reviews", "UPDATE reviews SET verdict = 'reject'", "review", "edited"),
    ],
)
def test_tampered_rows_are_detected(
    store: Store, text_schema: LabelSchema, table: str, attack: str, kind: str, reason: str
) -> None:
    pid = _fill(store, text_schema)
    _untrigger(store, table)
    if table == "suggestions":  # the attacker also unlinks the annotations that name it
        _untrigger(store, "annotations")
        _sql(store, "UPDATE annotations SET suggestion_id = NULL")
    _sql(store, attack)
    report = verify(store, pid)
    found = [p for p in report.problems if p.kind == kind]
    assert found and reason in found[0].reason, report.problems


def test_rows_written_around_the_log_are_detected(store: Store, text_schema: LabelSchema) -> None:
    pid = _fill(store, text_schema)
    _sql(
        store,
        "INSERT INTO annotations (project_id, item_id, value, annotator, status, created_at, created_by) "
        "SELECT project_id, item_id, value, 'm', 'submitted', created_at, 'user:m' FROM annotations WHERE id = 1",
    )
    bad = verify(store, pid).first_bad
    assert bad is not None and bad.kind == "annotations" and "in no event" in bad.reason


def test_export_is_an_event(sqlite_store: Store, text_schema: LabelSchema, tmp_path: Path) -> None:
    pid = _fill(sqlite_store, text_schema)
    export_dataset(sqlite_store, "p", "csv", tmp_path / "out", actor="user:exporter")
    with sqlite_store.read() as tx:
        last = list(tx.provenance.events(pid))[-1]
    assert last.kind == "export" and last.actor == "user:exporter" and last.payload["files"] >= 1
    assert verify(sqlite_store).ok


def test_concurrent_appends_keep_one_chain(store: Store, text_schema: LabelSchema) -> None:
    pid = _fill(store, text_schema)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for k in range(5):
                with store.transaction() as tx:
                    tx.labels.add_annotations(pid, [NewAnnotation(1, [], f"w{n}-{k}")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    report = verify(store, pid)
    assert report.ok, report.problems
    assert report.chains[0].events == 4 + 20


def test_numbers_that_jsonb_rewrites_still_verify(store: Store, text_schema: LabelSchema) -> None:
    odd = {"big": 1e20, "int": 10**17, "neg0": -0.0, "one": 1.0, "tiny": 1e-7, "nested": [2.5, {"x": 3e16}]}
    with store.transaction() as tx:
        p = tx.projects.create("n", text_schema, "user:a")
        ids = [i for i in tx.items.add_many(p.id, [_item("odd", **odd)], created_by="user:a") if i]
        tx.labels.add_suggestions(p.id, [NewSuggestion(ids[0], [{"id": "a", "v": odd}], "b", "1", 1)])
    report = verify(store, "n")
    assert report.ok, report.problems


def test_a_batch_mixing_plain_and_odd_values_verifies(store: Store, text_schema: LabelSchema) -> None:
    """One batch digest: plain values skip the number walk only when the whole batch allows it."""
    values: list[list[dict[str, object]]] = [
        [{"id": "a", "text": "3.5e7 looks like a number"}],
        [{"id": "b", "n": 10**16 - 1, "m": -(10**16) + 1}],
        [{"id": "c", "n": 10**16}],
        [{"id": "d", "f": 0.1, "z": -0.0}],
        [],
        [{"id": "e", "s": "00000000000000000000", "nested": [{"k": [1, 2, 3]}]}],
    ]
    scores = [None, 0, 1, 0.25, 1.0, None]
    with store.transaction() as tx:
        p = tx.projects.create("mix", text_schema, "user:a")
        items = [i for i in tx.items.add_many(p.id, [_item(f"m{k}") for k in range(6)], created_by="user:a") if i]
        plain = [NewSuggestion(i, [{"id": "p", "k": k}], "b", "1", 0.5) for k, i in enumerate(items)]
        ids_plain = tx.labels.add_suggestions(p.id, plain)
        odd = [NewSuggestion(i, v, "b", "2", sc) for i, v, sc in zip(items, values, scores, strict=True)]
        ids_odd = tx.labels.add_suggestions(p.id, odd)
    assert ids_odd[0] == ids_plain[-1] + 1 and ids_odd == list(range(ids_odd[0], ids_odd[0] + 6))
    with store.read() as tx:
        stored = {s.id: s for s in tx.labels.for_items(items)[0]}
    assert [stored[i].value for i in ids_odd][:2] == values[:2] and stored[ids_plain[3]].item_id == items[3]
    report = verify(store, "mix")
    assert report.ok, report.problems


@pytest.mark.parametrize("process_min_bytes", [None, 0], ids=["thread", "helper-process"])
def test_manifest_import_with_varied_meta_verifies(
    store: Store, text_schema: LabelSchema, tmp_path: Path, process_min_bytes: int | None
) -> None:
    """Metas are digested from their serialised form on the import path: any shape must verify."""
    import json

    from labelloop.services.ingest import ImportLimits, import_source

    with store.transaction() as tx:
        tx.projects.create("m", text_schema, "user:a")
    metas = [
        {"z": 1, "a": {"y": [1, 2], "b": "中文 ✓"}},
        {"licence": "CC0-1.0", "score": 0.5},
        {"big": 12345678901234567890, "neg0": -0.0, "e": 1e20},
        {},
        {"text": "ends with e", "n": 3},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "".join(json.dumps({"text": f"t{i}", "meta": m}, ensure_ascii=False) + "\n" for i, m in enumerate(metas)),
        encoding="utf-8",
    )
    report = import_source(
        store, "m", manifest, actor="user:a", limits=ImportLimits(process_min_bytes=process_min_bytes)
    )
    assert report.items == len(metas)
    result = verify(store, "m")
    assert result.ok, result.problems


# ---------------------------------------------------------------------- anchors (cut tails)
def _cut_after(store: Store, pid: int, seq: int) -> None:
    """The attacker deletes a chain's newest events (triggers dropped first)."""
    _untrigger(store, "provenance_events")
    _sql(store, "DELETE FROM provenance_events WHERE chain = :c AND seq > :s", c=pid, s=seq)


def _exported(store: Store, pid: int, tmp_path: Path, name: str = "csv") -> int:
    """Export once (an ``export`` event covers no rows: only its presence proves it); return its seq."""
    export_dataset(store, "p", "csv", tmp_path / name, actor="user:exporter")
    with store.read() as tx:
        return tx.provenance.head(pid)[0]


def test_every_commit_anchors_its_chain_head_in_a_private_file(store: Store, text_schema: LabelSchema) -> None:
    pid = _fill(store, text_schema)
    with store.transaction() as tx:
        tx.labels.add_annotations(pid, [NewAnnotation(1, [], "late")])
    with store.transaction() as tx:  # no event: no anchor line
        tx.projects.get("p")
    path = store.anchors.path
    assert path.parent == store.data_dir and path.stat().st_mode & 0o777 == 0o600
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    with store.read() as tx:
        events = list(tx.provenance.events(pid))
    # one line per committed unit of work, not per event: the fill's four events share one line
    assert [(x["chain"], x["seq"], x["hash"]) for x in lines] == [(pid, 4, events[3].hash), (pid, 5, events[4].hash)]
    report = verify(store)
    assert report.ok and report.warnings == [], (report.problems, report.warnings)
    assert report.chains[0].anchors == 2 and report.chains[0].head_seq == 5


def test_cut_tail_is_detected_from_the_anchors(store: Store, text_schema: LabelSchema, tmp_path: Path) -> None:
    pid = _fill(store, text_schema)
    kept = _exported(store, pid, tmp_path, "a")
    _exported(store, pid, tmp_path, "b")
    newest = _exported(store, pid, tmp_path, "c")
    assert verify(store, pid).ok
    _cut_after(store, pid, kept)
    report = verify(store, pid)
    assert not report.ok
    bad = report.first_bad
    assert bad is not None and bad.kind == "anchor", report.problems
    assert f"events after seq {kept} were cut: seq {kept + 1} to {newest} missing" in bad.reason, bad.reason


def test_cut_tail_rebuilt_by_later_appends_is_detected(store: Store, text_schema: LabelSchema, tmp_path: Path) -> None:
    """The chain grows again past the cut: the anchored hash of the reused seq no longer matches."""
    pid = _fill(store, text_schema)
    kept = _exported(store, pid, tmp_path, "a")
    _exported(store, pid, tmp_path, "b")
    _cut_after(store, pid, kept)
    _exported(store, pid, tmp_path, "c")  # a legitimate new event takes seq kept + 1
    bad = verify(store, pid).first_bad
    assert bad is not None and bad.seq == kept + 1 and "rewritten" in bad.reason, bad


def test_store_without_anchor_file_passes_with_a_warning(store: Store, text_schema: LabelSchema) -> None:
    _fill(store, text_schema)
    store.anchors.path.unlink()
    report = verify(store)
    assert report.ok and len(report.warnings) == 1 and "no anchor file" in report.warnings[0]
    empty = Store.open(None, store.data_dir.parent / "empty")
    try:
        assert verify(empty).warnings == []  # nothing logged yet: nothing to warn about
    finally:
        empty.close()


def test_malformed_anchor_lines_are_warned_not_trusted(sqlite_store: Store, text_schema: LabelSchema) -> None:
    _fill(sqlite_store, text_schema)
    with sqlite_store.anchors.path.open("a") as fh:
        fh.write('{"chain": 1, "seq": "x"}\nnot json\n')
    report = verify(sqlite_store)
    assert report.ok and "2 malformed line(s)" in report.warnings[0] and "line 2, 3" in report.warnings[0]


def test_anchors_of_another_database_are_not_checked(sqlite_store: Store, text_schema: LabelSchema) -> None:
    _fill(sqlite_store, text_schema)
    with sqlite_store.anchors.path.open("a") as fh:
        fh.write(json.dumps({"chain": 1, "seq": 99, "hash": "ab" * 32, "db": "elsewhere", "ts": "x"}) + "\n")
    report = verify(sqlite_store)
    assert report.ok and "1 anchor(s) recorded for another database" in report.warnings[0]


def test_release_export_records_the_head_and_catches_a_cut(
    store: Store, text_schema: LabelSchema, tmp_path: Path
) -> None:
    pid = _fill(store, text_schema)
    kept = _exported(store, pid, tmp_path)
    create_release(store, "p", "v1", "user:rel")
    export_release(store, "p", "v1", "native", tmp_path / "rel")
    with store.read() as tx:
        rel = next(e for e in tx.provenance.events(pid) if e.kind == "release")
    assert rel.subject["release"] == "v1" and rel.seq == kept + 1 and rel.payload["items"] == 6
    manifest = json.loads((tmp_path / "rel" / "release.json").read_text())["manifest"]
    assert manifest["provenance"] == {"chain": pid, "seq": rel.seq, "hash": rel.hash}  # the head it saw
    assert verify_release_export(store, tmp_path / "rel").ok
    store.anchors.path.unlink()  # the release alone must catch it
    _cut_after(store, pid, kept)
    report = verify_release_export(store, tmp_path / "rel")
    assert not report.ok and report.first is not None
    assert report.first.startswith(f"provenance: events after seq {kept} were cut"), report.first
