"""The Ray actor body of ``--engine ray``: one backend, built and set up once per actor.

Kept apart from the driver so a worker imports only the core, the plugin manager and
:mod:`labelloop.services._batch` (no storage, no SQLAlchemy): actors start faster.

Example:
    >>> import pathlib
    >>> BlobMedia(pathlib.Path("/data/blobs")).root.name
    'blobs'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labelloop.core import Control, Item, ItemError, LabelSchema, MediaRef, NewSuggestion
from labelloop.core.plugins import Backend, BackendContext, TrainableBackend
from labelloop.errors import PluginError
from labelloop.plugins import PluginManager
from labelloop.services._batch import backend_usage, close_backend, run_batch

__all__ = ["BlobMedia", "Worker"]


class BlobMedia:
    """:class:`~labelloop.core.plugins.MediaAccess` over a blob directory (picklable).

    Blobs live at ``<root>/<aa>/<bb>/<sha256>`` (the layout of :class:`labelloop.storage.BlobStore`).
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, ref: MediaRef) -> Path:
        """The blob file of ``ref``."""
        sha = ref.sha256
        return self.root / sha[:2] / sha[2:4] / sha


class Worker:
    """One backend in one Ray actor.

    Args:
        backend: A pickled backend object, or None to build ``name`` from ``config``.
        name: The registered backend name.
        config: Its config.
        blobs: The store's blob directory (the workers must see the data dir).
        options: ``BackendContext.options``.
    """

    def __init__(
        self, backend: Backend | None, name: str, config: dict[str, Any], blobs: Path, options: dict[str, Any]
    ) -> None:
        self.backend = backend if backend is not None else PluginManager().create_backend(name, config)
        self.backend.setup(BackendContext(media=BlobMedia(blobs), options=options))

    def ready(self) -> str:
        """The backend's model version, once set up."""
        return self.backend.model_version

    def fit(self, items: Sequence[Item], values: Sequence[list[dict[str, Any]]], schema: LabelSchema) -> str:
        """Fit a trainable backend on the project's labels."""
        if not isinstance(self.backend, TrainableBackend):
            raise PluginError(f"backend {self.backend.name!r} declares trainable but has no fit()")
        self.backend.fit(items, values, schema)
        return self.backend.model_version

    def run(
        self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]
    ) -> tuple[list[NewSuggestion], list[ItemError], bool]:
        """:func:`~labelloop.services._batch.run_batch` on this actor's backend."""
        return run_batch(self.backend, batch, schema, controls)

    def usage(self) -> dict[str, float]:
        """What the backend accounted."""
        return backend_usage(self.backend)

    def close(self) -> None:
        """Release the backend."""
        close_backend(self.backend)
