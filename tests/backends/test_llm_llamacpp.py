"""``llm`` with a real model: SmolLM2-135M-Instruct through a llama.cpp server on loopback, and in-process."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from labelloop.backends.llm.client import find_smollm2_gguf
from labelloop.services.preannotate import preannotate
from labelloop.storage import Store
from tests.backends.factories import add_items, make_project, text_ref

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python is not installed (the 'llm' extra; it builds from source in ~8 min)",
    ),
]

SCHEMA = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [
        {"name": "sentiment", "kind": "classification", "target": "text", "labels": ["positive", "negative"]},
    ],
}
TEXTS = ["I love this movie, it was wonderful!", "Terrible service, I want my money back.", "Great food."]
ALLOW = {"outbound_allow": ["127.0.0.1"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` with the SmolLM2 GGUF on a free loopback port."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log = log_path.open("wb")  # not a pipe: llama.cpp logs a lot, and a full pipe blocks the server
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(find_smollm2_gguf())]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                err = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {err}")
            try:
                if httpx.get(url + "/models", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer within 120 s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _items(store: Store) -> None:
    make_project(store, "p", SCHEMA)
    add_items(store, "p", "text", [text_ref(t) for t in TEXTS])


@pytest.mark.parametrize("constraint", ["json_object", "grammar"])
def test_http_path_against_llama_cpp_server(sqlite_store: Store, llama_server: str, constraint: str) -> None:
    _items(sqlite_store)
    cfg = {"endpoint": llama_server, "model": "smollm2", "constraint": constraint, "timeout_s": 120, "max_tokens": 32}
    r = preannotate(sqlite_store, "p", "llm", config=cfg, options=ALLOW)
    assert (r.suggestions, r.failed) == (3, 0), r.errors
    assert r.usage["requests"] == 3 and r.usage["prompt_tokens"] > 50 and r.usage["completion_tokens"] > 0
    with sqlite_store.read() as tx:
        sugg, _, _ = tx.labels.for_items([1, 2, 3])
    assert all(s.value[0]["labels"][0] in ("positive", "negative") for s in sugg)
    assert all(s.score is not None and 0.0 < s.score <= 1.0 for s in sugg)  # from token log-probabilities
    again = preannotate(sqlite_store, "p", "llm", config=cfg, options=ALLOW)  # resumes: nothing to do
    assert again.todo == 0 and again.usage["requests"] == 0


def test_embedded_in_process(sqlite_store: Store) -> None:
    _items(sqlite_store)
    r = preannotate(sqlite_store, "p", "llm", config={"max_tokens": 32})
    assert (r.suggestions, r.failed) == (3, 0), r.errors
    assert r.model_version == "SmolLM2-135M-Instruct+p2" and r.usage["completion_tokens"] > 0
    assert (sqlite_store.data_dir / "cache" / "llm.sqlite3").exists()


def test_embedded_logprobs_equal_llama_cpp_pythons_own() -> None:
    """The in-process client reads log-probabilities without ``logits_all`` (about 3x faster):
    the same answer, the same tokens and the same log-probabilities as llama-cpp-python's own
    ``logprobs`` (which needs ``logits_all=True``) on a real model."""
    import json

    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar

    from labelloop.backends.llm.client import EmbeddedChatClient, label_confidence, parse_completion

    schema = {"type": "object", "properties": {"sentiment": {"enum": ["positive", "negative"]}},
              "required": ["sentiment"], "additionalProperties": False}  # fmt: skip
    path = find_smollm2_gguf()
    ours = EmbeddedChatClient(path, max_tokens=64)
    theirs = llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_threads=2, logits_all=True, verbose=False, seed=0)
    grammar = LlamaGrammar.from_json_schema(json.dumps(schema, sort_keys=True), verbose=False)
    for text in TEXTS:
        messages = [{"role": "system", "content": "Label the sentiment."}, {"role": "user", "content": f"Text: {text}"}]
        got = ours.complete(messages, schema)
        want = parse_completion(theirs.create_chat_completion(
            messages=messages, grammar=grammar, temperature=0.0, max_tokens=64, logprobs=True, top_logprobs=20,
        ))  # fmt: skip
        assert got.content == want.content and got.completion_tokens == want.completion_tokens
        assert got.logprobs is not None and want.logprobs is not None
        assert [t for t, _ in got.logprobs] == [t for t, _ in want.logprobs]
        assert max(abs(a - b) for (_, a), (_, b) in zip(got.logprobs, want.logprobs, strict=True)) < 1e-4
        assert got.top_logprobs is not None and want.top_logprobs is not None
        for g, w in zip(got.top_logprobs, want.top_logprobs, strict=True):
            assert set(g) == set(w)  # the same candidates at every position
            # tokens of the same text (partial UTF-8 bytes read as '', and the like) are merged to the most
            # likely of them here; llama-cpp-python's dict keeps the last, least likely one
            assert all(g[k] >= w[k] - 1e-4 for k in g)
        c_got, c_want = (
            label_confidence(got, ["positive", "negative"]),
            label_confidence(want, ["positive", "negative"]),
        )
        assert c_got is not None and abs(c_got - c_want) < 1e-4
    ours.close()
