"""The media formats the backend accepts, and the one name the backend wants for each."""

from __future__ import annotations

from pathlib import PurePath
from typing import Literal

MediaKind = Literal["video", "image", "audio"]

#: Exactly the contract's list: the cloud refuses anything else (even ``.jpeg``).
BACKEND_EXTENSIONS: dict[str, MediaKind] = {
    **dict.fromkeys(("mp4", "mov", "avi", "webm", "mkv"), "video"),
    **dict.fromkeys(("jpg", "png", "gif", "webp"), "image"),
    **dict.fromkeys(("mp3", "wav", "m4a", "aac"), "audio"),
}

#: Other spellings people's files carry, uploaded under the backend's spelling (phone photos are `.jpeg`).
ALIASES: dict[str, str] = {"jpeg": "jpg"}

#: What the upload tool accepts: the backend's list plus the aliases it can rename.
ACCEPTED_EXTENSIONS: dict[str, MediaKind] = {
    **BACKEND_EXTENSIONS,
    **{alias: BACKEND_EXTENSIONS[target] for alias, target in ALIASES.items()},
}

FORMATS_IN_WORDS = "mp4, mov, avi, webm, mkv, jpg (or jpeg), png, gif, webp, mp3, wav, m4a, aac"

DESCRIPTIONS: dict[str, str] = {
    "mp4": "an MP4 video",
    "mov": "a MOV video",
    "avi": "an AVI video",
    "webm": "a WebM video",
    "mkv": "an MKV video",
    "jpg": "a JPEG image",
    "jpeg": "a JPEG image",
    "png": "a PNG image",
    "gif": "a GIF image",
    "webp": "a WebP image",
    "mp3": "an MP3 audio file",
    "wav": "a WAV audio file",
    "m4a": "an M4A audio file",
    "aac": "an AAC audio file",
}


def extension(name: str) -> str:
    """The lower-case extension without the dot ('' when there is none)."""
    return PurePath(name).suffix.lower().lstrip(".")


def backend_name(name: str) -> str:
    """The name to send: the same name, with an alias extension replaced by the backend's spelling."""
    ext = extension(name)
    if ext in ALIASES:
        return str(PurePath(name).with_suffix("." + ALIASES[ext]))
    return name
