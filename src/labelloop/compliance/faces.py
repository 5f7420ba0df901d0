"""Face detection and blurring for images, with atomic writes.

Detection uses OpenCV's Haar cascade ``haarcascade_frontalface_default.xml`` from
``cv2.data.haarcascades`` (opencv-python-headless ``>=4.8,<5``: OpenCV 5 removed
``CascadeClassifier`` and ships no cascade files, which raises
:class:`~labelloop.errors.BackendUnavailable`). Regions are ``xyxy`` pixel boxes, so they can
become box suggestions directly.

Example:
    >>> import numpy as np
    >>> img = np.zeros((64, 64, 3), dtype=np.uint8)
    >>> detect_faces(img)
    []
    >>> out = blur_regions(img, [FaceRegion((8, 8, 40, 40), 1.0)], method="pixelate")
    >>> out.shape, out is img
    ((64, 64, 3), False)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from labelloop.errors import BackendUnavailable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Boxed", "FaceRegion", "blur_regions", "detect_faces", "redact_faces_file", "write_image_atomic"]

CASCADE = "haarcascade_frontalface_default.xml"
BlurMethod = Literal["blur", "pixelate"]


class Boxed(Protocol):
    """Anything with an ``xyxy`` pixel box (faces, plates)."""

    @property
    def xyxy(self) -> tuple[int, int, int, int]:
        """``(x_min, y_min, x_max, y_max)`` in pixels (max exclusive)."""
        ...


def check_pixel_box(xyxy: tuple[int, int, int, int], what: str) -> None:
    """Refuse a pixel box that is empty or starts left of / above the image.

    Raises:
        ValueError: naming ``what`` (``face``, ``plate``) and the box.

    Example:
        >>> check_pixel_box((0, 0, 2, 2), "face")
        >>> check_pixel_box((3, 0, 2, 2), "plate")
        Traceback (most recent call last):
        ...
        ValueError: plate box must have 0 <= min < max, got (3, 0, 2, 2)
    """
    x0, y0, x1, y1 = xyxy
    if x1 <= x0 or y1 <= y0 or x0 < 0 or y0 < 0:
        raise ValueError(f"{what} box must have 0 <= min < max, got {xyxy}")


@dataclass(frozen=True, slots=True)
class FaceRegion:
    """One detected face.

    Attributes:
        xyxy: ``(x_min, y_min, x_max, y_max)`` in pixels (max exclusive).
        score: Detector confidence in ``[0, 1]`` (Haar level weight squashed by a logistic).
    """

    xyxy: tuple[int, int, int, int]
    score: float

    def __post_init__(self) -> None:
        check_pixel_box(self.xyxy, "face")


def _cascade() -> Any:
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BackendUnavailable(f"faces: opencv-python-headless<5 is required ({exc})") from exc
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    path = Path(folder) / CASCADE
    if not hasattr(cv2, "CascadeClassifier") or not path.is_file():
        raise BackendUnavailable(
            f"faces: OpenCV {cv2.__version__} has no Haar cascade {CASCADE!r} "
            f"(OpenCV 5 removed them); install opencv-python-headless>=4.8,<5"
        )
    clf = cv2.CascadeClassifier(str(path))
    if clf.empty():
        raise BackendUnavailable(f"faces: could not load {path}")
    return clf


def detect_faces(
    image: npt.NDArray[np.uint8],
    *,
    scale_factor: float = 1.1,
    min_neighbors: int = 5,
    min_size: tuple[int, int] = (30, 30),
) -> list[FaceRegion]:
    """Detect frontal faces.

    Args:
        image: ``H x W x 3`` RGB or ``H x W`` grey uint8 pixels (as from
            :func:`labelloop.modalities.load_image`).
        scale_factor: Haar pyramid step.
        min_neighbors: Overlapping detections needed to keep one (higher: fewer false positives).
        min_size: Smallest face in pixels ``(w, h)``.

    Returns:
        Faces sorted by ``(y, x)``.

    Raises:
        BackendUnavailable: OpenCV or its Haar cascade is missing.
        ValueError: The array is not a 2-D or 3-channel image.
    """
    import cv2
    import numpy as np

    if image.ndim == 3 and image.shape[2] == 3:
        gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    elif image.ndim == 2:
        gray = np.ascontiguousarray(image)
    else:
        raise ValueError(f"expected an H x W or H x W x 3 image, got shape {image.shape}")
    clf = _cascade()
    boxes, _levels, weights = clf.detectMultiScale3(
        gray, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=min_size, outputRejectLevels=True
    )
    h, w = gray.shape
    out = []
    for (x, y, bw, bh), wt in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).reshape(-1), strict=True):
        x0, y0 = max(0, int(x)), max(0, int(y))
        x1, y1 = min(w, int(x + bw)), min(h, int(y + bh))
        score = float(1.0 / (1.0 + np.exp(-float(wt))))
        out.append(FaceRegion((x0, y0, x1, y1), round(score, 4)))
    return sorted(out, key=lambda f: (f.xyxy[1], f.xyxy[0]))


def blur_regions(
    image: npt.NDArray[np.uint8],
    regions: Sequence[Boxed],
    *,
    method: BlurMethod = "blur",
    pad: float = 0.1,
    block: int = 12,
) -> npt.NDArray[np.uint8]:
    """Return a copy of ``image`` with each region blurred or pixelated.

    Args:
        image: ``H x W (x C)`` uint8 pixels; not modified.
        regions: Boxes to hide (faces, plates: anything with an ``xyxy`` box).
        method: ``"blur"`` (two Gaussian passes, kernel the size of the box) or ``"pixelate"``
            (blocks of at least ``block`` px and at most about six blocks across the box).
        pad: Grow each box by this fraction of its size on every side.
        block: Pixelation block size in pixels.
    """
    import cv2
    import numpy as np

    out = image.copy()
    h, w = out.shape[:2]
    for r in regions:
        x0, y0, x1, y1 = r.xyxy
        dx, dy = int((x1 - x0) * pad), int((y1 - y0) * pad)
        x0, y0, x1, y1 = max(0, x0 - dx), max(0, y0 - dy), min(w, x1 + dx), min(h, y1 + dy)
        if x1 <= x0 or y1 <= y0:
            continue
        roi = np.ascontiguousarray(out[y0:y1, x0:x1])
        if method == "pixelate":
            size = max(block, -(-max(x1 - x0, y1 - y0) // 6))  # at most about 6 blocks across
            small = cv2.resize(
                roi, (max(1, (x1 - x0) // size), max(1, (y1 - y0) // size)), interpolation=cv2.INTER_AREA
            )
            hidden = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        elif method == "blur":
            k = max(3, max(x1 - x0, y1 - y0) | 1)
            hidden = cv2.GaussianBlur(cv2.GaussianBlur(roi, (k, k), k / 3), (k, k), k / 3)
        else:
            raise ValueError(f"method must be 'blur' or 'pixelate', got {method!r}")
        out[y0:y1, x0:x1] = hidden
    return out


def write_image_atomic(image: npt.NDArray[np.uint8], path: Path) -> None:
    """Write an image so that ``path`` is either the complete new file or untouched.

    The image is encoded (format from the suffix, via Pillow) into a temporary file in the
    same directory, flushed and fsynced, then renamed over ``path``. On any failure the
    temporary file is removed and the error re-raised.
    """
    from PIL import Image

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            Image.fromarray(image).save(fh, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def redact_faces_file(src: Path, dst: Path, *, method: BlurMethod = "blur", **detect: Any) -> list[FaceRegion]:
    """Load ``src``, hide every detected face and write ``dst`` atomically.

    Args:
        src: Input image (any format :func:`labelloop.modalities.load_image` reads).
        dst: Output path; its suffix picks the format.
        method: ``"blur"`` or ``"pixelate"``.
        **detect: Passed to :func:`detect_faces`.

    Returns:
        The detected faces (in ``src`` pixel coordinates), e.g. to store as box suggestions.

    Raises:
        InputRejected: ``src`` is not a readable image.
        BackendUnavailable: OpenCV or its cascade is missing.
    """
    from labelloop.modalities import load_image

    pixels = load_image(Path(src))
    faces = detect_faces(pixels, **detect)
    write_image_atomic(blur_regions(pixels, faces, method=method), Path(dst))
    return faces
