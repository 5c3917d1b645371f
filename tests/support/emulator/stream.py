"""The /run_sse side: a toy agent, ADK-shaped events, turn timelines and SSE framing.

A turn is planned up front as a timeline of steps (send an event, apply the draft,
drop the connection) in emulated seconds. A background task plays the timeline so
the work completes server-side even when the client goes away, exactly like the
real backend; the HTTP response only relays what the task produced.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any, Literal

AUTHOR = "nemo_agent"
TEMPORARY_ISSUE = "I encountered a temporary issue while processing your request. Please try again later."

# Emulated seconds per kind of default turn, and the credits each costs.
CHAT_SECONDS, EDIT_SECONDS, GENERATION_SECONDS = 8.0, 15.0, 150.0
CHAT_COST, EDIT_COST, CREATION_COST = 0, 2, 10

Draft = dict[str, Any]


# --- SSE framing ----------------------------------------------------------------------------


def encode_event(event: dict[str, Any]) -> bytes:
    """One ADK event as SSE: a single `data:` line and a blank line, nothing else."""
    return b"data: " + json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


# Three keep-alive styles seen in the wild; rotating them makes clients handle all of them.
HEARTBEATS: tuple[bytes, ...] = (b"data:\n\n", b": ping\n\n", b'data: {"type":"heartbeat"}\n\n')

# Noise a sloppy proxy or backend may interleave; a tolerant client ignores all of it.
GARBAGE: tuple[bytes, ...] = (
    b"data: this is not json\n\n",
    b"event: x\n\n",
    b"id: 3\n\n",
    b"a line without any colon\n\n",
    b"data: [1, 2, 3]\n\n",
    b"retry: 1000\n\n",
    b"data: " + b"x" * 70_000 + b"\n\n",
    b'data: {"unterminated": \n\n',
)


class EventFactory:
    """Builds camelCase ADK events for one invocation (nulls left out, like ADK's serializer)."""

    def __init__(self) -> None:
        self.invocation_id = f"e-{uuid.uuid4()}"

    def _base(self, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {"author": AUTHOR, "invocationId": self.invocation_id}
        event.update(fields)
        event["id"] = str(uuid.uuid4())
        event["timestamp"] = time.time()
        return event

    def text(self, text: str, *, partial: bool = False) -> dict[str, Any]:
        event = self._base(content={"parts": [{"text": text}], "role": "model"})
        if partial:
            event["partial"] = True
        else:
            event["actions"] = {"stateDelta": {}, "artifactDelta": {}}
            # Real model events carry usage data; clients must not choke on it.
            event["usageMetadata"] = {"promptTokenCount": 812, "candidatesTokenCount": len(text) // 4 + 1}
        return event

    def function_call(self, name: str, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
        call_id = f"adk-{uuid.uuid4()}"
        part = {"functionCall": {"id": call_id, "name": name, "args": args}}
        event = self._base(content={"parts": [part], "role": "model"}, longRunningToolIds=[call_id])
        event["actions"] = {"stateDelta": {}, "artifactDelta": {}}
        return event, call_id

    def function_response(self, call_id: str, name: str, draft: Draft | None) -> dict[str, Any]:
        part = {"functionResponse": {"id": call_id, "name": name, "response": {"status": "ok"}}}
        delta = {"draft": draft} if draft is not None else {}
        return self._base(content={"parts": [part], "role": "user"}, actions={"stateDelta": delta, "artifactDelta": {}})

    def error(self, message: str) -> dict[str, Any]:
        return {"error": message}

    def error_code(self, code: str, message: str | None) -> dict[str, Any]:
        return self._base(errorCode=code, errorMessage=message or f"The model stopped: {code}")


# --- drafts ---------------------------------------------------------------------------------


def empty_draft(title: str) -> Draft:
    return {"t": [], "d": 0, "m": {"title": title, "width": 1280, "height": 720}}


def _segment(duration_ms: int, meta: dict[str, Any]) -> dict[str, Any]:
    # "sid" and "tr" are not in the contract: real drafts carry such fields and clients must skip them.
    return {"d": duration_ms, "m": meta, "sid": f"seg_{uuid.uuid4().hex[:8]}", "tr": {"type": "none"}}


def draft_duration_ms(draft: Draft | None) -> int:
    """The draft's length: its `d`, else the longest track (segments play back to back)."""
    if not draft:
        return 0
    tracks = [t for t in draft.get("t") or [] if isinstance(t, dict)]
    longest = max(
        (sum(int(s.get("d") or 0) for s in t.get("sg") or [] if isinstance(s, dict)) for t in tracks),
        default=0,
    )
    return int(draft.get("d") or 0) or longest


def is_export_ready(draft: Any) -> bool:
    return isinstance(draft, dict) and any(
        isinstance(t, dict) and t.get("sg") for t in draft.get("t") or [] if isinstance(t, dict)
    )


def build_draft(
    subject: str, duration_ms: int, *, vertical: bool, media: Sequence[dict[str, Any]], clip_url: str
) -> Draft:
    """A fresh timeline: one segment per uploaded image/video, else one generated clip."""
    if media:
        share, rest = divmod(duration_ms, len(media))
        segments = [
            _segment(share + (rest if i == len(media) - 1 else 0), {"name": m["name"], "url": m["url"]})
            for i, m in enumerate(media)
        ]
    else:
        segments = [_segment(duration_ms, {"name": subject, "url": clip_url})]
    width, height = (720, 1280) if vertical else (1280, 720)
    return {
        "t": [{"tt": 0, "sg": segments, "m": {"name": "Main video"}}],
        "d": duration_ms,
        "m": {"title": subject[:1].upper() + subject[1:], "width": width, "height": height, "fps": 30},
        "v": 3,
    }


def with_bgm(draft: Draft, name: str, volume: float) -> Draft:
    draft = without_bgm(draft)
    length = draft_duration_ms(draft) or 10_000
    track = {"tt": 1, "sg": [_segment(length, {"name": name, "volume": volume})], "m": {"kind": "bgm"}}
    draft["t"].append(track)
    draft["d"] = max(int(draft.get("d") or 0), length)
    return draft


def without_bgm(draft: Draft) -> Draft:
    draft = copy.deepcopy(draft)
    draft["t"] = [t for t in draft.get("t") or [] if not (isinstance(t, dict) and t.get("tt") == 1)]
    return draft


def with_title(draft: Draft, text: str) -> Draft:
    draft = copy.deepcopy(draft)
    tracks = [t for t in draft.get("t") or [] if not (isinstance(t, dict) and t.get("tt") == 7)]
    tracks.append({"tt": 7, "sg": [_segment(3000, {"text": text, "kind": "title"})]})
    draft["t"] = tracks
    draft["d"] = max(int(draft.get("d") or 0), 3000)
    draft.setdefault("m", {})["title"] = text
    return draft


# --- the toy agent --------------------------------------------------------------------------

_CREATE = re.compile(r"\b(generate|create|make|produce|build)\b.*\b(video|clip|movie|film|reel)s?\b", re.I | re.S)
# "make the video brighter" edits the current video; it does not start a new one.
_EDIT_PHRASE = re.compile(r"\b(?:make|create|generate)\s+(?:the|this|it|my current)\b", re.I)
_CREATE_ZH = ("生成", "制作", "做一个", "做个")
_REMOVE_BGM = re.compile(
    r"\b(remove|delete|drop|take out|get rid of)\b.*\b(music|bgm|soundtrack)\b"
    r"|(删除|去掉|移除|删掉).*(音乐|配乐|bgm)",
    re.I | re.S,
)
_BGM = re.compile(r"\b(bgm|music|soundtrack)\b|背景音乐|音乐|配乐", re.I)
_TITLE = re.compile(r"\btitle\b|标题", re.I)
_VERTICAL = re.compile(r"9\s*[:：/x]\s*16|\bvertical\b|\bportrait\b|竖屏", re.I)
_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*-?\s*(?:seconds?|secs?|s\b|秒)", re.I)
_MINUTES = re.compile(r"(\d+(?:\.\d+)?)\s*-?\s*(?:minutes?|mins?\b|分钟)", re.I)
_VOLUME = re.compile(r"(\d{1,3})\s*%")
_QUOTED = re.compile(r"[\"“「『《]([^\"”」』》]+)[\"”」』》]|(?<![A-Za-z])'([^']+)'(?![A-Za-z])")
_SUBJECT = re.compile(r"\b(?:of|about|showing|featuring)\s+(.+)", re.I | re.S)
_SUBJECT_END = re.compile(r"\s+(?:with|and add|and a|set to|using|in \d|for)\b|[,.;!?\n]", re.I)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_GENRES = (
    ("lo-fi", "Lo-fi"),
    ("lofi", "Lo-fi"),
    ("piano", "Piano"),
    ("jazz", "Jazz"),
    ("cinematic", "Cinematic"),
    ("epic", "Epic"),
    ("upbeat", "Upbeat"),
)


@dataclass
class AgentReply:
    kind: Literal["chat", "edit", "create"]
    text: str
    tool: str = ""
    tool_args: dict[str, Any] = field(default_factory=dict)
    draft: Draft | None = None
    generated: list[dict[str, Any]] = field(default_factory=list)


def _duration_ms(text: str) -> int:
    if m := _MINUTES.search(text):
        return int(float(m[1]) * 60_000)
    if m := _SECONDS.search(text):
        return max(1000, int(float(m[1]) * 1000))
    return 10_000


def _subject(text: str) -> str:
    m = _SUBJECT.search(text)
    if not m:
        return "generated clip"
    subject = _SUBJECT_END.split(m[1], maxsplit=1)[0].strip()
    subject = re.sub(r"^(?:a|an|the)\s+", "", subject, flags=re.I)
    return subject[:40] or "generated clip"


def _quoted(text: str) -> str | None:
    m = _QUOTED.search(text)
    return (m[1] or m[2]).strip() if m else None


def _bgm_name(text: str, zh: bool) -> str:
    lowered = text.lower()
    return next((name for key, name in _GENRES if key in lowered), "背景音乐" if zh else "Background music")


def _volume(text: str) -> float:
    m = _VOLUME.search(text)
    return min(int(m[1]), 100) / 100 if m else 0.5


def interpret(text: str, draft: Draft, media: Sequence[dict[str, Any]], clip_url: Callable[[str], str]) -> AgentReply:
    """Decide deterministically what the default agent does with an instruction."""
    zh = bool(_CJK.search(text))
    if _REMOVE_BGM.search(text):
        reply = "已删除背景音乐。" if zh else "I removed the background music."
        return AgentReply("edit", reply, "remove_background_music", {}, without_bgm(draft))
    if (_CREATE.search(text) and not _EDIT_PHRASE.search(text)) or any(w in text for w in _CREATE_ZH):
        return _create(text, media, clip_url, zh)
    if _BGM.search(text) or _TITLE.search(text):
        new = draft
        notes = []
        if _BGM.search(text):
            name, volume = _bgm_name(text, zh), _volume(text)
            new = with_bgm(new, name, volume)
            notes.append(f"{name} background music at {round(volume * 100)}% volume")
        if _TITLE.search(text):
            title = _quoted(text) or str(draft.get("m", {}).get("title") or "My video")
            new = with_title(new, title)
            notes.append(f'the title "{title}" for the first 3 seconds')
        reply = (
            "已更新时间线，可在时间线中预览。"
            if zh
            else f"Done! I added {' and '.join(notes)}. Preview it in the timeline."
        )
        return AgentReply("edit", reply, "update_draft", {"instruction": text[:200]}, new)
    reply = (
        "我可以帮你制作和编辑视频。告诉我你想做什么吧！"
        if zh
        else "I can create and edit videos for you. Tell me what to make, "
        'for example "a 10-second video of a city timelapse with lo-fi music".'
    )
    return AgentReply("chat", reply)


def _create(text: str, media: Sequence[dict[str, Any]], clip_url: Callable[[str], str], zh: bool) -> AgentReply:
    subject = _subject(text)
    duration = _duration_ms(text)
    url = clip_url(subject)
    visual = [m for m in media if m.get("type") in ("video", "image")]
    draft = build_draft(subject, duration, vertical=bool(_VERTICAL.search(text)), media=visual, clip_url=url)
    if _BGM.search(text):
        draft = with_bgm(draft, _bgm_name(text, zh), _volume(text))
    if _TITLE.search(text) and (title := _quoted(text)):
        draft = with_title(draft, title)
    generated = [] if visual else [{"type": "video", "url": url, "prompt": text[:500], "duration": duration / 1000}]
    reply = (
        "你的视频已生成！点击导出按钮即可下载。"
        if zh
        else "Your video is ready! Click the Export button to download it."
    )
    return AgentReply("create", reply, "generate_video_with_seedance", {"prompt": text[:500]}, draft, generated)


# --- turn timelines -------------------------------------------------------------------------


@dataclass
class StreamScript:
    """A scripted reply for one /run_sse call (see Emulator.next_stream)."""

    text: str | EllipsisType | None = ...
    silent: bool = False
    partial: bool = False
    events: list[dict[str, Any]] | None = None
    draft: Draft | None = None
    duration_s: float | None = None
    error: str | None = None
    error_code: str | None = None
    drop_after_s: float | None = None
    trailing_issue: bool = False
    heartbeats: int | None = None
    cost: int | None = None


@dataclass(order=True)
class Step:
    at: float  # emulated seconds after the turn starts
    seq: int  # keeps insertion order for equal times
    kind: Literal["send", "heartbeat", "apply", "drop"] = field(compare=False)
    chunk: bytes = field(default=b"", compare=False)
    draft: Draft | None = field(default=None, compare=False)
    generated: list[dict[str, Any]] = field(default_factory=list, compare=False)


@dataclass
class TurnPlan:
    steps: list[Step]
    cost: int
    failed: bool = False  # an error turn: frozen credits go back


class _Timeline:
    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(self, at: float, kind: Literal["send", "heartbeat", "apply", "drop"], **kw: Any) -> None:
        self.steps.append(Step(at, len(self.steps), kind, **kw))

    def send(self, at: float, event: dict[str, Any]) -> None:
        self.add(at, "send", chunk=encode_event(event))

    def heartbeats(self, until: float, interval: float, count: int | None) -> None:
        """Keep-alives while 'working': every `interval`, or exactly `count` spread evenly."""
        if count is not None:
            times = [until * (i + 1) / (count + 1) for i in range(count)]
        else:
            n = int(until // interval) if interval > 0 else 0
            times = [interval * (i + 1) for i in range(n) if interval * (i + 1) < until]
        for i, at in enumerate(times):
            self.add(at, "heartbeat", chunk=HEARTBEATS[i % len(HEARTBEATS)])

    def texts(self, at: float, factory: EventFactory, text: str, partial: bool) -> None:
        if partial:
            for piece in _chunks(text):
                self.send(at, factory.text(piece, partial=True))
        self.send(at, factory.text(text))

    def finish(self, drop_after: float | None) -> list[Step]:
        steps = sorted(self.steps)
        if drop_after is None:
            return steps
        # The work still lands (draft applied) but the client loses everything after the drop.
        kept = [s for s in steps if s.at < drop_after or s.kind == "apply"]
        for s in kept:
            s.at = min(s.at, drop_after)
        kept.append(Step(drop_after, len(self.steps), "drop"))
        return sorted(kept)


def _chunks(text: str, pieces: int = 3) -> list[str]:
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


def plan_default(reply: AgentReply, heartbeat_interval: float) -> TurnPlan:
    factory, tl = EventFactory(), _Timeline()
    seconds = {"chat": CHAT_SECONDS, "edit": EDIT_SECONDS, "create": GENERATION_SECONDS}[reply.kind]
    cost = {"chat": CHAT_COST, "edit": EDIT_COST, "create": CREATION_COST}[reply.kind]
    if reply.draft is not None:
        call, call_id = factory.function_call(reply.tool, reply.tool_args)
        tl.send(0.0, call)
    tl.heartbeats(seconds, heartbeat_interval, None)
    if reply.draft is not None:
        tl.add(seconds, "apply", draft=reply.draft, generated=reply.generated)
        tl.send(seconds, factory.function_response(call_id, reply.tool, reply.draft))
    tl.texts(seconds, factory, reply.text, partial=reply.kind == "create")
    return TurnPlan(tl.finish(None), cost)


def plan_scripted(script: StreamScript, heartbeat_interval: float) -> TurnPlan:
    factory, tl = EventFactory(), _Timeline()
    seconds = (
        script.duration_s
        if script.duration_s is not None
        else (EDIT_SECONDS if script.draft is not None else CHAT_SECONDS)
    )
    failed = bool(script.error or script.error_code)
    auto_events = script.events is None
    if script.draft is not None and auto_events:
        call, call_id = factory.function_call("update_draft", {})
        tl.send(0.0, call)
    tl.heartbeats(seconds, heartbeat_interval, script.heartbeats)
    if script.draft is not None:
        tl.add(seconds, "apply", draft=script.draft)
        if auto_events:
            tl.send(seconds, factory.function_response(call_id, "update_draft", script.draft))
    for event in script.events or []:
        tl.send(seconds, event)
    if script.error:
        tl.send(seconds, factory.error(script.error))
    if script.error_code:
        tl.send(seconds, factory.error_code(script.error_code, None))
    text = _script_text(script, failed)
    if text is not None:
        tl.texts(seconds, factory, text, script.partial)
        if script.trailing_issue:
            tl.send(seconds, factory.text(TEMPORARY_ISSUE))
    cost = script.cost if script.cost is not None else (EDIT_COST if script.draft is not None else CHAT_COST)
    return TurnPlan(tl.finish(script.drop_after_s), cost, failed)


def _script_text(script: StreamScript, failed: bool) -> str | None:
    if script.silent:
        return None
    if not isinstance(script.text, EllipsisType):
        return script.text
    if failed or script.events is not None:
        return None  # the scripter asked for exactly those events
    return "Done! I've updated your video." if script.draft is not None else "Sure, what would you like to make?"


# --- playing a turn -------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    data: bytes
    is_event: bool  # False for keep-alives


END = Chunk(b"", False)
DROP = Chunk(b"", False)


async def play_turn(
    plan: TurnPlan,
    queue: asyncio.Queue[Chunk],
    time_scale: float,
    apply: Callable[[Draft, list[dict[str, Any]]], None],
    settle: Callable[[bool], None],
) -> None:
    """Run a turn's timeline in real (scaled) time, independent of whether anyone is listening."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    completed = dropped = False
    try:
        for step in plan.steps:
            delay = start + step.at * time_scale - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if step.kind == "apply" and step.draft is not None:
                apply(step.draft, step.generated)
            elif step.kind == "drop":
                dropped = True
                break
            else:
                queue.put_nowait(Chunk(step.chunk, step.kind == "send"))
        completed = True
    finally:
        # Charge only for turns that ran to the end (or to a scripted drop); shutdown refunds.
        settle(completed and not plan.failed)
        queue.put_nowait(DROP if dropped else END)


class DropConnection(Exception):
    """Raised inside the ASGI app after the response started, so uvicorn closes the socket."""


async def relay(
    queue: asyncio.Queue[Chunk], *, truncate_after: int | None = None, garbage: bool = False
) -> AsyncIterator[bytes]:
    """The HTTP body of a turn: what the task produces, optionally truncated or polluted."""
    sent_events = 0
    noise = iter(GARBAGE if garbage else ())
    if garbage:
        yield "\ufeff: stream start\n\n".encode()
    while True:
        chunk = await queue.get()
        if chunk is DROP or (chunk is END and truncate_after is not None):
            # Cut mid-event: half a JSON line, no terminator, then the socket closes.
            yield b'data: {"content":{"parts":[{"te'
            raise DropConnection
        if chunk is END:
            for leftover in noise:  # whatever noise is left, so every kind shows up at least once
                yield leftover
            return
        if truncate_after is not None and chunk.is_event and sent_events >= truncate_after:
            yield chunk.data[: max(8, len(chunk.data) // 2)]
            raise DropConnection
        if chunk.is_event and (junk := next(noise, None)) is not None:
            yield junk
        sent_events += chunk.is_event
        yield chunk.data
