"""The image demo: scikit-image sample photographs and scikit-learn handwritten digits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelloop.services.samples._common import SampleProject, fresh_dir, gold, meta, write_manifest

__all__ = ["IMAGE_SCHEMA", "PHOTOS", "Photo", "save_image", "write_images"]

_OBJECTS = ["face", "cat", "rocket", "cup"]
IMAGE_SCHEMA: dict[str, Any] = {
    "media": [{"name": "image", "kind": "image"}],
    "controls": [
        {
            "name": "category",
            "kind": "classification",
            "target": "image",
            "labels": [*(str(d) for d in range(10)), "photo"],
            "description": "The digit shown, or 'photo' for photographs.",
        },
        {
            "name": "objects",
            "kind": "boxes",
            "target": "image",
            "labels": _OBJECTS,
            "attributes": [
                {"name": "occlusion", "type": "enum", "values": ["none", "partial", "heavy"]},
                {"name": "truncated", "type": "bool"},
            ],
            "description": "Tight boxes around each face, cat, rocket and cup.",
        },
        {"name": "outline", "kind": "polygons", "target": "image", "labels": _OBJECTS},
        {
            "name": "pose",
            "kind": "keypoints",
            "target": "image",
            "labels": ["person", "cat"],
            "keypoints": ["left_eye", "right_eye", "nose"],
            "description": "left/right as seen by the subject; visibility 0 = not visible, 2 = visible.",
        },
    ],
}


@dataclass(frozen=True, slots=True)
class Photo:
    """A scikit-image picture with its hand-measured gold regions (pixels, ``xyxy``)."""

    name: str
    suffix: str
    licence: str
    credit: str
    boxes: list[tuple[str, tuple[int, int, int, int], str, bool]] = field(default_factory=list)
    outlines: list[tuple[str, list[tuple[int, int]]]] = field(default_factory=list)
    poses: list[tuple[str, list[tuple[int, int, int]]]] = field(default_factory=list)


_PD = "LicenseRef-PublicDomain"
PHOTOS: tuple[Photo, ...] = (
    Photo(
        "astronaut",
        ".png",
        _PD,
        "NASA (Eileen Collins), via scikit-image",
        boxes=[("face", (177, 70, 270, 178), "none", False), ("rocket", (352, 0, 462, 280), "none", True)],
        outlines=[
            (
                "face",
                [
                    (184, 95),
                    (192, 78),
                    (210, 71),
                    (240, 72),
                    (262, 80),
                    (270, 100),
                    (268, 125),
                    (258, 150),
                    (243, 170),
                    (225, 178),
                    (207, 172),
                    (192, 152),
                    (183, 125),
                ],
            )
        ],
        poses=[("person", [(246, 103, 2), (203, 101, 2), (225, 126, 2)])],
    ),
    Photo(
        "coffee",
        ".jpg",
        "CC0-1.0",
        "Rachel Michetti, courtesy of Pikolo Espresso Bar, via scikit-image",
        boxes=[("cup", (172, 17, 408, 307), "partial", False)],
        outlines=[
            (
                "cup",
                [
                    (172, 110),
                    (180, 60),
                    (205, 30),
                    (250, 18),
                    (300, 17),
                    (350, 25),
                    (390, 45),
                    (407, 90),
                    (400, 150),
                    (385, 200),
                    (360, 240),
                    (300, 275),
                    (250, 290),
                    (210, 305),
                    (198, 290),
                    (200, 240),
                    (185, 180),
                ],
            )
        ],
    ),
    Photo(
        "chelsea",
        ".png",
        "CC0-1.0",
        "Stefan van der Walt, via scikit-image",
        boxes=[("cat", (18, 0, 385, 300), "none", True)],
        outlines=[
            (
                "cat",
                [
                    (20, 0),
                    (380, 0),
                    (385, 60),
                    (370, 150),
                    (345, 230),
                    (300, 290),
                    (200, 300),
                    (60, 300),
                    (15, 200),
                    (10, 80),
                ],
            )
        ],
        poses=[("cat", [(317, 135, 2), (172, 114, 2), (262, 240, 2)])],
    ),
    Photo(
        "rocket",
        ".jpg",
        _PD,
        "SpaceX, via scikit-image",
        boxes=[("rocket", (308, 125, 337, 406), "none", False)],
        outlines=[("rocket", [(322, 126), (333, 140), (336, 180), (336, 400), (309, 400), (309, 180), (311, 140)])],
    ),
    Photo(
        "camera",
        ".png",
        "CC0-1.0",
        "Lav Varshney, via scikit-image",
        boxes=[("face", (160, 64, 256, 200), "none", False)],
        poses=[("person", [(0, 0, 0), (235, 148, 2), (254, 164, 2)])],
    ),
    Photo("hubble_deep_field", ".webp", _PD, "NASA / Hubble, via scikit-image"),
    Photo("coins", ".bmp", "LicenseRef-NoKnownCopyright", "Greek coins, Walters Art Museum, via scikit-image"),
)


def save_image(pixels: NDArray[np.uint8], path: Path) -> tuple[int, int]:
    """Save an (H, W) or (H, W, 3) uint8 array; the suffix picks the format. Returns (width, height).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_image(np.zeros((4, 6), np.uint8), Path(d) / "x.png")
        (6, 4)
    """
    from PIL import Image

    img = Image.fromarray(pixels)
    opts: dict[str, Any] = {}
    if path.suffix in (".jpg", ".jpeg"):
        opts = {"quality": 88}
    elif path.suffix == ".webp":
        opts = {"quality": 80, "method": 4}
    img.save(path, **opts)
    return img.width, img.height


def _photo_value(p: Photo) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = [{"id": "category", "control": "category", "labels": ["photo"]}]
    for i, (label, xyxy, occlusion, truncated) in enumerate(p.boxes, 1):
        value.append(
            {
                "id": f"box{i}",
                "control": "objects",
                "label": label,
                "xyxy": list(xyxy),
                "attributes": {"occlusion": occlusion, "truncated": truncated},
            }
        )
    for i, (label, pts) in enumerate(p.outlines, 1):
        value.append({"id": f"poly{i}", "control": "outline", "label": label, "points": [list(q) for q in pts]})
    for i, (label, kps) in enumerate(p.poses, 1):
        value.append({"id": f"kp{i}", "control": "pose", "label": label, "points": [list(q) for q in kps]})
    return value


def _digit_pixels(image: NDArray[np.float64], size: int) -> NDArray[np.uint8]:
    from PIL import Image

    ink = np.clip(image * (255.0 / 16.0), 0, 255).astype(np.uint8)
    small = Image.fromarray(255 - ink)  # dark ink on white paper
    return np.asarray(small.resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)


def write_images(dest: Path, *, seed: int = 0, n_digits: int = 100) -> SampleProject:
    """Write ``dest/images`` (files + ``items.jsonl``) and return the ``image-demo`` project."""
    from skimage import data as skdata
    from sklearn.datasets import load_digits

    folder = fresh_dir(dest / "images")
    (folder / "files" / "photos").mkdir(parents=True)
    (folder / "files" / "digits").mkdir(parents=True)
    lines: list[dict[str, Any]] = []
    for p in PHOTOS:
        rel = f"files/photos/{p.name}{p.suffix}"
        w, h = save_image(getattr(skdata, p.name)(), folder / rel)
        lines.append(
            {
                "key": f"photo-{p.name}",
                "image": rel,
                "meta": meta(p.licence, credit=p.credit, width=w, height=h),
                "annotations": [gold(_photo_value(p))],
            }
        )
    digits = load_digits()
    rng = np.random.default_rng(seed)
    per_class = max(1, n_digits // 10)
    chosen = sorted(
        int(i) for d in range(10) for i in rng.choice(np.flatnonzero(digits.target == d), per_class, replace=False)
    )
    for idx in chosen:
        label = str(int(digits.target[idx]))
        rel = f"files/digits/digit_{idx:04d}.png"
        w, h = save_image(_digit_pixels(digits.images[idx], 64), folder / rel)
        lines.append(
            {
                "key": f"digit-{idx:04d}",
                "image": rel,
                "meta": meta(
                    "CC-BY-4.0",
                    credit="UCI Optical Recognition of Handwritten Digits (E. Alpaydin, C. Kaynak), via scikit-learn",
                    dataset_index=idx,
                    width=w,
                    height=h,
                ),
                "annotations": [gold([{"id": "category", "control": "category", "labels": [label]}])],
            }
        )
    manifest = folder / "items.jsonl"
    n, annotated = write_manifest(manifest, lines)
    return SampleProject(
        name="image-demo",
        schema=IMAGE_SCHEMA,
        source=manifest,
        description="scikit-image photographs (PNG, JPEG, WebP, BMP) with boxes, outlines and keypoints, "
        "plus handwritten digits with their classes.",
        items=n,
        annotated=annotated,
    )
