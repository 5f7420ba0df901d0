"""Pre-annotation use case: run a backend over a project's items, batch by batch, resumably.

The engine covers every item that has no suggestion from the backend's (name, model_version),
so a re-run resumes and skips done work. Each batch is read, predicted, validated and stored in
its own transaction: a killed run loses at most the batch in flight. Every output is validated
with :meth:`LabelSchema.validate_value` against the item's media; invalid outputs are dropped
with a per-item error. A backend that raises, or returns garbage (wrong count, foreign item ids,
wrong stamp, a non-list value, a score outside [0, 1]), has its batch retried item by item so
only the bad items fail. Failed items get no suggestion and are retried by the next run.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.core import LabelSchema, NewItem, MediaRef
    >>> from labelloop.plugins import PluginManager
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> schema = LabelSchema.model_validate({"media": [{"name": "text", "kind": "text"}], "controls": [
    ...     {"name": "entities", "kind": "spans", "target": "text", "labels": ["LOC"]}]})
    >>> with store.transaction() as tx:
    ...     p = tx.projects.create("demo", schema, "user:me")
    ...     _ = tx.items.add_many(p.id, [NewItem({"text": MediaRef.from_text("去北京")}, "ab" * 32)], created_by="me")
    >>> rules = {"rules": [{"name": "c", "kind": "dictionary", "control": "entities", "label": "LOC",
    ...                     "terms": ["北京"]}]}
    >>> r = preannotate(store, "demo", "text.rules", plugins=PluginManager(), config=rules)
    >>> r.suggestions, r.failed, preannotate(store, "demo", "text.rules", config=rules).skipped
    (1, 0, 1)
    >>> store.close()
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from labelloop.core import Actor, Item, ItemError, MediaRef, NewSuggestion
from labelloop.core.plugins import Backend, BackendContext, TrainableBackend
from labelloop.errors import BackendUnavailable, PluginError
from labelloop.plugins import PluginManager
from labelloop.services._batch import backend_usage, close_backend, run_batch
from labelloop.storage import Store

__all__ = ["Engine", "PreannotateReport", "ProgressFn", "StoreMedia", "backend_usage", "preannotate", "run_batch"]

ProgressFn = Callable[[int, int | None], None]
Engine = Literal["local", "ray"]
MAX_ERRORS_KEPT = 1000


@dataclass(slots=True)
class PreannotateReport:
    """What a run did.

    Attributes:
        backend: The backend name.
        model_version: The version that stamped the suggestions.
        todo: Items without a suggestion from that version when the run started.
        skipped: Items already done (resumed runs).
        suggestions: Suggestions stored.
        failed: Items that got no suggestion (errors holds the first ``MAX_ERRORS_KEPT``).
        batches: Batches committed.
        retried_batches: Batches retried item by item after a backend failure.
        seconds: Wall time of the prediction loop (after setup and fit).
        cpu_seconds: CPU time of this process over the same loop (steadier than wall time on a
            shared machine; excludes Ray workers).
        predict_seconds: Time spent predicting and validating (the rest is reads and writes).
        errors: One line per failed item: ``item <id>: <reason>``.
        engine: ``local`` or ``ray``.
        usage: What the backend accounted (``llm``: requests, cache hits, tokens, cost in USD,
            latency), summed over workers; empty for backends that account nothing.
    """

    backend: str
    model_version: str
    todo: int = 0
    skipped: int = 0
    suggestions: int = 0
    failed: int = 0
    batches: int = 0
    retried_batches: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    predict_seconds: float = 0.0
    errors: list[ItemError] = field(default_factory=list)
    engine: str = "local"
    usage: dict[str, float] = field(default_factory=dict)

    def record(self, good: Sequence[NewSuggestion], errors: Sequence[ItemError], retried: bool) -> None:
        """Count one committed batch."""
        self.batches += 1
        self.retried_batches += retried
        self.suggestions += len(good)
        self.failed += len(errors)
        self.errors.extend(errors[: max(0, MAX_ERRORS_KEPT - len(self.errors))])

    @property
    def items_per_s(self) -> float:
        """Items processed per second of the prediction loop."""
        done = self.suggestions + self.failed
        return done / self.seconds if self.seconds > 0 else 0.0


class StoreMedia:
    """:class:`~labelloop.core.plugins.MediaAccess` over the store's blob directory."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def path(self, ref: MediaRef) -> Path:
        """The blob file of ``ref``."""
        return self.store.blobs.path(ref.sha256)


def labelled(store: Store, project_id: int) -> tuple[list[Item], list[list[dict[str, Any]]]]:
    """Every item with a submitted annotation by a person, and that annotation's value (for ``fit``).

    An item whose newest submitted annotation was auto-accepted (annotator ``auto:...``) is left
    out: training on the backend's own output would only confirm it.
    """
    items: list[Item] = []
    values: list[list[dict[str, Any]]] = []
    after = 0
    while True:
        with store.read() as tx:
            page = tx.labels.latest_submitted(project_id, after_item_id=after, limit=1000)
        if not page:
            break
        for item, ann in page:
            if Actor.is_machine(ann.annotator):
                continue
            items.append(item)
            values.append(ann.value)
        after = page[-1][0].id
    return items, values


def preannotate(
    store: Store,
    project: str | int,
    backend_name: str,
    *,
    plugins: PluginManager | None = None,
    config: Mapping[str, Any] | None = None,
    backend: Backend | None = None,
    batch_size: int | None = None,
    progress: ProgressFn | None = None,
    engine: Engine = "local",
    ray_address: str | None = None,
    options: Mapping[str, Any] | None = None,
    limit: int | None = None,
) -> PreannotateReport:
    """Pre-annotate every item of ``project`` that lacks a suggestion from the backend's version.

    Args:
        store: The store.
        project: Project name or id.
        backend_name: A registered backend (``text.rules``); ignored when ``backend`` is given.
        plugins: The plugin manager (default: one over the installed entry points).
        config: The backend's config mapping.
        backend: An already built backend (tests, benchmarks); ``setup`` is still called here.
        batch_size: Items per batch and transaction (default: the backend's preference).
        progress: Called with (items done, items to do) after each batch.
        engine: ``local`` (this process) or ``ray`` (the same backend in Ray actors; results
            are still written here, batch by batch; see :mod:`labelloop.services.preannotate_ray`).
        ray_address: The Ray cluster (``ray://host:10001``, ``auto``); default a local one.
        options: Run-time options for ``BackendContext.options`` (``outbound_allow``: the
            admin allow-list of :mod:`labelloop.net.ssrf`); ``cache_dir`` defaults to
            ``<data dir>/cache``.
        limit: At most this many of the items still to do, in id order (a trial of a slow or
            paid backend on a sample); a re-run goes on with those still to do (items that
            failed come first again, as they have no suggestion yet).

    Returns:
        Counts, per-item errors and timing.

    Raises:
        NotFound: no such project.
        PluginError: no such backend (the message lists the available ones).
        BackendUnavailable: the backend supports no control of the project, cannot set up, or
            (trainable) has too few labels to fit.
    """
    with store.read() as tx:
        proj = tx.projects.get(project)
    if backend is None:
        backend = (plugins or PluginManager()).create_backend(backend_name, config)
    schema = proj.schema
    controls = [c for c in schema.controls if backend.capabilities.supports(c, schema)]
    if not controls:
        caps = backend.capabilities
        raise BackendUnavailable(
            f"backend {backend.name!r} annotates {sorted(k.value for k in caps.controls)} on "
            f"{sorted(m.value for m in caps.media)} media; project {proj.name!r} has no such control"
        )
    size = batch_size or backend.capabilities.batch_size
    if size < 1:
        raise ValueError(f"batch_size must be >= 1, got {size}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    run_options = {"cache_dir": str(store.data_dir / "cache"), **dict(options or {})}
    if engine == "ray":
        from labelloop.services.preannotate_ray import run_on_ray

        return run_on_ray(
            store,
            proj.id,
            proj.schema,
            backend,
            backend_name,
            dict(config or {}),
            controls,
            size,
            run_options,
            ray_address=ray_address,
            progress=progress,
            limit=limit,
        )
    if engine != "local":
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    try:
        backend.setup(BackendContext(media=StoreMedia(store), options=run_options))
    except (BackendUnavailable, PluginError):
        raise
    except Exception as exc:
        raise BackendUnavailable(f"backend {backend.name!r} failed to set up: {type(exc).__name__}: {exc}") from exc
    try:
        if backend.capabilities.trainable:
            if not isinstance(backend, TrainableBackend):
                raise PluginError(f"backend {backend.name!r} declares trainable but has no fit()")
            backend.fit(*labelled(store, proj.id), schema)
        report = start_report(store, proj.id, backend, progress, limit)
        started, cpu_started = time.perf_counter(), time.process_time()
        for batch in pending_batches(store, proj.id, backend, size, limit):
            t0 = time.perf_counter()
            good, errors, retried = run_batch(backend, batch, schema, controls)
            report.predict_seconds += time.perf_counter() - t0
            commit_batch(store, proj.id, report, good, errors, retried, progress)
        report.usage = backend_usage(backend)
    finally:
        close_backend(backend)
    report.seconds = time.perf_counter() - started
    report.cpu_seconds = time.process_time() - cpu_started
    return report


def start_report(
    store: Store, project_id: int, backend: Backend, progress: ProgressFn | None, limit: int | None = None
) -> PreannotateReport:
    """A report with the to-do (at most ``limit``) and skipped counts of ``backend``'s version."""
    report = PreannotateReport(backend.name, backend.model_version)
    with store.read() as tx:
        pending = tx.labels.count_without_suggestion(project_id, backend.name, backend.model_version)
        report.skipped = tx.projects.counts(project_id)["items"] - pending
    report.todo = pending if limit is None else min(pending, limit)
    if progress:
        progress(0, report.todo)
    return report


def pending_batches(
    store: Store, project_id: int, backend: Backend, size: int, limit: int | None = None
) -> Iterator[list[Item]]:
    """Batches of items without a suggestion from ``backend``'s version, in id order (keyset pages).

    With ``limit``, the batches stop after that many items.
    """
    after = 0
    left = limit
    while left is None or left > 0:
        take = size if left is None else min(size, left)
        with store.read() as tx:
            batch = tx.labels.items_without_suggestion(
                project_id, backend.name, backend.model_version, after_id=after, limit=take
            )
        if not batch:
            return
        after = batch[-1].id
        if left is not None:
            left -= len(batch)
        yield batch


def commit_batch(
    store: Store,
    project_id: int,
    report: PreannotateReport,
    good: Sequence[NewSuggestion],
    errors: Sequence[ItemError],
    retried: bool,
    progress: ProgressFn | None,
) -> None:
    """Store one batch's suggestions in its own transaction (the checkpoint) and count it."""
    with store.transaction() as tx:
        tx.labels.add_suggestions(project_id, list(good))
    report.record(good, errors, retried)
    if progress:
        progress(report.suggestions + report.failed, report.todo)
