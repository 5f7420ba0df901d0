"""Licence plates in images: which OCR text lines are plates, as boxes to hide.

The OCR itself is a backend (``image.ocr``'s :class:`~labelloop.backends.image_ocr.OcrEngine`);
this module only judges its lines, so it needs no model. A line is a plate when:

* it contains a Chinese plate (:class:`~labelloop.compliance.pii.PlateRecognizer`, GA 36) once
  OCR's separator variants (``.``, ``・``, ``•``, ``-``) are read as the plate's ``·``; or
* the whole line is a current-format UK plate (``AB12 CDE``: two letters, two digits, three
  letters, no ``I``/``Q``). Other Western formats are too varied to tell from ordinary words
  and numbers, so they are not matched.

The box is the line's bounding box in pixels (``xyxy``, max exclusive, clipped to the image):
the whole line is hidden when a plate is only part of it.

Example:
    >>> lines = [([(10, 5), (90, 5), (90, 25), (10, 25)], "京A.12345", 0.98),
    ...          ([(0, 40), (60, 40), (60, 60), (0, 60)], "OPEN 24H", 0.99)]
    >>> find_plates(lines, 100, 80)
    [PlateRegion(xyxy=(10, 5, 90, 25), score=0.98)]
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from labelloop.compliance.faces import check_pixel_box
from labelloop.compliance.pii.plate import PlateRecognizer

__all__ = ["OcrLine", "PlateRegion", "find_plates", "is_plate_text"]

OcrLine = tuple[Sequence[tuple[float, float]], str, float]
"""One OCR text line: its polygon in pixels, its transcript and the recogniser's confidence."""

_SEPARATORS = str.maketrans(dict.fromkeys(".・•‧∙⋅-", "·"))
_UK = re.compile(r"[A-HJ-PR-Z]{2}[0-9]{2} ?[A-HJ-PR-Z]{3}")
_CN = PlateRecognizer()


@dataclass(frozen=True, slots=True)
class PlateRegion:
    """A text line read as a licence plate (the plate's text is deliberately not kept).

    Attributes:
        xyxy: ``(x_min, y_min, x_max, y_max)`` in pixels (max exclusive).
        score: The OCR confidence of the line.
    """

    xyxy: tuple[int, int, int, int]
    score: float

    def __post_init__(self) -> None:
        check_pixel_box(self.xyxy, "plate")


def is_plate_text(text: str) -> bool:
    """Whether an OCR transcript is, or contains, a licence plate (see the module docstring).

    Example:
        >>> is_plate_text("粤B 8K2M7"), is_plate_text("AB12 CDE"), is_plate_text("order AB12 CDE")
        (True, True, False)
    """
    line = " ".join(text.split()).upper()
    if _UK.fullmatch(line):
        return True
    return bool(_CN.find(line.translate(_SEPARATORS)))


def find_plates(lines: Iterable[OcrLine], width: int, height: int, *, min_score: float = 0.5) -> list[PlateRegion]:
    """The boxes of the OCR lines that read as licence plates, sorted by ``(y, x)``.

    Args:
        lines: OCR lines (polygon, transcript, confidence).
        width: Image width in pixels (boxes are clipped to it).
        height: Image height in pixels.
        min_score: Lines the recogniser was less sure of are ignored.
    """
    out = []
    for polygon, text, score in lines:
        if score < min_score or not polygon or not is_plate_text(text):
            continue
        xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
        x0, y0 = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
        x1, y1 = min(width, math.ceil(max(xs))), min(height, math.ceil(max(ys)))
        if x1 > x0 and y1 > y0:
            out.append(PlateRegion((x0, y0, x1, y1), round(float(score), 4)))
    return sorted(out, key=lambda r: (r.xyxy[1], r.xyxy[0]))
