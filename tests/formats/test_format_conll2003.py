"""CoNLL-2003 IOB2 exporter/importer, checked with seqeval (strict IOB2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelloop.core import ItemError
from labelloop.formats._base import ExportRecord, ImportedItem
from labelloop.formats.conll2003 import export_conll2003, import_conll2003, tokenize
from tests.formats.fmt_helpers import NER_SCHEMA, span, text_item

EN = "Barack Obama visited Acme Corp. in New York, twice."
ZH = "李小龙在香港出生。"


def _records() -> list[ExportRecord]:
    return [
        ExportRecord(
            text_item(1, EN),
            [
                span("a", "PER", 0, 12),
                span("b", "ORG", 21, 30),
                span("c", "LOC", 35, 43),
                {"id": "t", "control": "topic", "labels": ["news"]},
            ],
        ),
        ExportRecord(text_item(2, ZH), [span("a", "PER", 0, 3), span("b", "LOC", 4, 6)]),
        ExportRecord(text_item(3, "Nothing here."), None),
    ]


def _read_sequences(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    tokens: list[list[str]] = [[]]
    tags: list[list[str]] = [[]]
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split(" ")
        if not line or cols[0] == "-DOCSTART-":
            if tokens[-1]:
                tokens.append([])
                tags.append([])
            continue
        assert len(cols) == 4 and cols[1:3] == ["-X-", "_"]
        tokens[-1].append(cols[0])
        tags[-1].append(cols[3])
    return [t for t in tokens if t], [t for t in tags if t]


def test_tokenizer_keeps_offsets_and_splits_cjk() -> None:
    for text in (EN, ZH, "  e-mail: a_b@x.io\t99%  "):
        for tok, s, e in tokenize(text):
            assert text[s:e] == tok
    assert [t for t, _, _ in tokenize(ZH)] == list("李小龙在香港出生。")


def test_export_is_strict_iob2_for_seqeval(tmp_path: Path) -> None:
    from seqeval.metrics import classification_report, f1_score
    from seqeval.scheme import IOB2

    report = export_conll2003(_records(), NER_SCHEMA, tmp_path / "conll", Path)
    assert report.ok and report.items == 3 and report.regions == 5 and report.ignored_regions == 1
    tokens, tags = _read_sequences(tmp_path / "conll" / "train.conll")
    assert tokens[0][:3] == ["Barack", "Obama", "visited"]
    assert tags[0][:5] == ["B-PER", "I-PER", "O", "B-ORG", "I-ORG"]
    assert tags[1] == ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "O", "O"]
    assert tags[2] == ["O", "O", "O"]
    text = classification_report(tags, tags, mode="strict", scheme=IOB2, output_dict=True)
    assert set(text) >= {"PER", "ORG", "LOC"}
    assert text["PER"]["support"] == 2
    assert f1_score(tags, tags, mode="strict", scheme=IOB2) == 1.0


def test_span_off_token_edges_is_reported_not_shifted(tmp_path: Path) -> None:
    records = [
        ExportRecord(text_item(1, "Obamas came"), [span("a", "PER", 0, 5)]),  # ends inside "Obamas"
        ExportRecord(text_item(2, "北京欢迎你"), [span("a", "LOC", 0, 2)]),
    ]
    report = export_conll2003(records, NER_SCHEMA, tmp_path / "c", Path)
    assert report.items == 1
    (err,) = report.errors
    assert err.source == "item 1" and "token edges" in err.reason
    _tokens, tags = _read_sequences(tmp_path / "c" / "train.conll")
    assert tags == [["B-LOC", "I-LOC", "O", "O", "O"]]


def test_round_trip_through_our_importer(tmp_path: Path) -> None:
    export_conll2003(_records(), NER_SCHEMA, tmp_path / "conll", Path)
    got = list(import_conll2003(tmp_path / "conll", NER_SCHEMA))
    assert all(isinstance(x, ImportedItem) for x in got), got
    items = [x for x in got if isinstance(x, ImportedItem)]
    assert items[0].text == "Barack Obama visited Acme Corp . in New York , twice ."
    assert [(r["label"], items[0].text[r["start"] : r["end"]]) for r in items[0].regions] == [
        ("PER", "Barack Obama"),
        ("ORG", "Acme Corp"),
        ("LOC", "New York"),
    ]
    assert items[1].text == ZH
    assert [(r["label"], ZH[r["start"] : r["end"]]) for r in items[1].regions] == [("PER", "李小龙"), ("LOC", "香港")]
    assert items[2].regions == [] and items[2].meta["split"] == "train"


@pytest.mark.parametrize(
    ("body", "reason", "line"),
    [
        ("John B-PER\nSmith I-ORG\n", "does not continue", 2),
        ("John I-PER\n", "does not continue", 1),
        ("John B-ALIEN\n", "not a label", 1),
        ("John X-PER\n", "IOB2 tag", 1),
        ("John\n", "columns", 1),
    ],
)
def test_bad_sequences_are_item_errors(tmp_path: Path, body: str, reason: str, line: int) -> None:
    (tmp_path / "d.conll").write_text(body + "\nMary B-PER\n")
    out = list(import_conll2003(tmp_path, NER_SCHEMA))
    err, ok = out
    assert isinstance(err, ItemError) and reason in err.reason and err.line == line
    assert isinstance(ok, ImportedItem) and ok.text == "Mary"


def test_paths_outside_root_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x.conll").write_text("A B-PER\n")
    root = tmp_path / "ds"
    root.mkdir()
    out = list(import_conll2003(root, NER_SCHEMA, files=["../x.conll", "/etc/passwd"]))
    assert all(isinstance(e, ItemError) and "inside the dataset folder" in e.reason for e in out)
