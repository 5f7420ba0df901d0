"""Helpers shared by backends: stamping outputs, picking controls, reading media.

Example:
    >>> from labelloop.core import Medium, ControlKind
    >>> class Echo(BaseBackend):
    ...     name, model_version = "echo", "1"
    ...     capabilities = BackendCapabilities(frozenset({Medium.TEXT}), frozenset({ControlKind.SPANS}))
    ...     def predict(self, batch, schema, controls):
    ...         return [self.ok(item, [], score=None) for item in batch]
    >>> Echo().fail_all([], "x")
    []
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from labelloop.core import Control, Item, LabelSchema, MediaRef
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput, MediaAccess
from labelloop.errors import BackendUnavailable

__all__ = ["BaseBackend", "ClassProbabilities", "ClassScorer", "media_of", "supported_controls"]


@dataclass(frozen=True, slots=True)
class ClassProbabilities:
    """A classifier's full output on a batch, for active-learning samplers.

    Attributes:
        classes: Class names, in column order.
        proba: ``(items, classes)`` probabilities (rows follow the batch).
        features: ``(items, dims)`` features the model saw (for diversity samplers), or None.
    """

    classes: list[str]
    proba: NDArray[np.float64]
    features: NDArray[np.float64] | None = None


@runtime_checkable
class ClassScorer(Protocol):
    """A backend that can give every class's probability (not only its suggestion's score)."""

    def class_probabilities(self, batch: Sequence[Item], control: Control) -> ClassProbabilities:
        """Class probabilities (and features) of ``batch`` for one classification ``control``."""
        ...


def supported_controls(schema: LabelSchema, capabilities: BackendCapabilities) -> list[Control]:
    """Return the controls of ``schema`` a backend with ``capabilities`` can annotate.

    Example:
        >>> from labelloop.core import Medium, ControlKind
        >>> s = LabelSchema.model_validate({"media": [{"name": "t", "kind": "text"}], "controls": [
        ...     {"name": "c", "kind": "classification", "target": "t", "labels": ["a"]}]})
        >>> caps = BackendCapabilities(frozenset({Medium.TEXT}), frozenset({ControlKind.CLASSIFICATION}))
        >>> [c.name for c in supported_controls(s, caps)]
        ['c']
    """
    return [c for c in schema.controls if capabilities.supports(c, schema)]


def media_of(item: Item, control: Control) -> MediaRef:
    """Return the medium a control targets in ``item``.

    Raises:
        KeyError: the item lacks that media field.
    """
    ref = item.data.get(control.target)
    if ref is None:
        raise KeyError(f"item {item.id} has no media field {control.target!r} (has {sorted(item.data)})")
    return ref


class BaseBackend:
    """Optional base class: stamping helpers and a ``setup`` that keeps the context.

    Subclasses set ``name``, ``model_version`` and ``capabilities`` and implement ``predict``.
    """

    name: str = ""
    model_version: str = ""
    capabilities: BackendCapabilities

    def __init__(self) -> None:
        self._context: BackendContext | None = None

    def setup(self, context: BackendContext) -> None:
        """Keep the context; subclasses load their models after calling this."""
        self._context = context

    @property
    def media(self) -> MediaAccess:
        """File access for binary media (after ``setup``).

        Raises:
            BackendUnavailable: ``setup`` was not called.
        """
        if self._context is None:
            raise BackendUnavailable(f"backend {self.name!r}: setup() must be called before predict()")
        return self._context.media

    def ok(self, item: Item, value: list[dict[str, Any]], *, score: float | None) -> BackendOutput:
        """A stamped successful output for ``item``."""
        return BackendOutput.ok(item.id, value, score=score, backend=self.name, model_version=self.model_version)

    def fail(self, item: Item, error: str) -> BackendOutput:
        """A stamped error for ``item``."""
        return BackendOutput.fail(item.id, error, backend=self.name, model_version=self.model_version)

    def fail_all(self, batch: Sequence[Item], error: str) -> list[BackendOutput]:
        """The same error for every item of ``batch``."""
        return [self.fail(item, error) for item in batch]
