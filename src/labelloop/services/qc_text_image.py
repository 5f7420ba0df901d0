"""The encoder of QC's text–image mismatch check, built from the ``multimodal.similarity`` backend.

:class:`SimilarityEncoder` turns one of that backend's encoders (the offline default: the
image's OCR text against the text through MiniLM or multilingual-e5; or a user's ONNX CLIP
export) into a :class:`~labelloop.quality.model_checks.TextImageEncoder`: each text gets the
probability that it describes the image, ``sigmoid(scale * (cos - cosine_threshold))`` with the
backend's per-encoder defaults. An image without readable text gives NaN for the OCR encoder
(nothing to judge, no finding). :func:`encoder_for` builds it when the project's ``qc`` config
turns the check on and the schema has an image and a text.

Example:
    >>> from labelloop.core import LabelSchema
    >>> from labelloop.quality.rules import parse_qc_config
    >>> s = LabelSchema.model_validate({"media": [{"name": "image", "kind": "image"}]})
    >>> encoder_for(None, s, parse_qc_config({"model_checks": {"text_image": {"enabled": True}}}))  # no text
    >>> applies(s)
    False
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from labelloop.core import ControlKind, LabelSchema, MediaRef, Medium
from labelloop.errors import InvalidSchema
from labelloop.quality.rules import QCConfig, TextImageSettings
from labelloop.storage import Store

if TYPE_CHECKING:
    from labelloop.backends.multimodal_similarity import ImageTextEncoder

__all__ = ["SimilarityEncoder", "applies", "encoder_for"]


def applies(schema: LabelSchema) -> bool:
    """Whether the schema has an image and a text to compare with it (a text medium or a text field)."""
    has_image = any(m.kind == Medium.IMAGE for m in schema.media)
    has_text = any(m.kind == Medium.TEXT for m in schema.media) or any(
        c.kind == ControlKind.TEXT_FIELD for c in schema.controls
    )
    return has_image and has_text


class SimilarityEncoder:
    """A ``multimodal.similarity`` encoder as QC's text–image encoder (see the module docstring).

    Args:
        store: The store whose blobs hold the images.
        settings: The check's settings (``clip``, ``cosine_threshold``, ``scale``).
        encoder: An encoder to use instead of the one the settings name (tests, plug-ins).

    Raises:
        InvalidSchema: ``clip`` is not a valid CLIP export description.
        BackendUnavailable: the CLIP files or the packages behind the encoder are missing.
    """

    def __init__(self, store: Store, settings: TextImageSettings, encoder: ImageTextEncoder | None = None) -> None:
        from labelloop.backends.multimodal_similarity import ClipConfig, OcrTextEncoder, OnnxClipEncoder

        self.store = store
        self.settings = settings
        self._pixels: dict[str, NDArray[np.uint8]] = {}
        self._read: dict[str, str] = {}
        if encoder is not None:
            self.encoder: ImageTextEncoder = encoder
        elif settings.clip is not None:
            try:
                clip = ClipConfig.model_validate(settings.clip)
            except ValueError as exc:
                raise InvalidSchema(f"qc.model_checks.text_image.clip: {exc}") from None
            self.encoder = OnnxClipEncoder(clip)
        else:
            self.encoder = OcrTextEncoder()

    def _image(self, image: MediaRef) -> NDArray[np.uint8]:
        from labelloop.modalities import load_image

        if image.sha256 not in self._pixels:
            path = self.store.blobs.path(image.sha256)
            self._pixels = {image.sha256: load_image(path, source=f"image {image.sha256[:12]}")}
        return self._pixels[image.sha256]

    def image_text(self, image: MediaRef) -> str:
        """The image's OCR text (empty for a CLIP encoder, which reads nothing)."""
        from labelloop.backends.multimodal_similarity import OcrTextEncoder

        if not isinstance(self.encoder, OcrTextEncoder):
            return ""
        if image.sha256 not in self._read:
            self._read = {image.sha256: self.encoder.ocr_text(self._image(image))}
        return self._read[image.sha256]

    def similarity(self, image: MediaRef, texts: Sequence[str]) -> list[float]:
        """Per text, the probability that it describes the image (NaN: cannot be judged)."""
        from labelloop.backends.multimodal_similarity import OcrTextEncoder, alignment, default_calibration

        if not texts:
            return []
        if isinstance(self.encoder, OcrTextEncoder):  # read the image once, however many texts
            seen = self.image_text(image)
            pairs = [self.encoder.text_cosine(seen, text) for text in texts]
        else:
            pairs = self.encoder.pair_cosines([self._image(image)] * len(texts), list(texts))
        out = []
        for cos, kind in pairs:
            if math.isnan(cos):
                out.append(math.nan)
                continue
            t0, s0 = default_calibration(kind)
            t = self.settings.cosine_threshold if self.settings.cosine_threshold is not None else t0
            s = self.settings.scale if self.settings.scale is not None else s0
            label, score = alignment(cos, threshold=t, scale=s)
            out.append(score if label == "aligned" else 1.0 - score)
        return out


def encoder_for(store: Store, schema: LabelSchema, config: QCConfig) -> SimilarityEncoder | None:
    """The check's encoder when the config turns it on and the schema has an image and a text; else None.

    Raises:
        InvalidSchema: an invalid ``clip`` section.
        BackendUnavailable: the encoder cannot load (missing files or packages).
    """
    settings = config.model_checks.text_image
    if not settings.enabled or not applies(schema):
        return None
    return SimilarityEncoder(store, settings)
