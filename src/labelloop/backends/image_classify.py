"""``image.classify``: few-shot image classification trained on the project's own labels.

Features are a histogram of oriented gradients (Dalal & Triggs, 2005; scikit-image) of the
greyscale image resized to ``size`` x ``size``, concatenated with the standardised pixels of an
8 x 8 thumbnail; a multinomial logistic regression (scikit-learn) learns the classes. ``fit``
takes the latest human annotations; the model version carries a hash of the training labels,
so new labels give a new version (and a new round of suggestions) while a re-run on the same
labels resumes.

Example:
    >>> rng = np.random.default_rng(0)
    >>> light = [np.full((16, 16), 220, np.uint8) + rng.integers(0, 9, (16, 16), dtype=np.uint8) for _ in range(4)]
    >>> dark = [np.full((16, 16), 30, np.uint8) + rng.integers(0, 9, (16, 16), dtype=np.uint8) for _ in range(4)]
    >>> clf = FewShotClassifier().fit(light + dark, ["light"] * 4 + ["dark"] * 4)
    >>> clf.predict([light[0], dark[0]])[0]
    ['light', 'dark']
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labelloop.backends.base import BaseBackend, ClassProbabilities, media_of
from labelloop.backends.memo import VectorMemo
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendOutput
from labelloop.errors import BackendUnavailable, InvalidSchema

__all__ = ["FewShotClassifier", "ImageClassifyBackend", "ImageClassifyConfig", "create"]

BASE_VERSION = "1.0"


class ImageClassifyConfig(BaseModel):
    """Parameters of ``image.classify``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(32, ge=8, le=256)
    c: float = Field(0.5, gt=0)
    min_per_class: int = Field(1, ge=1)


class FewShotClassifier:
    """HOG + thumbnail features and logistic regression (an estimator: ``fit`` returns self).

    Attributes:
        classes_: The class names, in the model's order.
    """

    def __init__(self, size: int = 32, c: float = 0.5) -> None:
        self.size = size
        self.c = c
        self.classes_: list[str] = []
        self._model: Any = None

    def features(self, images: Sequence[NDArray[Any]]) -> NDArray[np.float64]:
        """One feature row per image (greyscale or RGB, any size)."""
        from skimage.feature import hog
        from skimage.transform import resize as _resize

        resize: Callable[..., NDArray[np.float64]] = _resize  # untyped in scikit-image

        rows = []
        for img in images:
            a = np.asarray(img, dtype=np.float64)
            if a.ndim == 3:
                a = a[..., :3].mean(axis=2)
            # 8-bit images keep their brightness; other arrays are scaled by their maximum
            a = a / 255.0 if np.asarray(img).dtype == np.uint8 else a / max(float(a.max()), 1e-9)
            big = resize(a, (self.size, self.size), anti_aliasing=True)
            cell = max(4, self.size // 4)
            h = hog(big, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2), feature_vector=True)
            thumb = resize(a, (8, 8), anti_aliasing=True).ravel()
            rows.append(np.concatenate([h, (thumb - 0.5) * 0.5]))
        return np.vstack(rows)

    def fit(self, images: Sequence[NDArray[Any]], labels: Sequence[str]) -> Self:
        """Learn from labelled images (at least two classes)."""
        return self.fit_features(self.features(images), labels)

    def fit_features(self, feats: NDArray[np.float64], labels: Sequence[str]) -> Self:
        """:meth:`fit` on feature rows already computed by :meth:`features`."""
        from sklearn.linear_model import LogisticRegression

        if len(set(labels)) < 2:
            raise ValueError(f"at least two classes are needed to train, got {sorted(set(labels))}")
        self._model = LogisticRegression(C=self.c, max_iter=2000)
        self._model.fit(feats, list(labels))
        self.classes_ = [str(c) for c in self._model.classes_]
        return self

    def predict_proba(self, images: Sequence[NDArray[Any]]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Class probabilities (columns follow ``classes_``) and the feature rows, per image."""
        if self._model is None:
            raise ValueError("FewShotClassifier is not fitted")
        feats = self.features(images)
        return self.proba_of(feats), feats

    def proba_of(self, feats: NDArray[np.float64]) -> NDArray[np.float64]:
        """Class probabilities (columns follow ``classes_``) of feature rows from :meth:`features`."""
        if self._model is None:
            raise ValueError("FewShotClassifier is not fitted")
        return np.asarray(self._model.predict_proba(feats), dtype=np.float64)

    def predict(self, images: Sequence[NDArray[Any]]) -> tuple[list[str], NDArray[np.float64]]:
        """Return the predicted class and its probability per image."""
        proba, _ = self.predict_proba(images)
        best = proba.argmax(axis=1)
        return [self.classes_[i] for i in best], proba[np.arange(len(best)), best]


class ImageClassifyBackend(BaseBackend):
    """Few-shot image classification (see the module docstring); must be fitted first."""

    name = "image.classify"
    model_version = BASE_VERSION
    capabilities = BackendCapabilities(
        media=frozenset({Medium.IMAGE}),
        controls=frozenset({ControlKind.CLASSIFICATION}),
        batch_size=64,
        trainable=True,
    )

    def __init__(self, config: ImageClassifyConfig) -> None:
        super().__init__()
        self.config = config
        self.models: dict[str, FewShotClassifier] = {}
        # (image sha256, size) -> features: an image's features are computed once (fit, predict, samplers)
        self._features = VectorMemo()

    def _feats(self, batch: Sequence[Item], ctl: Control) -> NDArray[np.float64]:
        """The feature rows of each item's image for ``ctl`` (read and computed once per image)."""
        by_key = {(media_of(item, ctl).sha256, self.config.size): item for item in batch}
        featurizer = FewShotClassifier(self.config.size, self.config.c)

        def compute(keys: list[tuple[str, int]]) -> NDArray[np.float64]:
            return featurizer.features([self._load(by_key[k], ctl) for k in keys])

        keys = [(media_of(item, ctl).sha256, self.config.size) for item in batch]
        rows: NDArray[np.float64] = self._features.rows(keys, compute)
        return rows

    def _load(self, item: Item, ctl: Control) -> NDArray[Any]:
        from labelloop.modalities import load_image

        ref = media_of(item, ctl)
        return load_image(self.media.path(ref), source=f"item {item.id} {ctl.target}")

    def fit(self, items: Sequence[Item], values: Sequence[list[dict[str, Any]]], schema: LabelSchema) -> None:
        """Train one classifier per image classification control from annotation ``values``.

        Raises:
            BackendUnavailable: fewer than two classes (or ``min_per_class`` examples) for every control.
        """
        digest = hashlib.sha256()
        problems = []
        for ctl in schema.controls:
            if not self.capabilities.supports(ctl, schema):
                continue
            images: list[Item] = []
            labels: list[str] = []
            for item, value in zip(items, values, strict=True):
                label = next((r["labels"][0] for r in value if r.get("control") == ctl.name and r.get("labels")), None)
                if label is not None and ctl.target in item.data:
                    images.append(item)
                    labels.append(str(label))
                    digest.update(f"{ctl.name}\0{item.content_hash}\0{label}\n".encode())
            counts = {lab: labels.count(lab) for lab in set(labels)}
            usable = [lab for lab, n in counts.items() if n >= self.config.min_per_class]
            if len(usable) < 2:
                problems.append(f"{ctl.name!r}: {len(labels)} labelled images of classes {counts}")
                continue
            keep = [i for i, lab in enumerate(labels) if lab in usable]
            clf = FewShotClassifier(self.config.size, self.config.c)
            feats = self._feats([images[i] for i in keep], ctl)
            self.models[ctl.name] = clf.fit_features(feats, [labels[i] for i in keep])
        if not self.models:
            raise BackendUnavailable(
                f"image.classify needs human labels of at least two classes to train; found {'; '.join(problems)}"
            )
        self.model_version = f"{BASE_VERSION}+{digest.hexdigest()[:12]}"

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Classify each item's image for every fitted control."""
        if not self.models:
            raise BackendUnavailable("image.classify: fit() on labelled items must come before predict()")
        fitted = [c for c in controls if c.name in self.models]
        per_item: dict[int, tuple[list[dict[str, Any]], list[float]]] = {it.id: ([], []) for it in batch}
        for ctl in fitted:
            if not batch:
                continue
            model = self.models[ctl.name]
            proba = model.proba_of(self._feats(batch, ctl))
            best = proba.argmax(axis=1)
            for item, b, p in zip(batch, best, proba[np.arange(len(best)), best], strict=True):
                label = model.classes_[int(b)]
                per_item[item.id][0].append({"id": ctl.name, "control": ctl.name, "labels": [label]})
                per_item[item.id][1].append(float(p))
        return [
            self.ok(it, per_item[it.id][0], score=min(per_item[it.id][1]) if per_item[it.id][1] else None)
            for it in batch
        ]

    def class_probabilities(self, batch: Sequence[Item], control: Control) -> ClassProbabilities:
        """Every class's probability and the HOG + thumbnail features, for active-learning samplers.

        Raises:
            BackendUnavailable: ``control`` was not fitted.
        """
        model = self.models.get(control.name)
        if model is None:
            raise BackendUnavailable(f"image.classify: no model fitted for control {control.name!r}")
        feats = self._feats(batch, control)
        return ClassProbabilities(list(model.classes_), model.proba_of(feats), feats)


def create(config: Mapping[str, Any]) -> ImageClassifyBackend:
    """Build ``image.classify`` (see :class:`ImageClassifyConfig`; nothing loads here).

    Raises:
        InvalidSchema: an unknown or out-of-range parameter.
    """
    try:
        return ImageClassifyBackend(ImageClassifyConfig.model_validate(dict(config)))
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise InvalidSchema("image.classify config: " + "; ".join(lines)) from None
