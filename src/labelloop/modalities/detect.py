r"""Which medium and format a byte stream holds, decided from its content, never its name.

:func:`sniff` looks at the first 4096 bytes and the size. Magic numbers win; then the text
headers of PCD and PLY; then UTF-8 text; then the KITTI ``.bin`` heuristic (KITTI has no
magic). Text is tried before KITTI because a short run of ASCII digits also reads as small,
finite float32 values, while real KITTI data is never NUL-free valid UTF-8.

Example:
    >>> sniff(b"\x89PNG\r\n\x1a\n" + bytes(24), size=32)
    <Medium.IMAGE: 'image'>
    >>> sniff(b"<html><body>hi</body></html>", size=28)
    <Medium.TEXT: 'text'>
    >>> sniff(b"GIF89a" + bytes(10), size=16) is None
    True
"""

from __future__ import annotations

import codecs
import math
import struct
from dataclasses import dataclass

from labelloop.core.media import Medium

__all__ = ["Format", "describe", "identify", "is_utf8_text", "looks_like_text", "sniff"]

_IMAGES = "(supported: JPEG, PNG, WebP, BMP)"
_AUDIO = "(supported: WAV, FLAC, OGG, MP3)"


@dataclass(frozen=True, slots=True)
class Format:
    """A recognised content format.

    Attributes:
        name: Short name used in messages (``PNG``, ``FLAC``, ``PCD``).
        medium: The medium, or ``None`` for a recognised but unsupported format.
        media_type: The media type of a supported format (``""`` otherwise).
        refusal: For unsupported formats, the reason shown to the user.
    """

    name: str
    medium: Medium | None
    media_type: str = ""
    refusal: str = ""


JPEG = Format("JPEG", Medium.IMAGE, "image/jpeg")
PNG = Format("PNG", Medium.IMAGE, "image/png")
WEBP = Format("WebP", Medium.IMAGE, "image/webp")
BMP = Format("BMP", Medium.IMAGE, "image/bmp")
WAV = Format("WAV", Medium.AUDIO, "audio/wav")
FLAC = Format("FLAC", Medium.AUDIO, "audio/flac")
OGG = Format("OGG", Medium.AUDIO, "audio/ogg")
MP3 = Format("MP3", Medium.AUDIO, "audio/mpeg")
PCD = Format("PCD", Medium.POINTCLOUD, "application/x-pcd")
PLY = Format("PLY", Medium.POINTCLOUD, "application/x-ply")
LAS = Format("LAS", Medium.POINTCLOUD, "application/vnd.las")
KITTI = Format("KITTI", Medium.POINTCLOUD, "application/x-kitti-bin")
TEXT = Format("text", Medium.TEXT, "text/plain")


def _unsupported(kind: str, name: str) -> Format:
    notes = {"image": _IMAGES, "audio": _AUDIO}
    note = f" {notes[kind]}" if kind in notes else ""
    return Format(name, None, refusal=f"unsupported {kind} format {name}{note}")


_MAGIC: tuple[tuple[bytes, Format], ...] = (
    (b"GIF87a", _unsupported("image", "GIF")),
    (b"GIF89a", _unsupported("image", "GIF")),
    (b"II*\x00", _unsupported("image", "TIFF")),
    (b"MM\x00*", _unsupported("image", "TIFF")),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", _unsupported("image", "JPEG 2000")),
    (b"\xff\x4f\xff\x51", _unsupported("image", "JPEG 2000")),
    (b"8BPS", _unsupported("image", "PSD")),
    (b"\x00\x00\x01\x00", _unsupported("image", "ICO")),
    (b"%PDF-", _unsupported("document", "PDF")),
    (b"PK\x03\x04", _unsupported("archive", "ZIP")),
    (b"\x1f\x8b", _unsupported("archive", "gzip")),
    (b"\x1aE\xdf\xa3", _unsupported("video", "Matroska/WebM")),
    (b"ASTM-E57", _unsupported("point cloud", "E57")),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}


def identify(head: bytes, *, size: int) -> Format | None:
    """Name the format of content starting with ``head`` (``size`` bytes in all).

    Returns:
        The format (possibly an unsupported one, with ``medium`` ``None``), or ``None`` when
        the content is not recognised from its head.

    Example:
        >>> identify(b"fLaC" + bytes(40), size=44).media_type
        'audio/flac'
    """
    fmt = _magic(head)
    if fmt is not None:
        return fmt
    if _is_ply(head):
        return PLY
    if _is_pcd(head):
        return PCD
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # before MPEG: FF FE is also a frame sync
        return Format("UTF-16", None, refusal="UTF-16 text (only UTF-8 text is supported)")
    if _is_mpeg_audio(head, size):
        return MP3
    if is_utf8_text(head, complete=len(head) >= size):
        return TEXT
    if _is_kitti(head, size):
        return KITTI
    return None


def sniff(head: bytes, *, size: int) -> Medium | None:
    r"""Tell the medium of content from its first bytes and its total size.

    Args:
        head: The first 4096 bytes (fewer when the content is shorter).
        size: The total size in bytes.

    Returns:
        The medium of a supported format, or ``None`` when the head is empty, unrecognised,
        or a recognised but unsupported format (GIF, TIFF, MP4 ...). :func:`probe_bytes`
        says why.

    Example:
        >>> sniff(b"ply\nformat ascii 1.0\n", size=100)
        <Medium.POINTCLOUD: 'pointcloud'>
    """
    if size <= 0 or not head:
        return None
    fmt = identify(head, size=size)
    return None if fmt is None else fmt.medium


_WORDS = {Medium.IMAGE: "image", Medium.AUDIO: "audio", Medium.POINTCLOUD: "point cloud"}


def describe(fmt: Format | None) -> str:
    """Word a format for the "got ..." half of a refusal.

    Example:
        >>> describe(FLAC), describe(TEXT), describe(None)
        ('FLAC audio', 'text', 'unrecognised content')
    """
    if fmt is None:
        return "unrecognised content"
    if fmt.medium is None:
        return fmt.refusal
    if fmt.medium is Medium.TEXT:
        return "text"
    return f"{fmt.name} {_WORDS[fmt.medium]}"


def is_utf8_text(data: bytes, *, complete: bool) -> bool:
    r"""Whether ``data`` is NUL-free UTF-8; a sequence cut at the end is allowed unless complete.

    Example:
        >>> is_utf8_text("é".encode()[:1], complete=False), is_utf8_text(b"\xe9", complete=True)
        (True, False)
    """
    if b"\x00" in data:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
    except UnicodeDecodeError:
        return False
    return True


_CONTROL = frozenset(range(1, 32)) - {9, 10, 11, 12, 13, 27} | {127}


def looks_like_text(head: bytes) -> bool:
    """Whether bytes that are not valid UTF-8 still look like text in some other encoding.

    Used to word the refusal: Latin-1 or GBK text gets "invalid UTF-8 at byte N", random
    binary gets "unrecognised binary data".

    Example:
        >>> looks_like_text("café".encode("latin-1")), looks_like_text(bytes(range(256)))
        (True, False)
    """
    if not head or b"\x00" in head:
        return False
    controls = sum(1 for b in head if b in _CONTROL)
    return controls * 100 <= len(head)


def _magic(head: bytes) -> Format | None:
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] in (b"RIFF", b"RF64") and len(head) >= 12:
        kind = head[8:12]
        if kind == b"WEBP" and head[:4] == b"RIFF":
            return WEBP
        if kind == b"WAVE":
            return WAV
        if kind == b"AVI ":
            return _unsupported("video", "AVI")
        return _unsupported("RIFF", kind.decode("latin-1").strip() or "RIFF")
    if head.startswith(b"BM") and _is_bmp(head):
        return BMP
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"ID3") and len(head) >= 10 and 2 <= head[3] <= 4:
        return MP3
    if head.startswith(b"LASF"):
        return LAS
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return _unsupported("audio", "AIFF")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return _unsupported("image", "HEIF/AVIF")
        if brand.startswith(b"M4A"):
            return _unsupported("audio", "M4A")
        return _unsupported("video", "MP4/QuickTime")
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    if _is_adts(head):
        return _unsupported("audio", "AAC")
    return None


def _is_bmp(head: bytes) -> bool:
    if len(head) < 26:
        return False
    (dib,) = struct.unpack_from("<I", head, 14)
    return dib in (12, 16, 40, 52, 56, 64, 108, 124)


_MPEG_KBPS = {
    (3, 3): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),  # MPEG-1 layer I
    (3, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),  # MPEG-1 layer II
    (3, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    (2, 3): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),  # MPEG-2/2.5 layer I
    (2, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2/2.5 layers II, III
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame(head: bytes, pos: int) -> tuple[int, int, int, int] | None:
    """(version, layer, sample-rate index, frame length) of the MPEG audio frame at ``pos``."""
    if pos + 4 > len(head) or head[pos] != 0xFF or head[pos + 1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[pos + 1] >> 3) & 3, (head[pos + 1] >> 1) & 3
    bitrate, rate_index, padding = head[pos + 2] >> 4, (head[pos + 2] >> 2) & 3, (head[pos + 2] >> 1) & 1
    if version == 1 or layer == 0 or bitrate in (0, 15) or rate_index == 3:
        return None
    table = _MPEG_KBPS[(3, layer)] if version == 3 else _MPEG_KBPS[(2, 3 if layer == 3 else 2)]
    rate = _MPEG_RATES[version][rate_index]
    bps = table[bitrate] * 1000
    if layer == 3:
        length = (12 * bps // rate + padding) * 4
    elif layer == 1 and version != 3:
        length = 72 * bps // rate + padding
    else:
        length = 144 * bps // rate + padding
    return version, layer, rate_index, length


def _is_mpeg_audio(head: bytes, size: int) -> bool:
    """An MPEG audio frame header at offset 0, confirmed by the next frame when it is in view."""
    first = _mpeg_frame(head, 0)
    if first is None:
        return False
    following = first[3]
    if following >= size or following + 4 > len(head):
        return following <= size
    second = _mpeg_frame(head, following)
    return second is not None and second[:3] == first[:3]


def _is_adts(head: bytes) -> bool:
    return len(head) >= 7 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0


def _is_ply(head: bytes) -> bool:
    if not head.startswith((b"ply\n", b"ply\r\n")):
        return False
    second = head.split(b"\n", 2)[1].strip() if head.count(b"\n") >= 2 else head[4:].strip()
    return second.startswith((b"format ", b"comment")) or second == b""


def _is_pcd(head: bytes) -> bool:
    if head.startswith(b"# .PCD"):
        return True
    keys: list[bytes] = []
    for raw in head.split(b"\n")[:-1][:32]:
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        keys.append(line.split(None, 1)[0].upper())
    if not keys or keys[0] not in (b"VERSION", b"FIELDS"):
        return False
    return b"FIELDS" in keys and (b"POINTS" in keys or b"WIDTH" in keys)


_KITTI_MIN_POINTS = 8
_KITTI_MAX_ABS = 1e4


def _is_kitti(head: bytes, size: int) -> bool:
    """KITTI velodyne ``.bin``: float32 quadruples (x, y, z, reflectance), no header.

    Decided from a sample: the size must be a multiple of 16 with at least 8 points, and every
    sampled point finite with ``|x|, |y|, |z| < 1e4``, not all at the origin.
    """
    if size % 16 or size < 16 * _KITTI_MIN_POINTS or len(head) < 16 * _KITTI_MIN_POINTS:
        return False
    count = min(len(head), size) // 16
    values = struct.unpack_from(f"<{count * 4}f", head)
    nonzero = False
    for i in range(0, len(values), 4):
        x, y, z, r = values[i : i + 4]
        if not all(math.isfinite(v) for v in (x, y, z, r)):
            return False
        if abs(x) >= _KITTI_MAX_ABS or abs(y) >= _KITTI_MAX_ABS or abs(z) >= _KITTI_MAX_ABS:
            return False
        nonzero = nonzero or x != 0.0 or y != 0.0 or z != 0.0
    return nonzero
