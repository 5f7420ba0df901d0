"""The point-cloud value object and the accumulator the format readers feed.

Example:
    >>> import numpy as np
    >>> cloud = PointCloud(np.zeros((2, 3), dtype=np.float32), {"intensity": np.ones(2)})
    >>> len(cloud)
    2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["PointCloud", "Sink"]


@dataclass(frozen=True, slots=True, eq=False)
class PointCloud:
    """Points in the file's own coordinate frame.

    Attributes:
        xyz: ``(N, 3)`` float32 coordinates. Georeferenced LAS coordinates (UTM and the like)
            lose precision in float32; use ``meta["bounds"]`` from probing for exact extents.
        fields: Per-point attributes other than x/y/z, each with ``N`` rows (``intensity``,
            ``rgb``, ``classification`` ...). A multi-valued PCD field is ``(N, count)``.

    Example:
        >>> import numpy as np
        >>> PointCloud(np.zeros((1, 3), dtype=np.float32)).fields
        {}
    """

    xyz: npt.NDArray[np.float32]
    fields: dict[str, npt.NDArray[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import numpy as np

        if self.xyz.ndim != 2 or self.xyz.shape[1] != 3 or self.xyz.dtype != np.float32:
            raise ValueError(f"xyz must be an (N, 3) float32 array, got {self.xyz.shape} {self.xyz.dtype}")
        for name, values in self.fields.items():
            if len(values) != len(self.xyz):
                raise ValueError(f"field {name!r} has {len(values)} rows for {len(self.xyz)} points")

    def __len__(self) -> int:
        return int(self.xyz.shape[0])


class Sink:
    """Collects points chunk by chunk: count and bounds always, the arrays when ``keep``."""

    def __init__(self, *, keep: bool) -> None:
        self.keep = keep
        self.count = 0
        self._lo: list[float] | None = None
        self._hi: list[float] | None = None
        self._xyz: list[npt.NDArray[np.float32]] = []
        self._fields: dict[str, list[npt.NDArray[Any]]] = {}

    def add(self, xyz: npt.NDArray[Any], fields: Mapping[str, npt.NDArray[Any]]) -> None:
        """Add ``(n, 3)`` coordinates and their per-point fields (ignored unless ``keep``)."""
        import numpy as np

        coords = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
        self.count += len(coords)
        finite = coords[np.isfinite(coords).all(axis=1)]
        if len(finite):
            lo, hi = finite.min(axis=0).tolist(), finite.max(axis=0).tolist()
            self._lo = lo if self._lo is None else [min(a, b) for a, b in zip(self._lo, lo, strict=True)]
            self._hi = hi if self._hi is None else [max(a, b) for a, b in zip(self._hi, hi, strict=True)]
        if self.keep:
            self._xyz.append(np.asarray(xyz, dtype=np.float32).reshape(-1, 3))
            for name, values in fields.items():
                self._fields.setdefault(name, []).append(np.asarray(values))

    @property
    def bounds(self) -> list[list[float]] | None:
        """``[[xmin, ymin, zmin], [xmax, ymax, zmax]]`` over finite points, ``None`` if none."""
        if self._lo is None or self._hi is None:
            return None
        return [self._lo, self._hi]

    def cloud(self) -> PointCloud:
        """The kept points as one :class:`PointCloud`."""
        import numpy as np

        xyz = np.concatenate(self._xyz) if self._xyz else np.zeros((0, 3), dtype=np.float32)
        fields = {name: np.concatenate(parts) for name, parts in self._fields.items()}
        return PointCloud(np.ascontiguousarray(xyz, dtype=np.float32), fields)
