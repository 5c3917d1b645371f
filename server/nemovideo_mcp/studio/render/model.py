"""What the renderer is given (probed assets) and how it fails (RenderFailed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

AssetKind = Literal["image", "video", "audio"]


@dataclass(frozen=True)
class Asset:
    """One uploaded file, already probed by the caller."""

    path: Path
    kind: AssetKind
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    has_audio: bool = False
    rotation: int = 0


class RenderFailed(Exception):
    """The video could not be made; the message is meant for the user and names the file at fault."""


# The filter graph is read from a file with -/filter_complex, which ffmpeg understands from version 7.
MIN_FFMPEG_MAJOR = 7


def ffmpeg_path(ffmpeg: str | None = None) -> str:
    if ffmpeg:
        return ffmpeg
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())
