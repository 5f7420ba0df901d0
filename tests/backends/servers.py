"""Tiny real HTTP servers on loopback, in threads: a Label Studio ML backend and an OpenAI-like API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "INTERNAL-SECRET-7f3a"  # appears in error bodies; must never reach a user-facing message


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes | str | Any, ctype: str = "application/json", **headers: str) -> None:
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null")

    def do_GET(self) -> None:
        self.server.calls.append(("GET", self.path, None))
        self.route("GET", None)

    def do_POST(self) -> None:
        body = self._body()
        self.server.calls.append(("POST", self.path, body))
        self.route("POST", body)

    def route(self, method: str, body: Any) -> None:
        raise NotImplementedError


class LSHandler(_Handler):
    """Label Studio ML backend: sentiment ``choices`` from keywords, ``labels`` spans for 'Paris'."""

    def route(self, method: str, body: Any) -> None:
        mode = self.server.mode
        if self.path == "/health":
            self._send(200, {"status": "UP", "model_class": "Keywords"})
        elif self.path == "/setup":
            self._send(200, {"model_version": "kw-1"})
        elif self.path != "/predict":
            self._send(404, {"detail": SECRET})
        elif mode == "crash":
            self._send(500, f"Traceback ... {SECRET}", "text/plain")
        elif mode == "garbage":
            self._send(200, b"<html>" + SECRET.encode(), "text/html")
        elif mode == "huge":
            self._send(200, b"[" + b"0," * 300_000 + b"0]")
        else:
            if mode == "hang":
                time.sleep(5)
            self._predict(body, mode)

    def _predict(self, body: Any, mode: str) -> None:
        preds = []
        for task in body["tasks"]:
            text = task["data"].get("text", "")
            if "crashme" in text and mode == "item_crash":
                self._send(500, SECRET, "text/plain")
                return
            label = "pos" if "good" in text else "neg"
            if mode == "unknown_label":
                label = "meh"
            result: list[dict[str, Any]] = [
                {
                    "id": "c1",
                    "from_name": "sentiment",
                    "to_name": "text",
                    "type": "choices",
                    "value": {"choices": [label]},
                }
            ]
            at = text.find("Paris")
            if at >= 0:
                result.append(
                    {
                        "id": "s1",
                        "from_name": "entities",
                        "to_name": "text",
                        "type": "labels",
                        "value": {"start": at, "end": at + 5, "text": "Paris", "labels": ["LOC"]},
                    }
                )
            preds.append({"result": result, "score": 0.75, "model_version": "kw-1"})
        if mode == "short":
            preds = preds[:-1]
        self._send(200, {"results": preds})


class RedirectHandler(_Handler):
    """Answers every request with a redirect to ``server.target``."""

    def route(self, method: str, body: Any) -> None:
        self.send_response(302)
        self.send_header("Location", self.server.target)
        self.send_header("Content-Length", "0")
        self.end_headers()


class ChatHandler(_Handler):
    """OpenAI chat completions: answers ``server.answer`` (a JSON string) with token logprobs.

    ``server.fail_first`` requests get 429 (Retry-After 0) first; mode ``crash`` answers 500.
    """

    def route(self, method: str, body: Any) -> None:
        if self.server.fail_first > 0:
            self.server.fail_first -= 1
            self._send(429, {"error": SECRET}, Retry_After="0")
            return
        if self.server.mode == "crash":
            self._send(500, {"error": SECRET})
            return
        if self.server.mode == "hang":
            time.sleep(5)
        content = self.server.answer(body) if callable(self.server.answer) else self.server.answer
        tokens = [content[i : i + 3] for i in range(0, len(content), 3)]
        logprobs = {"content": [{"token": t, "logprob": -0.05, "top_logprobs": []} for t in tokens]}
        self._send(
            200,
            {
                "id": "x",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "logprobs": logprobs,
                        "finish_reason": "length" if self.server.mode == "truncate" else "stop",
                    }
                ],
                "usage": {"prompt_tokens": 40, "completion_tokens": len(tokens), "total_tokens": 40 + len(tokens)},
            },
        )


@contextmanager
def serve(handler: type[_Handler], **attrs: Any) -> Iterator[Any]:
    """Run ``handler`` on 127.0.0.1 (free port) in a thread; yields the server (``.url``, ``.calls``)."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    srv.handle_error = lambda request, client_address: None  # type: ignore[method-assign]  # clients that hang up
    srv.calls = []
    srv.mode = "ok"
    srv.fail_first = 0
    for k, v in attrs.items():
        setattr(srv, k, v)
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
