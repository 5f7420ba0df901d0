"""Feature rows a backend keeps while it lives, so one item's features are computed once.

A learning round fits a backend, predicts every unlabelled item, then asks the same backend for
the class probabilities and features of the pool (the samplers' input): without a memo each
pool item's embedding (text) or HOG features (image) would be computed twice. Features depend
only on the content and the backend's fixed encoder, not on what it was fitted on, so a row
stays valid across ``fit`` calls. The memo holds at most ``budget`` bytes of rows and forgets
the oldest first.

Example:
    >>> import numpy as np
    >>> memo = VectorMemo(budget=1 << 20)
    >>> calls = []
    >>> def embed(keys):
    ...     calls.append(list(keys))
    ...     return np.array([[len(k), 1.0] for k in keys])
    >>> memo.rows(["a", "bb"], embed).tolist()
    [[1.0, 1.0], [2.0, 1.0]]
    >>> memo.rows(["bb", "ccc"], embed).tolist()  # only "ccc" is computed
    [[2.0, 1.0], [3.0, 1.0]]
    >>> calls
    [['a', 'bb'], ['ccc']]
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = ["VectorMemo"]

K = TypeVar("K", bound=Hashable)


class VectorMemo:
    """Rows by key, up to ``budget`` bytes (64 MiB unless told), oldest forgotten first."""

    def __init__(self, budget: int = 64 << 20) -> None:
        self.budget = budget
        self.used = 0
        self._rows: dict[Hashable, NDArray[Any]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        """Forget every row."""
        self._rows.clear()
        self.used = 0

    def rows(self, keys: Sequence[K], compute: Callable[[list[K]], NDArray[Any]]) -> NDArray[Any]:
        """The rows of ``keys``, in order; ``compute`` is called once, on the keys not kept.

        ``compute(missing)`` must return one row per key it is given (a 2-D array). Every row of
        one call must have the same width: keep different encoders apart in the keys.
        """
        found = [self._rows.get(k) for k in keys]
        missing = [k for k, row in zip(keys, found, strict=True) if row is None]
        if not missing:
            return np.stack([r for r in found if r is not None]) if found else np.empty((0, 0))
        new = np.asarray(compute(missing))
        if new.ndim != 2 or new.shape[0] != len(missing):
            raise ValueError(f"compute gave shape {new.shape} for {len(missing)} keys (one row per key expected)")
        fresh = iter(new)
        rows = [row if row is not None else next(fresh) for row in found]
        for k, row in zip(missing, new, strict=True):
            self._keep(k, row.copy())
        return np.stack(rows)

    def _keep(self, key: Hashable, row: NDArray[Any]) -> None:
        if row.nbytes > self.budget or key in self._rows:
            return
        self._rows[key] = row
        self.used += row.nbytes
        while self.used > self.budget:
            oldest = next(iter(self._rows))
            self.used -= self._rows.pop(oldest).nbytes
