"""spaCy DocBin exporter, read back with DocBin().from_disk(...).get_docs(nlp.vocab)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelloop.core import LabelSchema
from labelloop.formats._base import ExportRecord
from labelloop.formats.spacy_docbin import blank_nlp, export_spacy
from tests.formats.fmt_helpers import NER_SCHEMA, span, text_item

OVERLAP_SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "text", "kind": "text"}],
        "controls": [
            {"name": "ents", "kind": "spans", "target": "text", "labels": ["PER", "ORG", "LOC"]},
            {"name": "sc", "kind": "spans", "target": "text", "labels": ["NAME"], "allow_overlap": True},
        ],
    }
)


def _docs(folder: Path, lang: str) -> list:  # type: ignore[type-arg]
    from spacy.tokens import DocBin

    nlp = blank_nlp(lang)
    return [d for f in sorted(folder.glob("*.spacy")) for d in DocBin().from_disk(f).get_docs(nlp.vocab)]


def test_ents_spans_and_cats_read_back(tmp_path: Path) -> None:
    text = "Barack Obama visited Acme Corp today"  # spaCy keeps "Corp." as one token
    records = [
        ExportRecord(
            text_item(1, text, "d1"),
            [span("a", "PER", 0, 12), span("b", "ORG", 21, 30), {"id": "t", "control": "topic", "labels": ["news"]}],
        ),
        ExportRecord(text_item(2, "Obamas came", "d2"), [span("a", "PER", 0, 5)]),  # misaligned
        ExportRecord(text_item(3, "Nothing.", "d3"), None),
    ]
    report = export_spacy(records, NER_SCHEMA, tmp_path / "sp", Path, shard_size=1)
    assert report.items == 2 and report.regions == 3
    assert len(report.errors) == 1 and "token edges" in report.errors[0].reason
    docs = _docs(tmp_path / "sp" / "train", "en")
    assert len(docs) == 2 and len(list((tmp_path / "sp" / "train").glob("*.spacy"))) == 2
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Barack Obama", "PER"), ("Acme Corp", "ORG")]
    assert docs[0].cats == {"news": 1.0, "=cmd()": 0.0}
    assert docs[0].user_data["labelloop_key"] == "d1"
    assert list(docs[1].ents) == [] and docs[1].cats["news"] == 0.0


def test_overlapping_spans_go_to_doc_spans_and_zh_is_char_segmented(tmp_path: Path) -> None:
    from spacy.training import offsets_to_biluo_tags

    text = "李小龙在香港出生"
    value = [
        {"id": "a", "control": "ents", "label": "PER", "start": 0, "end": 3},
        {"id": "b", "control": "ents", "label": "LOC", "start": 4, "end": 6},
        {"id": "c", "control": "sc", "label": "NAME", "start": 0, "end": 2},
        {"id": "d", "control": "sc", "label": "NAME", "start": 1, "end": 3},
    ]
    report = export_spacy([ExportRecord(text_item(1, text), value)], OVERLAP_SCHEMA, tmp_path / "zh", Path, lang="zh")
    assert report.ok and report.regions == 4
    (doc,) = _docs(tmp_path / "zh" / "train", "zh")
    assert len(doc) == len(text)
    assert [(e.text, e.label_) for e in doc.ents] == [("李小龙", "PER"), ("香港", "LOC")]
    assert [s.text for s in doc.spans["sc"]] == ["李小", "小龙"]
    tags = offsets_to_biluo_tags(doc, [(e.start_char, e.end_char, e.label_) for e in doc.ents])
    assert tags[:3] == ["B-PER", "I-PER", "L-PER"]


CATS_SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "text", "kind": "text"}],
        "controls": [{"name": "topic", "kind": "classification", "target": "text", "labels": ["a", "b"]}],
    }
)


def _stock_bin(records: list[ExportRecord], schema: LabelSchema, lang: str) -> bytes:
    """The DocBin spaCy's own API makes for these records: annotated docs, ``DocBin.add``."""
    from spacy.tokens import DocBin

    nlp = blank_nlp(lang)
    db = DocBin(store_user_data=True)
    span_controls = [c for c in schema.controls if c.kind.value == "spans"]
    cat_labels = [x for c in schema.controls if c.kind.value == "classification" for x in c.labels]
    for rec in records:
        doc = nlp.make_doc(rec.item.data["text"].text or "")
        value = rec.value or []
        for c in span_controls:
            doc.spans[c.name] = [
                doc.char_span(r["start"], r["end"], label=r["label"]) for r in value if r["control"] == c.name
            ]
        ents = next((c.name for c in span_controls if not c.allow_overlap), None)
        if ents is not None:
            doc.ents = sorted(doc.spans[ents], key=lambda s: s.start)
        doc.cats = dict.fromkeys(cat_labels, 0.0) | {x: 1.0 for r in value for x in r.get("labels", [])}
        doc.user_data["labelloop_id"] = rec.item.id
        doc.user_data["labelloop_key"] = rec.item.key
        db.add(doc)
    return bytes(db.to_bytes())


def test_shards_are_the_bytes_spacy_docbin_writes(tmp_path: Path) -> None:
    """The exporter stores what DocBin.add stores for the annotated docs, byte for byte."""
    from spacy.tokens import DocBin

    texts = ["I don't like N.Y.C. at 5pm :)", "Barack Obama visited Acme Corp today.", "", "Ünïcödé  sp\tand\nlines 😀"]
    texts.append("Don't e-mail ME at a.b@c.com or https://x.io/y?z=1 -- it's 3,000.50$ (ca. 2x) ain't it?")
    ner = [
        ExportRecord(text_item(i, t, f"k{i}"), [span("a", "PER", 0, 1)] if t.startswith("I ") else None)
        for i, t in enumerate(texts, 1)
    ]
    ner.append(ExportRecord(text_item(9, texts[1]), [span("a", "PER", 0, 12), span("b", "ORG", 21, 30)]))
    zh = "李小龙在香港出生"
    overlap = [
        ExportRecord(
            text_item(1, zh),
            [
                {"id": "b", "control": "ents", "label": "LOC", "start": 4, "end": 6},
                {"id": "a", "control": "ents", "label": "PER", "start": 0, "end": 3},
                {"id": "c", "control": "sc", "label": "NAME", "start": 0, "end": 2},
                {"id": "d", "control": "sc", "label": "NAME", "start": 1, "end": 3},
            ],
        ),
        ExportRecord(text_item(2, "香港"), None),
    ]
    topic = [{"id": "t", "control": "topic", "labels": ["b"]}]
    cats = [ExportRecord(text_item(i, t), topic) for i, t in enumerate(texts)]
    for name, records, schema, lang in (
        ("ner", ner, NER_SCHEMA, "en"),
        ("zh", overlap, OVERLAP_SCHEMA, "zh"),
        ("cats", cats, CATS_SCHEMA, "en"),
    ):
        report = export_spacy(records, schema, tmp_path / name, Path, lang=lang)
        assert report.ok and report.items == len(records), report.errors
        written = (tmp_path / name / "train" / "0000.spacy").read_bytes()
        assert written == _stock_bin(records, schema, lang), name
        docs = list(DocBin().from_bytes(written).get_docs(blank_nlp(lang).vocab))
        assert [d.text for d in docs] == [r.item.data["text"].text for r in records]


def test_pipeline_is_kept_lent_to_one_export_and_dropped_once_grown(monkeypatch: pytest.MonkeyPatch) -> None:
    from labelloop.formats import spacy_docbin

    with spacy_docbin._pipeline("en") as kept, spacy_docbin._pipeline("en") as other:
        assert other is not kept  # lent: a concurrent export builds its own
    with spacy_docbin._pipeline("en") as again:
        assert again is kept
    monkeypatch.setattr(spacy_docbin, "PIPELINE_MAX_STRINGS", len(kept.vocab.strings) - 1)
    with spacy_docbin._pipeline("en") as grown:
        assert grown is kept
    with spacy_docbin._pipeline("en") as fresh:
        assert fresh is not kept


def test_writer_refuses_a_token_string_its_vocab_lacks() -> None:
    from spacy.strings import StringStore

    from labelloop.formats._spacy_bin import DocBinWriter

    db = DocBinWriter()
    db.add_parts(blank_nlp("en").make_doc("unheard-of wordz"), {}, {}, {})
    db._stores = [StringStore()]  # as if the doc came from a vocab that lost its strings
    with pytest.raises(ValueError, match="has no string in the vocab"):
        db.to_bytes()
