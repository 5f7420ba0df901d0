"""Desensitisation and label history: no version, suggestion, draft or comment people can read keeps PII."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from labelloop.core import LabelSchema, NewSuggestion
from labelloop.core.accounts import Role
from labelloop.services import accounts
from labelloop.services.audit import verify
from labelloop.services.desensitise import configure, desensitise
from labelloop.services.ingest import import_source
from labelloop.services.projects import create_project
from labelloop.services.redacted_view import WITHHELD_COMMENT, visible_labels
from labelloop.services.tasks import get_item, mark_gold, next_task, review, submit
from labelloop.storage import Store
from labelloop.storage.tasks_repo import TaskRepo

PHONE = "13812345678"
TEXT = f"Call {PHONE} now, said Ann."  # the phone at 5..16, Ann at 27..30
GOLD_TEXT = f"张三的手机{PHONE}"
SCHEMA = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [
        {
            "name": "entities", "kind": "spans", "target": "text", "labels": ["PER", "PHONE"],
            "attributes": [{"name": "note", "type": "text"}],
        },
        {"name": "summary", "kind": "text_field", "target": "text"},
    ],
}  # fmt: skip


def _span(label: str, start: int, end: int, note: str | None = None, rid: str = "") -> dict[str, Any]:
    region: dict[str, Any] = {
        "id": rid or label, "control": "entities", "label": label, "start": start, "end": end,
        "text": TEXT[start:end],
    }  # fmt: skip
    if note is not None:
        region["attributes"] = {"note": note}
    return region


def _summary(text: str) -> dict[str, Any]:
    return {"id": "sum", "control": "summary", "text": text}


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def test_every_readable_version_is_redacted_and_history_kept(store: Store, tmp_path: Path) -> None:
    schema = LabelSchema.model_validate(SCHEMA)
    pid = create_project(store, "h", schema, "user:boss").id
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"text": t}) + "\n" for t in (TEXT, GOLD_TEXT)), encoding="utf-8")
    import_source(store, "h", manifest, actor="user:boss")
    users = {}
    for name, role in (("ann", Role.ANNOTATOR), ("rev", Role.REVIEWER), ("zed", Role.ANNOTATOR)):
        users[name] = accounts.create_user(store, name, "long enough password")
        accounts.add_member(store, pid, name, role)
    ann, rev, zed = users["ann"], users["rev"], users["zed"]
    with store.read() as tx:
        item, gold_item = tx.items.page(pid)
    mark_gold(store, pid, gold_item.id, [_summary(f"张三 {PHONE}")])
    # the work before the project opts in: two versions, a reviewer's correction, a draft, a suggestion
    task = next_task(store, pid, ann, "annotator")
    assert task is not None and task["item"]["id"] == item.id
    key1 = str(uuid.uuid4())
    v1 = [_span("PHONE", 5, 16, f"his number {PHONE}"), _span("PER", 27, 30), _summary(f"Ann gave {PHONE}")]
    a1 = submit(store, pid, item.id, ann, "annotator", v1, base_version=None, idempotency_key=key1).annotation
    v2 = [*v1[:2], _summary(f"Ann: {PHONE} (mobile)")]
    key2 = str(uuid.uuid4())
    a2 = submit(store, pid, item.id, ann, "annotator", v2, base_version=a1["id"], idempotency_key=key2).annotation
    fixed = [_span("PER", 27, 30, "the caller"), _summary(f"call Ann on {PHONE}")]
    review(
        store, pid, item.id, rev, "reviewer", annotation_id=a2["id"], verdict="correct", value=fixed,
        comment=f"{PHONE} is his mobile",
    )  # fmt: skip
    with store.transaction() as tx:
        TaskRepo(tx.conn).put_draft(pid, item.id, zed.id, [_span("PER", 27, 30, f"ring {PHONE}")])
        value = [_span("PHONE", 5, 16), _span("PER", 27, 30)]
        tx.labels.add_suggestions(pid, [NewSuggestion(item.id, value, "rules", "1")])

    configure(store, "h", {"pii": {"mode": "tag", "chinese_ner": False}}, actor="user:boss")
    report = desensitise(store, "h")
    assert report.items == 2 and report.failed == {}
    # free texts: the correction's summary, the draft's note, the gold answer; spans: exact or
    # covering the whole replaced phone (the suggestion's PHONE span, which now covers "<PHONE>")
    assert report.label_texts == 3 and report.remapped == {"exact": 3, "contains": 1}

    redacted = "Call <PHONE> now, said Ann."
    # the reviewer reads the item: the corrected version, redacted; the suggestion's copy; no comment
    seen = get_item(store, pid, item.id, rev, "reviewer")
    blob = json.dumps(seen, ensure_ascii=False)
    assert PHONE not in blob, blob
    shown = seen["annotation"]
    assert shown["annotator"] == "rev" and shown["value"] == [
        {**_span("PER", 23, 26, "the caller"), "text": "Ann"}, _summary("call Ann on <PHONE>"),
    ]  # fmt: skip
    phone_span = {**_span("PHONE", 5, 16), "end": 12, "text": "<PHONE>"}
    assert [s["value"] for s in seen["suggestions"]] == [[phone_span, {**_span("PER", 23, 26), "text": "Ann"}]]
    assert [r["comment"] for r in seen["reviews"]] == [WITHHELD_COMMENT]
    # the annotator: their versions were replaced (by the correction) and are withheld
    own = get_item(store, pid, item.id, ann, "annotator")
    assert PHONE not in json.dumps(own, ensure_ascii=False) and own["annotation"] is None
    # a replayed submit does not bring the withheld version back
    again = submit(store, pid, item.id, ann, "annotator", v2, base_version=a1["id"], idempotency_key=key2)
    assert not again.created and PHONE not in json.dumps(again.annotation, ensure_ascii=False)
    with store.read() as tx:
        tasks = TaskRepo(tx.conn)
        draft = tasks.draft(item.id, zed.id)
        gold = tasks.gold_value(gold_item.id)
        current = tx.items.get(pid, item.id)
        sugg, anns, revs = tx.labels.for_items([item.id])
        shown_s, shown_a, shown_r = visible_labels(tx, sugg, anns, revs)
    assert current.data["text"].text == redacted
    assert draft is not None and draft[0] == [{**_span("PER", 23, 26, "ring <PHONE>"), "text": "Ann"}]
    assert gold == [_summary("张三 <PHONE>")]
    for a in shown_a:  # every version still shown fits the redacted text and quotes nothing of the original
        assert schema.validate_value(a.value, current.data) == [], a
        assert PHONE not in json.dumps(a.value)
    # history is kept for managers and the audit: the originals are still stored, append-only
    assert {a.id for a in anns} - {a.id for a in shown_a} == {a1["id"], a2["id"], shown["parent_id"]}
    assert any(PHONE in json.dumps(a.value) for a in anns) and len(shown_s) == 1 and len(sugg) == 2
    assert [r.comment for r in shown_r] == [WITHHELD_COMMENT] and PHONE in revs[0].comment
    with store.read() as tx:
        ev = [e for e in tx.provenance.events(pid) if e.kind == "redaction"][-1]
    assert ev.payload["labels"] == {"versions": 1, "suggestions": 1, "drafts": 1, "gold": 1, "free_text": 3}
    assert verify(store, "h").ok
