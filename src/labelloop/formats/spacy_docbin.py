"""spaCy v3 training data (``DocBin``, ``.spacy``) for spans and text classification.

Layout: ``<out>/<split>/NNNN.spacy`` — shards of at most ``shard_size`` docs, written as they
fill (a spaCy corpus path may be the folder: ``spacy train`` reads every ``.spacy`` under it).

Per item (the text of the spans/classification control's media field):

* every spans control → ``doc.spans[<control name>]`` (overlap allowed);
* the first spans control that does not ``allow_overlap`` → also ``doc.ents`` (the schema
  guarantees its spans do not overlap, so NER training can use it);
* classification controls → ``doc.cats``: 1.0 for each chosen label, 0.0 for the others
  (label names must be unique across classification controls);
* ``doc.user_data`` holds ``labelloop_id`` and ``labelloop_key``.

Tokenisation is ``spacy.blank(lang)``. For Chinese (``lang="zh"``) the tokenizer is built with
``segmenter="char"`` — one token per character, fully offline; the ``jieba`` and ``pkuseg``
segmenters need extra packages and models. Spans are aligned with
``doc.char_span(start, end, label, alignment_mode="strict")``: a span that does not start and
end on token edges (``"Obama"`` inside ``"Obamas"``) skips the item with an error, never
shifted.

Example:
    >>> nlp = blank_nlp("zh")
    >>> [t.text for t in nlp("北京欢迎你")]
    ['北', '京', '欢', '迎', '你']
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelloop.core import Control, ControlKind, ItemError, LabelSchema, Medium
from labelloop.errors import FormatError
from labelloop.formats._base import (
    ExportRecord,
    ExportReport,
    MediaPath,
    check_problems,
    controls_of,
    safe_split,
)
from labelloop.formats._output import ExportOutput, atomic_output

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span

    from labelloop.formats._spacy_bin import DocBinWriter

__all__ = ["blank_nlp", "export_spacy", "record_doc"]


def blank_nlp(lang: str = "en") -> Language:
    """A blank spaCy pipeline (tokenizer only) that needs no download.

    ``zh`` uses character segmentation (``segmenter="char"``), the offline option.
    """
    import spacy

    if lang == "zh":
        return spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "char"}}})
    return spacy.blank(lang)


def _export_nlp(lang: str) -> Language:
    """:func:`blank_nlp` whose new words get only the lexeme attribute an export writes (``NORM``).

    A new word's lexeme runs every lexical attribute getter of the language (shape, prefix,
    suffix, stop word, like-number, like-URL, ... : about 20 Python functions), a third of
    tokenising an unseen word. A ``.spacy`` file stores per token only its text and norm of
    the lexical attributes (the rest are token attributes), so the export's pipeline keeps
    the ``NORM`` getter alone: the files are the same bytes (test_format_spacy compares them
    with ``DocBin.add`` over a full pipeline).
    """
    from spacy.attrs import NORM

    nlp = blank_nlp(lang)
    vocab: Any = nlp.vocab  # lex_attr_getters is a public Vocab attribute the stub omits
    getters = vocab.lex_attr_getters
    vocab.lex_attr_getters = {NORM: getters[NORM]} if NORM in getters else {}
    return nlp


# A pipeline kept between exports grows by every new word; past this many strings it is dropped.
PIPELINE_MAX_STRINGS = 300_000
_pipelines: dict[str, Language] = {}
_pipelines_lock = threading.Lock()


@contextmanager
def _pipeline(lang: str) -> Iterator[Language]:
    """Lend the process's blank pipeline for ``lang`` to one export at a time.

    Building ``spacy.blank`` costs about 0.1 s (its tokenizer loads over a thousand special
    cases): kept, it is paid once per process instead of once per export. Tokenisation is
    deterministic, so a kept pipeline tokenises exactly as a new one. An export that finds
    the pipelines lent (a concurrent export) builds its own; a pipeline that has grown past
    :data:`PIPELINE_MAX_STRINGS` strings (every new word adds some) is dropped after use.
    """
    if not _pipelines_lock.acquire(blocking=False):
        yield _export_nlp(lang)
        return
    try:
        nlp = _pipelines.get(lang)
        if nlp is None:
            nlp = _pipelines[lang] = _export_nlp(lang)
        try:
            yield nlp
        finally:
            if len(nlp.vocab.strings) > PIPELINE_MAX_STRINGS:
                del _pipelines[lang]
    finally:
        _pipelines_lock.release()


def _field(schema: LabelSchema, spans: list[Control], cats: list[Control]) -> str:
    targets = {c.target for c in [*spans, *cats]}
    if len(targets) != 1:
        raise FormatError(f"spaCy export needs its spans/classification controls on one text field, got {targets}")
    field_name = targets.pop()
    if schema.medium_of(field_name) != Medium.TEXT:
        raise FormatError(f"spaCy export needs a text field, {field_name!r} is {schema.medium_of(field_name)}")
    return field_name


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a schema asks of every doc (worked out once per export)."""

    span_controls: tuple[str, ...]
    ents_control: str | None
    cat_labels: tuple[str, ...]

    @classmethod
    def of(cls, schema: LabelSchema, field_name: str) -> _Plan:
        spans = controls_of(schema, [ControlKind.SPANS], field_name)
        cats = controls_of(schema, [ControlKind.CLASSIFICATION], field_name)
        return cls(
            tuple(c.name for c in spans),
            next((c.name for c in spans if not c.allow_overlap), None),
            tuple(label for c in cats for label in c.labels),
        )


def record_doc(
    nlp: Language, schema: LabelSchema, rec: ExportRecord, field_name: str, plan: _Plan | None = None
) -> tuple[Doc, int, int]:
    """Build the annotated ``Doc`` of one record; returns it, the regions written and those ignored.

    The exporter stores the same parts without annotating a doc (:func:`_record_parts`).

    Raises:
        ValueError: when the value is invalid or a span does not align with token edges.
    """
    parts = _record_parts(nlp, schema, rec, field_name, plan or _Plan.of(schema, field_name))
    doc = parts.doc
    for name, spans in parts.groups.items():
        doc.spans[name] = spans
    doc.cats = parts.cats
    doc.user_data.update(parts.user_data)
    return doc, parts.written, parts.ignored


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__
class _Parts:
    """One record's tokenised doc (entities set) and what else annotates it."""

    doc: Doc
    groups: dict[str, list[Span]]
    cats: dict[str, float]
    user_data: dict[str, Any]
    written: int
    ignored: int


def _record_parts(nlp: Language, schema: LabelSchema, rec: ExportRecord, field_name: str, plan: _Plan) -> _Parts:
    """Tokenise one record's text and align its spans (``char_span``, strict) and categories.

    Raises:
        ValueError: when the value is invalid or a span does not align with token edges.
    """
    ref = rec.item.data.get(field_name)
    if ref is None or ref.kind != Medium.TEXT or ref.text is None:
        raise ValueError(f"the item has no text in field {field_name!r}")
    value = rec.value or []
    problems = check_problems(schema, field_name, value, {"text": ref.text})
    if problems:
        raise ValueError("invalid annotation: " + "; ".join(problems))
    doc = nlp.make_doc(ref.text)
    groups: dict[str, list[Span]] = {name: [] for name in plan.span_controls}
    cats = dict.fromkeys(plan.cat_labels, 0.0)
    written = 0
    for r in value:
        ctl = schema.control(r["control"])
        if ctl.kind == ControlKind.SPANS and ctl.name in groups:
            sp = doc.char_span(r["start"], r["end"], label=r["label"], alignment_mode="strict")
            if sp is None:
                got = ref.text[r["start"] : r["end"]]
                raise ValueError(f"span [{r['start']}:{r['end']}] {got!r} ({r['label']}) is not on token edges")
            groups[ctl.name].append(sp)
            written += 1
        elif ctl.kind == ControlKind.CLASSIFICATION and ctl.target == field_name:
            for label in r["labels"]:
                cats[label] = 1.0
            written += 1
    if plan.ents_control is not None:
        doc.set_ents(sorted(groups[plan.ents_control], key=lambda s: s.start))
    user_data = {"labelloop_id": rec.item.id, "labelloop_key": rec.item.key}
    return _Parts(doc, groups, cats, user_data, written, len(value) - written)


class _Shards:
    """Per-split ``DocBin`` buffers flushed to ``NNNN.spacy`` every ``size`` docs."""

    def __init__(self, root: ExportOutput, size: int) -> None:
        self.root, self.size = root, size
        self.bins: dict[str, DocBinWriter] = {}
        self.counts: dict[str, int] = {}

    def add(self, split: str, parts: _Parts) -> None:
        db = self.bins.get(split)
        if db is None:
            from labelloop.formats._spacy_bin import DocBinWriter

            db = self.bins[split] = DocBinWriter()
        db.add_parts(parts.doc, parts.groups, parts.cats, parts.user_data)
        if len(db) >= self.size:
            self.flush(split)

    def flush(self, split: str) -> None:
        db = self.bins.pop(split, None)
        if db is None or not len(db):
            return
        n = self.counts.get(split, 0)
        self.root.write(f"{split}/{n:04d}.spacy", db.to_bytes())
        self.counts[split] = n + 1

    def close(self) -> None:
        for split in list(self.bins):
            self.flush(split)


def export_spacy(
    records: Iterable[ExportRecord],
    schema: LabelSchema,
    out: Path,
    media_path: MediaPath,
    /,
    *,
    lang: str = "en",
    shard_size: int = 5000,
) -> ExportReport:
    """Export spans and text classification as spaCy ``DocBin`` shards (published atomically).

    Args:
        records: Text items (``split`` from the record or ``item.meta``).
        schema: The label schema (spans and/or classification controls on one text field).
        out: The folder to create (must not exist, or be empty), or a new ``.zip`` file.
        media_path: Unused (text is inline); accepted for the common exporter signature.
        lang: The ``spacy.blank`` language (``zh``: character segmentation).
        shard_size: Docs per ``.spacy`` file (memory bound of the export).

    Returns:
        The report; misaligned spans are listed in ``errors`` (the item is skipped).

    Example:
        >>> # export_spacy(records, schema, Path("release/spacy"), store.path_of, lang="zh")
        >>> # DocBin().from_disk("release/spacy/train/0000.spacy").get_docs(blank_nlp("zh").vocab)
    """
    spans = controls_of(schema, [ControlKind.SPANS])
    cats = controls_of(schema, [ControlKind.CLASSIFICATION])
    if not spans and not cats:
        raise FormatError("spaCy export needs a spans or classification control")
    field_name = _field(schema, spans, cats)
    labels = [label for c in cats for label in c.labels]
    if len(set(labels)) != len(labels):
        raise FormatError("classification labels must be unique across controls to become doc.cats")
    plan = _Plan.of(schema, field_name)
    report = ExportReport(out)
    with _pipeline(lang) as nlp, atomic_output(out) as dest:
        shards = _Shards(dest, max(1, shard_size))
        for rec in records:
            try:
                split = safe_split(rec.split_name)
                parts = _record_parts(nlp, schema, rec, field_name, plan)
            except ValueError as exc:
                report.errors.append(ItemError(rec.where, str(exc), code="LL-FORMAT"))
                continue
            shards.add(split, parts)
            report.items += 1
            report.regions += parts.written
            report.ignored_regions += parts.ignored
        shards.close()
        _write_meta(dest, lang, field_name, spans, cats)
    return report


def _write_meta(dest: ExportOutput, lang: str, field_name: str, spans: list[Control], cats: list[Control]) -> None:
    import json

    meta: dict[str, Any] = {
        "lang": lang,
        "tokenizer": "spacy.blank" + ("(segmenter=char)" if lang == "zh" else ""),
        "field": field_name,
        "spans_keys": [c.name for c in spans],
        "ents_from": next((c.name for c in spans if not c.allow_overlap), None),
        "cats": [label for c in cats for label in c.labels],
    }
    dest.write("labelloop-spacy.json", (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode())
