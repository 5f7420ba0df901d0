"""Small helpers shared by the built-in media backends: config parsing and audio resampling.

Example:
    >>> import numpy as np
    >>> to_mono(np.ones((4, 2), np.float32), 8000, 16000).shape
    (8,)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ValidationError

from labelloop.errors import InvalidSchema

__all__ = ["parse_config", "to_mono"]

M = TypeVar("M", bound=BaseModel)


def parse_config(model: type[M], backend: str, config: Mapping[str, Any]) -> M:
    """Validate a backend config mapping into ``model``.

    Raises:
        InvalidSchema: an unknown or out-of-range parameter, with one line per problem.

    Example:
        >>> from pydantic import ConfigDict
        >>> class C(BaseModel):
        ...     model_config = ConfigDict(extra="forbid")
        ...     k: int = 1
        >>> parse_config(C, "demo", {"k": 2}).k
        2
    """
    try:
        return model.model_validate(dict(config))
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise InvalidSchema(f"{backend} config: " + "; ".join(lines)) from None


def to_mono(samples: NDArray[Any], rate: int, target: int = 16000) -> NDArray[np.float32]:
    """Mix ``samples`` down to mono and resample from ``rate`` to ``target`` Hz (polyphase).

    Args:
        samples: ``(frames,)`` or ``(frames, channels)`` floats in [-1, 1].
        rate: Their sample rate.
        target: The wanted sample rate.

    Returns:
        Mono float32 samples at ``target`` Hz.

    Example:
        >>> to_mono(np.zeros(44100, np.float32), 44100).shape
        (16000,)
    """
    a = np.asarray(samples, dtype=np.float32)
    if a.ndim == 2:
        a = a.mean(axis=1)
    if rate != target and a.size:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(rate), int(target))
        a = np.asarray(resample_poly(a, target // g, int(rate) // g), dtype=np.float32)
    return np.ascontiguousarray(a, dtype=np.float32)
