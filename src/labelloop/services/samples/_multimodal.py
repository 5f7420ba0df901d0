"""Multimodal demos: captioned pictures with span-to-box links, and a LiDAR sweep with its camera."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from labelloop.services.samples._common import SampleProject, fresh_dir, gold, meta, write_manifest
from labelloop.services.samples._images import PHOTOS, save_image
from labelloop.services.samples._pointclouds import cuboid_regions, scene_meta, visible_objects, write_points
from labelloop.services.samples._render import Camera, render_camera
from labelloop.services.samples._scene import OBJECT_SIZES, Scene, make_scene

__all__ = ["LIDAR_CAMERA_SCHEMA", "MULTIMODAL_SCHEMA", "write_lidar_camera", "write_multimodal"]

_THINGS = ["person", "animal", "vehicle", "object"]
MULTIMODAL_SCHEMA: dict[str, Any] = {
    "media": [{"name": "image", "kind": "image"}, {"name": "caption", "kind": "text"}],
    "controls": [
        {
            "name": "caption_spans",
            "kind": "spans",
            "target": "caption",
            "labels": _THINGS,
            "description": "Phrases of the caption that name something visible.",
        },
        {"name": "regions", "kind": "boxes", "target": "image", "labels": _THINGS},
        {
            "name": "link",
            "kind": "links",
            "source": "caption_spans",
            "target": "regions",
            "description": "Join each phrase to the box of what it names.",
        },
    ],
}
LIDAR_CAMERA_SCHEMA: dict[str, Any] = {
    "media": [{"name": "pointcloud", "kind": "pointcloud"}, {"name": "camera", "kind": "image"}],
    "controls": [
        {"name": "objects", "kind": "cuboids", "target": "pointcloud", "labels": list(OBJECT_SIZES)},
        {"name": "boxes", "kind": "boxes", "target": "camera", "labels": list(OBJECT_SIZES)},
        {
            "name": "same_object",
            "kind": "links",
            "source": "objects",
            "target": "boxes",
            "description": "Join each cuboid to its box in the camera image.",
        },
    ],
}

# picture -> (caption, [(phrase, label, xyxy)]); an empty phrase list leaves the item unannotated
_CAPTIONS: dict[str, tuple[str, list[tuple[str, str, tuple[int, int, int, int]]]]] = {
    "astronaut": (
        "An astronaut in an orange suit smiles in front of a model of the space shuttle.",
        [("astronaut", "person", (20, 14, 365, 512)), ("space shuttle", "vehicle", (352, 0, 462, 280))],
    ),
    "coffee": (
        "木桌上放着一杯浓缩咖啡，旁边有一把小勺。",
        [("一杯浓缩咖啡", "object", (172, 17, 408, 307)), ("小勺", "object", (325, 65, 425, 325))],
    ),
    "chelsea": ("A tabby cat stares straight into the camera.", []),
    "rocket": ("黄昏时分，一枚火箭矗立在发射台上。", []),
    "camera": ("A man in a dark coat looks through a camera on a tripod.", []),
    "hubble_deep_field": ("Thousands of distant galaxies in a deep-field image from the Hubble telescope.", []),
}
_PLURAL = {"car": "cars", "pedestrian": "pedestrians", "cyclist": "cyclists"}
_THING_OF = {"car": "vehicle", "pedestrian": "person", "cyclist": "person"}


def _phrase_value(caption: str, phrases: list[tuple[str, str, tuple[float, ...]]]) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = []
    for i, (phrase, label, xyxy) in enumerate(phrases, 1):
        start = caption.index(phrase)
        value += [
            {
                "id": f"span{i}",
                "control": "caption_spans",
                "label": label,
                "start": start,
                "end": start + len(phrase),
                "text": phrase,
            },
            {"id": f"box{i}", "control": "regions", "label": label, "xyxy": list(xyxy)},
            {"id": f"link{i}", "control": "link", "from_id": f"span{i}", "to_id": f"box{i}"},
        ]
    return value


def _street(scene: Scene, cam: Camera) -> tuple[str, list[dict[str, Any]]]:
    """Caption a rendered scene by counting what the camera sees, and link the counts to boxes."""
    seen: dict[str, list[tuple[float, float, float, float]]] = {}
    for k in visible_objects(scene):
        box = cam.box_of(scene.cuboids[k])
        if box is not None:
            seen.setdefault(scene.cuboids[k].label, []).append(box)
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    phrases = [f"{words.get(len(b), str(len(b)))} {_PLURAL[lab] if len(b) > 1 else lab}" for lab, b in seen.items()]
    listed = ", ".join(phrases[:-1]) + (" and " if len(phrases) > 1 else "") + (phrases[-1] if phrases else "")
    caption = f"A simulated street seen from the roof of a car: {listed or 'an empty road'}."
    value: list[dict[str, Any]] = []
    for i, (phrase, (label, boxes)) in enumerate(zip(phrases, seen.items(), strict=True), 1):
        start = caption.index(phrase)
        value.append(
            {
                "id": f"span{i}",
                "control": "caption_spans",
                "label": _THING_OF[label],
                "start": start,
                "end": start + len(phrase),
                "text": phrase,
            }
        )
        for j, xyxy in enumerate(boxes, 1):
            value.append({"id": f"box{i}.{j}", "control": "regions", "label": _THING_OF[label], "xyxy": list(xyxy)})
            value.append({"id": f"link{i}.{j}", "control": "link", "from_id": f"span{i}", "to_id": f"box{i}.{j}"})
    return caption, value


def _linked_value(scene: Scene, cam: Camera) -> list[dict[str, Any]]:
    """Cuboids of the visible objects, their camera boxes, and a link from each cuboid to its box."""
    value = cuboid_regions(scene)
    for k, cub in zip(visible_objects(scene), list(value), strict=True):
        box = cam.box_of(scene.cuboids[k])
        if box is not None:
            value.append({"id": f"box{k + 1}", "control": "boxes", "label": cub["label"], "xyxy": list(box)})
            value.append({"id": f"link{k + 1}", "control": "same_object", "from_id": cub["id"], "to_id": f"box{k + 1}"})
    return value


def _camera_scene(seed: int, index: int) -> Scene:
    return make_scene(
        np.random.default_rng([seed, 100 + index]), n_objects=6, n_points=30_000, azimuth_range=(-0.6, 0.6)
    )


def write_multimodal(dest: Path, *, seed: int = 0) -> SampleProject:
    """Write ``dest/multimodal`` (pictures + ``items.jsonl``) and return ``multimodal-demo``."""
    from skimage import data as skdata

    folder = fresh_dir(dest / "multimodal")
    (folder / "files").mkdir()
    lines: list[dict[str, Any]] = []
    photos = {p.name: p for p in PHOTOS}
    for name, (caption, phrases) in _CAPTIONS.items():
        rel = f"files/{name}.jpg"
        w, h = save_image(getattr(skdata, name)(), folder / rel)
        line: dict[str, Any] = {
            "key": f"caption-{name}",
            "image": rel,
            "caption": caption,
            "meta": meta(
                photos[name].licence,
                credit=photos[name].credit,
                lang="en" if caption.isascii() else "zh",
                width=w,
                height=h,
            ),
        }
        if phrases:
            line["annotations"] = [gold(_phrase_value(caption, phrases))]  # type: ignore[arg-type]
        lines.append(line)
    cam = Camera()
    scene = _camera_scene(seed, 0)
    w, h = save_image(render_camera(scene, cam), folder / "files/street.png")
    caption, value = _street(scene, cam)
    lines.append(
        {
            "key": "caption-street",
            "image": "files/street.png",
            "caption": caption,
            "meta": meta("CC0-1.0", generator="labelloop.services.samples.render_camera", lang="en", width=w, height=h),
            "annotations": [gold(value)],
        }
    )
    manifest = folder / "items.jsonl"
    n, annotated = write_manifest(manifest, lines)
    return SampleProject(
        name="multimodal-demo",
        schema=MULTIMODAL_SCHEMA,
        source=manifest,
        description="Pictures with English or Chinese captions; caption phrases linked to image boxes.",
        items=n,
        annotated=annotated,
    )


def write_lidar_camera(dest: Path, *, seed: int = 0, frames: int = 2) -> SampleProject:
    """Write ``dest/lidar-camera`` (sweeps + camera renders + ``items.jsonl``); return ``lidar-camera-demo``."""
    folder = fresh_dir(dest / "lidar-camera")
    (folder / "files").mkdir()
    cam = Camera()
    lines: list[dict[str, Any]] = []
    for i in range(frames):
        scene = _camera_scene(seed, i)
        pcd, png = f"files/frame_{i:02d}.pcd", f"files/frame_{i:02d}.png"
        write_points(folder / pcd, "pcd-binary_compressed", scene.xyz, scene.intensity, scene.ring)
        save_image(render_camera(scene, cam), folder / png)
        line: dict[str, Any] = {
            "key": f"frame-{i:02d}",
            "pointcloud": pcd,
            "camera": png,
            "meta": {
                **scene_meta(scene, "pcd-binary_compressed", seed),
                "camera": {
                    **cam.intrinsics(),
                    "pose": "at the lidar origin, looking along +x",
                    "hfov_deg": cam.hfov_deg,
                },
            },
        }
        if i == 0:
            line["annotations"] = [gold(_linked_value(scene, cam))]
        lines.append(line)
    manifest = folder / "items.jsonl"
    n, annotated = write_manifest(manifest, lines)
    return SampleProject(
        name="lidar-camera-demo",
        schema=LIDAR_CAMERA_SCHEMA,
        source=manifest,
        description="Simulated LiDAR sweeps with a front camera image; cuboids linked to camera boxes.",
        items=n,
        annotated=annotated,
    )
