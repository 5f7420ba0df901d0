"""Few-shot classification on scikit-learn's digits (real training and inference, small)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from labelloop.backends.image_classify import FewShotClassifier


def test_digits_five_shot() -> None:
    d = load_digits()
    rng = np.random.default_rng(0)
    train = np.concatenate([rng.choice(np.flatnonzero(d.target == k), 5, replace=False) for k in range(10)])
    test = rng.choice(np.setdiff1d(np.arange(len(d.target)), train), 300, replace=False)
    clf = FewShotClassifier().fit(list(d.images[train]), [str(v) for v in d.target[train]])
    labels, probs = clf.predict(list(d.images[test]))
    acc = np.mean(np.array(labels) == d.target[test].astype(str))
    assert acc >= 0.85
    assert np.all((probs > 0) & (probs <= 1))


def test_one_class_is_refused() -> None:
    with pytest.raises(ValueError, match="two classes"):
        FewShotClassifier().fit([np.zeros((8, 8))] * 2, ["a", "a"])
