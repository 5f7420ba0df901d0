"""``http``: a remote model server speaking the Label Studio ML backend protocol.

Existing Label Studio ML backends (``label-studio-ml-backend``) work unchanged:

* ``GET /health`` → ``{"status": "UP"}`` when the server is ready (checked in ``setup``);
* ``POST /setup`` with the project's Label Studio config → ``{"model_version": ...}``;
* ``POST /predict`` with ``{"tasks": [{"id", "data"}], "label_config", "project", "params"}``
  → ``{"results": [{"result": [...], "score", "model_version"}, ...]}`` (or a bare list), one
  prediction per task in order.

Task data carries each text field inline and binary media as ``data:`` URIs (base64, capped by
``max_media_bytes``). Predictions are converted to schema regions by the Label Studio reader of
:mod:`labelloop.formats` (injected by the plugin layer, :mod:`labelloop.plugins.remote`); a
prediction that does not convert fails its own item only, and the engine validates the rest.
All calls go through :class:`labelloop.net.calls.JsonEndpoint`: SSRF guard at connect time
(loopback or LAN servers need the admin allow-list in ``BackendContext.options["outbound_allow"]``),
timeouts, retries, response size cap, and errors that never echo the server's body.

Example:
    >>> b = create({"url": "https://models.example.com"}, to_regions=lambda s, r, z: [], label_config=str)
    >>> b.model_version, sorted(m.value for m in b.capabilities.media)
    ('remote', ['text'])
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from labelloop.backends._common import parse_config
from labelloop.backends.base import BaseBackend
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput
from labelloop.errors import BackendUnavailable

__all__ = ["HttpBackend", "HttpConfig", "RegionsFn", "create"]

RegionsFn = Callable[[LabelSchema, Any, dict[str, tuple[int, int] | None]], list[dict[str, Any]]]
LabelConfigFn = Callable[[LabelSchema], str]
CONTROLS = frozenset(
    {
        ControlKind.CLASSIFICATION,
        ControlKind.SPANS,
        ControlKind.BOXES,
        ControlKind.POLYGONS,
        ControlKind.SEGMENTS,
        ControlKind.TEXT_FIELD,
    }
)


class HttpConfig(BaseModel):
    """The ``http`` backend config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1)
    model_version: str = Field(default="remote", min_length=1, max_length=100)
    media: list[Medium] = Field(default_factory=lambda: [Medium.TEXT], min_length=1)
    project: str = "labelloop"
    params: dict[str, Any] = Field(default_factory=dict)
    api_key_env: str | None = None
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 60.0
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    requests_per_s: Annotated[float, Field(ge=0)] = 0.0
    max_response_bytes: Annotated[int, Field(ge=1024, le=256 * 1024**2)] = 16 * 1024**2
    max_media_bytes: Annotated[int, Field(ge=0)] = 8 * 1024**2
    batch_size: Annotated[int, Field(ge=1, le=1024)] = 16


class HttpBackend(BaseBackend):
    """Label Studio ML backend client (see the module docstring)."""

    name = "http"

    def __init__(self, config: HttpConfig, to_regions: RegionsFn, label_config: LabelConfigFn) -> None:
        super().__init__()
        self.config = config
        self.model_version = config.model_version
        self.capabilities = BackendCapabilities(
            media=frozenset(config.media) & {Medium.TEXT, Medium.IMAGE, Medium.AUDIO} or frozenset({Medium.TEXT}),
            controls=CONTROLS,
            batch_size=config.batch_size,
        )
        self._to_regions = to_regions
        self._label_config = label_config
        self._endpoint: Any = None
        self._setup_done: set[str] = set()
        self.server_version: str | None = None

    def setup(self, context: BackendContext) -> None:
        """Connect (through the SSRF guard) and check ``/health``.

        Raises:
            BackendUnavailable: refused target, unreachable or unhealthy server (no server text).
        """
        super().setup(context)
        from labelloop.net.calls import EndpointError, JsonEndpoint, RetryPolicy
        from labelloop.net.ssrf import OutboundPolicy, OutboundRefused, allow_entries

        c = self.config
        headers = {}
        if c.api_key_env:
            key = os.environ.get(c.api_key_env)
            if not key:
                raise BackendUnavailable(f"http: environment variable {c.api_key_env!r} (the token) is not set")
            headers["Authorization"] = f"Token {key}"
        policy = OutboundPolicy.from_allow(allow_entries(context.options.get("outbound_allow")))
        retry = RetryPolicy(**c.model_dump(include={"timeout_s", "retries", "requests_per_s", "max_response_bytes"}))
        try:
            self._endpoint = JsonEndpoint(c.url, policy, retry, headers)
            health = self._endpoint.call("GET", "/health")
        except OutboundRefused as exc:
            raise BackendUnavailable(f"http: {exc}") from None
        except EndpointError as exc:
            raise BackendUnavailable(f"http: model server health check failed: {exc}") from None
        if not isinstance(health, dict) or str(health.get("status", "")).upper() != "UP":
            raise BackendUnavailable("http: the model server is not UP (GET /health)")

    def _ensure_setup(self, schema: LabelSchema) -> str:
        config = self._label_config(schema)
        if config not in self._setup_done:
            answer = self._endpoint.call(
                "POST",
                "/setup",
                {"project": self.config.project, "schema": config, "model_version": self.model_version},
            )
            self._setup_done.add(config)
            if isinstance(answer, dict) and isinstance(answer.get("model_version"), str):
                self.server_version = answer["model_version"][:100]
        return config

    def _task(self, item: Item, controls: Sequence[Control]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for target in dict.fromkeys(c.target for c in controls):
            ref = item.data.get(target)
            if ref is None:
                raise ValueError(f"item {item.id} has no media field {target!r}")
            if ref.kind == Medium.TEXT:
                data[target] = ref.text or ""
                continue
            path = self.media.path(ref)
            size = path.stat().st_size
            if size > self.config.max_media_bytes:
                raise ValueError(
                    f"{target!r} is {size} bytes; the http backend sends at most {self.config.max_media_bytes}"
                )
            data[target] = f"data:{ref.media_type};base64," + base64.b64encode(path.read_bytes()).decode()
        return {"id": item.id, "data": data}

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Send the batch to ``/predict``; convert each prediction to regions.

        Raises:
            EndpointError: the server failed for the whole batch (the engine retries per item).
            ValueError: the answer does not hold one prediction per task.
        """
        if not batch:
            return []
        if self._endpoint is None:
            raise BackendUnavailable("http: setup() must be called before predict()")
        label_config = self._ensure_setup(schema)
        tasks: list[dict[str, Any]] = []
        outs: dict[int, BackendOutput] = {}
        for item in batch:
            try:
                tasks.append(self._task(item, controls))
            except (OSError, ValueError) as exc:
                outs[item.id] = self.fail(item, f"http: {exc}")
        if tasks:
            body = {"tasks": tasks, "label_config": label_config, "project": self.config.project}
            answer = self._endpoint.call("POST", "/predict", body | {"params": dict(self.config.params)})
            preds = answer.get("results") if isinstance(answer, dict) else answer
            if not isinstance(preds, list) or len(preds) != len(tasks):
                got = f"{len(preds)} predictions" if isinstance(preds, list) else "no prediction list"
                raise ValueError(f"http: the model server returned {got} for {len(tasks)} tasks")
            by_id = {it.id: it for it in batch}
            wanted = {c.name for c in controls}
            for task, pred in zip(tasks, preds, strict=True):
                item = by_id[task["id"]]
                outs[item.id] = self._convert(item, schema, wanted, pred)
        return [outs[it.id] for it in batch]

    def _convert(self, item: Item, schema: LabelSchema, wanted: set[str], pred: Any) -> BackendOutput:
        if isinstance(pred, list):  # some servers answer the result list itself
            pred = {"result": pred}
        if not isinstance(pred, dict):
            return self.fail(item, "http: a prediction is not an object")
        sizes: dict[str, tuple[int, int] | None] = {}
        for name, ref in item.data.items():
            w, h = ref.meta.get("width"), ref.meta.get("height")
            sizes[name] = (w, h) if isinstance(w, int) and isinstance(h, int) else None
        try:
            regions = self._to_regions(schema, pred.get("result", []), sizes)
        except (ValueError, KeyError, TypeError) as exc:
            return self.fail(item, f"http: prediction not usable: {str(exc)[:200]}")
        regions = [r for r in regions if r.get("control") in wanted]
        raw = pred.get("score")
        score = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        ok = score is not None and math.isfinite(score) and 0.0 <= score <= 1.0
        return self.ok(item, regions, score=score if ok else None)

    def close(self) -> None:
        """Close the connection pool."""
        if self._endpoint is not None:
            self._endpoint.close()


def create(config: Mapping[str, Any], *, to_regions: RegionsFn, label_config: LabelConfigFn) -> HttpBackend:
    """Build the ``http`` backend (validated here; nothing connects until ``setup``).

    Raises:
        InvalidSchema: an unknown or out-of-range option.
    """
    return HttpBackend(parse_config(HttpConfig, "http", config), to_regions, label_config)
