"""The studio's timeline: the cloud's short-key draft, written and read with typed helpers.

The draft is the same JSON the cloud keeps in ``state.draft`` (``t`` tracks, ``tt`` track type,
``sg`` segments, ``d`` ms, ``m`` metadata), so the client's summaries and diffs work unchanged.
The studio gives the free-form ``m`` a fixed vocabulary, documented here once:

draft ``m``: ``title`` (project title), ``width``/``height`` (output pixels), ``fps`` (30),
``aspect`` ("16:9", "9:16", "1:1", "4:5"), ``transition`` ("crossfade" | "cut"),
``transition_ms`` (crossfade length). ``d`` is the total length in ms and is what the
rendered file lasts.

tracks, by ``tt``:

* 0, video (exactly one): scenes played back to back from 0; scene i starts at the sum of
  the earlier ``d``. Scene ``m``: ``kind`` "image" | "video" | "color"; ``name`` (what the
  user called the file, or "Title card"); ``asset`` (an upload id, for image/video);
  ``src_in`` (ms into a clip where it starts; trims); ``volume`` (a clip's own sound, 0-2,
  default 1); ``motion`` ("zoom_in" | "zoom_out" | "pan_left" | "pan_right" | "none");
  ``background`` (for "color": two "#rrggbb" stops of a gradient, list[str]).
* 1, audio (music, at most one, ``m.kind`` "bgm"): one segment covering the timeline. Segment
  ``m``: ``name``; ``asset`` (upload id) or ``generated`` "bed" (a synthesized music bed,
  labelled as such); ``volume`` (0-2, 1 = as recorded).
* 7, text: segments with an explicit ``st`` (start ms) and ``d``. Segment ``m``: ``text``;
  ``kind`` "title" (large, centred) | "caption" (lower third); ``scene`` (a caption's scene
  ``sid``: the caption spans that scene and moves and retimes with it).

Everything here is pure data; the planner edits drafts with these helpers and the renderer
reads them, neither knowing of the other.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Draft = dict[str, Any]

VIDEO, AUDIO, TEXT = 0, 1, 7
Aspect = Literal["16:9", "9:16", "1:1", "4:5"]
SceneKind = Literal["image", "video", "color"]
Motion = Literal["zoom_in", "zoom_out", "pan_left", "pan_right", "none"]
TextKind = Literal["title", "caption"]
Transition = Literal["crossfade", "cut"]

# Output canvas per aspect at 1080p; 720p scales these by 2/3.
CANVAS_1080: dict[str, tuple[int, int]] = {
    "16:9": (1920, 1080),
    "9:16": (1080, 1920),
    "1:1": (1080, 1080),
    "4:5": (1080, 1350),
}
FPS = 30
DEFAULT_TRANSITION_MS = 500


def canvas(aspect: str, quality: Literal["1080p", "720p"] = "1080p") -> tuple[int, int]:
    """Output size for an aspect; even numbers, as H.264 with yuv420p needs."""
    width, height = CANVAS_1080.get(aspect, CANVAS_1080["16:9"])
    if quality == "720p":
        width, height = round(width * 2 / 3 / 2) * 2, round(height * 2 / 3 / 2) * 2
    return width, height


def new_id(prefix: str = "seg") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# --- typed views (the renderer reads these; the planner writes plain dicts through helpers) ---


class Scene(BaseModel):
    """One scene of the video track, as the renderer needs it."""

    model_config = ConfigDict(extra="ignore")

    duration_ms: int = Field(gt=0)
    kind: SceneKind
    name: str = ""
    asset: str | None = None
    src_in_ms: int = 0
    volume: float = 1.0
    motion: Motion = "none"
    background: list[str] = Field(default_factory=lambda: ["#1d2b64", "#f8cdda"])


class TextItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str
    kind: TextKind = "caption"
    start_ms: int = Field(ge=0)
    duration_ms: int = Field(gt=0)


class Music(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    asset: str | None = None
    generated: Literal["bed"] | None = None
    volume: float = 1.0


class Timeline(BaseModel):
    """The whole draft in the shape a renderer wants: sizes, scenes, texts, music."""

    title: str = ""
    width: int
    height: int
    fps: int = FPS
    duration_ms: int = Field(gt=0)
    transition: Transition = "crossfade"
    transition_ms: int = DEFAULT_TRANSITION_MS
    scenes: list[Scene]
    texts: list[TextItem] = Field(default_factory=list)
    music: Music | None = None


class DraftError(ValueError):
    """The draft cannot be rendered; the message says what is wrong in words."""


def read_timeline(draft: Draft) -> Timeline:
    """The typed view of a studio draft; DraftError when there is nothing to render."""
    meta = draft.get("m") or {}
    scenes: list[Scene] = []
    texts: list[TextItem] = []
    music: Music | None = None
    for track in draft.get("t") or []:
        segments = track.get("sg") or []
        if track.get("tt") == VIDEO:
            for seg in segments:
                m = seg.get("m") or {}
                scenes.append(
                    Scene(
                        duration_ms=int(seg.get("d") or 0),
                        kind=m.get("kind", "color"),
                        name=str(m.get("name") or ""),
                        asset=m.get("asset"),
                        src_in_ms=int(m.get("src_in") or 0),
                        volume=float(m.get("volume", 1.0)),
                        motion=m.get("motion", "none"),
                        **({"background": m["background"]} if m.get("background") else {}),
                    )
                )
        elif track.get("tt") == AUDIO and segments:
            m = segments[0].get("m") or {}
            music = Music(
                name=str(m.get("name") or "Music"),
                asset=m.get("asset"),
                generated=m.get("generated"),
                volume=float(m.get("volume", 1.0)),
            )
        elif track.get("tt") == TEXT:
            for seg in segments:
                m = seg.get("m") or {}
                if str(m.get("text") or "").strip():
                    texts.append(
                        TextItem(
                            text=str(m["text"]),
                            kind=m.get("kind", "caption"),
                            start_ms=int(seg.get("st") or 0),
                            duration_ms=int(seg.get("d") or 0),
                        )
                    )
    if not scenes:
        raise DraftError("The timeline has no scenes yet: add photos or clips, or describe the video first.")
    total = int(draft.get("d") or 0) or sum(s.duration_ms for s in scenes)
    return Timeline(
        title=str(meta.get("title") or ""),
        width=int(meta.get("width") or 1920),
        height=int(meta.get("height") or 1080),
        fps=int(meta.get("fps") or FPS),
        duration_ms=total,
        transition=meta.get("transition", "crossfade"),
        transition_ms=int(meta.get("transition_ms", DEFAULT_TRANSITION_MS)),
        scenes=scenes,
        texts=texts,
        music=music,
    )


# --- small writers, so every producer spells the draft the same way ---


def empty_draft(title: str = "", aspect: Aspect = "16:9") -> Draft:
    width, height = canvas(aspect)
    return {
        "t": [],
        "d": 0,
        "m": {"title": title, "width": width, "height": height, "fps": FPS, "aspect": aspect,
              "transition": "crossfade", "transition_ms": DEFAULT_TRANSITION_MS},
    }  # fmt: skip


def scene(duration_ms: int, kind: SceneKind, name: str, **meta: Any) -> dict[str, Any]:
    return {"d": int(duration_ms), "sid": new_id(), "m": {"kind": kind, "name": name, **meta}}


def text_segment(text: str, kind: TextKind, start_ms: int, duration_ms: int) -> dict[str, Any]:
    return {"st": int(start_ms), "d": int(duration_ms), "sid": new_id(), "m": {"text": text, "kind": kind}}


def copy_draft(draft: Draft) -> Draft:
    return copy.deepcopy(draft)
