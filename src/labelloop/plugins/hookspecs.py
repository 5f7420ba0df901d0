"""Every extension point of labelloop, documented in one place.

A plugin is any module (or object) named by an entry point in the group ``labelloop.plugins``::

    [project.entry-points."labelloop.plugins"]
    my_backends = "my_package.labelloop_plugin"

The manager loads it on first use (never at import time) and calls each hook it defines. A
hook is a plain function with one of the names below; undefined hooks are skipped. Built-in
backends are registered by :mod:`labelloop.plugins.builtin` through the same entry-point group.

Example:
    >>> def register_backends(register):
    ...     register("my.echo", "my_package.echo:create", description="returns nothing")
"""

from __future__ import annotations

from typing import Any, Protocol

from labelloop.core.plugins import BackendFactory

__all__ = ["HOOKS", "RegisterBackend", "register_backends"]


class RegisterBackend(Protocol):
    """The ``register`` callable passed to :func:`register_backends`."""

    def __call__(
        self,
        name: str,
        factory: BackendFactory | str,
        *,
        description: str = "",
        example_config: dict[str, Any] | None = None,
    ) -> None:
        """Register a backend.

        Args:
            name: A dotted name, ``<medium>.<method>`` by convention (``text.rules``).
            factory: ``create(config) -> Backend``, or ``"module:function"`` imported only when
                the backend is first created (keeps heavy imports out of start-up).
            description: One line for ``labelloop preannotate`` listings.
            example_config: A config that works with the backend's example schema (used by
                contract tests and documentation).
        """
        ...


def register_backends(register: RegisterBackend) -> None:
    """Hook: register pre-annotation backends (text, image, audio, point cloud, LLM, remote).

    Backends implement :class:`labelloop.core.plugins.Backend` (and
    :class:`~labelloop.core.plugins.TrainableBackend` when they learn from project labels).
    Future kinds (an ONNX model file, an LLM with a label grammar, an HTTP model server, a Ray
    pool) are backends too: same contract, their own factory and config.
    """


#: The hook names the manager calls, in order.
HOOKS: tuple[str, ...] = ("register_backends",)
