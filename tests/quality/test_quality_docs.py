"""Every public example in labelloop.quality runs and prints what its docstring says."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "labelloop.quality",
    "labelloop.quality.votes",
    "labelloop.quality.agreement",
    "labelloop.quality.geometry_agreement",
    "labelloop.quality.aggregation",
    "labelloop.quality.consensus",
    "labelloop.quality.label_errors",
    "labelloop.quality.simulation",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name.endswith("label_errors"):
        pytest.importorskip("sklearn")  # out_of_fold_pred_probs' example fits a model
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_api_is_documented() -> None:
    import labelloop.quality as q

    missing = [n for n in q.__all__ if "Example" not in (getattr(q, n).__doc__ or "")]
    assert missing == []
