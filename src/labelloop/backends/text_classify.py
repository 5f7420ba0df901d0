"""``text.classify``: few-shot and zero-shot text classes from sentence embeddings.

Texts are embedded with all-MiniLM-L6-v2 (English) or multilingual-e5 (any text with a Han
character), see :mod:`labelloop.backends.text_embed`. Per classification control:

* **few-shot**, once the project's labels hold at least ``min_per_class`` examples of two
  labels: a logistic regression on the embeddings (one-vs-rest for ``multi`` controls), refitted
  by every ``fit`` — so suggestions improve as labels arrive, and the model version carries a
  hash of the labels (a new version means a new round of suggestions; the same labels resume).
* **zero-shot** otherwise: cosine similarity between the text and each label's description
  (``descriptions`` in the config, else the label name with underscores as spaces), turned
  into probabilities by a softmax with a per-encoder ``scale`` (``multi``: a sigmoid around
  the mean cosine).

Scores are probabilities in [0, 1] that the whole suggestion is right: the class probability
for single-label controls; for ``multi`` controls the product of each label decision's
probability (chosen: ``p``, left out: ``1 - p``). They are meant to be calibrated per project
with :func:`labelloop.services.calibrate.fit_calibration`.

Example:
    >>> clf = EmbeddingClassifier(multi=False).fit(
    ...     np.eye(3, 4, dtype=np.float32)[[0, 0, 1, 1]], ["a", "a", "b", "b"])
    >>> clf.predict(np.eye(3, 4, dtype=np.float32)[[0]])[0][0]
    ['a']
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from labelloop.backends._common import parse_config
from labelloop.backends.base import BaseBackend, ClassProbabilities, media_of
from labelloop.backends.memo import VectorMemo
from labelloop.backends.text_embed import TextEncoder, has_han, load_encoder
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput
from labelloop.errors import BackendUnavailable

__all__ = ["EmbeddingClassifier", "TextClassifyBackend", "TextClassifyConfig", "create", "zero_shot"]

BASE_VERSION = "1.0"
Vectors = NDArray[np.float32]


class TextClassifyConfig(BaseModel):
    """Parameters of ``text.classify``.

    Attributes:
        encoder: ``auto`` (e5 for texts with Han characters, MiniLM otherwise), ``minilm`` or ``e5``.
        descriptions: ``{control: {label: description}}`` for zero-shot; missing ones use the label name.
        min_per_class: Labelled examples a label needs before few-shot training uses it.
        c: Inverse regularisation of the logistic regression.
        multi_threshold: ``multi`` controls: labels whose probability reaches this are chosen.
        scale_minilm: Zero-shot softmax scale on MiniLM cosines.
        scale_e5: Zero-shot softmax scale on e5 cosines (they sit in a narrow band, hence larger).
        threads: onnxruntime threads for MiniLM (0: its default).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoder: Literal["auto", "minilm", "e5"] = "auto"
    descriptions: dict[str, dict[str, str]] = Field(default_factory=dict)
    min_per_class: int = Field(2, ge=1)
    c: float = Field(4.0, gt=0)
    multi_threshold: float = Field(0.5, gt=0, lt=1)
    scale_minilm: float = Field(20.0, gt=0, le=1000)
    scale_e5: float = Field(60.0, gt=0, le=1000)
    threads: int = Field(0, ge=0, le=64)


def _softmax(z: NDArray[np.float64]) -> NDArray[np.float64]:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
    return out


def _decide(
    proba: NDArray[np.float64], classes: Sequence[str], multi: bool, threshold: float
) -> list[tuple[list[str], float]]:
    """Labels and suggestion score per row of class probabilities."""
    out = []
    for row in proba:
        if not multi:
            k = int(row.argmax())
            out.append(([classes[k]], float(row[k])))
            continue
        chosen = [i for i, p in enumerate(row) if p >= threshold] or [int(row.argmax())]
        score = float(np.prod([row[i] if i in chosen else 1.0 - row[i] for i in range(len(row))]))
        out.append(([classes[i] for i in chosen], min(max(score, 0.0), 1.0)))
    return out


def zero_shot(
    texts: Vectors,
    labels: Vectors,
    classes: Sequence[str],
    *,
    scale: float,
    multi: bool = False,
    threshold: float = 0.5,
) -> list[tuple[list[str], float]]:
    """Zero-shot decisions from text and label-description vectors (both normalised).

    For ``multi`` controls each label's probability is ``sigmoid(scale * (cos - mean cos))``,
    otherwise the softmax of ``scale * cos`` over the labels.

    Example:
        >>> t = np.array([[1.0, 0.0]], np.float32)
        >>> lab = np.array([[0.9, 0.436], [0.0, 1.0]], np.float32)
        >>> zero_shot(t, lab, ["cat", "dog"], scale=20)[0][0]
        ['cat']
    """
    cos = np.asarray(texts @ labels.T, np.float64)
    centred = cos - cos.mean(axis=1, keepdims=True)
    proba = 1.0 / (1.0 + np.exp(-scale * centred)) if multi else _softmax(scale * cos)
    return _decide(proba, classes, multi, threshold)


class EmbeddingClassifier:
    """Logistic regression on sentence vectors (an estimator: ``fit`` returns self).

    Args:
        multi: Several labels per text (one-vs-rest) instead of exactly one.
        c: Inverse regularisation strength.
        threshold: ``multi``: probability a label needs to be chosen.

    Attributes:
        classes_: Class names in the model's column order.
    """

    def __init__(self, multi: bool = False, c: float = 4.0, threshold: float = 0.5) -> None:
        self.multi, self.c, self.threshold = multi, c, threshold
        self.classes_: list[str] = []
        self._models: list[Any] = []

    def fit(self, vectors: Vectors, labels: Sequence[str] | Sequence[Sequence[str]]) -> Self:
        """Learn from one label (or, ``multi``, a list of labels) per vector.

        Raises:
            ValueError: fewer than two classes.
        """
        from sklearn.linear_model import LogisticRegression

        sets = [[lab] if isinstance(lab, str) else list(lab) for lab in labels]
        self.classes_ = sorted({lab for s in sets for lab in s})
        if len(self.classes_) < 2:
            raise ValueError(f"at least two classes are needed to train, got {self.classes_}")
        x = np.asarray(vectors, np.float64)
        if not self.multi:
            model = LogisticRegression(C=self.c, max_iter=2000)
            model.fit(x, [s[0] for s in sets])
            self.classes_ = [str(c) for c in model.classes_]
            self._models = [model]
            return self
        self._models = []
        for cls in self.classes_:
            y = np.array([cls in s for s in sets])
            if y.all() or not y.any():  # a label on every (or no) example: a constant
                self._models.append(float(y.mean()))
                continue
            self._models.append(LogisticRegression(C=self.c, max_iter=2000).fit(x, y))
        return self

    def predict_proba(self, vectors: Vectors) -> NDArray[np.float64]:
        """Class probabilities (columns follow ``classes_``)."""
        if not self._models:
            raise ValueError("EmbeddingClassifier is not fitted")
        x = np.asarray(vectors, np.float64)
        if not self.multi:
            return np.asarray(self._models[0].predict_proba(x), np.float64)
        cols = [
            np.full(len(x), m) if isinstance(m, float) else np.asarray(m.predict_proba(x))[:, 1] for m in self._models
        ]
        return np.stack(cols, axis=1).astype(np.float64)

    def predict(self, vectors: Vectors) -> list[tuple[list[str], float]]:
        """Chosen labels and the suggestion's score per vector."""
        return _decide(self.predict_proba(vectors), self.classes_, self.multi, self.threshold)


class TextClassifyBackend(BaseBackend):
    """Few-shot / zero-shot text classification (see the module docstring)."""

    name = "text.classify"
    model_version = BASE_VERSION
    capabilities = BackendCapabilities(
        media=frozenset({Medium.TEXT}),
        controls=frozenset({ControlKind.CLASSIFICATION}),
        languages=frozenset({"en", "zh"}),
        batch_size=128,
        trainable=True,
    )

    def __init__(self, config: TextClassifyConfig) -> None:
        super().__init__()
        self.config = config
        self._examples: dict[str, tuple[list[str], list[list[str]]]] = {}  # control -> (texts, label lists)
        self._fitted: dict[tuple[str, str], EmbeddingClassifier] = {}  # (control, encoder) -> model
        self._labels: dict[tuple[str, str], Vectors] = {}  # (control, encoder) -> label vectors
        self._vectors = VectorMemo()  # (encoder, text) -> vector: a text is embedded once (fit, predict, samplers)
        self.model_version = self._version(b"")

    def _version(self, labels_digest: bytes) -> str:
        cfg = self.config.model_dump_json(exclude={"threads"}).encode()
        return f"{BASE_VERSION}+{hashlib.sha256(cfg + labels_digest).hexdigest()[:12]}"

    def setup(self, context: BackendContext) -> None:
        """Load the English encoder now (fail early); e5 loads on the first Han text."""
        super().setup(context)
        if self.config.encoder in ("auto", "minilm"):
            load_encoder("minilm", self.config.threads)
        else:
            load_encoder("e5")

    def _encoder_for(self, text: str) -> str:
        if self.config.encoder != "auto":
            return self.config.encoder
        return "e5" if has_han(text) else "minilm"

    def _encoder(self, kind: str) -> TextEncoder:
        return load_encoder(kind, self.config.threads if kind == "minilm" else 0)

    def _encode(self, kind: str, texts: Sequence[str]) -> Vectors:
        """The ``kind`` encoder's vectors of ``texts``, each text embedded once while this backend lives."""
        enc = self._encoder(kind)
        if not texts:
            return enc.encode([])
        vectors: Vectors = self._vectors.rows([(kind, t) for t in texts], lambda keys: enc.encode([t for _, t in keys]))
        return vectors

    def fit(self, items: Sequence[Item], values: Sequence[list[dict[str, Any]]], schema: LabelSchema) -> None:
        """Keep the labelled texts of every text classification control; models train lazily per encoder.

        Controls whose labels have fewer than two usable classes stay zero-shot. Never raises for
        too few labels: zero-shot needs none.
        """
        digest = hashlib.sha256()
        self._examples.clear()
        self._fitted.clear()
        for ctl in schema.controls:
            if not self.capabilities.supports(ctl, schema):
                continue
            texts: list[str] = []
            label_sets: list[list[str]] = []
            for item, value in zip(items, values, strict=True):
                labels = next((r.get("labels") for r in value if r.get("control") == ctl.name), None)
                text = item.data[ctl.target].text if ctl.target in item.data else None
                if not labels or text is None:
                    continue
                keep = [str(lab) for lab in labels if lab in ctl.labels]
                if keep:
                    texts.append(text)
                    label_sets.append(keep if ctl.multi else keep[:1])
                    digest.update(f"{ctl.name}\0{item.content_hash}\0{'|'.join(keep)}\n".encode())
            counts: dict[str, int] = {}
            for s in label_sets:
                for lab in s:
                    counts[lab] = counts.get(lab, 0) + 1
            if sum(n >= self.config.min_per_class for n in counts.values()) >= 2:
                self._examples[ctl.name] = (texts, label_sets)
        self.model_version = self._version(digest.digest() if self._examples else b"")

    def mode(self, control: str) -> str:
        """``few-shot`` when ``fit`` found enough labels for ``control``, else ``zero-shot``."""
        return "few-shot" if control in self._examples else "zero-shot"

    def _few_shot(self, ctl: Control, kind: str) -> EmbeddingClassifier:
        key = (ctl.name, kind)
        if key not in self._fitted:
            texts, label_sets = self._examples[ctl.name]
            usable = {lab for s in label_sets for lab in s}
            counts = {lab: sum(lab in s for s in label_sets) for lab in usable}
            rows = [i for i, s in enumerate(label_sets) if any(counts[lab] >= self.config.min_per_class for lab in s)]
            vectors = self._encode(kind, [texts[i] for i in rows])
            targets = [[lab for lab in label_sets[i] if counts[lab] >= self.config.min_per_class] for i in rows]
            clf = EmbeddingClassifier(ctl.multi, self.config.c, self.config.multi_threshold)
            self._fitted[key] = clf.fit(vectors, targets if ctl.multi else [t[0] for t in targets])
        return self._fitted[key]

    def _label_vectors(self, ctl: Control, kind: str) -> Vectors:
        key = (ctl.name, kind)
        if key not in self._labels:
            given = self.config.descriptions.get(ctl.name, {})
            prompts = [given.get(lab) or lab.replace("_", " ") for lab in ctl.labels]
            self._labels[key] = self._encoder(kind).encode(prompts)
        return self._labels[key]

    def classify(self, texts: Sequence[str], ctl: Control) -> list[tuple[list[str], float]]:
        """Labels and score for each text, for one classification control."""
        out: list[tuple[list[str], float]] = [([], 0.0)] * len(texts)
        groups: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            groups.setdefault(self._encoder_for(text), []).append(i)
        for kind, idx in groups.items():
            vectors = self._encode(kind, [texts[i] for i in idx])
            if ctl.name in self._examples:
                decided = self._few_shot(ctl, kind).predict(vectors)
            else:
                scale = self.config.scale_e5 if kind == "e5" else self.config.scale_minilm
                decided = zero_shot(
                    vectors,
                    self._label_vectors(ctl, kind),
                    ctl.labels,
                    scale=scale,
                    multi=ctl.multi,
                    threshold=self.config.multi_threshold,
                )
            for i, d in zip(idx, decided, strict=True):
                out[i] = d
        return out

    def class_probabilities(self, batch: Sequence[Item], control: Control) -> ClassProbabilities:
        """Every label's probability (few-shot or zero-shot, as :meth:`classify` decides) and the text vectors.

        Columns follow ``control.labels``; ``multi`` controls give each label's own probability.
        Features are None when the batch mixed encoders (their vectors differ in size).
        """
        texts = [media_of(item, control).text or "" for item in batch]
        proba = np.zeros((len(texts), len(control.labels)), np.float64)
        groups: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            groups.setdefault(self._encoder_for(text), []).append(i)
        vectors: Vectors | None = None
        for kind, idx in groups.items():
            v = self._encode(kind, [texts[i] for i in idx])
            if len(groups) == 1:
                vectors = v
            if control.name in self._examples:
                clf = self._few_shot(control, kind)
                cols = [control.labels.index(c) for c in clf.classes_]
                proba[np.ix_(idx, cols)] = clf.predict_proba(v)
                continue
            cos = np.asarray(v @ self._label_vectors(control, kind).T, np.float64)
            scale = self.config.scale_e5 if kind == "e5" else self.config.scale_minilm
            if control.multi:
                proba[idx] = 1.0 / (1.0 + np.exp(-scale * (cos - cos.mean(axis=1, keepdims=True))))
            else:
                proba[idx] = _softmax(scale * cos)
        return ClassProbabilities(list(control.labels), proba, None if vectors is None else vectors.astype(np.float64))

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """One classification region per control and item; the item score is the lowest control score."""
        if self._context is None:
            raise BackendUnavailable("text.classify: setup() must be called before predict()")
        values: dict[int, list[dict[str, Any]]] = {it.id: [] for it in batch}
        scores: dict[int, list[float]] = {it.id: [] for it in batch}
        for ctl in controls:
            texts = []
            for item in batch:
                text = media_of(item, ctl).text
                if text is None:
                    raise ValueError(f"item {item.id}: media field {ctl.target!r} holds no text")
                texts.append(text)
            for item, (labels, score) in zip(batch, self.classify(texts, ctl), strict=True):
                values[item.id].append({"id": ctl.name, "control": ctl.name, "labels": labels})
                scores[item.id].append(score)
        return [self.ok(it, values[it.id], score=min(scores[it.id]) if scores[it.id] else None) for it in batch]


def create(config: Mapping[str, Any]) -> TextClassifyBackend:
    """Build ``text.classify`` (see :class:`TextClassifyConfig`; encoders load in ``setup``).

    Raises:
        InvalidSchema: an unknown or out-of-range parameter.

    Example:
        >>> create({"descriptions": {"sentiment": {"pos": "a happy, positive text"}}}).mode("sentiment")
        'zero-shot'
    """
    return TextClassifyBackend(parse_config(TextClassifyConfig, "text.classify", config))
