"""L1 per-medium rules: recognise media by content, probe them safely, and read them.

Every refusal is an :class:`~labelloop.errors.InputRejected` ("source: expected X, got Y");
no library exception or traceback escapes. Heavy readers (Pillow, soundfile, pypcd4, plyfile,
laspy, numpy) are imported only when a function needs them.

Example:
    >>> from labelloop.modalities import probe_bytes, sniff
    >>> sniff(b"fLaC" + bytes(40), size=44)
    <Medium.AUDIO: 'audio'>
    >>> p = probe_bytes("Hello 世界".encode(), source="a.txt")
    >>> p.kind, p.media_type, p.meta
    (<Medium.TEXT: 'text'>, 'text/plain', {'chars': 8})
"""

from __future__ import annotations

from labelloop.modalities._cloud import PointCloud
from labelloop.modalities._common import Probed, ProbeLimits
from labelloop.modalities.audio import load_audio
from labelloop.modalities.detect import sniff
from labelloop.modalities.image import load_image
from labelloop.modalities.pointcloud import load_pointcloud
from labelloop.modalities.probe import probe_bytes, probe_file
from labelloop.modalities.text import decode_text

__all__ = [
    "PointCloud",
    "ProbeLimits",
    "Probed",
    "decode_text",
    "load_audio",
    "load_image",
    "load_pointcloud",
    "probe_bytes",
    "probe_file",
    "sniff",
]
