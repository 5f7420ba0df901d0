"""CoNLL-2003 NER with IOB2 tags: exporter and importer for a spans control.

Files: ``<out>/<split>.conll``. Each item is a document: ``-DOCSTART- -X- -X- O``, a blank
line, then one ``token -X- _ TAG`` line per token (the Label Studio column layout), then a
blank line. Tags are IOB2 (``B-X`` starts, ``I-X`` continues, ``O`` outside).

Tokenizer (:func:`tokenize`), kept exact to the character offsets of the text:

* each CJK character (kana, CJK ideographs) is a token of its own;
* any other run of word characters (letters, digits, ``_``) is a token;
* every other non-space character (punctuation, symbols) is a token of its own;
* whitespace separates tokens and is never part of one.

A span whose start or end is not a token edge (``"Obama"`` inside ``"Obamas"``), or spans
that overlap, cannot be written in IOB2: that item is skipped with an error in the report,
never shifted. The importer rebuilds the text by joining tokens with one space (none between
two CJK / CJK-punctuation / full-width tokens) and sentences with a newline; span offsets
refer to that text.

Example:
    >>> [t for t, _s, _e in tokenize("Hi, 北京 u.s.")]
    ['Hi', ',', '北', '京', 'u', '.', 's', '.']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from labelloop.core import Control, ControlKind, ItemError, LabelSchema, Medium
from labelloop.formats._base import (
    ExportRecord,
    ExportReport,
    ImportedItem,
    MediaPath,
    Value,
    check_problems,
    pick_control,
    resolve_inside,
    safe_split,
)
from labelloop.formats._output import atomic_output

__all__ = ["export_conll2003", "import_conll2003", "iob2_tags", "tokenize"]

DOCSTART = "-DOCSTART-"
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])\w)+|[^\w\s]")
_IS_WIDE = re.compile(rf"^[{_CJK}\u3000-\u303f\uff00-\uffef]$")  # CJK, CJK punctuation, full-width


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Split ``text`` into ``(token, start, end)`` with exact code-point offsets."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def iob2_tags(tokens: list[tuple[str, int, int]], spans: Iterable[tuple[int, int, str]]) -> list[str]:
    """IOB2 tags of ``tokens`` for ``(start, end, label)`` spans.

    Raises:
        ValueError: when a span does not start and end on token edges, or spans overlap.

    Example:
        >>> toks = tokenize("Ada Lovelace wrote")
        >>> iob2_tags(toks, [(0, 12, "PER")])
        ['B-PER', 'I-PER', 'O']
    """
    starts = {s: i for i, (_t, s, _e) in enumerate(tokens)}
    ends = {e: i for i, (_t, _s, e) in enumerate(tokens)}
    tags = ["O"] * len(tokens)
    for start, end, label in sorted(spans):
        if start not in starts or end not in ends:
            raise ValueError(f"span [{start}:{end}] ({label}) does not start and end on token edges")
        first, last = starts[start], ends[end]
        if any(t != "O" for t in tags[first : last + 1]):
            raise ValueError(f"span [{start}:{end}] ({label}) overlaps another span; IOB2 cannot nest")
        tags[first] = f"B-{label}"
        for i in range(first + 1, last + 1):
            tags[i] = f"I-{label}"
    return tags


def _spans_control(schema: LabelSchema, control: str | None) -> Control:
    return pick_control(schema, ControlKind.SPANS, control, fmt="CoNLL-2003")


def export_conll2003(
    records: Iterable[ExportRecord],
    schema: LabelSchema,
    out: Path,
    media_path: MediaPath,
    /,
    *,
    control: str | None = None,
) -> ExportReport:
    """Export a spans control as CoNLL-2003 IOB2 files, one per split (published atomically).

    Args:
        records: The items to export (text items; ``split`` from the record or ``item.meta``).
        schema: The project's label schema.
        out: The folder to create (must not exist, or be empty), or a new ``.zip`` file.
        media_path: Unused (text is inline); accepted for the common exporter signature.
        control: The spans control (default: the first one).

    Returns:
        The report; items with spans off token edges are listed in ``errors``.

    Example:
        >>> # export_conll2003(records, schema, Path("release/conll"), store.path_of)
    """
    del media_path
    ctl = _spans_control(schema, control)
    report = ExportReport(out)
    with atomic_output(out) as dest:
        files: dict[str, IO[str]] = {}
        try:
            for rec in records:
                ref = rec.item.data.get(ctl.target)
                value = rec.value or []
                try:
                    split = safe_split(rec.split_name)
                    if ref is None or ref.kind != Medium.TEXT or ref.text is None:
                        raise ValueError(f"the item has no text in field {ctl.target!r}")
                    problems = check_problems(schema, ctl.target, value, {"text": ref.text})
                    if problems:
                        raise ValueError("invalid annotation: " + "; ".join(problems))
                    mine = [r for r in value if r.get("control") == ctl.name]
                    tokens = tokenize(ref.text)
                    tags = iob2_tags(tokens, [(r["start"], r["end"], r["label"]) for r in mine])
                except ValueError as exc:
                    report.errors.append(ItemError(rec.where, str(exc), code="LL-FORMAT"))
                    continue
                if split not in files:
                    files[split] = dest.open_text(f"{split}.conll")
                fh = files[split]
                fh.write(f"{DOCSTART} -X- -X- O\n\n")
                fh.writelines(f"{tok} -X- _ {tag}\n" for (tok, _s, _e), tag in zip(tokens, tags, strict=True))
                fh.write("\n")
                report.items += 1
                report.regions += len(mine)
                report.ignored_regions += len(value) - len(mine)
        finally:
            for f in files.values():
                f.close()
    return report


# ---------------------------------------------------------------------- import
class _Doc:
    def __init__(self, line: int) -> None:
        self.line = line
        self.sentences: list[list[tuple[str, str, int]]] = [[]]
        self.error: tuple[int, str] | None = None

    def add(self, token: str, tag: str, line: int) -> None:
        self.sentences[-1].append((token, tag, line))

    def end_sentence(self) -> None:
        if self.sentences[-1]:
            self.sentences.append([])

    @property
    def empty(self) -> bool:
        return not any(self.sentences)


def _build(doc: _Doc, ctl: Control) -> tuple[str, Value]:
    parts: list[str] = []
    regions: Value = []
    pos = 0
    open_span: dict[str, Any] | None = None
    for si, sent in enumerate(s for s in doc.sentences if s):
        if si:
            parts.append("\n")
            pos += 1
        prev = ""
        for token, tag, line in sent:
            if prev and not (_IS_WIDE.match(prev) and _IS_WIDE.match(token)):
                parts.append(" ")
                pos += 1
            start = pos
            parts.append(token)
            pos += len(token)
            prev = token
            kind, _, label = tag.partition("-")
            if (tag == "O" or kind == "B") and open_span is not None:
                regions.append(open_span)
                open_span = None
            if tag == "O":
                continue
            if kind not in ("B", "I") or not label:
                raise _BadLine(line, f"expected an IOB2 tag (O, B-X, I-X), got {tag!r}")
            if label not in ctl.labels:
                raise _BadLine(line, f"entity type {label!r} is not a label of {ctl.name!r} {ctl.labels}")
            if kind == "I":
                if open_span is None or open_span["label"] != label:
                    raise _BadLine(line, f"invalid IOB2: {tag!r} does not continue a {label} entity")
                open_span["end"] = pos
                continue
            open_span = {"id": f"r{len(regions) + 1}", "control": ctl.name, "label": label, "start": start, "end": pos}
        if open_span is not None:  # entities end with their sentence
            regions.append(open_span)
            open_span = None
    for i, r in enumerate(regions, 1):
        r["id"] = f"r{i}"
    return "".join(parts), regions


class _BadLine(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


def _docs(fh: IO[str]) -> Iterator[_Doc]:
    doc: _Doc | None = None
    by_docstart: bool | None = None
    for n, raw in enumerate(fh, 1):
        line = raw.rstrip("\r\n")
        cols = line.split()
        if by_docstart is None and cols:
            by_docstart = cols[0] == DOCSTART
        if cols and cols[0] == DOCSTART:
            if doc is not None and not doc.empty:
                yield doc
            doc = _Doc(n)
            continue
        if not cols:
            if doc is not None:
                doc.end_sentence()
                if not by_docstart and not doc.empty:
                    yield doc
                    doc = None
            continue
        if doc is None:
            doc = _Doc(n)
        if doc.error is None and len(cols) < 2:
            doc.error = (n, f"expected 'token ... TAG' columns, got {line[:60]!r}")
        doc.add(cols[0], cols[-1], n)
    if doc is not None and not doc.empty:
        yield doc


def import_conll2003(
    root: Path,
    schema: LabelSchema,
    /,
    *,
    files: Iterable[str] | None = None,
    control: str | None = None,
) -> Iterator[ImportedItem | ItemError]:
    """Read CoNLL-2003 files (IOB2, tag in the last column), streaming line by line.

    Args:
        root: The dataset folder.
        schema: The label schema; entity types must be labels of the spans control.
        files: Files relative to ``root`` (default: every ``*.conll`` in ``root``).
        control: The spans control (default: the first one).

    Yields:
        One :class:`ImportedItem` per document (per sentence when the file has no
        ``-DOCSTART-``), or an :class:`ItemError` with the file and line.
    """
    ctl = _spans_control(schema, control)
    top = root.resolve()
    names = list(files) if files is not None else sorted(p.name for p in top.glob("*.conll"))
    for name in names:
        try:
            path = resolve_inside(top, name)
            fh = path.open(encoding="utf-8-sig")
        except (ValueError, OSError) as exc:
            yield ItemError(name, str(exc))
            continue
        with fh:
            try:
                for i, doc in enumerate(_docs(fh)):
                    yield _item(doc, i, name, ctl, schema)
            except UnicodeDecodeError as exc:
                yield ItemError(name, f"not UTF-8 text ({exc.reason})")


def _item(doc: _Doc, index: int, name: str, ctl: Control, schema: LabelSchema) -> ImportedItem | ItemError:
    if doc.error is not None:
        return ItemError(name, doc.error[1], line=doc.error[0])
    try:
        text, regions = _build(doc, ctl)
    except _BadLine as exc:
        return ItemError(name, exc.reason, line=exc.line)
    problems = check_problems(schema, ctl.target, regions, {"text": text})
    if problems:
        return ItemError(name, "; ".join(problems), line=doc.line)
    key = f"{name}:{index}"
    return ImportedItem(key, ctl.target, None, text, regions, f"{name}:{doc.line}", {"split": Path(name).stem})
