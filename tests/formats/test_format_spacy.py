"""spaCy DocBin exporter, read back with DocBin().from_disk(...).get_docs(nlp.vocab)."""

from __future__ import annotations

from pathlib import Path

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
