"""Fixtures that let the shared contract test (``test_backend_contract.py``) run the audio and
``image.onnx`` backends.

* Audio: the contract test's ``_items`` knows text, image and point clouds only; for audio
  backends it is wrapped to store one demo speech clip and one second of silence.
* ``image.onnx``: its example config names ``yolo.onnx`` (relative to the working directory);
  the test runs in a temporary directory holding a tiny constant-output model.

Fold the audio branch into ``_items`` and a model fixture into the contract test to retire this.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelloop.core import Medium
from tests.backends.factories import SCHEMAS, add_items, audio_ref, demo_clip_ref, make_project, tiny_yolo_onnx

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
    yield


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any socket connection fails: proves that models load from local files only."""
    import socket

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network access is disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
