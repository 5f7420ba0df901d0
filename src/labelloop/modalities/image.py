"""Images: JPEG, PNG, WebP and BMP, guarded against decompression bombs.

The pixel count is read from the file header by this module (not by Pillow) and checked
against :attr:`ProbeLimits.max_image_pixels` before anything is decoded; Pillow's own
decompression-bomb error is mapped to the same refusal. Only the Pillow plugin matching the
sniffed format may open a file, so an HTML or SVG file named ``.png`` is never an image.

Pixel coordinates are those of the stored image: EXIF orientation is *not* applied, so boxes
drawn on what :func:`load_image` returns match the file's own pixel grid. Animated images are
probed and loaded by their first frame; ``meta["frames"]`` tells how many there are.

Example:
    >>> import io, tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> path = Path(tempfile.mkdtemp()) / "a.png"
    >>> Image.new("RGB", (4, 3)).save(path)
    >>> load_image(path).shape
    (3, 4, 3)
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from labelloop.core.media import Medium
from labelloop.modalities import detect
from labelloop.modalities._common import DEFAULT_LIMITS, Input, Probed, ProbeLimits, why

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL.Image import Image

__all__ = ["load_image", "probe_image"]

_PIL_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WebP": "WEBP", "BMP": "BMP"}
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_NO_LENGTH = frozenset(range(0xD0, 0xDA)) | {0x01}
_GREY = frozenset({"1", "L", "LA", "La"})
_GREY16 = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


def probe_image(inp: Input, fmt: detect.Format, limits: ProbeLimits) -> Probed:
    """Probe an image: header pixel check, then a full decode of the first frame."""
    with _opened(inp, fmt, limits) as img:
        _decode(img, inp, fmt)
        meta: dict[str, Any] = {"width": img.width, "height": img.height, "mode": img.mode}
        frames = int(getattr(img, "n_frames", 1) or 1)
        if frames > 1:
            meta["frames"] = frames
    return Probed(Medium.IMAGE, fmt.media_type, meta)


def load_image(path: Path, *, source: str | None = None, limits: ProbeLimits = DEFAULT_LIMITS) -> npt.NDArray[np.uint8]:
    """Decode an image file into a pixel array.

    Args:
        path: The image file (JPEG, PNG, WebP or BMP, recognised by content).
        source: Human name used in errors (default: the path).
        limits: The pixel limit applies as in probing.

    Returns:
        ``H x W x 3`` uint8 RGB, or ``H x W`` uint8 for greyscale images (modes ``1``, ``L``,
        ``LA``; 16-bit grey is scaled by 1/256; ``I``/``F`` are clipped to 0..255). Alpha is
        dropped, palettes are expanded. EXIF orientation is not applied: indices are the
        stored image's pixel coordinates. Animated images give their first frame.

    Raises:
        InputRejected: Not an image, an unsupported format, too many pixels, or unreadable.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> p = Path(tempfile.mkdtemp()) / "g.bmp"
        >>> Image.new("L", (5, 2), 7).save(p)
        >>> load_image(p).tolist()[0]
        [7, 7, 7, 7, 7]
    """
    import numpy as np

    inp = Input(source or str(path), path=path)
    fmt = _image_format(inp)
    with _opened(inp, fmt, limits) as img:
        _decode(img, inp, fmt)
        try:
            pixels: npt.NDArray[np.uint8]
            if img.mode in _GREY:
                pixels = np.array(img.convert("L"), dtype=np.uint8)
            elif img.mode in _GREY16:
                pixels = (np.array(img, dtype=np.uint16) >> 8).astype(np.uint8)
            elif img.mode in ("I", "F"):
                pixels = np.clip(np.array(img), 0, 255).astype(np.uint8)
            else:
                pixels = np.array(img.convert("RGB"), dtype=np.uint8)
        except Exception as exc:
            raise inp.reject("a readable image", f"a {fmt.name} that cannot be converted ({why(exc, inp)})") from None
    return pixels


def _image_format(inp: Input) -> detect.Format:
    if inp.size == 0:
        raise inp.reject("an image", "an empty file")
    fmt = detect.identify(inp.head(), size=inp.size)
    if fmt is None or fmt.medium is not Medium.IMAGE:
        raise inp.reject("an image", detect.describe(fmt))
    return fmt


@contextmanager
def _opened(inp: Input, fmt: detect.Format, limits: ProbeLimits) -> Iterator[Image]:
    from PIL import Image as PILImage

    with inp.open() as fp:
        try:
            dims = _declared_size(fmt, fp, inp.size)
        except (OSError, struct.error, ValueError):
            dims = None
        if dims is not None:
            _check_pixels(inp, dims, limits)
        if fmt is detect.WEBP:
            _check_riff_size(inp)
        fp.seek(0)
        try:
            img = PILImage.open(fp, formats=[_PIL_NAMES[fmt.name]])
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
            raise inp.reject(
                f"an image no larger than {limits.max_image_pixels} pixels",
                f"a {fmt.name} too large to decode safely ({why(exc)})",
            ) from None
        except Exception as exc:
            raise inp.reject("a readable image", f"{_damage(exc, fmt)} ({why(exc, inp)})") from None
        with img:
            if img.width <= 0 or img.height <= 0:
                raise inp.reject("a readable image", f"a {fmt.name} of {img.width}x{img.height} pixels")
            _check_pixels(inp, img.size, limits)
            yield img


def _decode(img: Image, inp: Input, fmt: detect.Format) -> None:
    from PIL import Image as PILImage

    try:
        img.load()
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise inp.reject("an image small enough to decode safely", f"a {fmt.name} ({why(exc)})") from None
    except Exception as exc:
        reason = why(exc, inp)
        if " (" in reason and "truncated" in reason:
            reason = reason.split(" (", 1)[0]
        raise inp.reject("a readable image", f"{_damage(exc, fmt)} ({reason})") from None


def _damage(exc: Exception, fmt: detect.Format) -> str:
    truncated = isinstance(exc, EOFError) or "truncated" in str(exc).lower()
    return f"a {'truncated' if truncated else 'corrupt'} {fmt.name}"


def _check_pixels(inp: Input, dims: tuple[int, int], limits: ProbeLimits) -> None:
    width, height = dims
    if width * height > limits.max_image_pixels:
        raise inp.reject(f"an image no larger than {limits.max_image_pixels} pixels", f"{width}x{height}")


def _check_riff_size(inp: Input) -> None:
    head = inp.head()
    if len(head) >= 8:
        (declared,) = struct.unpack_from("<I", head, 4)
        if declared + 8 > inp.size:
            raise inp.reject(
                "a readable image", f"a truncated WebP (header declares {declared + 8} bytes, {inp.size} present)"
            )


def _declared_size(fmt: detect.Format, fp: IO[bytes], size: int) -> tuple[int, int] | None:
    """Width and height as the header declares them, without decoding (``None``: not found)."""
    if fmt is detect.JPEG:
        return _jpeg_size(fp, size)
    head = fp.read(32)
    if fmt is detect.PNG and len(head) >= 24 and head[12:16] == b"IHDR":
        width, height = struct.unpack_from(">II", head, 16)
        return int(width), int(height)
    if fmt is detect.BMP and len(head) >= 26:
        (dib,) = struct.unpack_from("<I", head, 14)
        if dib == 12:
            width, height = struct.unpack_from("<HH", head, 18)
        else:
            width, height = struct.unpack_from("<ii", head, 18)
        return abs(int(width)), abs(int(height))
    if fmt is detect.WEBP and len(head) >= 30:
        chunk = head[12:16]
        if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
            width, height = struct.unpack_from("<HH", head, 26)
            return width & 0x3FFF, height & 0x3FFF
        if chunk == b"VP8L" and head[20] == 0x2F:
            (bits,) = struct.unpack_from("<I", head, 21)
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8X":
            return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def _jpeg_size(fp: IO[bytes], size: int) -> tuple[int, int] | None:
    """Walk JPEG marker segments up to the first SOF (frame header)."""
    pos = 2
    for _ in range(4096):
        fp.seek(pos)
        two = fp.read(2)
        if len(two) < 2 or two[0] != 0xFF:
            return None
        marker = two[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _NO_LENGTH:
            pos += 2
            continue
        seg = fp.read(7)
        if len(seg) < 2:
            return None
        (length,) = struct.unpack_from(">H", seg, 0)
        if marker in _SOF:
            if len(seg) < 7:
                return None
            height, width = struct.unpack_from(">HH", seg, 3)
            return int(width), int(height)
        if marker == 0xDA or length < 2:  # scan data before any frame header
            return None
        pos += 2 + length
        if pos >= size:
            return None
    return None
