"""``image.faces``: face boxes from OpenCV's bundled Haar cascades (Viola & Jones, 2001).

The cascade XML files ship inside ``opencv-python-headless`` 4.x (``cv2.data.haarcascades``);
OpenCV 5 dropped both ``CascadeClassifier`` and the files, so the backend reports
:class:`~labelloop.errors.BackendUnavailable` there. Detection runs on the greyscale image with
``detectMultiScale2``, whose ``numDetections`` is the number of raw neighbouring windows merged
into each box; the box's score is ``1 - exp(-neighbours / (2 * min_neighbors))`` (about 0.4 at
the acceptance threshold, 0.98 for a clear frontal face). The item score is the best box's
score, or None when no face is found.

Example:
    >>> neighbour_score(40, 5) > 0.95, round(neighbour_score(5, 5), 2)
    (True, 0.39)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

from labelloop.backends._common import parse_config
from labelloop.backends.base import BaseBackend, media_of
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput
from labelloop.errors import BackendUnavailable

__all__ = ["FaceDetector", "ImageFacesBackend", "ImageFacesConfig", "create", "neighbour_score"]


class ImageFacesConfig(BaseModel):
    """Parameters of ``image.faces``.

    Attributes:
        label: The box label to emit (must be a label of the boxes control).
        cascade: File name of a cascade bundled with OpenCV (no paths).
        scale_factor: Image pyramid step.
        min_neighbors: Raw windows needed to accept a box (higher: fewer false positives).
        min_size: Smallest face side in pixels.
        max_side: Larger images are downscaled to this side for detection (boxes are scaled back).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = "face"
    cascade: str = "haarcascade_frontalface_default.xml"
    scale_factor: float = Field(1.1, gt=1.0, le=2.0)
    min_neighbors: int = Field(5, ge=1, le=100)
    min_size: int = Field(30, ge=8, le=4096)
    max_side: int = Field(1600, ge=64, le=16384)

    @field_validator("cascade")
    @classmethod
    def _bundled_name(cls, v: str) -> str:
        if Path(v).name != v or not v.endswith(".xml"):
            raise ValueError("give the name of a cascade bundled with OpenCV, e.g. haarcascade_frontalface_alt2.xml")
        return v


def neighbour_score(neighbours: int, min_neighbors: int) -> float:
    """Map a box's neighbour count to a score in (0, 1)."""
    return 1.0 - math.exp(-max(neighbours, 0) / (2.0 * max(min_neighbors, 1)))


class FaceDetector:
    """A loaded Haar cascade.

    Raises:
        BackendUnavailable: OpenCV is missing, is 5.x, or lacks the cascade file.
    """

    def __init__(self, config: ImageFacesConfig | None = None) -> None:
        self.config = config or ImageFacesConfig()
        try:
            import cv2
        except ImportError as exc:
            raise BackendUnavailable(f"image.faces needs 'opencv-python-headless>=4.8,<5' ({exc})") from None
        folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
        path = Path(folder) / self.config.cascade
        if not folder or not hasattr(cv2, "CascadeClassifier") or not path.is_file():
            raise BackendUnavailable(
                f"image.faces: OpenCV {cv2.__version__} has no Haar cascade {self.config.cascade!r} "
                "(OpenCV 5 removed them); install 'opencv-python-headless>=4.8,<5'"
            )
        self._cv2: Any = cv2
        self._clf: Any = cv2.CascadeClassifier(str(path))
        if self._clf.empty():
            raise BackendUnavailable(f"image.faces: could not load the cascade {path}")

    def detect(self, image: NDArray[np.uint8]) -> list[tuple[tuple[float, float, float, float], float]]:
        """``(xyxy, score)`` per face of an RGB or greyscale image, best first.

        Example:
            >>> FaceDetector().detect(np.zeros((64, 64), np.uint8))
            []
        """
        cv2, cfg = self._cv2, self.config
        gray = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
        h, w = gray.shape[:2]
        scale = min(1.0, cfg.max_side / max(h, w))
        if scale < 1.0:
            gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        min_side = max(8, round(cfg.min_size * scale))
        rects, counts = self._clf.detectMultiScale2(
            gray, scaleFactor=cfg.scale_factor, minNeighbors=cfg.min_neighbors, minSize=(min_side, min_side)
        )
        found = []
        for (x, y, bw, bh), n in zip(np.asarray(rects).reshape(-1, 4), np.asarray(counts).ravel(), strict=True):
            box = (
                max(0.0, x / scale),
                max(0.0, y / scale),
                min(float(w), (x + bw) / scale),
                min(float(h), (y + bh) / scale),
            )
            found.append((box, neighbour_score(int(n), cfg.min_neighbors)))
        return sorted(found, key=lambda f: -f[1])


class ImageFacesBackend(BaseBackend):
    """Haar-cascade face boxes (see the module docstring)."""

    name = "image.faces"
    model_version = "haar-1.0"
    capabilities = BackendCapabilities(media=frozenset({Medium.IMAGE}), controls=frozenset({ControlKind.BOXES}))

    def __init__(self, config: ImageFacesConfig) -> None:
        super().__init__()
        self.config = config
        self.model_version = f"haar-1.0+{config.cascade.removesuffix('.xml')}-n{config.min_neighbors}"
        self.detector: FaceDetector | None = None

    def setup(self, context: BackendContext) -> None:
        """Load the cascade.

        Raises:
            BackendUnavailable: see :class:`FaceDetector`.
        """
        super().setup(context)
        self.detector = FaceDetector(self.config)

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Face boxes for every ``boxes`` control that has the configured label."""
        from labelloop.modalities import load_image

        if self.detector is None:
            raise BackendUnavailable("image.faces: setup() must be called before predict()")
        usable = [c for c in controls if self.config.label in c.labels]
        if batch and not usable:
            return self.fail_all(batch, f"image.faces: no boxes control has the label {self.config.label!r}")
        outs = []
        for item in batch:
            value: list[dict[str, Any]] = []
            best: float | None = None
            for ctl in usable:
                image = load_image(self.media.path(media_of(item, ctl)), source=f"item {item.id} {ctl.target}")
                for i, (box, score) in enumerate(self.detector.detect(image)):
                    value.append(
                        {
                            "id": f"{ctl.name}-{i}",
                            "control": ctl.name,
                            "label": self.config.label,
                            "xyxy": [float(v) for v in box],
                        }
                    )
                    best = float(score) if best is None else max(best, float(score))
            outs.append(self.ok(item, value, score=best))
        return outs


def create(config: Mapping[str, Any]) -> ImageFacesBackend:
    """Build ``image.faces`` (see :class:`ImageFacesConfig`; the cascade loads in ``setup``).

    Raises:
        InvalidSchema: an unknown or out-of-range parameter.

    Example:
        >>> create({"label": "person", "min_neighbors": 8}).config.min_neighbors
        8
    """
    return ImageFacesBackend(parse_config(ImageFacesConfig, "image.faces", config))
