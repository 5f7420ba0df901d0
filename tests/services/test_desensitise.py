"""Desensitisation: texts redacted, faces blurred, originals guarded, failures kept hidden."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data as skdata
from sqlalchemy import text

from labelloop.compliance import PiiDetector
from labelloop.core import LabelSchema, NewAnnotation
from labelloop.errors import InputRejected, PermissionDenied
from labelloop.services.audit import verify
from labelloop.services.browse import item_page
from labelloop.services.desensitise import configure, desensitise, parse_compliance, read_original
from labelloop.services.ingest import import_source
from labelloop.services.projects import create_project
from labelloop.storage import Store
from tests.helpers import cjk_font

TEXTS = [
    "Call 13812345678 now, said Ann.",
    "邮箱 zhang@example.cn 和手机 13812345678",
    "Nothing personal here at all.",
]
FAST = {"pii": {"mode": "tag", "chinese_ner": False}}


def _manifest(tmp_path: Path, texts: list[str]) -> Path:
    p = tmp_path / "m.jsonl"
    p.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return p


def _project(store: Store, schema: LabelSchema, tmp_path: Path, cfg: dict, name: str = "t") -> None:  # type: ignore[type-arg]
    create_project(store, name, schema, "user:boss")
    configure(store, name, cfg, actor="user:boss")
    import_source(store, name, _manifest(tmp_path, TEXTS), actor="user:boss")


def test_text_items_are_held_then_redacted_with_spans_remapped(
    store: Store, text_schema: LabelSchema, tmp_path: Path
) -> None:
    _project(store, text_schema, tmp_path, FAST)
    assert item_page(store, "t")[1] == []  # held: nothing shown before desensitisation
    with store.transaction() as tx:
        pid = tx.projects.get("t").id
        first = tx.items.page(pid)[0]
        span = {"id": "s", "control": "entities", "label": "PER", "start": 27, "end": 30, "text": "Ann"}
        tx.labels.add_annotations(pid, [NewAnnotation(first.id, [span], "ann")])
    report = desensitise(store, "t")
    assert report.items == 3 and report.failed == {}
    assert report.entities == {"PHONE": 2, "EMAIL": 1}
    _, items, latest = item_page(store, "t")
    texts = [i.data["text"].text for i in items]
    assert texts == ["Call <PHONE> now, said Ann.", "邮箱 <EMAIL> 和手机 <PHONE>", "Nothing personal here at all."]
    moved = latest[first.id]["annotation"]
    assert moved.parent_id is not None and moved.value[0]["start"] == 23 and moved.value[0]["text"] == "Ann"
    assert desensitise(store, "t").items == 0  # idempotent
    assert verify(store, "t").ok


def test_originals_only_for_managers_and_every_read_logged(
    store: Store, text_schema: LabelSchema, tmp_path: Path
) -> None:
    _project(store, text_schema, tmp_path, FAST)
    desensitise(store, "t")
    with store.read() as tx:
        pid = tx.projects.get("t").id
        item_id = tx.items.page(pid)[0].id
    assert read_original(store, "t", item_id, actor="user:boss", role="manager")["text"].text == TEXTS[0]
    assert read_original(store, "t", item_id, actor="user:root", role="admin")["text"].text == TEXTS[0]
    with pytest.raises(PermissionDenied, match=r"role annotator may not original\.read"):
        read_original(store, "t", item_id, actor="user:ann", role="annotator")
    for role in ("reviewer", "viewer", "owner"):  # the permission table's row, not a list of its own
        with pytest.raises(PermissionDenied):
            read_original(store, "t", item_id, actor=f"user:{role}", role=role)
    with store.read() as tx:
        reads = [e for e in tx.provenance.events(pid) if e.kind == "original_read"]
    assert [(e.actor, e.payload["allowed"]) for e in reads] == [
        ("user:boss", True), ("user:root", True), ("user:ann", False),
        ("user:reviewer", False), ("user:viewer", False), ("user:owner", False),
    ]  # fmt: skip


def test_tampered_original_or_redacted_text_is_detected(store: Store, text_schema: LabelSchema, tmp_path: Path) -> None:
    _project(store, text_schema, tmp_path, FAST)
    desensitise(store, "t")
    with store.engine.begin() as c:  # no trigger on items: the working media can be edited
        c.execute(text("UPDATE items SET data = :d WHERE key IS NULL AND id = 1"), {"d": json.dumps({})})
    bad = verify(store, "t").first_bad
    assert bad is not None and bad.kind == "redaction" and "items.data" in bad.reason


def test_pseudonyms_consistent_in_a_project_and_hashes_salted_per_project(
    sqlite_store: Store, text_schema: LabelSchema, tmp_path: Path
) -> None:
    _project(sqlite_store, text_schema, tmp_path, {"pii": {"mode": "pseudonym", "chinese_ner": False}}, "a")
    _project(sqlite_store, text_schema, tmp_path, {"pii": {"mode": "hash", "chinese_ner": False}}, "b")
    _project(sqlite_store, text_schema, tmp_path, {"pii": {"mode": "hash", "chinese_ner": False}}, "c")
    for name in "abc":
        desensitise(sqlite_store, name)
    got = {n: [i.data["text"].text for i in item_page(sqlite_store, n)[1]] for n in "abc"}
    fake = got["a"][0].split()[1].rstrip(",")
    assert fake.isdigit() and fake != "13812345678" and got["a"][1].endswith(fake)
    assert "13812345678" not in "".join(got["b"]) and got["b"][0] != got["c"][0]


class _Flaky(PiiDetector):
    def detect(self, text: str):  # type: ignore[no-untyped-def]
        if "said" in text:
            raise ValueError("detector crashed")
        return super().detect(text)


def test_redaction_failure_keeps_the_item_hidden(sqlite_store: Store, text_schema: LabelSchema, tmp_path: Path) -> None:
    _project(sqlite_store, text_schema, tmp_path, FAST)
    report = desensitise(sqlite_store, "t", detector=_Flaky(english_ner=False, chinese_ner=False))
    assert report.items == 2 and len(report.failed) == 1
    shown = [i.data["text"].text for i in item_page(sqlite_store, "t")[1]]
    assert len(shown) == 2 and not any("Ann" in s for s in shown)
    with sqlite_store.read() as tx:
        holds = tx.compliance.holds(tx.projects.get("t").id)
    assert list(holds.values()) == ["desensitisation failed"]
    assert desensitise(sqlite_store, "t").items == 1  # a later run retries it
    assert item_page(sqlite_store, "t")[1][0].data["text"].text == "Call <PHONE> now, said Ann."


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"pii": {"patterns": [{"name": "bad", "regex": "(a+)+$", "entity": "X"}]}}, "nested repetition"),
        ({"pii": {"patterns": [{"name": "oops", "regex": "EMP-(", "entity": "EMP"}]}}, "valid regular expression"),
        ({"pii": {"patterns": [{"name": "e", "regex": "a*", "entity": "E"}]}}, "empty string"),
        ({"pii": {"mode": "scramble"}}, "mask, tag, pseudonym, hash"),
        ({"pii": {"colour": "red"}}, "unknown key"),
        ({"faces": "smudge"}, "blur or pixelate"),
        ({"plates": "smudge"}, "blur, pixelate, true or false"),
        ({"plates": 1}, "blur, pixelate, true or false"),
        ({"plate_label": ""}, "a label name"),
    ],
)
def test_malformed_settings_are_refused_and_not_stored(
    sqlite_store: Store,
    text_schema: LabelSchema,
    cfg: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    create_project(sqlite_store, "t", text_schema, "user:boss")
    with pytest.raises(InputRejected, match=message):
        configure(sqlite_store, "t", cfg, actor="user:boss")
    with sqlite_store.read() as tx:
        assert tx.compliance.setting(tx.projects.get("t").id, "compliance") is None


def test_faces_blurred_atomically_and_kept_as_suggestions(sqlite_store: Store, tmp_path: Path) -> None:
    schema = LabelSchema.model_validate(
        {
            "media": [{"name": "image", "kind": "image"}],
            "controls": [{"name": "objects", "kind": "boxes", "target": "image", "labels": ["face", "cat"]}],
        }
    )
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(skdata.astronaut()).save(folder / "astronaut.png")
    create_project(sqlite_store, "img", schema, "user:boss")
    configure(sqlite_store, "img", {"faces": "pixelate"}, actor="user:boss")
    import_source(sqlite_store, "img", folder, actor="user:boss")
    report = desensitise(sqlite_store, "img")
    assert report.items == 1 and report.faces == 1
    _, items, latest = item_page(sqlite_store, "img")
    ref = items[0].data["image"]
    original = read_original(sqlite_store, "img", items[0].id, actor="user:boss", role="manager")["image"]
    assert ref.sha256 != original.sha256 and ref.meta["faces_hidden"] == 1
    box = latest[items[0].id]["suggestion"].value[0]
    assert box["label"] == "face" and box["control"] == "objects"
    x0, y0, x1, y1 = (int(v) for v in box["xyxy"])
    shown = np.asarray(Image.open(sqlite_store.blobs.path(ref.sha256)).convert("RGB"))
    raw = skdata.astronaut()
    assert not np.array_equal(shown[y0:y1, x0:x1], raw[y0:y1, x0:x1])
    assert np.array_equal(shown[:, : max(0, x0 - 40)], raw[:, : max(0, x0 - 40)])
    assert verify(sqlite_store, "img").ok


def test_held_items_are_skipped_by_backends(sqlite_store: Store, text_schema: LabelSchema, tmp_path: Path) -> None:
    _project(sqlite_store, text_schema, tmp_path, FAST)
    with sqlite_store.read() as tx:
        pid = tx.projects.get("t").id
        assert tx.labels.items_without_suggestion(pid, "text.rules", "1") == []
        assert tx.labels.count_without_suggestion(pid, "text.rules", "1") == 0
        assert len(tx.compliance.holds(pid)) == 3 and len(tx.items.page(pid)) == 3
    desensitise(sqlite_store, "t")
    with sqlite_store.read() as tx:
        assert tx.labels.count_without_suggestion(pid, "text.rules", "1") == 3


PLATE_SCHEMA = {
    "media": [{"name": "image", "kind": "image"}],
    "controls": [{"name": "objects", "kind": "boxes", "target": "image", "labels": ["face", "plate", "car"]}],
}


def _street(font_path: str) -> np.ndarray:
    """A grey street scene: a blue plate with '京A·12345' on it, and a white shop sign."""
    font = ImageFont.truetype(font_path, 44)
    img = Image.new("RGB", (640, 360), (90, 110, 90))
    draw = ImageDraw.Draw(img)
    draw.rectangle((180, 200, 460, 270), fill=(20, 60, 200), outline=(255, 255, 255), width=3)
    draw.text((200, 210), "京A·12345", fill="white", font=font)
    draw.rectangle((20, 20, 300, 80), fill="white")
    draw.text((30, 28), "OPEN 24H", fill="black", font=font)
    return np.asarray(img)


@pytest.mark.skipif(cjk_font() is None, reason="no CJK font installed (.ci/run installs fonts-wqy-zenhei)")
def test_plates_read_by_ocr_are_pixelated_and_kept_as_suggestions(sqlite_store: Store, tmp_path: Path) -> None:
    raw = _street(cjk_font() or "")
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(raw).save(folder / "street.png")
    create_project(sqlite_store, "cars", LabelSchema.model_validate(PLATE_SCHEMA), "user:boss")
    configure(sqlite_store, "cars", {"plates": "pixelate"}, actor="user:boss")
    import_source(sqlite_store, "cars", folder, actor="user:boss")
    report = desensitise(sqlite_store, "cars")
    assert (report.items, report.plates, report.faces, report.failed) == (1, 1, 0, {})
    _, items, latest = item_page(sqlite_store, "cars")
    ref = items[0].data["image"]
    assert ref.meta["plates_hidden"] == 1
    sugg = latest[items[0].id]["suggestion"]
    assert sugg.backend == "compliance.plates" and len(sugg.value) == 1
    box = sugg.value[0]
    assert box["label"] == "plate" and box["control"] == "objects" and "text" not in box
    x0, y0, x1, y1 = (int(v) for v in box["xyxy"])
    assert 180 <= x0 < 230 and 200 <= y0 < 220 and 400 < x1 <= 460 and 250 < y1 <= 270  # the text on the plate
    shown = np.asarray(Image.open(sqlite_store.blobs.path(ref.sha256)).convert("RGB"))
    assert not np.array_equal(shown[y0:y1, x0:x1], raw[y0:y1, x0:x1])
    # everything outside the plate box (grown by blur_regions' 10 % pad) is untouched, the sign included
    dx, dy = (x1 - x0) // 10 + 1, (y1 - y0) // 10 + 1
    outside = np.ones(raw.shape[:2], bool)
    outside[max(0, y0 - dy) : y1 + dy, max(0, x0 - dx) : x1 + dx] = False
    assert np.array_equal(shown[outside], raw[outside])
    original = read_original(sqlite_store, "cars", items[0].id, actor="user:boss", role="manager")["image"]
    assert np.array_equal(np.asarray(Image.open(sqlite_store.blobs.path(original.sha256)).convert("RGB")), raw)
    with sqlite_store.read() as tx:
        ev = [e for e in tx.provenance.events(items[0].project_id) if e.kind == "redaction"]
    assert ev[-1].payload["plates"] == 1
    assert verify(sqlite_store, "cars").ok


def test_plates_setting_accepts_true_and_round_trips(sqlite_store: Store, text_schema: LabelSchema) -> None:
    create_project(sqlite_store, "t", text_schema, "user:boss")
    cfg = configure(sqlite_store, "t", {"plates": True, "plate_label": "licence"}, actor="user:boss")
    assert (cfg.plates, cfg.plate_label, cfg.faces) == ("blur", "licence", None)
    assert parse_compliance(cfg.to_json(), source="stored") == cfg


def test_media_shown_before_opting_in_is_not_fetchable_while_held(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher

    from labelloop.core.accounts import Role
    from labelloop.services import accounts
    from labelloop.services.tasks import next_task
    from labelloop.services.web import can_fetch_media

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    schema = LabelSchema.model_validate(
        {
            "media": [{"name": "image", "kind": "image"}],
            "controls": [{"name": "objects", "kind": "boxes", "target": "image", "labels": ["face"]}],
        }
    )
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(skdata.astronaut()).save(folder / "astronaut.png")
    pid = create_project(sqlite_store, "img", schema, "user:boss").id
    import_source(sqlite_store, "img", folder, actor="user:boss")
    user = accounts.create_user(sqlite_store, "ann", "long enough password")
    accounts.add_member(sqlite_store, pid, "ann", Role.ANNOTATOR)
    task = next_task(sqlite_store, pid, user, "annotator")
    assert task is not None
    raw_sha = task["item"]["media"]["image"]["sha256"]
    assert can_fetch_media(sqlite_store, user, raw_sha)
    configure(sqlite_store, "img", {"faces": "blur"}, actor="user:boss")
    assert not can_fetch_media(sqlite_store, user, raw_sha)  # held: the face is not to be seen
    desensitise(sqlite_store, "img")
    again = next_task(sqlite_store, pid, user, "annotator")
    assert again is not None
    shown = again["item"]["media"]["image"]["sha256"]
    assert shown != raw_sha and can_fetch_media(sqlite_store, user, shown)
    assert not can_fetch_media(sqlite_store, user, raw_sha)
