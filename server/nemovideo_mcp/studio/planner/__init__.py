"""The studio's planner: a plain-English or Chinese instruction, the draft and the uploads in, a new draft out.

It is the "agent" of the local backend, and deterministic: ordered regex rules read the
instruction into typed operations (``grammar``), the editor applies them to a copy of the
draft keeping it consistent (``edits``), and the reply says what was done, what could not be
done and why, and what was not understood (``words``). It never claims a change it did not make.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from . import ops as O
from .edits import Work, apply
from .grammar import Parsed, _fold, parse
from .lexicon import is_chinese
from .words import capabilities as _capabilities
from .words import event, not_understood, reply

__all__ = ["MediaItem", "Plan", "capabilities", "plan"]


@dataclass(frozen=True)
class MediaItem:
    """An uploaded file, in upload order."""

    id: str  # asset id, goes into scene m.asset / music m.asset
    name: str  # the user's file name, e.g. "beach.jpg"
    kind: Literal["image", "video", "audio"]
    duration_ms: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Plan:
    understood: bool
    reply: str  # in the user's language; never claims a change not made
    draft: dict[str, Any] | None  # the new draft; None when nothing changed
    changes: list[str] = field(default_factory=list)  # what changed, in words, in the reply's language
    tool: str = ""  # "create_video", "edit_timeline", or "" for no change
    args: dict[str, Any] = field(default_factory=dict)  # the parsed operations, JSON-serialisable


# Instructions are a sentence or a short description; a cap keeps the worst case well under a second.
MAX_CHARS = 5000
# Operations that make sense on a video that does not exist yet only if one is made first.
_GLOBAL = (O.SetAspect, O.SetQuality, O.SetTitle, O.AddMusic, O.SetMusicVolume, O.SetTransition, O.SetTotalDuration)


def capabilities(language: Literal["en", "zh"] = "en") -> str:
    """What the planner understands, with examples (for "not understood" replies and tool descriptions)."""
    return _capabilities(language)


def plan(instruction: str, draft: dict[str, Any] | None, media: Sequence[MediaItem]) -> Plan:
    """Turn an instruction into a new draft. Never raises; never mutates ``draft``."""
    text = instruction if isinstance(instruction, str) else str(instruction)
    lang: Literal["en", "zh"] = "zh" if is_chinese(text) else "en"
    try:
        return _plan(text, draft, media, lang)
    except Exception:  # the last guard: a planner bug must read as "not understood", not crash the server
        return Plan(False, not_understood(lang), None, [], "", {"operations": [], "language": lang, "error": True})


def _plan(text: str, draft: dict[str, Any] | None, media: Sequence[MediaItem], lang: Literal["en", "zh"]) -> Plan:
    parsed: Parsed = parse(text[:MAX_CHARS])
    if len(text) > MAX_CHARS:
        parsed.unknown.append(f"everything after the first {MAX_CHARS} characters")
    ops = parsed.ops
    args: dict[str, Any] = {"operations": [op.to_json() for op in ops], "language": lang}
    if parsed.unknown:
        args["not_understood"] = parsed.unknown
    if not ops:
        return Plan(False, not_understood(lang), None, [], "", args)
    work = Work(draft, media, seed=f"{text}|{len(media)}")
    ops = _maybe_create(work, ops)
    args["operations"] = [op.to_json() for op in ops]
    for op in ops:
        apply(work, op)
    changed = [e for e in work.events if e.kind == "change"]
    new_draft = work.to_draft() if changed else None
    summary = (new_draft["d"], len(work.scenes)) if new_draft is not None and work.scenes else None
    tool = ("create_video" if work.created else "edit_timeline") if changed else ""
    return Plan(
        understood=True,
        reply=reply(work.events, parsed.unknown, lang, summary),
        draft=new_draft,
        changes=[event(e, lang) for e in changed],
        tool=tool,
        args=args,
    )


def _maybe_create(work: Work, ops: list[O.Op]) -> list[O.Op]:
    """On an empty timeline with uploads, "vertical with my music" means: make the video, then that."""
    if work.scenes or not work.visual_media() or any(isinstance(op, O.Create) for op in ops):
        return ops
    if not any(isinstance(op, _GLOBAL) for op in ops):
        return ops
    folded = _fold([O.CreateMark(), *ops], [])
    first = folded[0]
    if isinstance(first, O.Create):
        folded[0] = replace(first, implicit=True)
    return folded
