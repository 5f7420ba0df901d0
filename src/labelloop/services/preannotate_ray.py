"""``--engine ray``: the same backends in Ray actors; the driver keeps reading and writing.

The driver (this process) pages through the items without a suggestion, sends each batch to one
of ``workers`` actors, and commits each batch's validated suggestions in its own transaction as
it comes back, exactly as the local engine does (:func:`~labelloop.services.preannotate.run_batch`
runs inside the actor, so validation and item-by-item isolation are the same). At most
``2 × workers`` batches are in flight; killing the driver loses at most those.

Each actor builds the backend once (from its registered name and config, or from a pickled
backend object), sets it up with file access to the store's blob directory (the cluster's
workers must see the data dir: one machine, or a shared file system), and fits it when it is
trainable. Failure isolation per batch:

* an actor that dies (segfault, ``os._exit``, OOM kill) fails its batch's items with
  "backend worker died" and is replaced;
* a batch that takes longer than ``batch_timeout_s`` fails its items with "backend timed out"
  and its actor is killed and replaced; other batches go on.

Example:
    >>> _worker_count({"ray_workers": 3}, 2)
    3
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from labelloop.core import Control, Item, ItemError, LabelSchema
from labelloop.core.plugins import Backend
from labelloop.errors import BackendUnavailable
from labelloop.plugins import PluginManager
from labelloop.services._ray_worker import Worker
from labelloop.services.preannotate import (
    PreannotateReport,
    ProgressFn,
    commit_batch,
    labelled,
    pending_batches,
    start_report,
)
from labelloop.storage import Store

__all__ = ["run_on_ray"]

DEFAULT_BATCH_TIMEOUT_S = 600.0


def _worker_count(options: Mapping[str, Any], default: int) -> int:
    n = options.get("ray_workers", default)
    return max(1, int(n))


def _fail_batch(batch: Sequence[Item], why: str) -> list[ItemError]:
    return [ItemError(f"item {it.id}", why, code="LL-BACKEND") for it in batch]


def run_on_ray(
    store: Store,
    project_id: int,
    schema: LabelSchema,
    backend: Backend,
    backend_name: str,
    config: dict[str, Any],
    controls: Sequence[Control],
    size: int,
    options: dict[str, Any],
    *,
    ray_address: str | None = None,
    progress: ProgressFn | None = None,
    limit: int | None = None,
) -> PreannotateReport:
    """Run the pre-annotation loop with ``backend`` in Ray actors (see the module docstring).

    ``options`` may hold ``ray_workers`` (default 2) and ``batch_timeout_s`` (default 600); the
    rest goes to the backends' ``setup``. The backend is rebuilt in each actor from
    ``backend_name`` and ``config`` when it is registered under that name, else pickled.
    ``limit`` caps the items, as in ``preannotate``.

    Raises:
        BackendUnavailable: Ray is not installed, or the backend cannot set up in an actor.
    """
    try:
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError
    except ImportError as exc:
        raise BackendUnavailable("--engine ray needs the 'ray' extra (pip install 'labelloop[ray]')") from exc
    workers = _worker_count(options, 2)
    timeout_s = float(options.get("batch_timeout_s", DEFAULT_BATCH_TIMEOUT_S))
    setup_options = {k: v for k, v in options.items() if k not in ("ray_workers", "batch_timeout_s")}
    started_ray = False
    if not ray.is_initialized():
        if ray_address:
            ray.init(address=ray_address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        started_ray = True
    by_name = backend_name == backend.name and backend_name in PluginManager().backend_names()
    shipped = None if by_name else backend
    actor_cls: Any = ray.remote(num_cpus=0.5, max_restarts=0)(Worker)
    fit_data = labelled(store, project_id) if backend.capabilities.trainable else None

    def spawn(n: int = 1) -> list[Any]:
        """Start ``n`` actors at once and wait until they are set up (and fitted)."""
        actors = [actor_cls.remote(shipped, backend_name, config, store.blobs.root, setup_options) for _ in range(n)]
        ray.get([a.ready.remote() for a in actors])
        if fit_data is not None:
            ray.get([a.fit.remote(*fit_data, schema) for a in actors])
        return actors

    try:
        try:
            pool = spawn(workers)
        except (RayTaskError, RayActorError) as exc:
            cause = getattr(exc, "cause", None) or exc
            first = str(cause).strip().splitlines()[-1:] or [""]
            raise BackendUnavailable(
                f"backend {backend.name!r} failed to set up in a Ray actor: {type(cause).__name__}: {first[0][:300]}"
            ) from None
        report = start_report(store, project_id, backend, progress, limit)
        report.engine = "ray"
        started, cpu_started = time.perf_counter(), time.process_time()
        batches = iter(pending_batches(store, project_id, backend, size, limit))
        idle = list(range(workers))
        inflight: dict[Any, tuple[int, list[Item], float]] = {}  # ref -> (actor slot, batch, deadline)
        exhausted = False
        while True:
            while idle and not exhausted:
                batch = next(batches, None)
                if batch is None:
                    exhausted = True
                    break
                slot = idle.pop()
                ref = pool[slot].run.remote(batch, schema, controls)
                inflight[ref] = (slot, batch, time.monotonic() + timeout_s)
            if not inflight:
                break
            soonest = min(d for _, _, d in inflight.values())
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=max(0.0, soonest - time.monotonic()))
            now = time.monotonic()
            done = list(ready) + [r for r, (_, _, d) in inflight.items() if d <= now and r not in ready]
            for ref in done:
                slot, batch, _ = inflight.pop(ref)
                t0 = time.perf_counter()
                try:
                    good, errors, retried = ray.get(ref, timeout=0 if ref not in ready else None)
                except GetTimeoutError:
                    ray.kill(pool[slot])
                    pool[slot] = spawn()[0]
                    good, errors, retried = [], _fail_batch(batch, f"backend timed out after {timeout_s:g} s"), False
                except RayActorError:
                    pool[slot] = spawn()[0]
                    good, errors, retried = [], _fail_batch(batch, "backend worker died"), False
                except RayTaskError as exc:
                    good, errors, retried = [], _fail_batch(batch, f"backend failed: {type(exc.cause).__name__}"), False
                report.predict_seconds += time.perf_counter() - t0
                commit_batch(store, project_id, report, good, errors, retried, progress)
                idle.append(slot)
        usage: dict[str, float] = {}
        for actor in pool:
            try:
                for k, v in ray.get(actor.usage.remote(), timeout=30).items():
                    usage[k] = usage.get(k, 0.0) + v
                ray.get(actor.close.remote(), timeout=30)
            except Exception:  # noqa: S112 - a dead actor has nothing more to report
                continue
        report.usage = usage
        report.seconds = time.perf_counter() - started
        report.cpu_seconds = time.process_time() - cpu_started
        for actor in pool:
            ray.kill(actor)
        return report
    finally:
        if started_ray:
            ray.shutdown()
