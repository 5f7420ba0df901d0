"""``image.assist``: weight-free annotation assists — box to polygon (GrabCut), SLIC superpixels.

Helpers:

* :func:`box_to_polygon`: GrabCut (Rother et al., 2004; ``cv2.grabCut``) initialised with the
  box as its rectangle; the largest foreground contour is simplified with ``approxPolyDP``.
* :func:`superpixels` / :func:`superpixel_polygon`: SLIC superpixels (scikit-image) and the
  outline of the superpixel under a click, for click-to-region tools.

The backend turns **existing boxes** into polygons. Its input is explicit: the regions of the
``source_control`` (a ``boxes`` control) found in ``item.meta[context_key]`` (default
``"prelabels"``: a list of regions in the schema's region format, e.g. earlier suggestions or
annotations put there by the caller). Each box becomes a region of the polygons control
``target_control`` with the box's label (or ``label_map[label]``). Boxes whose label the
target does not have are skipped. The item score is the mean over polygons of the share of the
GrabCut foreground that the kept contour covers (1.0 = one clean object); None without boxes.

Example:
    >>> img = np.zeros((60, 60, 3), np.uint8); img[20:40, 15:45] = 200
    >>> poly, share = box_to_polygon(img, (10, 15, 50, 45))
    >>> len(poly) >= 4, share > 0.9
    (True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from labelloop.backends._common import parse_config
from labelloop.backends.base import BaseBackend, media_of
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput
from labelloop.errors import BackendUnavailable

__all__ = [
    "ImageAssistBackend",
    "ImageAssistConfig",
    "box_to_polygon",
    "create",
    "superpixel_polygon",
    "superpixels",
]

Polygon = list[tuple[float, float]]


class ImageAssistConfig(BaseModel):
    """Parameters of ``image.assist``.

    Attributes:
        source_control: The ``boxes`` control whose regions are converted.
        target_control: The ``polygons`` control to fill; None: every polygons control.
        context_key: The ``item.meta`` key holding the regions to convert.
        label_map: Box label to polygon label (default: the same label).
        iterations: GrabCut iterations.
        epsilon: ``approxPolyDP`` tolerance as a fraction of the contour's perimeter.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_control: str = "objects"
    target_control: str | None = None
    context_key: str = "prelabels"
    label_map: dict[str, str] = Field(default_factory=dict)
    iterations: int = Field(3, ge=1, le=20)
    epsilon: float = Field(0.005, gt=0, le=0.2)


def _rgb(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    a = np.asarray(image, dtype=np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return np.ascontiguousarray(a[..., :3])


def box_to_polygon(
    image: NDArray[np.uint8], xyxy: Sequence[float], *, iterations: int = 3, epsilon: float = 0.005
) -> tuple[Polygon, float]:
    """Outline the object inside ``xyxy`` = (x0, y0, x1, y1) with GrabCut.

    Returns:
        ``(points, share)``: the polygon in pixel coordinates (empty when GrabCut found no
        foreground or the box is degenerate) and the share of foreground pixels inside it.
    """
    import cv2

    rgb = _rgb(image)
    h, w = rgb.shape[:2]
    x0, y0 = max(0, int(np.floor(xyxy[0]))), max(0, int(np.floor(xyxy[1])))
    x1, y1 = min(w, int(np.ceil(xyxy[2]))), min(h, int(np.ceil(xyxy[3])))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return [], 0.0
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), mask, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, iterations,
                cv2.GC_INIT_WITH_RECT)  # fmt: skip
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    total = int(fg.sum())
    if total == 0:
        return [], 0.0
    contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best = max(contours, key=cv2.contourArea)
    approx = cv2.approxPolyDP(best, epsilon * cv2.arcLength(best, True), True).reshape(-1, 2)
    if len(approx) < 3:
        return [], 0.0
    inside = np.zeros_like(fg)
    cv2.drawContours(inside, [best], -1, 1, thickness=-1)
    share = float((inside & fg).sum()) / total
    return [(float(x), float(y)) for x, y in approx], share


def superpixels(image: NDArray[np.uint8], *, n_segments: int = 200, compactness: float = 10.0) -> NDArray[np.int64]:
    """SLIC superpixel labels (``H x W``, 0-based) of an RGB or greyscale image.

    Example:
        >>> lab = superpixels(np.zeros((32, 32, 3), np.uint8), n_segments=4)
        >>> lab.shape, int(lab.min())
        ((32, 32), 0)
    """
    from skimage.segmentation import slic

    rgb = _rgb(image)
    labels = slic(rgb, n_segments=n_segments, compactness=compactness, start_label=0, channel_axis=-1)
    return np.asarray(labels, dtype=np.int64)


def superpixel_polygon(labels: NDArray[np.int64], x: int, y: int, *, epsilon: float = 0.01) -> Polygon:
    """The outline of the superpixel under pixel (``x``, ``y``).

    Example:
        >>> lab = np.zeros((20, 20), np.int64); lab[5:15, 5:15] = 1
        >>> sorted(superpixel_polygon(lab, 9, 9))
        [(5.0, 5.0), (5.0, 14.0), (14.0, 5.0), (14.0, 14.0)]
    """
    import cv2

    region = (labels == labels[y, x]).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best = max(contours, key=cv2.contourArea)
    approx = cv2.approxPolyDP(best, epsilon * cv2.arcLength(best, True), True).reshape(-1, 2)
    return [(float(px), float(py)) for px, py in approx]


class ImageAssistBackend(BaseBackend):
    """Boxes in the item's context to polygons via GrabCut (see the module docstring)."""

    name = "image.assist"
    model_version = "grabcut-1.0"
    capabilities = BackendCapabilities(media=frozenset({Medium.IMAGE}), controls=frozenset({ControlKind.POLYGONS}))

    def __init__(self, config: ImageAssistConfig) -> None:
        super().__init__()
        self.config = config
        self.model_version = f"grabcut-1.0+i{config.iterations}e{config.epsilon:g}"

    def setup(self, context: BackendContext) -> None:
        """Check that OpenCV imports.

        Raises:
            BackendUnavailable: ``opencv-python-headless`` is missing.
        """
        super().setup(context)
        try:
            import cv2  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(f"image.assist needs 'opencv-python-headless' ({exc})") from None

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Convert each item's context boxes of ``source_control`` into polygons."""
        from labelloop.modalities import load_image

        cfg = self.config
        targets = [c for c in controls if cfg.target_control in (None, c.name)]
        if batch and not targets:
            return self.fail_all(batch, f"image.assist: no polygons control {cfg.target_control!r} requested")
        outs = []
        for item in batch:
            context = item.meta.get(cfg.context_key) or []
            boxes = [r for r in context if isinstance(r, dict) and r.get("control") == cfg.source_control]
            value: list[dict[str, Any]] = []
            shares: list[float] = []
            for ctl in targets:
                todo = [(b, cfg.label_map.get(str(b.get("label")), str(b.get("label")))) for b in boxes]
                todo = [(b, lab) for b, lab in todo if lab in ctl.labels and "xyxy" in b]
                if not todo:
                    continue
                image = load_image(self.media.path(media_of(item, ctl)), source=f"item {item.id} {ctl.target}")
                for box, label in todo:
                    points, share = box_to_polygon(image, box["xyxy"], iterations=cfg.iterations, epsilon=cfg.epsilon)
                    if len(points) < max(3, ctl.min_points):
                        continue
                    value.append(
                        {"id": f"{ctl.name}-{len(value)}", "control": ctl.name, "label": label, "points": points}
                    )
                    shares.append(share)
            outs.append(self.ok(item, value, score=float(np.mean(shares)) if shares else None))
        return outs


def create(config: Mapping[str, Any]) -> ImageAssistBackend:
    """Build ``image.assist`` (see :class:`ImageAssistConfig`).

    Raises:
        InvalidSchema: an unknown or out-of-range parameter.

    Example:
        >>> create({"source_control": "boxes", "target_control": "outlines"}).config.context_key
        'prelabels'
    """
    return ImageAssistBackend(parse_config(ImageAssistConfig, "image.assist", config))
