"""Fixtures for the format tests: real PNG files, items and a media store stand-in."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from labelloop.core import Item, LabelSchema, MediaRef, Medium

DET_SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "image", "kind": "image"}],
        "controls": [
            {"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat", "dog", "bird"]},
            {"name": "outline", "kind": "polygons", "target": "image", "labels": ["cat", "dog", "bird"]},
            {
                "name": "pose",
                "kind": "keypoints",
                "target": "image",
                "labels": ["person"],
                "keypoints": ["head", "left_hand", "right_hand"],
            },
        ],
    }
)
BOX_SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "image", "kind": "image"}],
        "controls": [{"name": "objects", "kind": "boxes", "target": "image", "labels": ["cat", "dog", "bird"]}],
    }
)
POLY_SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "image", "kind": "image"}],
        "controls": [{"name": "outline", "kind": "polygons", "target": "image", "labels": ["cat", "dog"]}],
    }
)
NER_SCHEMA = LabelSchema.model_validate(
    {
        "media": [{"name": "text", "kind": "text"}],
        "controls": [
            {"name": "topic", "kind": "classification", "target": "text", "labels": ["news", "=cmd()"]},
            {"name": "ents", "kind": "spans", "target": "text", "labels": ["PER", "ORG", "LOC"]},
        ],
    }
)


class MediaStore:
    """Writes real PNGs under ``folder`` and maps their SHA-256 to the file (like the blob store)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, Path] = {}
        self.calls = 0

    def image(self, w: int, h: int, color: tuple[int, int, int] = (10, 120, 200), *, meta: bool = True) -> MediaRef:
        buf = io.BytesIO()
        Image.new("RGB", (w, h), color).save(buf, "PNG")
        data = buf.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        path = self.folder / f"{sha}.png"
        path.write_bytes(data)
        self.files[sha] = path
        return MediaRef(Medium.IMAGE, sha, "image/png", None, {"width": w, "height": h} if meta else {})

    def __call__(self, sha: str) -> Path:
        self.calls += 1
        if sha not in self.files:
            raise KeyError(sha)
        return self.files[sha]


def make_item(id_: int, ref: MediaRef, key: str | None = None, field: str = "image", **meta: Any) -> Item:
    return Item(
        id=id_,
        project_id=1,
        data={field: ref},
        content_hash=ref.sha256,
        key=key,
        source=key or "",
        meta=dict(meta),
        import_id=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        created_by="user:test",
    )


def text_item(id_: int, text: str, key: str | None = None, **meta: Any) -> Item:
    return make_item(id_, MediaRef.from_text(text), key, field="text", **meta)


def box(rid: str, label: str, xyxy: list[float]) -> dict[str, Any]:
    return {"id": rid, "control": "objects", "label": label, "xyxy": xyxy}


def poly(rid: str, label: str, points: list[list[float]], control: str = "outline") -> dict[str, Any]:
    return {"id": rid, "control": control, "label": label, "points": points}


def span(rid: str, label: str, start: int, end: int) -> dict[str, Any]:
    return {"id": rid, "control": "ents", "label": label, "start": start, "end": end}


def geometry(regions: list[dict[str, Any]]) -> list[tuple[str, str, list[float]]]:
    """Comparable (control, label, flat coordinates) triples, in a stable order."""
    out = []
    for r in regions:
        coords = r.get("xyxy") or [c for p in r["points"] for c in p]
        out.append((r["control"], r["label"], [float(c) for c in coords]))
    return sorted(out, key=lambda t: (t[0], t[1], t[2]))


def close(a: list[tuple[str, str, list[float]]], b: list[tuple[str, str, list[float]]], tol: float = 1e-6) -> bool:
    if len(a) != len(b):
        return False
    for (c1, l1, x1), (c2, l2, x2) in zip(a, b, strict=True):
        if c1 != c2 or l1 != l2 or len(x1) != len(x2):
            return False
        if any(abs(u - v) > tol for u, v in zip(x1, x2, strict=True)):
            return False
    return True


def supervision_yolo(root: Path, split: str = "train") -> Any:
    """``supervision.DetectionDataset.from_yolo`` over one split of a YOLO export (skips without it)."""
    import warnings

    import pytest

    sv = pytest.importorskip("supervision")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # supervision's own deprecation warnings
        return sv.DetectionDataset.from_yolo(
            images_directory_path=str(root / "images" / split),
            annotations_directory_path=str(root / "labels" / split),
            data_yaml_path=str(root / "data.yaml"),
        )
