"""What a file really contains: container families from the first bytes, and images that decode.

A file name is a claim; these checks test it. The family test reads only a file's first bytes
(enough for every signature below). Images are also decoded (header and a reduced draft), so a
picture that cannot be shown is refused at upload with its name, whichever backend is in use.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

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


# --- beyond the first bytes: the structure the name promises, and no secrets inside ---------------------

#: Byte strings that appear in keys and credentials and (practically) never in media. Compressed media is
#: random-looking, so each marker is long enough (>= 8 bytes, or a pattern) not to occur by chance.
SECRET_MARKERS: tuple[bytes, ...] = (
    b"-----BEGIN",
    b"PRIVATE KEY",
    b"ssh-rsa ",
    b"ssh-ed25519 ",
    b"ssh-dss ",
    b"ecdsa-sha2-nistp",
    b"nmv_usr_",
    b"clm_",  # NemoVideo claim tokens; 4 bytes, so only with a following run of token characters (below)
    "-----BEGIN".encode("utf-16-le"),
    "PRIVATE KEY".encode("utf-16-le"),
)
_SECRET_PATTERN = re.compile(
    b"|".join(re.escape(m) for m in SECRET_MARKERS if m != b"clm_")
    + rb"|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|clm_[A-Za-z0-9_]{16}"
)
_SCAN_CHUNK = 1 << 20
_SCAN_OVERLAP = 64
STRUCTURE_BYTES = 1 << 20  # how much of an audio file is searched for its frames


def secret_marker(handle: BinaryIO) -> bool:
    """Whether the open file contains a key or credential marker anywhere (reads it whole, in chunks)."""
    handle.seek(0)
    tail = b""
    while chunk := handle.read(_SCAN_CHUNK):
        if _SECRET_PATTERN.search(tail + chunk):
            return True
        tail = chunk[-_SCAN_OVERLAP:]
    return False


def _id3_end(data: bytes) -> int:
    """Offset just after a leading ID3v2 tag (0 when there is none)."""
    if len(data) < 10 or not data.startswith(b"ID3") or any(b & 0x80 for b in data[6:10]):
        return 0
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    return 10 + size + (10 if data[5] & 0x10 else 0)


_MPEG_BITRATES = {  # kbit/s by (version is MPEG-1, layer) and index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame_length(h: bytes) -> int | None:
    """Length of the MPEG audio frame whose 4-byte header is *h*, or None if it is not one."""
    if len(h) < 4 or h[0] != 0xFF or h[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (h[1] >> 3) & 3, (h[1] >> 1) & 3
    bitrate_index, rate_index, padding = h[2] >> 4, (h[2] >> 2) & 3, (h[2] >> 1) & 1
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer = 4 - layer_bits
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    return (144 if mpeg1 or layer == 2 else 72) * bitrate // rate + padding


def _adts_frame_length(h: bytes) -> int | None:
    if len(h) < 7 or h[0] != 0xFF or h[1] & 0xF6 != 0xF0 or (h[2] >> 2) & 0xF > 12:
        return None
    length = ((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5)
    return length if length >= 7 else None


def _frames_found(data: bytes, start: int, frame_length: Callable[[bytes], int | None], total: int) -> bool:
    """Three consecutive valid frames (or two that end exactly at the end of a tiny file), near *start*."""
    for offset in range(start, min(len(data), start + 4096)):
        position, count = offset, 0
        while count < 3:
            length = frame_length(data[position : position + 7])
            if length is None:
                break
            position += length
            count += 1
            if position >= total:  # a short file: two frames that end exactly where the file does
                return position == total and count >= 2
        if count >= 3:
            return True
    return False


def _iso_boxes_ok(handle: BinaryIO, size: int) -> bool:
    """The top-level ISO-BMFF boxes tile the file and include real content (`moov` or `mdat`)."""
    offset, seen = 0, set()
    for _ in range(4096):
        if offset >= size:
            break
        handle.seek(offset)
        header = handle.read(16)
        if len(header) < 8:
            return False
        box_size, box_type = int.from_bytes(header[:4], "big"), header[4:8]
        if not all(0x20 <= b < 0x7F for b in box_type):
            return False
        if box_size == 1:
            if len(header) < 16:
                return False
            box_size = int.from_bytes(header[8:16], "big")
        elif box_size == 0:
            box_size = size - offset  # "to the end of the file"
        if box_size < 8:
            return False
        seen.add(box_type)
        offset += box_size
    return bool(seen & {b"moov", b"mdat", b"moof"})


def _ebml_ok(data: bytes) -> bool:
    """An EBML header naming a webm/matroska DocType, followed by a Segment."""

    def vint(at: int) -> tuple[int, int] | None:
        if at >= len(data) or data[at] == 0:
            return None
        width = 8 - data[at].bit_length() + 1
        value = data[at] & (0xFF >> width)
        for b in data[at + 1 : at + width]:
            value = value << 8 | b
        return (value, width) if at + width <= len(data) else None

    found = vint(4)
    if found is None:
        return False
    header_size, width = found
    body_start = 4 + width
    body = data[body_start : body_start + header_size]
    at = body.find(b"\x42\x82")
    if at < 0 or at + 3 > len(body):
        return False
    doc_len = body[at + 2] & 0x7F if body[at + 2] & 0x80 else None
    if doc_len is None:
        return False
    doctype = body[at + 3 : at + 3 + doc_len]
    return doctype in (b"webm", b"matroska") and data[body_start + header_size :].startswith(b"\x18\x53\x80\x67")


def _riff_ok(data: bytes, size: int, form: bytes) -> bool:
    declared = int.from_bytes(data[4:8], "little")
    if data[:4] == b"RIFF" and not (4 <= declared <= size + 1024):
        return False
    chunks: set[bytes] = set()
    offset = 12
    while offset + 8 <= len(data) and len(chunks) < 64:
        chunk_id, chunk_size = data[offset : offset + 4], int.from_bytes(data[offset + 4 : offset + 8], "little")
        if not all(0x20 <= b < 0x7F for b in chunk_id):
            return False
        chunks.add(chunk_id if chunk_id != b"LIST" else b"LIST" + data[offset + 8 : offset + 12])
        if chunk_id in (b"data", b"movi") or (chunk_id == b"LIST" and data[offset + 8 : offset + 12] == b"movi"):
            break
        offset += 8 + chunk_size + (chunk_size & 1)
    if form == b"WAVE":
        return b"fmt " in chunks and (b"data" in chunks or data[:4] != b"RIFF")
    return b"LISThdrl" in chunks


def structure_problem(handle: BinaryIO, ext: str, family: str, size: int) -> str | None:
    """Why the open file is not really what its extension says, beyond the first bytes; None when it is.

    Audio: consecutive valid MPEG or ADTS frames after any ID3 tag. Video: the ISO-BMFF boxes tile the
    file and hold media, an EBML header with a webm/matroska DocType and a Segment, or RIFF chunks
    (``fmt ``/``data`` for WAV, ``hdrl`` for AVI). Images are decoded separately (:func:`image_problem`).
    Reads at most about a megabyte.
    """
    ext = ext.lower().lstrip(".")
    handle.seek(0)
    data = handle.read(STRUCTURE_BYTES)
    if family in ("mp3", "aac", "id3"):
        start, base = _id3_end(data), 0
        if start >= len(data) - 16 and size > start:  # a large tag (cover art): read from after it
            handle.seek(start)
            data, base, start = handle.read(STRUCTURE_BYTES), start, 0
        parser = _adts_frame_length if ext == "aac" else _mpeg_frame_length
        if not _frames_found(data, start, parser, size - base):
            return "no audio frames were found in it"
        return None
    if family == "isobmff":
        return None if _iso_boxes_ok(handle, size) else "its video container is damaged or holds no media"
    if family == "ebml":
        return None if _ebml_ok(data) else "it is not a valid WebM/Matroska file"
    if family in ("wav", "avi"):
        form = b"WAVE" if family == "wav" else b"AVI "
        return None if _riff_ok(data, size, form) else "its RIFF structure is damaged or holds no media"
    return None
