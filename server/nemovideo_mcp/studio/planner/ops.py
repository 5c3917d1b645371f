"""Typed edit operations: what the grammar reads out of an instruction and the editor applies to a draft."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Literal

from .lexicon import Ref

Where = Literal["start", "end"]


class Op:
    """Base of every operation; ``to_json`` gives the ADK-style event arguments."""

    def to_json(self) -> dict[str, Any]:
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()
        out: dict[str, Any] = {"op": name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None or value == () or f.name.startswith("_"):
                continue
            out[f.name] = _json(value)
        return out


def _json(value: Any) -> Any:
    if isinstance(value, Ref):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    return value


@dataclass(frozen=True)
class Create(Op):
    duration_ms: int | None = None
    subject: str | None = None
    sentences: tuple[str, ...] = ()
    title: str | None = None
    aspect: str | None = None
    quality: str | None = None
    transition: str | None = None
    transition_ms: int | None = None
    use_media: bool = True
    implicit: bool = False
    each_ms: int | None = None  # "2 seconds per photo"


@dataclass(frozen=True)
class SetTitle(Op):
    text: str | None  # None: the user asked for a title without saying what it reads


@dataclass(frozen=True)
class RemoveTitle(Op):
    pass


@dataclass(frozen=True)
class AddCaption(Op):
    text: str | None
    scene: Ref | None = None
    at: Where | None = None
    replace: bool = False  # "change the caption to ..." edits an existing caption


@dataclass(frozen=True)
class RemoveCaptions(Op):
    scene: Ref | None = None


@dataclass(frozen=True)
class SetAspect(Op):
    aspect: str
    platform: str | None = None


@dataclass(frozen=True)
class SetQuality(Op):
    quality: str  # "1080p" | "720p", or what was asked when unsupported (e.g. "4K")


@dataclass(frozen=True)
class AddMusic(Op):
    mine: bool = False
    name: str | None = None
    volume: float | None = None


@dataclass(frozen=True)
class SetMusicVolume(Op):
    volume: float | None = None
    delta: float | None = None


@dataclass(frozen=True)
class RemoveMusic(Op):
    pass


@dataclass(frozen=True)
class RemoveScenes(Op):
    scenes: tuple[Ref, ...]


@dataclass(frozen=True)
class MoveScene(Op):
    scene: Ref
    to: Where | None = None
    position: int | None = None
    before: Ref | None = None
    after: Ref | None = None


@dataclass(frozen=True)
class SwapScenes(Op):
    a: Ref
    b: Ref


@dataclass(frozen=True)
class ReplaceScene(Op):
    scene: Ref
    name: str


@dataclass(frozen=True)
class AddUpload(Op):
    name: str | None = None  # None: every uploaded photo/clip not yet on the timeline
    at: Where | None = None
    before: Ref | None = None
    after: Ref | None = None


@dataclass(frozen=True)
class SetSceneDuration(Op):
    scene: Ref
    duration_ms: int | None = None
    delta_ms: int | None = None


@dataclass(frozen=True)
class Trim(Op):
    scene: Ref
    src_in_ms: int | None = None
    duration_ms: int | None = None
    cut_start_ms: int | None = None
    cut_end_ms: int | None = None


@dataclass(frozen=True)
class SetTotalDuration(Op):
    duration_ms: int


@dataclass(frozen=True)
class ChangeLength(Op):
    """Relative length: "make it shorter" (factor) or "5 seconds longer" (delta)."""

    factor: float | None = None
    delta_ms: int | None = None


@dataclass(frozen=True)
class SetEachDuration(Op):
    duration_ms: int
    kind: str | None = None  # "image" / "video"; None: every scene


@dataclass(frozen=True)
class ReverseScenes(Op):
    pass


@dataclass(frozen=True)
class SetTransition(Op):
    style: str | None = None  # "crossfade" | "cut"; None keeps the style and only sets the length
    duration_ms: int | None = None


@dataclass(frozen=True)
class SetMotion(Op):
    motion: str  # a draft Motion, or "auto" for the alternating default
    scene: Ref | None = None


@dataclass(frozen=True)
class SetClipVolume(Op):
    volume: float
    scene: Ref | None = None


# Markers the grammar folds into a Create (or drops) before anything is applied.
@dataclass(frozen=True)
class CreateMark(Op):
    pass


@dataclass(frozen=True)
class UseMedia(Op):
    use: bool = True


@dataclass(frozen=True)
class Subject(Op):
    text: str


@dataclass(frozen=True)
class Saying(Op):
    text: str


@dataclass(frozen=True)
class Duration(Op):
    duration_ms: int
    text: str = ""  # as written, to report it back if the rest of the clause was not understood
