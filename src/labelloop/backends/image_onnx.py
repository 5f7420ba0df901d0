"""``image.onnx``: a user-supplied ONNX detector or classifier in the Ultralytics YOLO export layout.

* **Detection**: input ``1 x 3 x H x W`` float32 RGB in [0, 1]; output ``1 x (4 + nc) x N``
  (rows ``cx, cy, w, h`` in input pixels, then one score per class; ``1 x N x (4 + nc)`` is
  accepted too). Images are letterboxed (resized keeping the aspect ratio, padded with grey
  114 to centre), candidates under ``conf`` are dropped, class-wise NMS (numpy) at ``iou``
  keeps the best boxes, which are mapped back to image pixels → ``boxes`` regions.
* **Classification**: output ``1 x nc`` (probabilities) → ``classification`` regions.

Class ``i`` is ``classes[i]`` of the config; detections of classes the control does not have
are dropped. Only ``.onnx`` files are read, with onnxruntime, which never unpickles; pickle or
zip files (PyTorch checkpoints) are refused. The item score is the best kept confidence.

Example:
    >>> b = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], float)
    >>> nms(b, np.array([0.9, 0.8, 0.7]), 0.5).tolist()
    [0, 2]
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from labelloop.backends._common import parse_config
from labelloop.backends.base import BaseBackend, media_of
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput
from labelloop.errors import BackendUnavailable

__all__ = ["ImageOnnxBackend", "ImageOnnxConfig", "OnnxModel", "create", "decode_yolo", "letterbox", "nms"]

Detection = tuple[tuple[float, float, float, float], int, float]


class ImageOnnxConfig(BaseModel):
    """Parameters of ``image.onnx``.

    Attributes:
        model: Path of the ``.onnx`` file (relative paths: against the working directory).
        classes: Class names in the model's output order.
        conf: Minimum confidence.
        iou: NMS overlap threshold.
        input_size: ``[height, width]`` when the model's input has dynamic dimensions.
        max_detections: At most this many boxes per image.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    classes: list[str] = Field(min_length=1)
    conf: float = Field(0.25, ge=0.0, le=1.0)
    iou: float = Field(0.45, gt=0.0, le=1.0)
    input_size: tuple[int, int] = (640, 640)
    max_detections: int = Field(300, ge=1, le=10000)


def letterbox(image: NDArray[np.uint8], size: tuple[int, int]) -> tuple[NDArray[np.float32], float, float, float]:
    """Resize keeping the aspect ratio and pad to ``size`` = (H, W), centred.

    Returns:
        ``(tensor 1x3xHxW in [0, 1], ratio, pad_x, pad_y)``; an image point ``(x, y)`` lands at
        ``(x * ratio + pad_x, y * ratio + pad_y)``.

    Example:
        >>> t, r, px, py = letterbox(np.zeros((50, 100, 3), np.uint8), (64, 64))
        >>> t.shape, r, px, py
        ((1, 3, 64, 64), 0.64, 0.0, 16.0)
    """
    import cv2

    rgb = np.asarray(image, dtype=np.uint8)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    rgb = np.ascontiguousarray(rgb[..., :3])
    h, w = rgb.shape[:2]
    th, tw = size
    r = min(th / h, tw / w)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    pad_x, pad_y = (tw - nw) / 2.0, (th - nh) / 2.0
    canvas = np.full((th, tw, 3), 114, np.uint8)
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    canvas[top : top + nh, left : left + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    tensor = canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return np.ascontiguousarray(tensor), r, float(left), float(top)


def nms(boxes: NDArray[np.float64], scores: NDArray[np.float64], iou: float) -> NDArray[np.int64]:
    """Indices of the boxes (xyxy) kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx0, yy0 = np.maximum(boxes[i, 0], boxes[rest, 0]), np.maximum(boxes[i, 1], boxes[rest, 1])
        xx1, yy1 = np.minimum(boxes[i, 2], boxes[rest, 2]), np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx1 - xx0, 0, None) * np.clip(yy1 - yy0, 0, None)
        union = areas[i] + areas[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[overlap <= iou]
    return np.array(keep, dtype=np.int64)


def decode_yolo(
    output: NDArray[Any],
    nc: int,
    *,
    conf: float,
    iou: float,
    ratio: float,
    pad: tuple[float, float],
    image_size: tuple[int, int],
    max_detections: int = 300,
) -> list[Detection]:
    """Decode a YOLO ``1 x (4+nc) x N`` output into ``(xyxy, class, score)`` in image pixels.

    Example:
        >>> out = np.array([[[32.0], [32.0], [20.0], [10.0], [0.1], [0.9]]])
        >>> decode_yolo(out, 2, conf=0.5, iou=0.5, ratio=0.5, pad=(0.0, 16.0), image_size=(64, 128))
        [((44.0, 22.0, 84.0, 42.0), 1, 0.9)]
    """
    a = np.asarray(output, dtype=np.float64).reshape(output.shape[-2:]) if output.ndim == 3 else np.asarray(output)
    if a.shape[0] != 4 + nc and a.shape[1] == 4 + nc:
        a = a.T
    if a.shape[0] != 4 + nc:
        raise ValueError(f"expected an output of 4 + {nc} rows, got shape {tuple(output.shape)}")
    cls_scores = a[4:]
    cls = cls_scores.argmax(axis=0)
    score = cls_scores[cls, np.arange(a.shape[1])]
    ok = score >= conf
    cx, cy, bw, bh = a[0, ok], a[1, ok], a[2, ok], a[3, ok]
    cls, score = cls[ok], score[ok]
    h, w = image_size
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    boxes[:, [0, 2]] = np.clip((boxes[:, [0, 2]] - pad[0]) / ratio, 0, w)
    boxes[:, [1, 3]] = np.clip((boxes[:, [1, 3]] - pad[1]) / ratio, 0, h)
    good = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, cls, score = boxes[good], cls[good], score[good]
    keep: list[int] = []
    for c in np.unique(cls):
        idx = np.flatnonzero(cls == c)
        keep.extend(idx[nms(boxes[idx], score[idx], iou)].tolist())
    keep.sort(key=lambda i: -score[i])
    return [
        ((float(b[0]), float(b[1]), float(b[2]), float(b[3])), int(cls[i]), float(score[i]))
        for i, b in ((i, boxes[i]) for i in keep[:max_detections])
    ]


class OnnxModel:
    """An onnxruntime session over a checked ``.onnx`` file.

    Raises:
        BackendUnavailable: not an ``.onnx`` file, a pickle/zip, unreadable, or onnxruntime missing.
    """

    def __init__(self, path: Path, providers: Sequence[str] = ("CPUExecutionProvider",), threads: int = 0) -> None:
        if path.suffix.lower() != ".onnx" or not path.is_file():
            raise BackendUnavailable(f"image.onnx: {path} is not an .onnx file")
        with path.open("rb") as f:
            head = f.read(4)
        if head[:1] == b"\x80" or head[:2] == b"PK":
            raise BackendUnavailable(f"image.onnx: {path} is a pickle or zip archive, not ONNX; export it to ONNX")
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]
        except ImportError as exc:
            raise BackendUnavailable(f"image.onnx needs 'onnxruntime' ({exc})") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        try:
            self.session: Any = ort.InferenceSession(str(path), sess_options=opts, providers=list(providers))
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise BackendUnavailable(f"image.onnx: cannot load {path}: {exc}") from None
        self.input = self.session.get_inputs()[0]
        self.digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]

    def input_size(self, default: tuple[int, int]) -> tuple[int, int]:
        """The model's (H, W), or ``default`` when they are dynamic."""
        shape = list(self.input.shape)
        if len(shape) == 4 and isinstance(shape[2], int) and isinstance(shape[3], int):
            return int(shape[2]), int(shape[3])
        return default

    def run(self, tensor: NDArray[np.float32]) -> NDArray[Any]:
        """The first output for one input tensor."""
        return np.asarray(self.session.run(None, {self.input.name: tensor})[0])


class ImageOnnxBackend(BaseBackend):
    """User ONNX detector / classifier (see the module docstring)."""

    name = "image.onnx"
    model_version = "onnx-1.0"
    capabilities = BackendCapabilities(
        media=frozenset({Medium.IMAGE}),
        controls=frozenset({ControlKind.BOXES, ControlKind.CLASSIFICATION}),
        batch_size=16,
    )

    def __init__(self, config: ImageOnnxConfig) -> None:
        super().__init__()
        self.config = config
        self.model: OnnxModel | None = None

    def setup(self, context: BackendContext) -> None:
        """Load the ONNX file; ``context.options`` may give ``onnx_providers`` and ``threads``.

        Raises:
            BackendUnavailable: see :class:`OnnxModel`.
        """
        super().setup(context)
        providers = context.options.get("onnx_providers") or ("CPUExecutionProvider",)
        self.model = OnnxModel(
            Path(self.config.model).expanduser(), providers, int(context.options.get("threads", 0) or 0)
        )
        self.model_version = f"onnx-1.0+{self.model.digest}-c{self.config.conf:g}-i{self.config.iou:g}"

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """Boxes or classes per item for every control that has some of the model's classes."""
        from labelloop.modalities import load_image

        if self.model is None:
            raise BackendUnavailable("image.onnx: setup() must be called before predict()")
        cfg, model = self.config, self.model
        usable = [c for c in controls if set(cfg.classes) & set(c.labels)]
        if batch and not usable:
            return self.fail_all(batch, f"image.onnx: no control has any of the classes {cfg.classes}")
        size = model.input_size(cfg.input_size)
        outs = []
        for item in batch:
            value: list[dict[str, Any]] = []
            best: float | None = None
            cache: dict[str, tuple[NDArray[Any], float, tuple[float, float], tuple[int, int]]] = {}
            for ctl in usable:
                if ctl.target not in cache:
                    image = load_image(self.media.path(media_of(item, ctl)), source=f"item {item.id} {ctl.target}")
                    tensor, r, px, py = letterbox(image, size)
                    cache[ctl.target] = (model.run(tensor), r, (px, py), (int(image.shape[0]), int(image.shape[1])))
                for region, score in self._regions(ctl, *cache[ctl.target]):
                    value.append(region | {"id": f"{ctl.name}-{len(value)}"})
                    best = score if best is None else max(best, score)
            outs.append(self.ok(item, value, score=best))
        return outs

    def _regions(
        self, ctl: Control, out: NDArray[Any], r: float, pad: tuple[float, float], hw: tuple[int, int]
    ) -> list[tuple[dict[str, Any], float]]:
        cfg, nc = self.config, len(self.config.classes)
        if ctl.kind == ControlKind.CLASSIFICATION:
            if out.size != nc:
                raise ValueError(f"image.onnx: classification output has {out.size} scores for {nc} classes")
            probs = np.asarray(out, dtype=np.float64).ravel()
            order = [int(i) for i in np.argsort(-probs) if cfg.classes[int(i)] in ctl.labels]
            if not order or probs[order[0]] < cfg.conf:
                return []
            return [({"control": ctl.name, "labels": [cfg.classes[order[0]]]}, float(np.clip(probs[order[0]], 0, 1)))]
        if out.ndim != 3:
            raise ValueError(f"image.onnx: a detection output must be 1 x (4+nc) x N, got shape {out.shape}")
        found = decode_yolo(
            out, nc, conf=cfg.conf, iou=cfg.iou, ratio=r, pad=pad, image_size=hw, max_detections=cfg.max_detections
        )
        return [
            ({"control": ctl.name, "label": cfg.classes[c], "xyxy": list(box)}, float(np.clip(s, 0, 1)))
            for box, c, s in found
            if cfg.classes[c] in ctl.labels
        ]


def create(config: Mapping[str, Any]) -> ImageOnnxBackend:
    """Build ``image.onnx`` (see :class:`ImageOnnxConfig`; the model loads in ``setup``).

    Raises:
        InvalidSchema: a missing, unknown or out-of-range parameter.

    Example:
        >>> create({"model": "yolo.onnx", "classes": ["car"]}).config.conf
        0.25
    """
    return ImageOnnxBackend(parse_config(ImageOnnxConfig, "image.onnx", config))
