"""Items with real media in a store, for backend and engine tests."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from labelloop.core import Item, LabelSchema, MediaRef, Medium, NewItem, content_hash
from labelloop.storage import Store

TEXT_SCHEMA: dict[str, Any] = {
    "media": [{"name": "text", "kind": "text"}],
    "controls": [
        {"name": "sentiment", "kind": "classification", "target": "text", "labels": ["pos", "neg"]},
        {"name": "entities", "kind": "spans", "target": "text", "labels": ["PER", "ORG", "LOC"]},
    ],
}
IMAGE_SCHEMA: dict[str, Any] = {
    "media": [{"name": "image", "kind": "image"}],
    "controls": [
        {"name": "category", "kind": "classification", "target": "image", "labels": ["light", "dark"]},
        {"name": "objects", "kind": "boxes", "target": "image", "labels": ["face", "car"]},
        {"name": "outlines", "kind": "polygons", "target": "image", "labels": ["face", "car"]},
        {"name": "ocr_text", "kind": "text_field", "target": "image"},
    ],
}
MULTIMODAL_SCHEMA: dict[str, Any] = {
    "media": [{"name": "image", "kind": "image"}, {"name": "caption", "kind": "text"}],
    "controls": [
        {"name": "alignment", "kind": "classification", "target": "caption", "labels": ["aligned", "misaligned"]}
    ],
}
CLOUD_SCHEMA: dict[str, Any] = {
    "media": [{"name": "pointcloud", "kind": "pointcloud"}],
    "controls": [
        {"name": "objects", "kind": "cuboids", "target": "pointcloud", "labels": ["car", "pedestrian", "cyclist"]}
    ],
}
AUDIO_SCHEMA: dict[str, Any] = {
    "media": [{"name": "audio", "kind": "audio"}],
    "controls": [{"name": "speech", "kind": "segments", "target": "audio", "labels": ["speech"], "transcript": True}],
}
SCHEMAS = {
    Medium.TEXT: TEXT_SCHEMA,
    Medium.IMAGE: IMAGE_SCHEMA,
    Medium.POINTCLOUD: CLOUD_SCHEMA,
    Medium.AUDIO: AUDIO_SCHEMA,
}
AUDIO_DIR = Path(__file__).resolve().parents[2] / "src/labelloop/services/samples/data/audio"


def text_ref(text: str) -> MediaRef:
    return MediaRef.from_text(text)


def image_ref(store: Store, pixels: np.ndarray) -> MediaRef:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    sha, _, _ = store.blobs.put_bytes(buf.getvalue())
    h, w = pixels.shape[:2]
    return MediaRef(Medium.IMAGE, sha, "image/png", None, {"width": w, "height": h})


def audio_ref(store: Store, samples: np.ndarray, rate: int = 16000) -> MediaRef:
    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, samples.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    sha, _, _ = store.blobs.put_bytes(buf.getvalue())
    meta = {"duration_s": len(samples) / rate, "sample_rate": rate, "channels": 1}
    return MediaRef(Medium.AUDIO, sha, "audio/wav", None, meta)


def demo_clip_ref(store: Store, name: str = "clip_01.flac") -> MediaRef:
    import soundfile

    samples, rate = soundfile.read(AUDIO_DIR / name, dtype="float32")
    return audio_ref(store, samples, rate)


def tiny_yolo_onnx(path: Path, output: np.ndarray, input_hw: tuple[int, int] = (64, 64)) -> Path:
    """Write an ONNX "detector" whose output is the constant ``output`` (1 x (4+nc) x N) plus 0 x input."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    h, w = input_hw
    const = numpy_helper.from_array(output.astype(np.float32), "boxes")
    zero = numpy_helper.from_array(np.zeros(1, np.float32), "zero")
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["boxes", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
        initializer=[const, zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def cloud_ref(store: Store, xyz: np.ndarray) -> MediaRef:
    rows = np.c_[xyz, np.zeros(len(xyz))].astype("<f4")
    sha, _, _ = store.blobs.put_bytes(rows.tobytes())
    return MediaRef(Medium.POINTCLOUD, sha, "application/x-kitti-bin", None, {"points": len(xyz)})


def add_items(store: Store, project: str, field: str, refs: Sequence[MediaRef]) -> list[Item]:
    return add_records(store, project, [{field: r} for r in refs])


def add_records(store: Store, project: str, records: Sequence[dict[str, MediaRef]]) -> list[Item]:
    """Store items of one or more media fields each (keys ``k0``, ``k1``, ...)."""
    with store.transaction() as tx:
        p = tx.projects.get(project)
        new = [
            NewItem(dict(rec), content_hash({f: r.sha256 for f, r in rec.items()}), key=f"k{i}")
            for i, rec in enumerate(records)
        ]
        tx.items.add_many(p.id, new, created_by="user:test")
        return [it for page in tx.items.iter_all(p.id) for it in page]


def render_text_image(lines: Sequence[str], size: tuple[int, int] = (640, 60), font_size: int = 32) -> np.ndarray:
    """An RGB image of black ``lines`` on white, in matplotlib's bundled DejaVu Sans (no CJK glyphs)."""
    from matplotlib import font_manager
    from PIL import ImageDraw, ImageFont

    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans", fallback_to_default=True), font_size)
    w, h = size
    img = Image.new("RGB", (w, h * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((16, i * h + (h - font_size) // 2), line, fill="black", font=font)
    return np.asarray(img)


def make_project(store: Store, name: str, schema: dict[str, Any]) -> LabelSchema:
    s = LabelSchema.model_validate(schema)
    with store.transaction() as tx:
        tx.projects.create(name, s, "user:test")
    return s


def blob_image(shade: int, seed: int, size: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.full((size, size), shade) + rng.integers(0, 20, (size, size))).clip(0, 255).astype(np.uint8)
