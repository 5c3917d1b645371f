"""What a file really contains: container families from the first bytes, and images that decode.

A file name is a claim; these checks test it. The family test reads only a file's first bytes
(enough for every signature below). Images are also decoded (header and a reduced draft), so a
picture that cannot be shown is refused at upload with its name, whichever backend is in use.
"""

from __future__ import annotations

from pathlib import Path

from nemovideo_mcp.media.formats import extension

HEAD_BYTES = 64

# ISO base media (mp4/mov/m4a): a box type at offset 4. Modern files start with
# ftyp; old QuickTime files may start with another top-level atom, accepted only
# with a plausible box size (under 16 MB, or 1 = 64-bit size follows).
_OLD_QUICKTIME_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

#: Which sniffed family each extension must have.
FAMILIES: dict[str, frozenset[str]] = {
    "mp4": frozenset({"isobmff"}),
    "mov": frozenset({"isobmff"}),
    "m4a": frozenset({"isobmff"}),
    "avi": frozenset({"avi"}),
    "webm": frozenset({"ebml"}),
    "mkv": frozenset({"ebml"}),
    "jpg": frozenset({"jpeg"}),
    "jpeg": frozenset({"jpeg"}),
    "png": frozenset({"png"}),
    "gif": frozenset({"gif"}),
    "webp": frozenset({"webp"}),
    "mp3": frozenset({"mp3", "id3"}),
    "wav": frozenset({"wav"}),
    "aac": frozenset({"aac", "id3"}),
}

IMAGE_FAMILIES = frozenset({"jpeg", "png", "gif", "webp"})
# Decoding a reduced draft is cheap even for a 50-megapixel photo; refusing giants keeps it so.
MAX_IMAGE_PIXELS = 100_000_000


def sniff_media(head: bytes) -> str | None:
    """Name the container family from a file's first bytes, or ``None``.

    Families: ``isobmff`` (mp4/mov/m4a), ``ebml`` (webm/mkv), ``avi``, ``wav``,
    ``webp``, ``jpeg``, ``png``, ``gif``, ``id3`` (an ID3 tag, which precedes
    mp3 or aac audio), ``mp3`` (MPEG audio frame sync), ``aac`` (ADTS).
    Never raises.
    """
    if not isinstance(head, bytes | bytearray | memoryview):
        return None
    h = bytes(head[:HEAD_BYTES])
    if len(h) >= 8 and h[4:8] == b"ftyp":
        return "isobmff"
    if len(h) >= 8 and h[4:8] in _OLD_QUICKTIME_BOXES:
        box_size = int.from_bytes(h[:4], "big")
        if box_size == 1 or 8 <= box_size < 1 << 24:
            return "isobmff"
    if h.startswith(b"\x1a\x45\xdf\xa3"):
        return "ebml"
    if len(h) >= 12 and h[:4] in (b"RIFF", b"RF64", b"BW64"):
        form = h[8:12]
        if form == b"WAVE":
            return "wav"
        if h[:4] == b"RIFF" and form == b"AVI ":
            return "avi"
        if h[:4] == b"RIFF" and form == b"WEBP":
            return "webp"
        return None
    if h.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if h.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if h.startswith(b"ID3"):
        return "id3"
    if len(h) >= 2 and h[0] == 0xFF and h[1] & 0xF0 == 0xF0 and h[1] & 0x06 == 0:
        return "aac"  # ADTS: 12-bit sync, layer bits 00 (FFF0/FFF1/FFF8/FFF9)
    if len(h) >= 2 and h[0] == 0xFF and h[1] & 0xE0 == 0xE0 and h[1] & 0x06 != 0 and h[1] & 0x18 != 0x08:
        return "mp3"  # MPEG audio frame sync, a real layer, not the reserved version
    return None


def extension_matches(ext: str, family: str | None) -> bool:
    """Whether content of *family* (from :func:`sniff_media`) fits the extension *ext*."""
    if family is None:
        return False
    return family in FAMILIES.get(ext.lower().lstrip("."), frozenset())


def is_mp4(head: bytes) -> bool:
    """Whether *head* starts like an ISO base media file (``ftyp`` box at offset 4)."""
    return len(head) >= 8 and bytes(head[4:8]) == b"ftyp"


def image_problem(path: Path) -> str | None:
    """Why the image at *path* cannot be shown, in a few words; None when it decodes.

    Synchronous and CPU-bound for a moment: call it from a worker thread in async code.
    """
    from PIL import Image  # imported here: only uploads of images pay for Pillow

    try:
        with Image.open(path) as image:
            width, height = image.size
            if width <= 0 or height <= 0:
                return "it has no pixels"
            if width * height > MAX_IMAGE_PIXELS:
                return f"it is {width}x{height} pixels, larger than the 100-megapixel limit"
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # JPEG: decode at 1/8 scale
            image.load()
    except Image.DecompressionBombError:
        return "it is too large to decode safely"
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError):
        return "it does not decode as an image (damaged or not really a picture)"
    return None


def content_matches(path: Path, head: bytes) -> bool:
    """The cheap family check for the name's extension (the image decode is separate)."""
    return extension_matches(extension(path.name), sniff_media(head))
