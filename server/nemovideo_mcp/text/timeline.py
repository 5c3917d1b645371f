"""The draft (NemoVideo's timeline) as typed models, a one-line summary and a diff in words.

The backend keeps the timeline in ``state.draft`` with short keys (see the API contract):

* ``t``  - list of tracks
* ``tt`` - track type: 0 video, 1 audio, 7 text; anything else is a type we do not know
* ``sg`` - a track's segments (clips), which play back to back from 0 unless one carries a start
* ``d``  - duration in milliseconds
* ``m``  - free-form metadata (name, title, text, volume, kind...)

Only ``d`` and ``m`` are documented for segments, and real drafts carry fields nobody told us
about, so everything here is a *tolerant reader*: :func:`parse_draft` accepts any JSON-ish value,
keeps what it can read, drops what it cannot and never raises. A summary never mentions a track
that is not in the input, and unknown track types are named as such instead of being guessed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Sequence
from difflib import SequenceMatcher
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Draft",
    "Segment",
    "Track",
    "TrackKind",
    "TrackSummary",
    "VideoFormat",
    "diff_drafts",
    "parse_draft",
    "project_title",
    "summarize",
    "track_summaries",
    "video_format",
]

TrackKind = Literal["video", "audio", "text", "unknown"]
_KIND_BY_TT: dict[int, TrackKind] = {0: "video", 1: "audio", 7: "text"}
# Some producers write the type as a word; map the obvious ones onto the numeric codes.
_TT_WORDS = {"video": 0, "audio": 1, "music": 1, "bgm": 1, "text": 7, "title": 7, "subtitle": 7}

# Ten thousand years of milliseconds: anything larger is garbage, and refusing it keeps the
# arithmetic in floats (a huge int divided by 1000 would raise OverflowError).
_MAX_MS = 10**12
_START_KEYS = ("st", "start", "start_ms", "offset")
_NAME_KEYS = ("name", "title", "text", "label", "filename", "prompt")
_ROLE_KEYS = ("kind", "role", "type")
# Track-level names that say nothing ("Main video"): the segment's own name is more useful then.
_GENERIC_NAMES = {
    "main video", "video", "video track", "main", "audio", "audio track", "music", "bgm", "text",
    "text track", "track", "title", "titles", "subtitle", "subtitles",
}  # fmt: skip
_NAME_LIMIT = 60
_MAX_SEGMENT_SENTENCES = 5


# --- tolerant scalar readers ---------------------------------------------------------------


def _number(value: object) -> float | None:
    """A finite number from an int, float or numeric string; None for anything else (bools too)."""
    if isinstance(value, bool):  # bool is an int subclass, but True is not "1 ms"
        return None
    if isinstance(value, int):
        return float(value) if abs(value) <= _MAX_MS else None
    if isinstance(value, float):
        return value if math.isfinite(value) and abs(value) <= _MAX_MS else None
    if isinstance(value, str) and len(value) <= 40:
        text = value.strip().removesuffix("ms").strip()
        try:
            return _number(float(text))
        except ValueError:
            return None
    return None


def _ms(value: object) -> int | None:
    """A non-negative duration/offset in ms, or None when unreadable."""
    number = _number(value)
    return None if number is None or number < 0 else round(number)


def _track_type(value: object) -> int | None:
    if isinstance(value, str) and value.strip().lower() in _TT_WORDS:
        return _TT_WORDS[value.strip().lower()]
    number = _number(value)
    return int(number) if number is not None and number == int(number) else None


def _meta(value: object) -> dict[str, Any]:
    """Metadata dict with string keys only (JSON objects always have them; Python dicts may not)."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str)}


def _extras(data: dict[Any, Any], known: tuple[str, ...]) -> dict[str, Any]:
    """Unknown fields to keep as pydantic extras. Names pydantic reserves (model_*) or that are
    private (_x) are dropped: they would clash with the model's own attributes."""
    return {
        k: v for k, v in data.items() if isinstance(k, str) and k not in known and not k.startswith(("_", "model_"))
    }


# --- models --------------------------------------------------------------------------------


class Segment(BaseModel):
    """One clip on a track. ``start_ms`` is an explicit start when the draft gives one."""

    model_config = ConfigDict(extra="allow")

    d: int | None = None
    m: dict[str, Any] = Field(default_factory=dict)
    start_ms: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _tolerate(cls, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            return {}
        meta = _meta(data.get("m"))
        # The start is undocumented: look for the usual spellings on the segment, then in m.
        start = next(
            (ms for source in (data, meta) for key in _START_KEYS if (ms := _ms(source.get(key))) is not None),
            None,
        )
        fields = {"d": _ms(data.get("d")), "m": meta, "start_ms": start}
        return _extras(data, tuple(fields)) | fields


class Track(BaseModel):
    """A track: its type code (None when missing or unreadable), segments and metadata."""

    model_config = ConfigDict(extra="allow")

    tt: int | None = None
    sg: list[Segment] = Field(default_factory=list)
    d: int | None = None
    m: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _tolerate(cls, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            return {}
        raw_segments = data.get("sg")
        segments = [s for s in raw_segments if isinstance(s, dict)] if isinstance(raw_segments, list) else []
        fields = {
            "tt": _track_type(data.get("tt")),
            "sg": segments,
            "d": _ms(data.get("d")),
            "m": _meta(data.get("m")),
        }
        return _extras(data, tuple(fields)) | fields

    @property
    def kind(self) -> TrackKind:
        return _KIND_BY_TT.get(self.tt, "unknown") if self.tt is not None else "unknown"


class Draft(BaseModel):
    """The whole timeline. Build it with :func:`parse_draft`, which never raises."""

    model_config = ConfigDict(extra="allow")

    t: list[Track] = Field(default_factory=list)
    d: int | None = None
    m: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _tolerate(cls, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            return {}
        raw_tracks = data.get("t")
        tracks = [t for t in raw_tracks if isinstance(t, dict)] if isinstance(raw_tracks, list) else []
        fields = {"t": tracks, "d": _ms(data.get("d")), "m": _meta(data.get("m"))}
        return _extras(data, tuple(fields)) | fields

    @property
    def is_export_ready(self) -> bool:
        """The contract's rule: some track has a non-empty segment list."""
        return any(track.sg for track in self.t)


def _unwrap(raw: object) -> object:
    """Accept the draft itself or what usually surrounds it: the state, the envelope's data, a JSON string."""
    if isinstance(raw, str | bytes) and len(raw) < 5_000_000:
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return None
    for _ in range(4):  # {"code":0,"data":{"state":{"draft":{...}}}} at most
        if not isinstance(raw, dict) or "t" in raw:
            break
        inner = next((raw[k] for k in ("draft", "state", "data") if isinstance(raw.get(k), dict)), None)
        if inner is None:
            break
        raw = inner
    return raw


def parse_draft(raw: object) -> Draft:
    """A :class:`Draft` from any JSON-ish value. Never raises; unreadable parts are dropped."""
    try:
        return Draft.model_validate(_unwrap(raw))
    except Exception:
        # The validators above accept anything, so this is only a last line of defence: a
        # caller summarising a timeline must get an (empty) draft, never a traceback.
        return Draft()


# --- summaries -----------------------------------------------------------------------------


class TrackSummary(BaseModel):
    """One track in words and numbers, as shown to agents."""

    index: int = Field(description="1-based position in the timeline.")
    kind: TrackKind
    label: str = Field(description='What the track is: "Video", "BGM", "Audio", "Title", "Track type 5"...')
    name: str | None = Field(default=None, description="Clip name, music name or the text shown.")
    start_s: float
    end_s: float
    volume_pct: int | None = Field(default=None, description="Volume in percent when the draft sets one.")
    segments: int


def _clean_name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text:
        return None
    return text if len(text) <= _NAME_LIMIT else text[: _NAME_LIMIT - 1].rstrip() + "…"


def _first_name(meta: dict[str, Any]) -> str | None:
    return next((name for key in _NAME_KEYS if (name := _clean_name(meta.get(key)))), None)


def _track_name(track: Track) -> str | None:
    """The track's own name unless it is generic, else its segments' names ("a.mp4 + 2 more")."""
    own = _first_name(track.m)
    if own and own.lower() not in _GENERIC_NAMES:
        return own
    names: list[str] = []
    for segment in track.sg:
        name = _first_name(segment.m)
        if name and name not in names:
            names.append(name)
    if not names:
        return own
    return names[0] if len(names) == 1 else f"{names[0]} + {len(names) - 1} more"


def _roles(track: Track) -> set[str]:
    """kind/role/type words from the track's m and its segments' m, lower-cased."""
    metas = [track.m, *(segment.m for segment in track.sg)]
    words = (meta.get(key) for meta in metas for key in _ROLE_KEYS)
    return {word.strip().lower() for word in words if isinstance(word, str)}


def _label(track: Track, name: str | None) -> str:
    roles = _roles(track)
    match track.kind:
        case "video":
            return "Video"
        case "audio":
            music = roles & {"bgm", "music", "background music", "soundtrack"}
            lowered = (name or "").lower()
            return "BGM" if music or "music" in lowered or "bgm" in lowered else "Audio"
        case "text":
            if roles & {"title", "heading", "headline"}:
                return "Title"
            if roles & {"caption", "captions"}:
                return "Captions"
            if roles & {"subtitle", "subtitles"}:
                return "Subtitle"
            return "Text"
        case _:
            # Say what we do not know instead of guessing (a sticker? an effect?).
            return f"Track type {track.tt}" if track.tt is not None else "Track of unknown type"


def _volume_pct(track: Track) -> int | None:
    """m.volume on the track, else on its first segment that has one: 0-1 is a fraction, above 1 percent."""
    for meta in (track.m, *(segment.m for segment in track.sg)):
        raw = meta.get("volume")
        if isinstance(raw, str) and raw.strip().endswith("%"):
            number = _number(raw.strip()[:-1])
            if number is not None and 0 <= number <= 1000:
                return round(number)
            continue
        number = _number(raw)
        if number is None or number < 0:
            continue
        if number <= 1:
            return round(number * 100)
        if number <= 1000:  # beyond that it is not a volume anyone set on purpose
            return round(number)
    return None


def _segment_spans(track: Track) -> list[tuple[int, int]]:
    """(start, end) in ms for each segment: back to back from 0, an explicit start moves the cursor."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for segment in track.sg:
        start = segment.start_ms if segment.start_ms is not None else cursor
        end = start + (segment.d or 0)
        spans.append((start, end))
        cursor = end
    return spans


def _track_span(track: Track) -> tuple[int, int]:
    spans = _segment_spans(track)
    if spans:
        return min(s for s, _ in spans), max(e for _, e in spans)
    return 0, track.d or 0


def _summary(index: int, track: Track) -> TrackSummary:
    name = _track_name(track)
    start, end = _track_span(track)
    return TrackSummary(
        index=index,
        kind=track.kind,
        label=_label(track, name),
        name=name,
        start_s=start / 1000,
        end_s=end / 1000,
        volume_pct=_volume_pct(track),
        segments=len(track.sg),
    )


def track_summaries(d: Draft) -> list[TrackSummary]:
    """One summary per track, in timeline order (index 1-based)."""
    return [_summary(i, track) for i, track in enumerate(d.t, start=1)]


def _seconds(value: float) -> str:
    """10.0 -> "10", 2.5 -> "2.5", 1.234 -> "1.23"."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _span_text(start_s: float, end_s: float) -> str:
    return f"{_seconds(start_s)}-{_seconds(end_s)}s"


def _is_empty(s: TrackSummary) -> bool:
    return s.segments == 0 and s.end_s == 0


def _title_part(s: TrackSummary) -> str:
    """ "Video: city timelapse", 'Title: "Urban Dreams"', "Audio" (no name)."""
    if s.name is None:
        return s.label
    return f'{s.label}: "{s.name}"' if s.kind == "text" else f"{s.label}: {s.name}"


def _describe(s: TrackSummary) -> str:
    if _is_empty(s):
        return f"{_title_part(s)} (empty)"
    details = [_span_text(s.start_s, s.end_s)]
    if s.kind == "audio" and s.volume_pct is not None:
        details.append(f"{s.volume_pct}%")
    return f"{_title_part(s)} ({', '.join(details)})"


class VideoFormat(BaseModel):
    """The output format as the draft (or the session's canvas) states it; None where nobody says."""

    width: int | None = None
    height: int | None = None
    aspect: str | None = Field(default=None, description='"16:9", "9:16", "1:1"...')
    fps: float | None = None

    def text(self) -> str:
        """ "1920x1080, 16:9, 30 fps"; only the parts that are known."""
        parts = []
        if self.width and self.height:
            parts.append(f"{self.width}x{self.height}")
        if self.aspect:
            parts.append(self.aspect)
        if self.fps:
            parts.append(f"{_seconds(self.fps)} fps")
        return ", ".join(parts)


_ASPECTS = {16 / 9: "16:9", 9 / 16: "9:16", 1.0: "1:1", 4 / 5: "4:5", 5 / 4: "5:4", 4 / 3: "4:3", 3 / 4: "3:4",
            21 / 9: "21:9"}  # fmt: skip
_MAX_PIXELS = 100_000


def _pixels(value: object) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number == int(number) and 0 < number <= _MAX_PIXELS else None


def _aspect(width: int | None, height: int | None, stated: object) -> str | None:
    if isinstance(stated, str) and len(stated) <= 10 and stated.count(":") == 1:
        left, right = (part.strip() for part in stated.split(":"))
        if left.isdigit() and right.isdigit():
            return f"{int(left)}:{int(right)}"
    if not width or not height:
        return None
    ratio = width / height
    # 1080x1920 and 720x1280 are 9:16 even where rounding made them 1078x1920: name the nearest common ratio.
    near = min(_ASPECTS, key=lambda r: abs(r - ratio))
    if abs(near - ratio) / near < 0.02:
        return _ASPECTS[near]
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


def video_format(d: Draft, canvas: object = None) -> VideoFormat:
    """Resolution, aspect and frame rate from the draft's metadata, else from the session's canvas settings."""
    sources = [d.m, _meta(canvas)]
    width = next((w for m in sources if (w := _pixels(m.get("width"))) is not None), None)
    height = next((h for m in sources if (h := _pixels(m.get("height"))) is not None), None)
    fps = next((f for m in sources if (f := _number(m.get("fps"))) is not None and 0 < f <= 1000), None)
    stated = next((a for m in sources if (a := m.get("aspect") or m.get("aspect_ratio"))), None)
    return VideoFormat(width=width, height=height, aspect=_aspect(width, height, stated), fps=fps)


def summarize(d: Draft, canvas: object = None) -> str:
    """The documented one-liner plus the format, e.g.
    ``Timeline (2 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%). Format: 1920x1080, 16:9,
    30 fps.``"""
    summaries = track_summaries(d)
    if not summaries:
        return "Timeline is empty (no tracks yet)."
    count = f"{len(summaries)} track" + ("" if len(summaries) == 1 else "s")
    line = f"Timeline ({count}): " + " ".join(f"{s.index}. {_describe(s)}" for s in summaries)
    shape = video_format(d, canvas).text()
    return f"{line}. Format: {shape}." if shape else line


# Titles that name no project: a file called "project.mp4" says nothing.
_GENERIC_TITLES = {"project", "untitled", "untitled project", "new project", "draft", "video", "my video"}


def project_title(d: Draft) -> str | None:
    """The project's title for people (and file names): the draft's title, else the text of its title track."""
    candidates = [d.m.get("title"), d.m.get("name")]
    for track in d.t:
        if track.kind == "text" and "title" in _roles(track):
            candidates += [_first_name(seg.m) for seg in track.sg]
    for value in candidates:
        name = _clean_name(value)
        if name and name.strip().lower() not in _GENERIC_TITLES:
            return name
    return None


# --- diff ----------------------------------------------------------------------------------


class _View:
    """A track with what the diff compares, computed once."""

    def __init__(self, index: int, track: Track) -> None:
        self.track = track
        self.summary = _summary(index, track)
        self.spans = _segment_spans(track)
        # Segments are matched on timing only: a renamed clip is still the same slot.
        self.segment_keys = [(segment.d, segment.start_ms) for segment in track.sg]
        s = self.summary
        self.identity = (track.tt, s.label, s.name, s.start_s, s.end_s, s.volume_pct, tuple(self.spans))


_Opcode = tuple[str, int, int, int, int]
# SequenceMatcher is quadratic when many items are equal (5000 identical segments: seconds per
# track), so common ends are trimmed first and a long changed middle is compared by position.
_MAX_ALIGN_CELLS = 40_000


def _opcodes(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[_Opcode]:
    """difflib-style opcodes turning a into b."""
    n, m = len(a), len(b)
    head = 0
    while head < min(n, m) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(n, m) - head and a[n - 1 - tail] == b[m - 1 - tail]:
        tail += 1
    ops: list[_Opcode] = [("equal", 0, head, 0, head)] if head else []
    a0, a1, b0, b1 = head, n - tail, head, m - tail
    if (a1 - a0) * (b1 - b0) > _MAX_ALIGN_CELLS:
        ops.append(("replace", a0, a1, b0, b1))
    elif a1 > a0 or b1 > b0:
        matcher = SequenceMatcher(a=a[a0:a1], b=b[b0:b1], autojunk=False)
        ops.extend((op, i0 + a0, i1 + a0, j0 + b0, j1 + b0) for op, i0, i1, j0, j1 in matcher.get_opcodes())
    if tail:
        ops.append(("equal", n - tail, n, m - tail, m))
    return ops


def _pair_tracks(before: list[_View], after: list[_View]) -> list[tuple[_View | None, _View | None]]:
    """Align two track lists. Identical tracks are matched first (so one track inserted in the
    middle is just "added"); within each changed stretch, tracks of the same type pair up in order."""
    pairs: list[tuple[_View | None, _View | None]] = []
    for op, a0, a1, b0, b1 in _opcodes([v.identity for v in before], [v.identity for v in after]):
        if op == "equal":
            pairs.extend(zip(before[a0:a1], after[b0:b1], strict=True))
            continue
        waiting: dict[int | None, list[_View]] = {}  # new tracks of each type, in order, not yet paired
        for new in reversed(after[b0:b1]):
            waiting.setdefault(new.track.tt, []).append(new)
        block: list[tuple[_View | None, _View | None]] = []
        for old in before[a0:a1]:
            same_type = waiting.get(old.track.tt)
            block.append((old, same_type.pop() if same_type else None))
        block.extend((None, new) for news in waiting.values() for new in news)
        # Report removals first, then the rest in the new timeline's order.
        block.sort(key=_report_order)
        pairs.extend(block)
    return pairs


def _report_order(pair: tuple[_View | None, _View | None]) -> tuple[int, int]:
    old, new = pair
    if new is not None:
        return 1, new.summary.index
    return 0, old.summary.index if old is not None else 0


def _quoted(name: str | None) -> str:
    return f'"{name}"' if name is not None else "(none)"


def _segment_changes(old: _View, new: _View) -> list[str]:
    changes: list[str] = []
    for op, a0, a1, b0, b1 in _opcodes(old.segment_keys, new.segment_keys):
        if op == "equal":
            continue
        common = min(a1 - a0, b1 - b0)
        for k in range(common):  # replaced slots: same position, new timing
            was, now = old.spans[a0 + k], new.spans[b0 + k]
            changes.append(
                f"segment {b0 + k + 1} retimed to {_span_text(now[0] / 1000, now[1] / 1000)}"
                f" (was {_span_text(was[0] / 1000, was[1] / 1000)})"
            )
        changes.extend(f"segment {j + 1} removed" for j in range(a0 + common, a1))
        changes.extend(f"segment {j + 1} added" for j in range(b0 + common, b1))
    if len(changes) > _MAX_SEGMENT_SENTENCES:
        extra = len(changes) - _MAX_SEGMENT_SENTENCES
        more = f"{extra} more segment change" + ("s" if extra > 1 else "")
        changes = [*changes[:_MAX_SEGMENT_SENTENCES], more]
    return changes


def _track_changes(old: _View, new: _View) -> list[str]:
    was, now = old.summary, new.summary
    prefix = f"Track {now.index} ({now.label})"
    out: list[str] = []
    if was.label != now.label:
        out.append(f"Track {now.index}: now {now.label} (was {was.label})")
    if was.name != now.name:
        what = "text" if now.kind == "text" else "name"
        out.append(f"{prefix}: {what} {_quoted(was.name)} -> {_quoted(now.name)}")
    out.extend(f"{prefix}: {change}" for change in _segment_changes(old, new))
    old_span, new_span = _span_text(was.start_s, was.end_s), _span_text(now.start_s, now.end_s)
    if old_span != new_span:
        out.append(f"{prefix}: now {new_span} (was {old_span})")
    if was.volume_pct != now.volume_pct:
        if was.volume_pct is None:
            out.append(f"{prefix}: volume set to {now.volume_pct}%")
        elif now.volume_pct is None:
            out.append(f"{prefix}: volume no longer set (was {was.volume_pct}%)")
        else:
            out.append(f"{prefix}: volume {was.volume_pct}% -> {now.volume_pct}%")
    return out


def _added(s: TrackSummary) -> str:
    if s.kind == "text" and s.name:
        timing = " (empty)" if _is_empty(s) else f" ({_span_text(s.start_s, s.end_s)})"
        return f'Added track {s.index}: {s.label} "{s.name}"{timing}'
    return f"Added track {s.index}: {_describe(s)}"  # with the volume, as the summary shows it


def diff_drafts(before: Draft, after: Draft) -> list[str]:
    """What changed from ``before`` to ``after``, one sentence per change; [] when nothing did.

    Track numbers are positions in ``after`` (for removed tracks, in ``before``)."""
    olds = [_View(i, t) for i, t in enumerate(before.t, start=1)]
    news = [_View(i, t) for i, t in enumerate(after.t, start=1)]
    sentences: list[str] = []
    for old, new in _pair_tracks(olds, news):
        if old is None and new is not None:
            sentences.append(_added(new.summary))
        elif new is None and old is not None:
            sentences.append(f"Removed track {old.summary.index}: {_title_part(old.summary)}")
        elif old is not None and new is not None:
            sentences.extend(_track_changes(old, new))
    return sentences
