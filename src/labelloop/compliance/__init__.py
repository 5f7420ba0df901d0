"""L2 compliance: PII detection and redaction for text, face and plate hiding for images.

Nothing heavy is imported here: Presidio/spaCy, jieba and OpenCV load inside the functions
that need them (plates are judged from OCR lines that a backend reads).

Example:
    >>> from labelloop.compliance import PiiDetector, redact
    >>> det = PiiDetector(english_ner=False, chinese_ner=False)
    >>> t = "手机13812345678"
    >>> redact(t, det.detect(t), mode="tag").text
    '手机<PHONE>'
"""

from __future__ import annotations

from labelloop.compliance.faces import (
    Boxed,
    FaceRegion,
    blur_regions,
    detect_faces,
    redact_faces_file,
    write_image_atomic,
)
from labelloop.compliance.pii import Finding, PatternSpec, PiiDetector, build_presidio_analyzer, resolve_overlaps
from labelloop.compliance.plates import OcrLine, PlateRegion, find_plates, is_plate_text
from labelloop.compliance.redact import Redacted, RedactionMode, Replacement, redact
from labelloop.compliance.remap import RemapResult, SpanReport, remap_regions, remap_span

__all__ = [
    "Boxed",
    "FaceRegion",
    "Finding",
    "OcrLine",
    "PatternSpec",
    "PiiDetector",
    "PlateRegion",
    "Redacted",
    "RedactionMode",
    "RemapResult",
    "Replacement",
    "SpanReport",
    "blur_regions",
    "build_presidio_analyzer",
    "detect_faces",
    "find_plates",
    "is_plate_text",
    "redact",
    "redact_faces_file",
    "remap_regions",
    "remap_span",
    "resolve_overlaps",
    "write_image_atomic",
]
