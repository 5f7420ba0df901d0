"""One batch through a backend: predict, check, validate, isolate bad items (no storage here).

Shared by the local engine (:mod:`labelloop.services.preannotate`) and the Ray workers
(:mod:`labelloop.services._ray_worker`), which import only this light module.

Example:
    >>> backend_usage(object())
    {}
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from labelloop.core import Control, Item, ItemError, LabelSchema, NewSuggestion
from labelloop.core.plugins import Backend, BackendOutput

__all__ = ["backend_usage", "close_backend", "run_batch"]


def backend_usage(backend: object) -> dict[str, float]:
    """What a backend accounted through an optional ``usage()`` method (``{}`` without one)."""
    fn = getattr(backend, "usage", None)
    if not callable(fn):
        return {}
    try:
        raw = fn()
    except Exception:
        return {}
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float) and math.isfinite(v)}


def close_backend(backend: object) -> None:
    """Call the backend's optional ``close()``; a failure there is not the run's failure."""
    fn = getattr(backend, "close", None)
    if callable(fn):
        with contextlib.suppress(Exception):  # releasing resources must not mask the run's result
            fn()


def _describe(exc: BaseException) -> str:
    return f"backend raised {type(exc).__name__}: {exc}"


def _check(out: object, item: Item, backend: Backend) -> str | None:
    """Return why ``out`` is not a usable output for ``item`` (None when it is)."""
    if not isinstance(out, BackendOutput):
        return f"backend returned {type(out).__name__}, not a BackendOutput"
    if (out.backend, out.model_version) != (backend.name, backend.model_version):
        return f"output stamped {out.backend}@{out.model_version}, expected {backend.name}@{backend.model_version}"
    if out.error is not None:
        return out.error
    if not isinstance(out.value, list):
        return f"value is {type(out.value).__name__}, not a list of regions"
    if out.score is not None and (
        not isinstance(out.score, int | float) or not math.isfinite(out.score) or not 0.0 <= out.score <= 1.0
    ):
        return f"score {out.score!r} is not a number in [0, 1]"
    return None


def _problems(out: BackendOutput, item: Item, schema: LabelSchema) -> str | None:
    """Why a well-stamped output's value cannot be stored (None when it can).

    Values of the common shapes pass :meth:`LabelSchema.is_known_good` (exact JSON types, valid
    for the schema and the item); the rest go through the JSON checks and the full validator.
    """
    if schema.is_known_good(out.value, item.data):
        return None
    try:
        json.dumps(out.value, allow_nan=False)  # NaN / infinity
        orjson.dumps(out.value)  # exact JSON types, as storage writes them (numpy scalars are refused)
    except (TypeError, ValueError) as exc:
        return f"value is not plain JSON: {exc}"
    invalid = schema.validate_value(out.value, item.data)
    if invalid:
        return "invalid output: " + "; ".join(invalid[:5]) + (" …" if len(invalid) > 5 else "")
    return None


def _predict(
    backend: Backend, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]
) -> list[BackendOutput] | str:
    """Outputs in batch order, or why the batch as a whole is unusable."""
    try:
        outs: Any = backend.predict(batch, schema, controls)
    except Exception as exc:
        return _describe(exc)
    if not isinstance(outs, list) or len(outs) != len(batch):
        got = f"{len(outs)} outputs" if isinstance(outs, list) else type(outs).__name__
        return f"backend returned {got} for {len(batch)} items"
    alien = next((o for o in outs if not isinstance(o, BackendOutput)), None)
    if alien is not None:
        return f"backend returned {type(alien).__name__}, not a BackendOutput"
    by_id = {o.item_id: o for o in outs}
    if set(by_id) != {it.id for it in batch}:
        return "backend outputs do not match the batch's item ids"
    return [by_id[it.id] for it in batch]


def run_batch(
    backend: Backend, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]
) -> tuple[list[NewSuggestion], list[ItemError], bool]:
    """Predict and validate one batch; isolate bad items by retrying one by one.

    Returns:
        (valid suggestions, per-item errors, whether the batch had to be retried item by item).
    """
    outs = _predict(backend, batch, schema, controls)
    retried = False
    pairs: list[tuple[Item, BackendOutput | str]]
    if isinstance(outs, str) and len(batch) > 1:
        retried = True
        pairs = []
        for item in batch:
            one = _predict(backend, [item], schema, controls)
            pairs.append((item, one if isinstance(one, str) else one[0]))
    elif isinstance(outs, str):
        pairs = [(batch[0], outs)]
    else:
        pairs = list(zip(batch, outs, strict=True))
    good: list[NewSuggestion] = []
    errors: list[ItemError] = []
    name, version = backend.name, backend.model_version
    for item, out in pairs:
        problem = out if isinstance(out, str) else _check(out, item, backend) or _problems(out, item, schema)
        if problem is None:
            assert isinstance(out, BackendOutput)
            good.append(NewSuggestion(item.id, out.value, name, version, out.score))
        else:
            errors.append(ItemError(f"item {item.id}", problem, code="LL-BACKEND"))
    return good, errors, retried
