"""Media backends benchmark: items/s (audio seconds/s for audio) of the built-in media backends.

Each backend runs through ``setup`` and ``predict`` on small inputs stored in a temporary store
(the same path the engine takes, without the engine's bookkeeping).

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/backends_bench.py [--quick]``
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from skimage import data

from labelloop.backends.base import supported_controls
from labelloop.core import Item, LabelSchema, NewItem, content_hash
from labelloop.core.plugins import BackendContext
from labelloop.plugins import PluginManager
from labelloop.services.preannotate import StoreMedia
from labelloop.storage import Store
from tests.backends.factories import (
    AUDIO_DIR,
    AUDIO_SCHEMA,
    IMAGE_SCHEMA,
    add_items,
    demo_clip_ref,
    image_ref,
    make_project,
    tiny_yolo_onnx,
)

QUICK = "--quick" in sys.argv
REPEAT = 1 if QUICK else 3
PM = PluginManager()
YOLO = np.zeros((1, 6, 8400), np.float32)  # a 640 x 640 YOLOv8-sized output, 2 classes
YOLO[0, :4, :] = [[320], [320], [40], [40]]
YOLO[0, 4, :50] = np.linspace(0.3, 0.9, 50)


def _run(name: str, config: dict[str, Any], store: Store, items: Sequence[Item], schema: LabelSchema) -> float:
    backend = PM.create_backend(name, config)
    backend.setup(BackendContext(media=StoreMedia(store)))
    controls = supported_controls(schema, backend.capabilities)
    backend.predict(items[:1], schema, controls)  # warm-up
    t0 = time.perf_counter()
    for _ in range(REPEAT):
        outs = backend.predict(items, schema, controls)
        assert not any(o.failed for o in outs), [o.error for o in outs if o.failed]
    return (time.perf_counter() - t0) / REPEAT


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    store = Store.open(None, tmp / "store")
    try:
        make_project(store, "img", IMAGE_SCHEMA)
        pics = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
        refs = [image_ref(store, p) for p in pics]
        img_schema = LabelSchema.model_validate(IMAGE_SCHEMA)
        box = [{"id": "b", "control": "objects", "label": "face", "xyxy": [150, 40, 300, 200]}]
        with store.transaction() as tx:
            p = tx.projects.get("img")
            new = [
                NewItem({"image": r}, content_hash({"image": r.sha256}), key=f"k{i}", meta={"prelabels": box})
                for i, r in enumerate(refs)
            ]
            tx.items.add_many(p.id, new, created_by="user:bench")
            images = [it for page in tx.items.iter_all(p.id) for it in page]
        model = tiny_yolo_onnx(tmp / "yolo.onnx", YOLO, (640, 640))
        image_runs = {
            "image.faces": {"label": "face"},
            "image.assist": {"source_control": "objects", "target_control": "outlines"},
            "image.onnx": {"model": str(model), "classes": ["face", "car"]},
        }
        print(f"{len(images)} images (skimage astronaut/coffee/chelsea/rocket, 300-640 px), {REPEAT} repeats")
        for name, cfg in image_runs.items():
            dt = _run(name, cfg, store, images, img_schema)
            print(f"  {name:18s} {len(images) / dt:8.1f} items/s  ({dt / len(images) * 1000:.0f} ms/item)")

        make_project(store, "aud", AUDIO_SCHEMA)
        clips = sorted(p.name for p in AUDIO_DIR.glob("*.flac"))
        audio = add_items(store, "aud", "audio", [demo_clip_ref(store, c) for c in clips])
        seconds = sum(float(it.data["audio"].meta["duration_s"]) for it in audio)
        aud_schema = LabelSchema.model_validate(AUDIO_SCHEMA)
        print(f"{len(audio)} demo clips, {seconds:.1f} s of 16 kHz speech")
        for name, cfg in {"audio.segments": {}, "audio.transcribe": {}}.items():
            dt = _run(name, cfg, store, audio, aud_schema)
            print(f"  {name:18s} {seconds / dt:8.1f} audio s/s  ({len(audio) / dt:.2f} items/s)")
    finally:
        store.close()


if __name__ == "__main__":
    main()
