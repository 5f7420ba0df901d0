"""Items with real media in a store, for backend and engine tests."""

from __future__ import annotations

import io
from collections.abc import Sequence
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
    "controls": [{"name": "category", "kind": "classification", "target": "image", "labels": ["light", "dark"]}],
}
CLOUD_SCHEMA: dict[str, Any] = {
    "media": [{"name": "pointcloud", "kind": "pointcloud"}],
    "controls": [
        {"name": "objects", "kind": "cuboids", "target": "pointcloud", "labels": ["car", "pedestrian", "cyclist"]}
    ],
}
SCHEMAS = {Medium.TEXT: TEXT_SCHEMA, Medium.IMAGE: IMAGE_SCHEMA, Medium.POINTCLOUD: CLOUD_SCHEMA}


def text_ref(text: str) -> MediaRef:
    return MediaRef.from_text(text)


def image_ref(store: Store, pixels: np.ndarray) -> MediaRef:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    sha, _, _ = store.blobs.put_bytes(buf.getvalue())
    h, w = pixels.shape[:2]
    return MediaRef(Medium.IMAGE, sha, "image/png", None, {"width": w, "height": h})


def cloud_ref(store: Store, xyz: np.ndarray) -> MediaRef:
    rows = np.c_[xyz, np.zeros(len(xyz))].astype("<f4")
    sha, _, _ = store.blobs.put_bytes(rows.tobytes())
    return MediaRef(Medium.POINTCLOUD, sha, "application/x-kitti-bin", None, {"points": len(xyz)})


def add_items(store: Store, project: str, field: str, refs: Sequence[MediaRef]) -> list[Item]:
    with store.transaction() as tx:
        p = tx.projects.get(project)
        new = [NewItem({field: r}, content_hash({field: r.sha256}), key=f"k{i}") for i, r in enumerate(refs)]
        tx.items.add_many(p.id, new, created_by="user:test")
        return [it for page in tx.items.iter_all(p.id) for it in page]


def make_project(store: Store, name: str, schema: dict[str, Any]) -> LabelSchema:
    s = LabelSchema.model_validate(schema)
    with store.transaction() as tx:
        tx.projects.create(name, s, "user:test")
    return s


def blob_image(shade: int, seed: int, size: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.full((size, size), shade) + rng.integers(0, 20, (size, size))).clip(0, 255).astype(np.uint8)
