"""labelloop: automated data annotation for text, images, audio and point clouds.

Example:
    >>> import labelloop
    >>> labelloop.__version__
    '0.1.0'
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from labelloop._version import __version__

        return __version__
    raise AttributeError(f"module 'labelloop' has no attribute {name!r}")
