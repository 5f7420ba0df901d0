"""FastJSON writes the bytes Starlette's JSONResponse writes, for the values the work routes answer with."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from labelloop.api.responses import FastJSON

_text = st.text(st.characters(exclude_categories=("Cs",)))  # (lone surrogates are not UTF-8: both refuse them)
_scalars = (
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text
    | st.floats(allow_nan=False, allow_infinity=False)
)  # fmt: skip
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4), max_leaves=20
)


@given(_values)
def test_same_json_as_starlette(value: object) -> None:
    fast, slow = FastJSON(value).body, JSONResponse(value).body
    assert json.loads(fast) == json.loads(slow)


def test_same_bytes_for_a_task() -> None:
    task = {"task": {"item": {"id": 7, "data": {"text": "北京 — café"}}, "suggestions": [{"score": 0.93, "value": []}],
                     "base_version": None, "is_gold": False}}  # fmt: skip
    assert FastJSON(task).body == JSONResponse(task).body


def test_nan_becomes_null() -> None:
    assert FastJSON({"score": math.nan}).body == b'{"score":null}'
