"""Real sample data of every medium, for ``labelloop demo``, tests and benchmarks.

:func:`write_samples` writes six small demo projects (text, images, audio, point clouds,
captioned images, LiDAR + camera), each a JSONL manifest with media files beside it, a
label schema, and gold annotations for part of the items. :func:`make_scene` simulates a LiDAR
sweep with ground-truth cuboids for tests and benchmarks of any size.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as d:
    ...     samples = write_samples(Path(d), seed=0)
    ...     samples.project("text-demo").source.name
    'items.jsonl'
"""

from __future__ import annotations

from labelloop.services.samples._audio import active_segments, tone_clip
from labelloop.services.samples._common import SampleProject, SampleSet
from labelloop.services.samples._pointclouds import read_points, write_points
from labelloop.services.samples._render import Camera, render_camera
from labelloop.services.samples._scene import CLUTTER, GROUND, OBJECT_SIZES, Cuboid, Scene, make_scene
from labelloop.services.samples._write import write_samples

__all__ = [
    "CLUTTER",
    "GROUND",
    "OBJECT_SIZES",
    "Camera",
    "Cuboid",
    "SampleProject",
    "SampleSet",
    "Scene",
    "active_segments",
    "make_scene",
    "read_points",
    "render_camera",
    "tone_clip",
    "write_points",
    "write_samples",
]
