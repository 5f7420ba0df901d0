"""``image.ocr``: text regions with transcripts, Chinese and English (RapidOCR 3, PP-OCRv6).

RapidOCR (Apache-2.0) runs the PP-OCRv6 small detector and recogniser and the PP-OCR direction
classifier bundled in its wheel with onnxruntime; with its default model choice it checks the
bundled files' hashes and never downloads. What the backend writes depends on the control:

* ``polygons`` / ``boxes`` controls that have the configured ``label``: one region per text
  line (the detector's quadrilateral, or its bounding box clipped to the image); the transcript
  goes into the region attribute ``attribute`` when the control declares it.
* ``text_field`` controls on the image: the transcripts in reading order (top to bottom, then
  left to right), one line each.

A region's score is the recogniser's confidence; the item score is the lowest of them (None
when no text was found). The detector's resize defaults to ``limit_type=max`` with a 960 px
long side, which is 5-10x faster than RapidOCR's default (short side up to 736 px) on small
crops; raise ``limit_side_len`` for dense pages.

Example:
    >>> reading_order([((0, 50, 10, 60), "b"), ((0, 0, 10, 10), "a"), ((20, 2, 30, 12), "c")])
    ['a', 'c', 'b']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from labelloop.backends._common import parse_config
from labelloop.backends.base import BaseBackend, media_of
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput
from labelloop.errors import BackendUnavailable

__all__ = ["ImageOcrBackend", "ImageOcrConfig", "OcrEngine", "TextLine", "create", "reading_order"]

TextLine = tuple[list[tuple[float, float]], str, float]  # polygon (pixels), transcript, confidence


class ImageOcrConfig(BaseModel):
    """Parameters of ``image.ocr``.

    Attributes:
        label: The label of the text regions (boxes/polygons controls without it are skipped).
        attribute: Region attribute (type ``text``) that receives the transcript, when declared.
        min_score: Lines recognised with a lower confidence are dropped.
        limit_type: Detector resize rule: ``max`` caps the long side, ``min`` raises the short side.
        limit_side_len: The side length for ``limit_type``.
        threads: onnxruntime intra-op threads (-1: its default).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = "text"
    attribute: str = "transcript"
    min_score: float = Field(0.5, ge=0.0, le=1.0)
    limit_type: Literal["max", "min"] = "max"
    limit_side_len: int = Field(960, ge=32, le=8192)
    threads: int = Field(-1, ge=-1, le=64)


def reading_order(lines: Sequence[tuple[tuple[float, float, float, float], str]]) -> list[str]:
    """Transcripts sorted top to bottom; lines whose centres are within half a line height share a row."""
    rows: list[list[tuple[tuple[float, float, float, float], str]]] = []
    for box, text in sorted(lines, key=lambda p: (p[0][1] + p[0][3]) / 2):
        cy, h = (box[1] + box[3]) / 2, max(box[3] - box[1], 1.0)
        last = rows[-1] if rows else None
        if last is not None and abs(cy - (last[0][0][1] + last[0][0][3]) / 2) < h / 2:
            last.append((box, text))
        else:
            rows.append([(box, text)])
    return [text for row in rows for _, text in sorted(row, key=lambda p: p[0][0])]


class OcrEngine:
    """A loaded RapidOCR engine.

    Raises:
        BackendUnavailable: rapidocr (the 'ocr' extra) is not installed.

    Example:
        >>> OcrEngine().read(np.full((32, 32, 3), 255, np.uint8))
        []
    """

    def __init__(self, config: ImageOcrConfig | None = None) -> None:
        self.config = config or ImageOcrConfig()
        try:
            from rapidocr import RapidOCR  # type: ignore[import-untyped]
        except ImportError as exc:
            raise BackendUnavailable(f"image.ocr needs the 'ocr' extra (rapidocr, onnxruntime): {exc}") from None
        cfg = self.config
        params = {
            "Global.log_level": "error",
            "Det.limit_type": cfg.limit_type,
            "Det.limit_side_len": cfg.limit_side_len,
            "EngineConfig.onnxruntime.intra_op_num_threads": cfg.threads,
        }
        self._engine: Any = RapidOCR(params=params)
        warm = np.full((64, 320, 3), 255, np.uint8)
        warm[20:44, 16:300:24] = 0  # a row of dark bars: detection and recognition both run once
        self._engine(warm)  # first onnxruntime runs allocate; keep that out of the first batch

    def read(self, image: NDArray[np.uint8]) -> list[TextLine]:
        """Text lines of an RGB or greyscale image: ``(polygon, transcript, confidence)``."""
        rgb = np.ascontiguousarray(np.dstack([image] * 3) if image.ndim == 2 else image[..., :3])
        bgr = np.ascontiguousarray(rgb[..., ::-1])  # RapidOCR expects OpenCV's BGR order for arrays
        result = self._engine(bgr)
        if result.boxes is None or result.txts is None:
            return []
        out: list[TextLine] = []
        for quad, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
            if float(score) >= self.config.min_score and str(text).strip():
                points = [(float(x), float(y)) for x, y in np.asarray(quad, np.float64).reshape(-1, 2)]
                out.append((points, str(text), float(score)))
        return out


def _clip(points: list[tuple[float, float]], w: int, h: int) -> list[list[float]]:
    return [[min(max(x, 0.0), float(w)), min(max(y, 0.0), float(h))] for x, y in points]


class ImageOcrBackend(BaseBackend):
    """RapidOCR text lines (see the module docstring)."""

    name = "image.ocr"
    model_version = "rapidocr3.10-ppocrv6-small"
    capabilities = BackendCapabilities(
        media=frozenset({Medium.IMAGE}),
        controls=frozenset({ControlKind.POLYGONS, ControlKind.BOXES, ControlKind.TEXT_FIELD}),
        languages=frozenset({"en", "zh"}),
        batch_size=8,
    )

    def __init__(self, config: ImageOcrConfig) -> None:
        super().__init__()
        self.config = config
        self.model_version = (
            f"rapidocr3.10-ppocrv6-small+{config.limit_type}{config.limit_side_len}-s{config.min_score}"
        )
        self.engine: OcrEngine | None = None

    def setup(self, context: BackendContext) -> None:
        """Load the OCR models (about 1.5 s)."""
        super().setup(context)
        if self.engine is None:
            self.engine = OcrEngine(self.config)

    def _usable(self, controls: Sequence[Control]) -> list[Control]:
        return [c for c in controls if c.kind == ControlKind.TEXT_FIELD or self.config.label in c.labels]

    def _regions(self, ctl: Control, lines: list[TextLine], w: int, h: int) -> list[dict[str, Any]]:
        if ctl.kind == ControlKind.TEXT_FIELD:
            boxes = [
                ((min(x for x, _ in p), min(y for _, y in p), max(x for x, _ in p), max(y for _, y in p)), t)
                for p, t, _ in lines
            ]
            return [{"id": ctl.name, "control": ctl.name, "text": "\n".join(reading_order(boxes))}] if lines else []
        wants_attr = any(a.name == self.config.attribute and a.type == "text" for a in ctl.attributes)
        regions = []
        for i, (points, text, _) in enumerate(lines):
            pts = _clip(points, w, h)
            region: dict[str, Any] = {"id": f"{ctl.name}-{i}", "control": ctl.name, "label": self.config.label}
            if ctl.kind == ControlKind.POLYGONS:
                region["points"] = pts
            else:
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                region["xyxy"] = [min(xs), min(ys), max(xs), max(ys)]
            if wants_attr:
                region["attributes"] = {self.config.attribute: text}
            regions.append(region)
        return regions

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """OCR each item's image once per target and fill every usable control."""
        from labelloop.modalities import load_image

        if self.engine is None:
            raise BackendUnavailable("image.ocr: setup() must be called before predict()")
        usable = self._usable(controls)
        if batch and not usable:
            return self.fail_all(
                batch,
                f"image.ocr: no text_field control, and no boxes/polygons control has the label {self.config.label!r}",
            )
        outs = []
        for item in batch:
            value: list[dict[str, Any]] = []
            read: dict[str, tuple[list[TextLine], int, int]] = {}
            for ctl in usable:
                if ctl.target not in read:
                    image = load_image(self.media.path(media_of(item, ctl)), source=f"item {item.id} {ctl.target}")
                    read[ctl.target] = (self.engine.read(image), image.shape[1], image.shape[0])
                lines, w, h = read[ctl.target]
                value.extend(self._regions(ctl, lines, w, h))
            scores = [s for lines, _, _ in read.values() for _, _, s in lines]
            outs.append(self.ok(item, value, score=min(scores) if scores else None))
        return outs


def create(config: Mapping[str, Any]) -> ImageOcrBackend:
    """Build ``image.ocr`` (see :class:`ImageOcrConfig`; models load in ``setup``).

    Raises:
        InvalidSchema: an unknown or out-of-range parameter.

    Example:
        >>> create({"label": "line", "limit_side_len": 1280}).config.limit_side_len
        1280
    """
    return ImageOcrBackend(parse_config(ImageOcrConfig, "image.ocr", config))
