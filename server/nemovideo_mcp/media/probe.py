"""What ffmpeg reads in a media file: duration, frame size, streams. Synchronous, with a timeout."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #[^\n]*?Video:\s*([a-z0-9_]+)[^\n]*?\b(\d{2,5})x(\d{2,5})\b")
_AUDIO = re.compile(r"Stream #[^\n]*?Audio:\s*([a-z0-9_]+)")
_ROTATION = re.compile(r"(?:rotate\s*:\s*|rotation of\s*)(-?\d+(?:\.\d+)?)")
PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Probe:
    """What is known about a file; fields are None when ffmpeg could not tell."""

    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    rotation: int = 0

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None


def ffmpeg_exe() -> str:
    import imageio_ffmpeg  # deferred: finding the binary touches the disk, and only media work needs it

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def probe(path: Path, *, timeout_s: float = PROBE_TIMEOUT_S) -> Probe:
    """Read `ffmpeg -i` for *path*; an empty Probe when ffmpeg cannot read it at all."""
    try:
        proc = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            check=False,  # without an output file ffmpeg exits 1; stderr still has what it read
        )
    except (OSError, subprocess.SubprocessError, RuntimeError):
        return Probe()
    return parse_probe(proc.stderr)


def parse_probe(stderr: str) -> Probe:
    duration = None
    if m := _DURATION.search(stderr):
        duration = round(int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]), 3)
    width = height = None
    video_codec = audio_codec = None
    if m := _VIDEO.search(stderr):
        video_codec, width, height = m[1], int(m[2]), int(m[3])
    if m := _AUDIO.search(stderr):
        audio_codec = m[1]
    rotation = 0
    if m := _ROTATION.search(stderr):
        rotation = round(float(m[1])) % 360
    return Probe(duration, width, height, video_codec, audio_codec, rotation)
