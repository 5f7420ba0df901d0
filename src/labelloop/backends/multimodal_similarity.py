"""``multimodal.similarity``: does an image match its caption? An alignment QC suggestion.

The backend embeds the image and the caption with an :class:`ImageTextEncoder` and classifies
the pair as aligned or misaligned from their cosine similarity ``cos``:
``p = sigmoid(scale * (cos - threshold))``; the suggestion is ``aligned`` when ``p >= 0.5``, and
its score is ``p`` (aligned) or ``1 - p`` (misaligned).

Encoders (pluggable; any object with ``encode_images``/``encode_texts`` fits):

* :class:`OcrTextEncoder`, the offline default: the image's OCR text
  (:class:`~labelloop.backends.image_ocr.OcrEngine`) and the caption, both through the sentence
  encoders of :mod:`~labelloop.backends.text_embed`. It judges pictures that contain text
  (product shots, slides, signs, screenshots); an image without readable text gets no
  suggestion (an empty value, score None) rather than a guess.
* :class:`OnnxClipEncoder`: a CLIP-style export the user points to, as two ONNX files (image
  tower taking ``pixel_values`` N x 3 x S x S, text tower taking ``input_ids`` [+
  ``attention_mask``]) and a ``tokenizer.json``. No CLIP weights ship on PyPI (see the models
  reference), so nothing is bundled; calibrate ``threshold``/``scale`` for the model used.

Example:
    >>> alignment(0.62, threshold=0.35, scale=12.0)[0]
    'aligned'
    >>> alignment(0.05, threshold=0.35, scale=12.0)[0]
    'misaligned'
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from labelloop.backends._common import parse_config
from labelloop.backends.base import BaseBackend
from labelloop.backends.image_ocr import ImageOcrConfig, OcrEngine
from labelloop.backends.text_embed import has_han, load_encoder
from labelloop.core import Control, ControlKind, Item, LabelSchema, Medium
from labelloop.core.plugins import BackendCapabilities, BackendContext, BackendOutput
from labelloop.errors import BackendUnavailable

__all__ = [
    "ClipConfig",
    "ImageTextEncoder",
    "MultimodalSimilarityBackend",
    "OcrTextEncoder",
    "OnnxClipEncoder",
    "SimilarityConfig",
    "alignment",
    "create",
    "default_calibration",
]

Vectors = NDArray[np.float32]


class ImageTextEncoder(Protocol):
    """Scores image-caption pairs by the cosine of their embeddings in one shared space."""

    model_id: str

    def pair_cosines(self, images: Sequence[NDArray[np.uint8]], captions: Sequence[str]) -> list[tuple[float, str]]:
        """``(cosine, encoder kind)`` per pair; a NaN cosine means the pair cannot be judged.

        The kind (``minilm``, ``e5`` or ``clip``) picks the default threshold and scale.
        """
        ...


class ClipConfig(BaseModel):
    """A user-supplied CLIP export (paths are used as given; nothing is downloaded).

    Attributes:
        image_model: ONNX image tower: input ``pixel_values`` (N, 3, S, S) → embeddings (N, D).
        text_model: ONNX text tower: input ``input_ids`` (N, L) [+ ``attention_mask``] → (N, D).
        tokenizer: A Hugging Face ``tokenizer.json`` for the text tower.
        image_size: S.
        mean: Per-channel mean of the pixel normalisation (CLIP's by default).
        std: Per-channel standard deviation.
        max_tokens: Context length of the text tower.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    image_model: Path
    text_model: Path
    tokenizer: Path
    image_size: int = Field(224, ge=8, le=1024)
    mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    max_tokens: int = Field(77, ge=2, le=1024)


class SimilarityConfig(BaseModel):
    """Parameters of ``multimodal.similarity``.

    Attributes:
        aligned_label: The classification label for a matching pair.
        misaligned_label: The label for a mismatch.
        threshold: Cosine at which the pair is as likely aligned as not (None: per encoder,
            0.35 for MiniLM, 0.82 for e5, 0.25 for CLIP).
        scale: Steepness of the sigmoid around the threshold (None: 12, 40 for e5, 50 for CLIP).
        clip: A CLIP export to use instead of the OCR-text default.
        ocr: Settings of the OCR used by the default encoder.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    aligned_label: str = "aligned"
    misaligned_label: str = "misaligned"
    threshold: float | None = Field(None, ge=-1.0, le=1.0)
    scale: float | None = Field(None, gt=0, le=1000)
    clip: ClipConfig | None = None
    ocr: ImageOcrConfig = Field(default_factory=ImageOcrConfig)


def alignment(cos: float, *, threshold: float, scale: float) -> tuple[str, float]:
    """``("aligned" | "misaligned", score)`` for one cosine similarity."""
    p = 1.0 / (1.0 + math.exp(-scale * (cos - threshold)))
    return ("aligned", p) if p >= 0.5 else ("misaligned", 1.0 - p)


class OcrTextEncoder:
    """The offline default: OCR the image, then embed its text like the caption.

    Texts with Han characters (in the OCR text or the caption) use multilingual-e5 for both
    sides of the pair, others MiniLM, so the two vectors of a pair always share a space.
    """

    def __init__(self, ocr: ImageOcrConfig | None = None) -> None:
        self.ocr = OcrEngine(ocr)
        self.model_id = "ocr-text+minilm|e5"
        self.last_kind = "minilm"

    def ocr_text(self, image: NDArray[np.uint8]) -> str:
        """The image's text lines joined by spaces (empty when none)."""
        return " ".join(t for _, t, _ in self.ocr.read(image))

    @staticmethod
    def text_cosine(text: str, caption: str) -> tuple[float, str]:
        """``(cosine, encoder kind)`` of an image's OCR text and a caption; NaN when ``text`` is blank."""
        if not text.strip():
            return (math.nan, "")
        kind = "e5" if has_han(text) or has_han(caption) else "minilm"
        v = load_encoder(kind).encode([text, caption])
        return (float(v[0] @ v[1]), kind)

    def pair_cosines(self, images: Sequence[NDArray[np.uint8]], captions: Sequence[str]) -> list[tuple[float, str]]:
        """``(cosine, encoder kind)`` per pair; NaN when the image has no readable text."""
        texts = [self.ocr_text(img) for img in images]
        return [self.text_cosine(text, caption) for text, caption in zip(texts, captions, strict=True)]


class OnnxClipEncoder:
    """A CLIP-style dual encoder from two user ONNX files and a tokenizer.

    Raises:
        BackendUnavailable: a file is missing or onnxruntime/tokenizers are not installed.
    """

    def __init__(self, config: ClipConfig) -> None:
        for what, path in (("image_model", config.image_model), ("text_model", config.text_model)):
            if not Path(path).is_file():
                raise BackendUnavailable(f"multimodal.similarity: clip.{what} {str(path)!r} is not a file")
        if not Path(config.tokenizer).is_file():
            raise BackendUnavailable(f"multimodal.similarity: clip.tokenizer {str(config.tokenizer)!r} is not a file")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise BackendUnavailable(
                f"multimodal.similarity with CLIP needs onnxruntime and tokenizers: {exc}"
            ) from None
        self.config = config
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self._image: Any = ort.InferenceSession(str(config.image_model), opts, providers=["CPUExecutionProvider"])
        self._text: Any = ort.InferenceSession(str(config.text_model), opts, providers=["CPUExecutionProvider"])
        tok: Any = Tokenizer.from_file(str(config.tokenizer))
        tok.enable_padding()
        tok.enable_truncation(config.max_tokens)
        self._tok = tok
        digest = hashlib.sha256()
        for p in (config.image_model, config.text_model):
            digest.update(Path(p).read_bytes())
        self.model_id = f"clip-onnx-{digest.hexdigest()[:12]}"

    def _pixels(self, image: NDArray[np.uint8]) -> NDArray[np.float32]:
        from PIL import Image

        s = self.config.image_size
        rgb = np.dstack([image] * 3) if image.ndim == 2 else image[..., :3]
        im = Image.fromarray(np.ascontiguousarray(rgb))
        w, h = im.size
        k = s / min(w, h)  # resize the short side to S, then centre-crop S x S (CLIP's preprocessing)
        im = im.resize((max(s, round(w * k)), max(s, round(h * k))), Image.Resampling.BICUBIC)
        left, top = (im.size[0] - s) // 2, (im.size[1] - s) // 2
        a = np.asarray(im.crop((left, top, left + s, top + s)), np.float32) / 255.0
        a = (a - np.array(self.config.mean, np.float32)) / np.array(self.config.std, np.float32)
        return np.ascontiguousarray(a.transpose(2, 0, 1))

    @staticmethod
    def _norm(v: Any) -> Vectors:
        a = np.asarray(v, np.float32)
        a = a.reshape(a.shape[0], -1) if a.ndim != 3 else a[:, 0, :]
        out: Vectors = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        return out

    def encode_images(self, images: Sequence[NDArray[np.uint8]]) -> Vectors:
        """Normalised image embeddings."""
        batch = np.stack([self._pixels(im) for im in images])
        name = self._image.get_inputs()[0].name
        return self._norm(self._image.run(None, {name: batch})[0])

    def encode_texts(self, texts: Sequence[str]) -> Vectors:
        """Normalised text embeddings."""
        enc = self._tok.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], np.int64)
        feeds = {"input_ids": ids}
        if any(i.name == "attention_mask" for i in self._text.get_inputs()):
            feeds["attention_mask"] = np.array([e.attention_mask for e in enc], np.int64)
        return self._norm(self._text.run(None, feeds)[0])

    def pair_cosines(self, images: Sequence[NDArray[np.uint8]], captions: Sequence[str]) -> list[tuple[float, str]]:
        """Cosine of each image with its caption."""
        vi, vt = self.encode_images(images), self.encode_texts(captions)
        return [(float(a @ b), "clip") for a, b in zip(vi, vt, strict=True)]


_DEFAULTS = {"minilm": (0.35, 12.0), "e5": (0.82, 40.0), "clip": (0.25, 50.0)}


def default_calibration(kind: str) -> tuple[float, float]:
    """The default ``(threshold, scale)`` of an encoder kind (``minilm``, ``e5``, ``clip``; else CLIP's).

    Example:
        >>> default_calibration("minilm")
        (0.35, 12.0)
    """
    return _DEFAULTS.get(kind, _DEFAULTS["clip"])


class MultimodalSimilarityBackend(BaseBackend):
    """Image-caption alignment suggestions (see the module docstring)."""

    name = "multimodal.similarity"
    model_version = "1.0"
    capabilities = BackendCapabilities(
        media=frozenset({Medium.IMAGE, Medium.TEXT}),
        controls=frozenset({ControlKind.CLASSIFICATION}),
        languages=frozenset({"en", "zh"}),
        batch_size=16,
    )

    def __init__(self, config: SimilarityConfig, encoder: ImageTextEncoder | None = None) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder  # a plugged-in encoder wins over ``config.clip`` and the OCR default
        cfg = config.model_dump_json().encode()
        self.model_version = f"1.0+{hashlib.sha256(cfg).hexdigest()[:12]}"
        if encoder is not None:
            self.model_version += "+" + encoder.model_id

    def setup(self, context: BackendContext) -> None:
        """Load the CLIP export, or the OCR engine and the English text encoder."""
        super().setup(context)
        if self.encoder is not None:
            return
        if self.config.clip is not None:
            clip = OnnxClipEncoder(self.config.clip)
            self.model_version += "+" + clip.model_id
            self.encoder = clip
        else:
            self.encoder = OcrTextEncoder(self.config.ocr)
            load_encoder("minilm")

    def _decide(self, cos: float, kind: str) -> tuple[str, float]:
        t0, s0 = default_calibration(kind)
        t = self.config.threshold if self.config.threshold is not None else t0
        s = self.config.scale if self.config.scale is not None else s0
        return alignment(cos, threshold=t, scale=s)

    def predict(self, batch: Sequence[Item], schema: LabelSchema, controls: Sequence[Control]) -> list[BackendOutput]:
        """One aligned/misaligned classification per usable control and item."""
        from labelloop.modalities import load_image

        if self.encoder is None:
            raise BackendUnavailable("multimodal.similarity: setup() must be called before predict()")
        wanted = {self.config.aligned_label, self.config.misaligned_label}
        usable = [c for c in controls if wanted <= set(c.labels)]
        image_field = next((m.name for m in schema.media if m.kind == Medium.IMAGE), None)
        text_field = next((m.name for m in schema.media if m.kind == Medium.TEXT), None)
        if batch and (not usable or image_field is None or text_field is None):
            return self.fail_all(
                batch,
                "multimodal.similarity needs an image, a text and a classification control with the labels "
                f"{sorted(wanted)}",
            )
        if not batch:
            return []
        assert image_field is not None and text_field is not None
        images, captions = [], []
        for item in batch:
            img_ref, txt_ref = item.data.get(image_field), item.data.get(text_field)
            if img_ref is None or txt_ref is None or txt_ref.text is None:
                raise ValueError(f"item {item.id}: needs both {image_field!r} and a text {text_field!r}")
            images.append(load_image(self.media.path(img_ref), source=f"item {item.id} {image_field}"))
            captions.append(txt_ref.text)
        outs = []
        for item, (cos, kind) in zip(batch, self.encoder.pair_cosines(images, captions), strict=True):
            if math.isnan(cos):
                outs.append(self.ok(item, [], score=None))
                continue
            label, score = self._decide(cos, kind)
            name = self.config.aligned_label if label == "aligned" else self.config.misaligned_label
            value = [{"id": c.name, "control": c.name, "labels": [name]} for c in usable]
            outs.append(self.ok(item, value, score=score))
        return outs


def create(config: Mapping[str, Any]) -> MultimodalSimilarityBackend:
    """Build ``multimodal.similarity`` (see :class:`SimilarityConfig`; models load in ``setup``).

    Raises:
        InvalidSchema: an unknown or out-of-range parameter.

    Example:
        >>> create({"threshold": 0.4}).config.threshold
        0.4
    """
    return MultimodalSimilarityBackend(parse_config(SimilarityConfig, "multimodal.similarity", config))
