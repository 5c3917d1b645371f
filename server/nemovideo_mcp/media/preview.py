"""A contact sheet: a few frames of a video in one small JPEG, so an agent can see what it made."""

from __future__ import annotations

import subprocess
from pathlib import Path

from nemovideo_mcp.media.probe import ffmpeg_exe, probe

PREVIEW_TIMEOUT_S = 60.0
MAX_PREVIEW_BYTES = 100_000


def contact_sheet(video: Path, *, frames: int = 4, max_bytes: int = MAX_PREVIEW_BYTES) -> bytes | None:
    """A JPEG grid of *frames* evenly spaced frames (2 per row), under *max_bytes*; None if ffmpeg cannot read it.

    Synchronous (one ffmpeg run per quality tried): call it from a worker thread in async code.
    """
    info = probe(video)
    if not info.duration_s or not info.has_video:
        return None
    columns = 2 if frames > 1 else 1
    rows = -(-frames // columns)
    # Frames from the middle of each of `frames` equal slices: never the black first frame or the faded-out last.
    rate = frames / info.duration_s
    landscape = (info.width or 16) >= (info.height or 9)
    start = info.duration_s / frames / 2
    for width in (320, 240, 160) if landscape else (180, 135, 90):
        for quality in (4, 8, 14, 24):
            graph = f"fps={rate:.6f}:start_time={start:.3f},scale={width}:-2,tile={columns}x{rows}"
            jpeg = _run(video, graph, quality)
            if jpeg is None:
                return None
            if len(jpeg) <= max_bytes:
                return jpeg
    return None


def _run(video: Path, graph: str, quality: int) -> bytes | None:
    try:
        proc = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(video), "-vf", graph,
             "-frames:v", "1", "-q:v", str(quality), "-f", "image2pipe", "-vcodec", "mjpeg", "-"],
            capture_output=True,
            timeout=PREVIEW_TIMEOUT_S,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0 or not proc.stdout.startswith(b"\xff\xd8"):
        return None
    return proc.stdout
