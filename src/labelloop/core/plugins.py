"""Protocols for plugin kinds: the pre-annotation backend contract.

A backend declares what it can do (:class:`BackendCapabilities`), is built once from a config
mapping by its factory, gets :meth:`Backend.setup` once per run (load a model, compile rules),
then :meth:`Backend.predict` on batches of items. Every :class:`BackendOutput` is stamped with
the backend's ``name`` and ``model_version``; the engine validates each against the label schema
before storing it as a suggestion. Trainable backends also implement :meth:`TrainableBackend.fit`.

Backends never touch storage: media files reach them through :class:`MediaAccess` in the
:class:`BackendContext` that ``setup`` receives.

Example:
    >>> out = BackendOutput.ok(7, [], score=0.5, backend="text.rules", model_version="1")
    >>> out.failed, out.item_id
    (False, 7)
    >>> BackendOutput.fail(8, "boom", backend="text.rules", model_version="1").error
    'boom'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from labelloop.core.media import MediaRef, Medium
from labelloop.core.records import Item
from labelloop.core.schema import Control, ControlKind, LabelSchema

__all__ = [
    "Backend",
    "BackendCapabilities",
    "BackendContext",
    "BackendFactory",
    "BackendOutput",
    "MediaAccess",
    "TrainableBackend",
]

Value = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class BackendCapabilities:
    """What a backend can annotate.

    Attributes:
        media: Media kinds it reads.
        controls: Control kinds it produces regions for.
        languages: ISO 639-1 codes it handles (text backends); empty means language-agnostic.
        batch_size: The batch size it prefers (the engine's default).
        trainable: It implements ``fit`` and must be fitted on the project's labels first.
    """

    media: frozenset[Medium]
    controls: frozenset[ControlKind]
    languages: frozenset[str] = frozenset()
    batch_size: int = 32
    trainable: bool = False

    def __post_init__(self) -> None:
        if not self.media or not self.controls:
            raise ValueError("a backend must declare at least one medium and one control kind")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def supports(self, control: Control, schema: LabelSchema) -> bool:
        """True when the backend can produce regions for ``control`` of ``schema``."""
        if control.kind not in self.controls:
            return False
        try:
            return schema.medium_of(control.target) in self.media
        except KeyError:  # relations/links target other controls, not media
            return False


@dataclass(frozen=True, slots=True)
class BackendOutput:
    """A backend's answer for one item: value regions and a score, or an error.

    Attributes:
        item_id: The item the output is for.
        value: The regions (schema region format); empty when nothing was found.
        score: Confidence in [0, 1] for the whole value, or None.
        error: Why the item could not be pre-annotated (then ``value`` is empty).
        backend: The backend's registered name.
        model_version: The model version that produced it.
    """

    item_id: int
    value: Value
    score: float | None
    error: str | None
    backend: str
    model_version: str

    @property
    def failed(self) -> bool:
        """True when the output is an error."""
        return self.error is not None

    @classmethod
    def ok(cls, item_id: int, value: Value, *, score: float | None, backend: str, model_version: str) -> BackendOutput:
        """A successful output."""
        return cls(item_id, value, score, None, backend, model_version)

    @classmethod
    def fail(cls, item_id: int, error: str, *, backend: str, model_version: str) -> BackendOutput:
        """An error for one item."""
        return cls(item_id, [], None, error, backend, model_version)


@runtime_checkable
class MediaAccess(Protocol):
    """Gives a backend the file of a binary medium (text is inline in ``MediaRef.text``)."""

    def path(self, ref: MediaRef) -> Path:
        """Return a local file holding the medium's bytes."""
        ...


@dataclass(frozen=True, slots=True)
class BackendContext:
    """What a backend receives once, in ``setup``.

    Attributes:
        media: File access for image, audio and point-cloud media.
        options: Run-time options (thread counts, device); backend config goes to the factory.
    """

    media: MediaAccess
    options: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """A pre-annotation backend.

    ``predict`` must return exactly one output per input item, in any order, each stamped with
    ``name`` and ``model_version``. It may raise: the engine then retries the batch item by
    item and records the failing items' errors. It must not write anywhere.
    """

    name: str
    model_version: str
    capabilities: BackendCapabilities

    def setup(self, context: BackendContext) -> None:
        """Load models / compile rules; called once before the first ``predict``."""
        ...

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Pre-annotate ``batch`` for ``controls`` (those of ``schema`` it supports)."""
        ...


@runtime_checkable
class TrainableBackend(Backend, Protocol):
    """A backend that learns from the project's own labels before predicting."""

    def fit(self, items: Sequence[Item], values: Sequence[Value], schema: LabelSchema) -> None:
        """Learn from human annotation ``values`` of ``items``; may change ``model_version``."""
        ...


class BackendFactory(Protocol):
    """Builds a backend from its config mapping (validated by the backend; nothing heavy here)."""

    def __call__(self, config: Mapping[str, Any]) -> Backend:
        """Return a new, not yet set up, backend."""
        ...
