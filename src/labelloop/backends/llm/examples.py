"""Few-shot example pickers for the ``llm`` backend (pluggable).

A picker is fitted on labelled texts and returns the ``k`` most similar to a query. The default,
:class:`CharNgramPicker`, is TF-IDF over character 1–3-grams with cosine similarity: no model,
works for Chinese (no spaces) and English alike. Any object with the :class:`ExamplePicker`
methods can replace it, e.g. one over sentence embeddings.

Example:
    >>> p = CharNgramPicker().fit(["the food was great", "terrible service", "great food"])
    >>> p.pick("great food here", 2)
    [2, 0]
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["CharNgramPicker", "ExamplePicker"]


@runtime_checkable
class ExamplePicker(Protocol):
    """Chooses few-shot examples by similarity."""

    def fit(self, texts: Sequence[str]) -> ExamplePicker:
        """Index the labelled texts; return self."""
        ...

    def pick(self, text: str, k: int) -> list[int]:
        """Indices of the ``k`` indexed texts most similar to ``text``, best first."""
        ...


def _grams(text: str, n_max: int) -> Counter[str]:
    t = " ".join(text.lower().split())
    return Counter(t[i : i + n] for n in range(1, n_max + 1) for i in range(len(t) - n + 1))


class CharNgramPicker:
    """TF-IDF over character n-grams (1..``n_max``), cosine similarity; ties keep index order."""

    def __init__(self, n_max: int = 3) -> None:
        self.n_max = n_max
        self.idf_: dict[str, float] = {}
        self.vectors_: list[dict[str, float]] = []

    def _vector(self, text: str) -> dict[str, float]:
        counts = _grams(text, self.n_max)
        v = {g: (1 + math.log(c)) * self.idf_.get(g, 0.0) for g, c in counts.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {g: x / norm for g, x in v.items() if x}

    def fit(self, texts: Sequence[str]) -> CharNgramPicker:
        """Index ``texts``."""
        df: Counter[str] = Counter()
        grams = [_grams(t, self.n_max) for t in texts]
        for g in grams:
            df.update(g.keys())
        n = len(texts)
        self.idf_ = {g: math.log((1 + n) / (1 + d)) + 1 for g, d in df.items()}
        self.vectors_ = [self._vector(t) for t in texts]
        return self

    def pick(self, text: str, k: int) -> list[int]:
        """The ``k`` most similar indexed texts."""
        q = self._vector(text)
        sims = [sum(w * v.get(g, 0.0) for g, w in q.items()) for v in self.vectors_]
        return sorted(range(len(sims)), key=lambda i: (-sims[i], i))[: max(0, k)]
