"""Media helpers: file-type rules, header sniffing and test renders (probing is nemovideo_mcp.media.probe).

Everything here is synchronous and may block (disk, subprocess): the HTTP layer
calls it through worker threads so the event loop never stalls.
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import struct
import subprocess
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Literal

import imageio_ffmpeg

from nemovideo_mcp.media.formats import BACKEND_EXTENSIONS

FileType = Literal["video", "image", "audio"]

# Exactly the contract's list (the cloud refuses even .jpeg), shared with the client and the studio.
_EXTENSIONS: dict[str, FileType] = dict(BACKEND_EXTENSIONS)
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(_EXTENSIONS)

DEFAULT_SIZE = (1280, 720)
MAX_LONG_SIDE = 1920
MAX_SHORT_SIDE = 1080
MAX_RENDER_SECONDS = 3.0
RENDER_FPS = 5


def file_type_for(name: str) -> FileType | None:
    """The media kind implied by a file name's extension, or None if unsupported."""
    _, dot, ext = name.rpartition(".")
    return _EXTENSIONS.get(ext.lower()) if dot else None


# --- image headers --------------------------------------------------------------------------


def image_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG/JPEG/GIF/WebP header, without decoding pixels."""
    try:
        with path.open("rb") as fh:
            head = fh.read(32)
            if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
                w, h = struct.unpack(">II", head[16:24])
                return int(w), int(h)
            if head[:6] in (b"GIF87a", b"GIF89a"):
                w, h = struct.unpack("<HH", head[6:10])
                return int(w), int(h)
            if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                return _webp_size(head)
            if head[:2] == b"\xff\xd8":
                fh.seek(2)
                return _jpeg_size(fh)
    except (OSError, struct.error):
        pass
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        return _le16(head, 26) & 0x3FFF, _le16(head, 28) & 0x3FFF
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def _le16(data: bytes, offset: int) -> int:
    return int(struct.unpack("<H", data[offset : offset + 2])[0])


def _jpeg_size(fh: BinaryIO) -> tuple[int, int] | None:
    # Walk the marker segments (seeking past EXIF blobs) until a start-of-frame marker.
    sof = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
    while True:
        byte = fh.read(1)
        if not byte:
            return None
        if byte != b"\xff":
            continue
        marker = fh.read(1)
        while marker == b"\xff":
            marker = fh.read(1)
        if not marker:
            return None
        code = marker[0]
        if code in (0x01, 0xD8) or 0xD0 <= code <= 0xD7:
            continue  # standalone markers carry no length
        raw = fh.read(2)
        if len(raw) < 2:
            return None
        length = struct.unpack(">H", raw)[0]
        if code in sof:
            data = fh.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return int(w), int(h)
        fh.seek(length - 2, os.SEEK_CUR)


# --- ffmpeg ---------------------------------------------------------------------------------


def render_size(meta: Any) -> tuple[int, int]:
    """The output frame for a draft: its m.width x m.height, capped to 1080x1920, even sides."""
    if not isinstance(meta, dict):  # scripted drafts may be odd; fall back rather than crash
        meta = {}
    try:
        w, h = int(meta.get("width") or 0), int(meta.get("height") or 0)
    except (TypeError, ValueError):
        w = h = 0
    if w <= 0 or h <= 0:
        w, h = DEFAULT_SIZE
    scale = min(1.0, MAX_LONG_SIDE / max(w, h), MAX_SHORT_SIDE / min(w, h))
    return max(16, int(w * scale) // 2 * 2), max(16, int(h * scale) // 2 * 2)


def render_seconds(draft_ms: float) -> float:
    """Clip length for a stand-in render: the draft's length capped at 3 s, in 0.5 s steps (cache hits)."""
    seconds = min(max(draft_ms, 0.0) / 1000.0, MAX_RENDER_SECONDS)
    return max(0.5, math.ceil(seconds * 2) / 2)


class RenderCache:
    """Test-pattern MP4s, made once per (width, height, seconds) for the whole process.

    Renders are cheap but not free; tests and benchmarks start many emulators and
    ask for the same few shapes, so the cache is shared and lives until exit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[tuple[int, int, float], Future[Path]] = {}
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="emu-render")
        self._dir: Path | None = None

    def get(self, width: int, height: int, seconds: float) -> Future[Path]:
        key = (width, height, seconds)
        with self._lock:
            future = self._futures.get(key)
            if future is None or (future.done() and future.exception() is not None):
                future = self._pool.submit(self._render, width, height, seconds)
                self._futures[key] = future
            return future

    def _directory(self) -> Path:
        with self._lock:
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="nemo-emu-renders-"))
                atexit.register(shutil.rmtree, self._dir, True)
            return self._dir

    def _render(self, width: int, height: int, seconds: float) -> Path:
        out = self._directory() / f"{width}x{height}_{seconds:g}.mp4"
        tmp = out.with_suffix(".part.mp4")
        pattern = f"testsrc2=size={width}x{height}:rate={RENDER_FPS}:duration={seconds:g}"
        cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            pattern,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            str(tmp),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg render failed: {proc.stderr.strip()[-500:]}")
        os.replace(tmp, out)  # atomic: a reader never sees a half-written file
        return out


render_cache = RenderCache()
