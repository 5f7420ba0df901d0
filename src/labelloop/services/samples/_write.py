"""Write every demo project under one folder."""

from __future__ import annotations

from pathlib import Path

from labelloop.services.samples._audio import write_audio
from labelloop.services.samples._common import SampleSet
from labelloop.services.samples._images import write_images
from labelloop.services.samples._multimodal import write_lidar_camera, write_multimodal
from labelloop.services.samples._pointclouds import write_pointclouds
from labelloop.services.samples._text import write_text

__all__ = ["write_samples"]


def write_samples(dest: Path, *, seed: int = 0) -> SampleSet:
    """Write the demo projects of all four media (and two multimodal ones) under ``dest``.

    The result is deterministic for a given ``seed``: the same files, byte for byte, and the same
    manifests. Each project gets its own sub-folder (``text``, ``images``, ``audio``,
    ``pointclouds``, ``multimodal``, ``lidar-camera``) with an ``items.jsonl`` manifest; media
    paths in a manifest are relative to its folder. Sub-folders written by an earlier call are
    replaced. Needs the ``demo`` extra (scikit-image, scikit-learn); takes a few seconds and
    writes about 7 MB.

    Args:
        dest: The destination folder; created when missing.
        seed: Picks the digits and drives the simulated scenes and noise.

    Returns:
        The projects written, each with its schema dict and manifest path.

    Raises:
        labelloop.errors.Conflict: a project sub-folder already holds files this function did not write.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     samples = write_samples(Path(d))
        ...     samples.names
        ['text-demo', 'image-demo', 'audio-demo', 'pointcloud-demo', 'multimodal-demo', 'lidar-camera-demo']
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    projects = (
        write_text(dest),
        write_images(dest, seed=seed),
        write_audio(dest, seed=seed),
        write_pointclouds(dest, seed=seed),
        write_multimodal(dest, seed=seed),
        write_lidar_camera(dest, seed=seed),
    )
    files = sorted(
        p.relative_to(dest)
        for project in projects
        for p in project.source.parent.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    return SampleSet(dest, projects, tuple(files))
