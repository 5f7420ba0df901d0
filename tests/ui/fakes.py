"""Projects and tasks for the fake-API editor tests."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.helpers import pcd_ascii, png_bytes, wav_bytes

TEXT = "我爱北京天安门 😀 Alice works at ACME in Paris."

SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {
        "media": [{"name": "text", "kind": "text"}],
        "controls": [
            {"name": "sentiment", "kind": "classification", "target": "text", "labels": ["pos", "neg", "neu"]},
            {"name": "entities", "kind": "spans", "target": "text", "labels": ["PER", "ORG", "LOC"]},
            {"name": "rels", "kind": "relations", "target": "entities", "labels": ["works_at", "located_in"]},
        ],
    },
    "image": {
        "media": [{"name": "image", "kind": "image"}],
        "controls": [
            {"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat", "dog"]},
            {"name": "areas", "kind": "polygons", "target": "image", "labels": ["road"]},
            {
                "name": "pose",
                "kind": "keypoints",
                "target": "image",
                "labels": ["person"],
                "keypoints": ["head", "tail"],
            },
        ],
    },
    "audio": {
        "media": [{"name": "audio", "kind": "audio"}],
        "controls": [
            {"name": "speech", "kind": "segments", "target": "audio", "labels": ["speech", "noise"], "transcript": True}
        ],
    },
    "pointcloud": {
        "media": [{"name": "cloud", "kind": "pointcloud"}],
        "controls": [{"name": "objects3d", "kind": "cuboids", "target": "cloud", "labels": ["car", "pedestrian"]}],
    },
    "caption": {
        "media": [{"name": "image", "kind": "image"}, {"name": "caption", "kind": "text"}],
        "controls": [
            {"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat", "dog"]},
            {"name": "phrases", "kind": "spans", "target": "caption", "labels": ["thing"]},
            {"name": "grounding", "kind": "links", "source": "phrases", "target": "objects"},
        ],
    },
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def media_for(kind: str) -> tuple[dict[str, Any], dict[str, tuple[bytes, str]]]:
    """The item's media entries and the blobs the fake API serves."""
    blobs: dict[str, tuple[bytes, str]] = {}

    def blob(data: bytes, ctype: str, meta: dict[str, Any], medium: str) -> dict[str, Any]:
        sha = _sha(data)
        blobs[sha] = (data, ctype)
        return {"kind": medium, "sha256": sha, "media_type": ctype, "meta": meta}

    if kind == "text":
        media = {"text": {"kind": "text", "sha256": _sha(TEXT.encode()), "text": TEXT, "meta": {"chars": len(TEXT)}}}
    elif kind == "image":
        media = {"image": blob(png_bytes(400, 300, (90, 120, 90)), "image/png", {"width": 400, "height": 300}, "image")}
    elif kind == "audio":
        media = {"audio": blob(wav_bytes(2.0), "audio/wav", {"duration_s": 2.0, "sample_rate": 16000}, "audio")}
    elif kind == "pointcloud":
        media = {"cloud": blob(pcd_ascii(400), "application/x-pcd", {"points": 400, "format": "ascii"}, "pointcloud")}
    else:
        cap = "a cat on a mat"
        media = {
            "image": blob(png_bytes(200, 150, (200, 200, 180)), "image/png", {"width": 200, "height": 150}, "image"),
            "caption": {"kind": "text", "sha256": _sha(cap.encode()), "text": cap, "meta": {"chars": len(cap)}},
        }
    return media, blobs


def task(item_id: int, media: dict[str, Any], suggestions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "item": {
            "item": {"id": item_id, "media": media, "status": "new"},
            "suggestions": suggestions or [],
            "annotation": None,
            "draft": None,
        },
        "lock_expires_at": "2030-01-01T00:00:00Z",
        "base_version": None,
        "is_gold": False,
    }


def project(kind: str) -> dict[str, Any]:
    return {"id": 5, "name": f"{kind} project", "schema": SCHEMAS[kind], "role": "manager", "guidelines": ""}
