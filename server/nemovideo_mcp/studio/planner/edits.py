"""Applying operations to a draft: a working copy that is kept consistent after every edit.

Every edit reports what it did as events (a change, a note, or a failure with the reason);
the words module turns them into the reply. Nothing here claims anything: an event exists
only for what was actually done or refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from nemovideo_mcp.studio import draft as dr

from . import ops as O
from .lexicon import Ref

if TYPE_CHECKING:
    from . import MediaItem

EventKind = Literal["change", "note", "fail"]

MIN_SCENE_MS = 200
MIN_TOTAL_MS = 1000
MAX_TOTAL_MS = 600_000
STILL_MS = 3000
TITLE_MS = 3000
CLIP_DEFAULT_MS = 5000
CLIP_MAX_DEFAULT_MS = 30_000
DEFAULT_MIN_TOTAL_MS = 5000
MOTIONS = ("zoom_in", "zoom_out", "pan_left", "pan_right")
TITLE_CARD = "Title card"
# Designed gradient pairs for scenes made from words alone; neighbours differ on purpose.
GRADIENTS: tuple[tuple[str, str], ...] = (
    ("#1d2b64", "#f8cdda"),
    ("#0f2027", "#2c5364"),
    ("#ee9ca7", "#ffdde1"),
    ("#134e5e", "#71b280"),
    ("#614385", "#516395"),
    ("#ff7e5f", "#feb47b"),
    ("#2b5876", "#4e4376"),
    ("#16a085", "#f4d03f"),
)


@dataclass
class Event:
    kind: EventKind
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    op: O.Op | None = None  # the operation being applied, so a failure can say what was not done


def distribute(weights: Sequence[float], total: int) -> list[int]:
    """Integers proportional to ``weights`` summing exactly to ``total`` (largest remainder), each at least 1."""
    if not weights:
        return []
    safe = [max(float(w), 1e-9) for w in weights]
    scale = total / sum(safe)
    raw = [w * scale for w in safe]
    out = [max(1, int(r)) for r in raw]
    diff = total - sum(out)
    order = sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]), reverse=diff > 0)
    step = 1 if diff > 0 else -1
    i = 0
    guard = 0
    while diff != 0 and guard < 10 * len(out) + abs(diff) * 2:
        k = order[i % len(order)]
        if step > 0 or out[k] > 1:
            out[k] += step
            diff -= step
        i += 1
        guard += 1
    return out


def _int(value: Any, default: int = 0) -> int:
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return default
    return number


def _tails(name: str) -> list[str]:
    """A name and its tails after each non-ASCII character: Chinese puts no space before "sunset.jpg"."""
    return [name[i:] for i in range(len(name)) if i == 0 or not name[i - 1].isascii()]


def _stem(name: str) -> str:
    return re.sub(r"\.[a-z0-9]{2,5}$", "", name.strip().lower())


class Work:
    """A mutable, tolerant copy of a draft; ``to_draft`` writes it back consistent."""

    def __init__(self, draft: dict[str, Any] | None, media: Sequence[MediaItem], seed: str) -> None:
        self.media = list(media)
        self.seed = seed
        self.counter = 0
        self.events: list[Event] = []
        self.created = False
        self.current: O.Op | None = None
        source = dr.copy_draft(draft) if isinstance(draft, dict) else {}
        meta = source.get("m")
        self.meta: dict[str, Any] = meta if isinstance(meta, dict) else {}
        self.scenes: list[dict[str, Any]] = []
        self.texts: list[dict[str, Any]] = []
        self.music: dict[str, Any] | None = None
        self.track_meta: dict[int, dict[str, Any]] = {}
        self.other_tracks: list[Any] = []
        tracks = source.get("t")
        for track in tracks if isinstance(tracks, list) else []:
            if not isinstance(track, dict):
                continue
            segments = (
                [s for s in track.get("sg") or [] if isinstance(s, dict)] if isinstance(track.get("sg"), list) else []
            )
            tt = track.get("tt")
            raw_meta = track.get("m")
            tmeta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
            if tt == dr.VIDEO and dr.VIDEO not in self.track_meta:
                self.track_meta[dr.VIDEO] = tmeta
                # A scene of no length plays for no time; keeping it would only break d = sum of scenes.
                self.scenes = [s for s in (self._tidy(s) for s in segments) if s["d"] > 0]
            elif tt == dr.AUDIO and dr.AUDIO not in self.track_meta and segments:
                self.track_meta[dr.AUDIO] = tmeta
                self.music = self._tidy(segments[0])
            elif tt == dr.TEXT:
                self.track_meta.setdefault(dr.TEXT, tmeta)
                self.texts.extend(self._tidy(s) for s in segments)
            else:
                self.other_tracks.append(track)

    def _tidy(self, segment: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(segment.get("m"), dict):
            segment["m"] = {}
        segment["d"] = max(0, _int(segment.get("d")))
        if not isinstance(segment.get("sid"), str) or not segment["sid"]:
            segment["sid"] = self.fresh_id()
        return segment

    def fresh_id(self) -> str:
        # Deterministic ids: the same instruction on the same draft gives the same new draft.
        taken = {s.get("sid") for s in [*self.scenes, *self.texts, *([self.music] if self.music else [])]}
        while True:
            self.counter += 1
            digest = hashlib.sha1(f"{self.seed}|{self.counter}".encode()).hexdigest()[:10]
            sid = f"seg_{digest}"
            if sid not in taken:
                return sid

    def emit(self, kind: EventKind, key: str, /, **params: Any) -> None:
        self.events.append(Event(kind, key, params, self.current))

    # --- reading ---

    @property
    def total(self) -> int:
        return sum(s["d"] for s in self.scenes)

    def starts(self) -> list[int]:
        out, at = [], 0
        for s in self.scenes:
            out.append(at)
            at += s["d"]
        return out

    def label(self, index: int) -> dict[str, Any]:
        scene = self.scenes[index]
        return {"n": index + 1, "name": str(scene["m"].get("name") or "")}

    @property
    def quality(self) -> Literal["1080p", "720p"]:
        w, h = _int(self.meta.get("width"), 1920), _int(self.meta.get("height"), 1080)
        return "720p" if min(w, h) == 720 else "1080p"

    @property
    def aspect(self) -> str:
        aspect = self.meta.get("aspect")
        if isinstance(aspect, str) and aspect in dr.CANVAS_1080:
            return aspect
        w, h = _int(self.meta.get("width"), 1920), _int(self.meta.get("height"), 1080)
        if w == h:
            return "1:1"
        if h > w:
            return "9:16" if h / max(w, 1) > 1.5 else "4:5"
        return "16:9"

    def titles(self) -> list[dict[str, Any]]:
        return [t for t in self.texts if t["m"].get("kind") == "title"]

    def captions(self) -> list[dict[str, Any]]:
        return [t for t in self.texts if t["m"].get("kind") != "title"]

    def caption_of(self, index: int) -> dict[str, Any] | None:
        sid = self.scenes[index]["sid"]
        return next((t for t in self.captions() if t["m"].get("scene") == sid), None)

    def is_title_card(self, index: int) -> bool:
        m = self.scenes[index]["m"]
        return m.get("kind") == "color" and m.get("name") == TITLE_CARD

    def source_ms(self, scene: dict[str, Any]) -> int | None:
        asset = scene["m"].get("asset")
        item = next((m for m in self.media if m.id == asset), None)
        return item.duration_ms if item and item.duration_ms else None

    def visual_media(self) -> list[MediaItem]:
        return [m for m in self.media if m.kind in ("image", "video")]

    def find_upload(self, name: str) -> MediaItem | None:
        # "用sunset.jpg" or "把beach.jpg": Chinese has no space before a name, so try the name's tails too.
        for tail in _tails(name):
            if found := self._find_upload(tail):
                return found
        return None

    def _find_upload(self, name: str) -> MediaItem | None:
        wanted = name.strip().lower()
        for test in (
            lambda m: m.name.lower() == wanted,
            lambda m: _stem(m.name) == _stem(wanted),
            lambda m: m.id.lower() == wanted,
        ):
            hits = [m for m in self.media if test(m)]
            if hits:
                return hits[-1]
        loose = [m for m in self.media if len(_stem(wanted)) >= 3 and _stem(wanted) in m.name.lower()]
        return loose[0] if len(loose) == 1 else None

    def _scene_named(self, name: str) -> bool:
        wanted = name.lower()
        return any(
            str(s["m"].get("name") or "").lower() == wanted or _stem(str(s["m"].get("name") or "")) == _stem(wanted)
            for s in self.scenes
        )

    def resolve(self, ref: Ref) -> int | None:
        """The scene index a reference means, or None after emitting why it means none."""
        if not self.scenes:
            self.emit("fail", "no_video")
            return None
        if ref.name:
            wanted = next((t.lower() for t in _tails(ref.name) if self._scene_named(t)), ref.name.lower())
            hits = [i for i, s in enumerate(self.scenes) if str(s["m"].get("name") or "").lower() == wanted]
            hits = hits or [
                i for i, s in enumerate(self.scenes) if _stem(str(s["m"].get("name") or "")) == _stem(wanted)
            ]
            if len(hits) == 1:
                return hits[0]
            if hits:
                self.emit("fail", "ambiguous_name", name=ref.name, scenes=[i + 1 for i in hits])
            else:
                self.emit("fail", "no_scene_named", name=ref.name)
            return None
        pool = [i for i, s in enumerate(self.scenes) if ref.kind is None or s["m"].get("kind") == ref.kind]
        if ref.index == 0:
            if len(pool) == 1:
                return pool[0]
            if not pool:
                self.emit("fail", "none_of_kind", kind=ref.kind)
            else:
                self.emit("fail", "ambiguous", kind=ref.kind, scenes=[i + 1 for i in pool])
            return None
        position = ref.index - 1 if ref.index > 0 else len(pool) + ref.index
        if 0 <= position < len(pool):
            return pool[position]
        self.emit("fail", "no_such_scene", index=ref.index, kind=ref.kind, count=len(pool))
        return None

    # --- writing ---

    def to_draft(self) -> dict[str, Any]:
        self.normalise()
        # A draft from elsewhere may lack some of the studio's metadata; the renderer needs all of it.
        aspect = self.aspect
        defaults = dr.empty_draft("", aspect if aspect in dr.CANVAS_1080 else "16:9")["m"]  # type: ignore[arg-type]
        for key, value in defaults.items():
            self.meta.setdefault(key, value)
        tracks: list[dict[str, Any]] = []
        if self.scenes:
            tracks.append(
                {"tt": dr.VIDEO, "sg": self.scenes, "m": self.track_meta.get(dr.VIDEO) or {"name": "Main video"}}
            )
        if self.music is not None and self.scenes:
            meta = self.track_meta.get(dr.AUDIO) or {}
            tracks.append({"tt": dr.AUDIO, "sg": [self.music], "m": {**meta, "kind": "bgm"}})
        # Titles and captions on tracks of their own, so a summary names each ("Title", "Captions").
        titles = [t for t in self.texts if (t.get("m") or {}).get("kind") == "title"]
        captions = [t for t in self.texts if (t.get("m") or {}).get("kind") != "title"]
        if titles:
            tracks.append({"tt": dr.TEXT, "sg": titles, "m": {"kind": "title"}})
        if captions:
            tracks.append({"tt": dr.TEXT, "sg": captions, "m": {"kind": "caption"}})
        tracks.extend(self.other_tracks)
        return {"t": tracks, "d": self.total, "m": self.meta}

    def normalise(self) -> None:
        """Re-derive every timing from the scenes: d, music span, titles at the start, captions on their scene."""
        total = self.total
        starts = self.starts()
        index_of = {s["sid"]: i for i, s in enumerate(self.scenes)}
        kept: list[dict[str, Any]] = []
        for text in self.texts:
            m = text["m"]
            if not self.scenes:
                continue
            if m.get("kind") == "title":
                first = self.scenes[0]["d"]
                text["st"] = 0
                text["d"] = first if self.is_title_card(0) else min(TITLE_MS, first)
                m.pop("scene", None)
            elif m.get("scene") is not None:
                i = index_of.get(m["scene"])
                if i is None:
                    continue
                text["st"], text["d"] = starts[i], self.scenes[i]["d"]
            else:
                st = max(0, _int(text.get("st")))
                if st >= total:
                    continue
                text["st"], text["d"] = st, min(max(1, _int(text.get("d"), 1)), total - st)
            kept.append(text)
        self.texts = kept
        if self.music is not None:
            self.music["st"] = 0
            self.music["d"] = total
        if self.titles():
            self.meta["title"] = str(self.titles()[0]["m"].get("text") or "")


# --- creating --------------------------------------------------------------------------------


def _media_durations(items: Sequence[MediaItem], total: int | None) -> list[int]:
    """Per-scene ms: clips no longer than themselves unless nothing else can take the time."""
    caps = [
        (item.duration_ms if item.kind == "video" and item.duration_ms and item.duration_ms > 0 else None)
        for item in items
    ]
    if total is None:
        base = [min(c, CLIP_MAX_DEFAULT_MS) if c else (CLIP_DEFAULT_MS if i.kind == "video" else STILL_MS)
                for c, i in zip(caps, items, strict=True)]  # fmt: skip
        wanted = min(max(sum(base), DEFAULT_MIN_TOTAL_MS), MAX_TOTAL_MS)
        return distribute(base, wanted) if wanted != sum(base) else base
    fixed: dict[int, float] = {}
    remaining = float(total)
    open_ = list(range(len(items)))
    while open_:
        share = remaining / len(open_)
        capped = [i for i in open_ if caps[i] is not None and (caps[i] or 0) < share]
        if not capped:
            break
        for i in capped:
            fixed[i] = float(caps[i] or 0)
            remaining -= fixed[i]
            open_.remove(i)
    weights = [fixed.get(i, 0.0) for i in range(len(items))]
    if open_:
        share = remaining / len(open_)
        for i in open_:
            weights[i] = share
    return distribute(weights, total)


def _title_case(text: str) -> str:
    small = {"a", "an", "the", "of", "at", "in", "on", "for", "and", "to", "with", "or", "by"}
    words = text.split()
    out = []
    for i, word in enumerate(words):
        if word.isupper() or any(c.isupper() for c in word[1:]):
            out.append(word)
        elif i and word.lower() in small:
            out.append(word.lower())
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


def derive_title(subject: str | None, sentences: Sequence[str]) -> str:
    base = subject or (sentences[0] if sentences else "")
    base = base.strip().strip(" .,;:!?。，！？")
    if not base:
        return ""
    if re.search(r"[\u3400-\u9fff]", base):
        return re.split(r"[,，、]", base)[0][:14]
    words = base.split()
    if len(words) > 5:
        words = words[:4]
    return _title_case(" ".join(words)).rstrip(",;:")


def _clamp_total(work: Work, asked: int | None, count: int) -> int | None:
    if asked is None:
        return None
    low = max(MIN_TOTAL_MS, MIN_SCENE_MS * max(count, 1))
    total = min(max(asked, low), MAX_TOTAL_MS)
    if total != asked:
        work.emit("note", "length_clamped", asked=asked, used=total)
    return total


def create(work: Work, op: O.Create) -> None:
    visual = work.visual_media() if op.use_media else []
    sentences = [s for s in op.sentences if s]
    if not visual and not sentences and not op.subject and not op.title:
        work.emit("fail", "nothing_to_make", have_audio=any(m.kind == "audio" for m in work.media))
        return
    aspect = op.aspect or work.aspect
    quality = op.quality or work.quality
    transition = op.transition or str(work.meta.get("transition") or "crossfade")
    transition_ms = op.transition_ms or _int(work.meta.get("transition_ms"), dr.DEFAULT_TRANSITION_MS)
    previous = len(work.scenes)
    music = work.music
    work.scenes, work.texts = [], []
    width, height = dr.canvas(aspect, "720p" if quality == "720p" else "1080p")
    work.meta = dr.empty_draft("", aspect if aspect in dr.CANVAS_1080 else "16:9")["m"]  # type: ignore[arg-type]
    work.meta.update(width=width, height=height, transition=transition, transition_ms=transition_ms)
    if visual:
        _create_from_media(work, op, visual, sentences)
    else:
        _create_from_words(work, op, sentences)
    if op.title and visual:
        work.texts.insert(0, _text(work, op.title, "title", 0, min(TITLE_MS, work.scenes[0]["d"])))
        work.meta["title"] = op.title
        work.emit("change", "title_set", text=op.title)
    work.music = music if previous and music is not None else None
    if previous:
        work.emit("note", "replaced_previous", count=previous)
    work.created = True


def _scene(work: Work, duration: int, kind: dr.SceneKind, name: str, **meta: Any) -> dict[str, Any]:
    seg = dr.scene(duration, kind, name, **meta)
    seg["sid"] = work.fresh_id()
    return seg


def _text(work: Work, text: str, kind: dr.TextKind, st: int, d: int, scene: str | None = None) -> dict[str, Any]:
    seg = dr.text_segment(text, kind, st, d)
    seg["sid"] = work.fresh_id()
    if scene:
        seg["m"]["scene"] = scene
    return seg


def _create_from_media(work: Work, op: O.Create, visual: list[MediaItem], sentences: list[str]) -> None:
    extra = sentences[len(visual) :]
    count = len(visual) + len(extra)
    total = _clamp_total(work, op.duration_ms, count)
    # Sentences beyond the uploads become caption scenes of their own, timed like stills.
    items: list[MediaItem] = [*visual]
    from . import MediaItem as Item

    items.extend(Item(id="", name="", kind="image") for _ in extra)
    if total is None and op.each_ms:
        # "2 seconds per photo": each still that long, each clip that long or its own length if shorter.
        total = sum(
            min(op.each_ms, item.duration_ms) if item.kind == "video" and item.duration_ms else op.each_ms
            for item in items
        )
        total = _clamp_total(work, total, count)
    durations = _media_durations(items, total)
    still = 0
    for i, (item, ms) in enumerate(zip(items, durations, strict=True)):
        if i >= len(visual):
            bg = list(GRADIENTS[i % len(GRADIENTS)])
            work.scenes.append(_scene(work, ms, "color", "Caption", background=bg))
        elif item.kind == "video":
            work.scenes.append(_scene(work, ms, "video", item.name, asset=item.id, src_in=0, motion="none"))
        else:
            motion = MOTIONS[still % len(MOTIONS)]
            still += 1
            work.scenes.append(_scene(work, ms, "image", item.name, asset=item.id, motion=motion))
    starts = work.starts()
    for i, sentence in enumerate(sentences[:count]):
        scene = work.scenes[i]
        work.texts.append(_text(work, sentence, "caption", starts[i], scene["d"], scene["sid"]))
    images = sum(1 for v in visual if v.kind == "image")
    work.emit(
        "change",
        "created_media",
        length=work.total,
        aspect=work.aspect,
        images=images,
        clips=len(visual) - images,
        captions=min(len(sentences), count),
    )


def _create_from_words(work: Work, op: O.Create, sentences: list[str]) -> None:
    title = op.title or derive_title(op.subject, sentences)
    count = 1 + len(sentences)
    total = _clamp_total(work, op.duration_ms, count)
    if total is None:
        total = TITLE_MS + STILL_MS * len(sentences)
        total = max(total, DEFAULT_MIN_TOTAL_MS if not sentences else total)
    if sentences:
        title_ms = min(TITLE_MS, total // count)
        durations = [title_ms, *distribute([1.0] * len(sentences), total - title_ms)]
    else:
        durations = [total]
    work.scenes.append(_scene(work, durations[0], "color", TITLE_CARD, background=list(GRADIENTS[0])))
    for i, ms in enumerate(durations[1:], start=1):
        work.scenes.append(_scene(work, ms, "color", "Caption", background=list(GRADIENTS[i % len(GRADIENTS)])))
    starts = work.starts()
    if title:
        work.texts.append(_text(work, title, "title", 0, durations[0]))
        work.meta["title"] = title
    for i, sentence in enumerate(sentences, start=1):
        work.texts.append(_text(work, sentence, "caption", starts[i], durations[i], work.scenes[i]["sid"]))
    work.emit(
        "change",
        "created_words",
        length=work.total,
        aspect=work.aspect,
        title=title,
        captions=len(sentences),
        derived=not op.title,
    )


# --- titles and captions ---------------------------------------------------------------------


def set_title(work: Work, op: O.SetTitle) -> None:
    existing = work.titles()
    text = op.text
    if text is None:
        if existing:
            work.emit("note", "title_exists", text=existing[0]["m"].get("text"))
            return
        work.emit("fail", "title_needs_text")
        return
    if not work.scenes:
        work.emit("fail", "no_video")
        return
    if existing:
        old = str(existing[0]["m"].get("text") or "")
        for extra in existing[1:]:
            work.texts.remove(extra)
        if old == text:
            work.emit("note", "title_same", text=text)
            return
        existing[0]["m"]["text"] = text
        work.emit("change", "title_changed", old=old, new=text)
    else:
        work.texts.insert(0, _text(work, text, "title", 0, min(TITLE_MS, work.scenes[0]["d"])))
        work.emit("change", "title_set", text=text)
    work.meta["title"] = text


def remove_title(work: Work, op: O.RemoveTitle) -> None:
    existing = work.titles()
    if not existing:
        work.emit("note", "no_title")
        return
    for text in existing:
        work.texts.remove(text)
    work.meta["title"] = ""
    work.emit("change", "title_removed", text=existing[0]["m"].get("text"))
    if work.scenes and work.is_title_card(0) and len(work.scenes) > 1:
        old = work.total
        sid = work.scenes.pop(0)["sid"]
        work.texts = [t for t in work.texts if t["m"].get("scene") != sid]
        work.emit("change", "title_card_removed", old=old, new=work.total)


def add_caption(work: Work, op: O.AddCaption) -> None:
    if not op.text:
        work.emit("fail", "caption_needs_text")
        return
    if not work.scenes:
        work.emit("fail", "no_video")
        return
    index: int | None
    if op.scene is not None:
        index = work.resolve(op.scene)
        if index is None:
            return
    elif op.at == "start":
        index = 0
    elif op.at == "end":
        index = len(work.scenes) - 1
    elif op.replace and len(work.captions()) > 1:
        work.emit("fail", "caption_ambiguous", count=len(work.captions()))
        return
    elif op.replace and work.captions():
        caption = work.captions()[0]
        old = str(caption["m"].get("text") or "")
        caption["m"]["text"] = op.text
        sid = caption["m"].get("scene")
        where = next((i for i, s in enumerate(work.scenes) if s["sid"] == sid), None)
        work.emit(
            "change", "caption_changed", old=old, new=op.text, scene=work.label(where) if where is not None else None
        )
        return
    else:
        free = [i for i in range(len(work.scenes)) if work.caption_of(i) is None and not work.is_title_card(i)]
        index = free[0] if free else len(work.scenes) - 1
    existing = work.caption_of(index)
    if existing is not None:
        old = str(existing["m"].get("text") or "")
        if old == op.text:
            work.emit("note", "caption_same", text=op.text, scene=work.label(index))
            return
        existing["m"]["text"] = op.text
        work.emit("change", "caption_changed", old=old, new=op.text, scene=work.label(index))
        return
    scene = work.scenes[index]
    work.texts.append(_text(work, op.text, "caption", work.starts()[index], scene["d"], scene["sid"]))
    work.emit("change", "caption_added", text=op.text, scene=work.label(index))


def remove_captions(work: Work, op: O.RemoveCaptions) -> None:
    captions = work.captions()
    if op.scene is not None:
        index = work.resolve(op.scene)
        if index is None:
            return
        sid = work.scenes[index]["sid"]
        start, end = work.starts()[index], work.starts()[index] + work.scenes[index]["d"]
        gone = [
            t for t in captions
            if t["m"].get("scene") == sid or (t["m"].get("scene") is None and start <= _int(t.get("st")) < end)
        ]  # fmt: skip
        if not gone:
            work.emit("note", "no_caption_on", scene=work.label(index))
            return
        work.texts = [t for t in work.texts if t not in gone]
        work.emit("change", "caption_removed", text=gone[0]["m"].get("text"), scene=work.label(index))
        return
    if not captions:
        work.emit("note", "no_captions")
        return
    work.texts = [t for t in work.texts if t not in captions]
    work.emit("change", "captions_removed", count=len(captions))


# --- canvas ----------------------------------------------------------------------------------


def set_aspect(work: Work, op: O.SetAspect) -> None:
    old = work.aspect
    width, height = dr.canvas(op.aspect, work.quality)
    if old == op.aspect and (_int(work.meta.get("width")), _int(work.meta.get("height"))) == (width, height):
        work.emit("note", "aspect_same", aspect=op.aspect)
        return
    work.meta.update(aspect=op.aspect, width=width, height=height)
    work.emit("change", "aspect", old=old, new=op.aspect, width=width, height=height)


def set_quality(work: Work, op: O.SetQuality) -> None:
    if op.quality not in ("1080p", "720p"):
        work.emit("fail", "quality_unsupported", quality=op.quality)
        return
    old = work.quality
    width, height = dr.canvas(work.aspect, op.quality)  # type: ignore[arg-type]
    if old == op.quality and (_int(work.meta.get("width")), _int(work.meta.get("height"))) == (width, height):
        work.emit("note", "quality_same", quality=op.quality)
        return
    work.meta.update(aspect=work.aspect, width=width, height=height)
    work.emit("change", "quality", old=old, new=op.quality, width=width, height=height)


def set_transition(work: Work, op: O.SetTransition) -> None:
    old_style = str(work.meta.get("transition") or "crossfade")
    old_ms = _int(work.meta.get("transition_ms"), dr.DEFAULT_TRANSITION_MS)
    style = op.style or old_style
    ms = old_ms
    if op.duration_ms is not None and style == "crossfade":
        ms = min(max(op.duration_ms, 100), 3000)
    if (style, ms) == (old_style, old_ms):
        work.emit("note", "transition_same", style=style)
        return
    work.meta.update(transition=style, transition_ms=ms)
    work.emit("change", "transition", style=style, ms=ms)


# --- music -----------------------------------------------------------------------------------


def _music_segment(work: Work, name: str, volume: float, asset: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "volume": volume}
    if asset:
        meta["asset"] = asset
    else:
        meta["generated"] = "bed"
    return {"st": 0, "d": work.total, "sid": work.fresh_id(), "m": meta}


def add_music(work: Work, op: O.AddMusic) -> None:
    if not work.scenes:
        work.emit("fail", "no_video")
        return
    audio = [m for m in work.media if m.kind == "audio"]
    source: MediaItem | None = None
    if op.name:
        source = work.find_upload(op.name)
        if source is None:
            work.emit("fail", "no_upload", name=op.name, names=[m.name for m in work.media])
            return
        if source.kind != "audio":
            work.emit("fail", "not_audio", name=source.name)
            return
    elif audio:
        source = audio[-1]
    elif op.mine:
        work.emit("fail", "no_audio")
        return
    current = work.music
    old_volume = float(current["m"].get("volume", 1.0)) if current else 1.0
    volume = op.volume if op.volume is not None else old_volume
    if current is not None:
        same = (source is not None and current["m"].get("asset") == source.id) or (
            source is None and current["m"].get("generated") == "bed"
        )
        if same:
            if abs(old_volume - volume) < 1e-9:
                work.emit("note", "music_same", name=current["m"].get("name"), volume=volume)
            else:
                current["m"]["volume"] = volume
                work.emit("change", "music_volume", old=old_volume, new=volume)
            return
    if source is not None:
        work.music = _music_segment(work, source.name, volume, source.id)
        key = "music_replaced" if current is not None else "music_added"
        work.emit("change", key, name=source.name, volume=volume, old=(current or {}).get("m", {}).get("name"))
    else:
        work.music = _music_segment(work, "Generated music bed", volume, None)
        work.emit("change", "bed_added", volume=volume)


def set_music_volume(work: Work, op: O.SetMusicVolume) -> None:
    if work.music is None:
        audio = [m for m in work.media if m.kind == "audio"]
        if audio and op.volume is not None and work.scenes:
            add_music(work, O.AddMusic(mine=True, volume=op.volume))
            return
        work.emit("fail", "no_music", have_audio=bool(audio))
        return
    old = float(work.music["m"].get("volume", 1.0))
    new = op.volume if op.volume is not None else old + (op.delta or 0.0)
    new = round(min(max(new, 0.0), 2.0), 4)
    if abs(new - old) < 1e-9:
        work.emit("note", "music_volume_same", volume=new)
        return
    work.music["m"]["volume"] = new
    work.emit("change", "music_volume", old=old, new=new)


def remove_music(work: Work, op: O.RemoveMusic) -> None:
    if work.music is None:
        work.emit("note", "no_music_to_remove")
        return
    name = work.music["m"].get("name")
    work.music = None
    work.emit("change", "music_removed", name=name)


# --- scenes ----------------------------------------------------------------------------------


def remove_scenes(work: Work, op: O.RemoveScenes) -> None:
    indices: list[int] = []
    for ref in op.scenes:
        index = work.resolve(ref)
        if index is not None and index not in indices:
            indices.append(index)
    if not indices:
        return
    if len(indices) >= len(work.scenes):
        work.emit("fail", "only_scene", count=len(work.scenes))
        return
    labels = {i: work.label(i) for i in indices}
    for index in sorted(indices, reverse=True):
        scene = work.scenes.pop(index)
        gone = [t for t in work.texts if t["m"].get("scene") == scene["sid"]]
        work.texts = [t for t in work.texts if t not in gone]
        work.emit("change", "scene_removed", scene=labels[index], captions=[t["m"].get("text") for t in gone])
    # Reported in the user's order, not the order of removal.
    removed = [e for e in work.events if e.key == "scene_removed"][-len(indices) :]
    removed.sort(key=lambda e: e.params["scene"]["n"])
    others = [e for e in work.events if e not in removed]
    work.events = [*others, *removed]


def _move_index(work: Work, index: int, target: int) -> None:
    scene = work.scenes.pop(index)
    work.scenes.insert(target, scene)


def move_scene(work: Work, op: O.MoveScene) -> None:
    index = work.resolve(op.scene)
    if index is None:
        return
    label = work.label(index)
    count = len(work.scenes)
    if op.to == "start":
        target = 0
    elif op.to == "end":
        target = count - 1
    elif op.position is not None:
        if not 1 <= op.position <= count:
            work.emit("fail", "no_position", position=op.position, count=count)
            return
        target = op.position - 1
    else:
        other_ref = op.before or op.after
        if other_ref is None:
            return
        other = work.resolve(other_ref)
        if other is None:
            return
        if other == index:
            work.emit("note", "same_scene", scene=label)
            return
        moving, anchor = work.scenes[index], work.scenes[other]
        work.scenes.pop(index)
        anchor_at = next(i for i, s in enumerate(work.scenes) if s is anchor)
        target = anchor_at if op.before else anchor_at + 1
        work.scenes.insert(target, moving)
        if target == index:
            work.emit("note", "already_there", scene=label, position=target + 1)
            return
        work.emit("change", "scene_moved", scene=label, position=target + 1)
        return
    if target == index:
        work.emit("note", "already_there", scene=label, position=target + 1)
        return
    _move_index(work, index, target)
    work.emit("change", "scene_moved", scene=label, position=target + 1)


def swap_scenes(work: Work, op: O.SwapScenes) -> None:
    a = work.resolve(op.a)
    if a is None:
        return
    b = work.resolve(op.b)
    if b is None:
        return
    if a == b:
        work.emit("note", "same_scene", scene=work.label(a))
        return
    la, lb = work.label(a), work.label(b)
    work.scenes[a], work.scenes[b] = work.scenes[b], work.scenes[a]
    work.emit("change", "scenes_swapped", a=la, b=lb)


def _next_motion(work: Work) -> str:
    stills = sum(1 for s in work.scenes if s["m"].get("kind") == "image")
    return MOTIONS[stills % len(MOTIONS)]


def _upload(work: Work, name: str) -> MediaItem | None:
    item = work.find_upload(name)
    if item is None:
        work.emit("fail", "no_upload", name=name, names=[m.name for m in work.media])
        return None
    if item.kind not in ("image", "video"):
        work.emit("fail", "not_visual", name=item.name)
        return None
    return item


def replace_scene(work: Work, op: O.ReplaceScene) -> None:
    index = work.resolve(op.scene)
    if index is None:
        return
    item = _upload(work, op.name)
    if item is None:
        return
    scene = work.scenes[index]
    label = work.label(index)
    old_motion = scene["m"].get("motion") if scene["m"].get("kind") == "image" else None
    keep = {
        k: v
        for k, v in scene["m"].items()
        if k not in ("kind", "name", "asset", "src_in", "volume", "motion", "background")
    }
    if item.kind == "video":
        scene["m"] = {**keep, "kind": "video", "name": item.name, "asset": item.id, "src_in": 0, "motion": "none"}
    else:
        motion = old_motion or _next_motion(work)
        scene["m"] = {**keep, "kind": "image", "name": item.name, "asset": item.id, "motion": motion}
    source = item.duration_ms if item.kind == "video" else None
    work.emit("change", "scene_replaced", scene=label, name=item.name, source=source, length=scene["d"])


def add_upload(work: Work, op: O.AddUpload) -> None:
    if op.name is not None:
        item = work.find_upload(op.name)
        if item is not None and item.kind == "audio":
            add_music(work, O.AddMusic(mine=True, name=item.name))
            return
        found = _upload(work, op.name)
        if found is None:
            return
        items = [found]
    else:
        used = {s["m"].get("asset") for s in work.scenes}
        items = [m for m in work.visual_media() if m.id not in used]
        if not items:
            work.emit("fail", "nothing_new")
            return
    if not work.scenes and op.name is None:
        create(work, O.Create())
        return
    target = len(work.scenes)
    if op.at == "start":
        target = 0
    elif op.before is not None or op.after is not None:
        other = work.resolve(op.before or op.after)  # type: ignore[arg-type]
        if other is None:
            return
        target = other if op.before is not None else other + 1
    for offset, item in enumerate(items):
        if item.kind == "video":
            ms = min(item.duration_ms or CLIP_DEFAULT_MS, CLIP_MAX_DEFAULT_MS)
            seg = _scene(work, ms, "video", item.name, asset=item.id, src_in=0, motion="none")
        else:
            seg = _scene(work, STILL_MS, "image", item.name, asset=item.id, motion=_next_motion(work))
        work.scenes.insert(target + offset, seg)
        work.emit("change", "scene_added", name=item.name, position=target + offset + 1, length=seg["d"])


def set_scene_duration(work: Work, op: O.SetSceneDuration) -> None:
    index = work.resolve(op.scene)
    if index is None:
        return
    scene = work.scenes[index]
    old = scene["d"]
    new = op.duration_ms if op.duration_ms is not None else old + (op.delta_ms or 0)
    _retime(work, index, old, new)


def _retime(work: Work, index: int, old: int, new: int) -> None:
    scene = work.scenes[index]
    if new < MIN_SCENE_MS:
        work.emit("fail", "too_short", scene=work.label(index), minimum=MIN_SCENE_MS)
        return
    if work.total - old + new > MAX_TOTAL_MS:
        work.emit("fail", "too_long", maximum=MAX_TOTAL_MS)
        return
    if new == old:
        work.emit("note", "duration_same", scene=work.label(index), length=new)
        return
    scene["d"] = new
    source = work.source_ms(scene) if scene["m"].get("kind") == "video" else None
    remaining = source - _int(scene["m"].get("src_in")) if source else None
    work.emit("change", "scene_duration", scene=work.label(index), old=old, new=new,
              source=remaining if remaining is not None and new > remaining else None)  # fmt: skip


def trim(work: Work, op: O.Trim) -> None:
    index = work.resolve(op.scene)
    if index is None:
        return
    scene = work.scenes[index]
    is_clip = scene["m"].get("kind") == "video"
    if op.src_in_ms is None and op.cut_start_ms is None:
        if op.cut_end_ms is not None:
            _retime(work, index, scene["d"], scene["d"] - op.cut_end_ms)
        elif op.duration_ms is not None:
            _retime(work, index, scene["d"], op.duration_ms)
        return
    if not is_clip:
        work.emit("fail", "not_clip", scene=work.label(index))
        return
    old_in = _int(scene["m"].get("src_in"))
    new_in = op.src_in_ms if op.src_in_ms is not None else old_in + (op.cut_start_ms or 0)
    source = work.source_ms(scene)
    if source is not None and new_in >= source - MIN_SCENE_MS:
        work.emit("fail", "trim_past_end", scene=work.label(index), source=source)
        return
    old_d = scene["d"]
    if op.duration_ms is not None:
        new_d = op.duration_ms
    elif op.cut_start_ms is not None:
        new_d = old_d - op.cut_start_ms
    else:
        new_d = old_d
    if source is not None and op.duration_ms is None:
        new_d = min(new_d, source - new_in)
    if new_d < MIN_SCENE_MS:
        work.emit("fail", "too_short", scene=work.label(index), minimum=MIN_SCENE_MS)
        return
    scene["m"]["src_in"] = new_in
    scene["d"] = new_d
    work.emit("change", "trimmed", scene=work.label(index), src_in=new_in, old=old_d, new=new_d)


def set_total(work: Work, op: O.SetTotalDuration) -> None:
    if not work.scenes:
        work.emit("fail", "no_video")
        return
    old = work.total
    low = max(MIN_TOTAL_MS, MIN_SCENE_MS * len(work.scenes))
    new = min(max(op.duration_ms, low), MAX_TOTAL_MS)
    if new != op.duration_ms:
        work.emit("note", "length_clamped", asked=op.duration_ms, used=new)
    if new == old:
        work.emit("note", "total_same", length=new)
        return
    factor = new / old if old else 1.0
    durations = distribute([s["d"] or 1 for s in work.scenes], new)
    for scene, ms in zip(work.scenes, durations, strict=True):
        scene["d"] = ms
    for text in work.texts:
        if text["m"].get("kind") != "title" and text["m"].get("scene") is None:
            text["st"] = round(_int(text.get("st")) * factor)
            text["d"] = max(1, round(_int(text.get("d"), 1) * factor))
    work.emit("change", "total", old=old, new=new)


def change_length(work: Work, op: O.ChangeLength) -> None:
    if not work.scenes:
        work.emit("fail", "no_video")
        return
    old = work.total
    # Relative lengths land on a tenth of a second, so the reply reads "12s -> 9s", not "8999ms".
    new = old + op.delta_ms if op.delta_ms is not None else round(old * (op.factor or 1.0) / 100) * 100
    set_total(work, O.SetTotalDuration(max(new, 1)))


def set_each(work: Work, op: O.SetEachDuration) -> None:
    targets = [i for i, s in enumerate(work.scenes) if op.kind is None or s["m"].get("kind") == op.kind]
    if not work.scenes:
        work.emit("fail", "no_video")
        return
    if not targets:
        work.emit("fail", "none_of_kind", kind=op.kind)
        return
    ms = max(op.duration_ms, MIN_SCENE_MS)
    if work.total + sum(ms - work.scenes[i]["d"] for i in targets) > MAX_TOTAL_MS:
        work.emit("fail", "too_long", maximum=MAX_TOTAL_MS)
        return
    if all(work.scenes[i]["d"] == ms for i in targets):
        work.emit("note", "each_same", length=ms, count=len(targets), kind=op.kind)
        return
    old = work.total
    for i in targets:
        work.scenes[i]["d"] = ms
    work.emit("change", "each_duration", length=ms, count=len(targets), kind=op.kind, old=old, new=work.total)


def reverse_scenes(work: Work, op: O.ReverseScenes) -> None:
    if len(work.scenes) < 2:
        work.emit("fail", "no_video" if not work.scenes else "nothing_to_reorder")
        return
    work.scenes.reverse()
    work.emit("change", "reversed", count=len(work.scenes))


def set_motion(work: Work, op: O.SetMotion) -> None:
    if op.scene is not None:
        index = work.resolve(op.scene)
        if index is None:
            return
        scene = work.scenes[index]
        if scene["m"].get("kind") != "image":
            work.emit("fail", "motion_needs_photo", scene=work.label(index))
            return
        motion = op.motion if op.motion in MOTIONS or op.motion == "none" else _next_motion(work)
        if scene["m"].get("motion") == motion:
            work.emit("note", "motion_same", scene=work.label(index), motion=motion)
            return
        scene["m"]["motion"] = motion
        work.emit("change", "motion", scene=work.label(index), motion=motion)
        return
    stills = [s for s in work.scenes if s["m"].get("kind") == "image"]
    if not stills:
        work.emit("fail", "none_of_kind", kind="image")
        return
    for i, scene in enumerate(stills):
        scene["m"]["motion"] = (
            "none" if op.motion == "none" else (op.motion if op.motion in MOTIONS else MOTIONS[i % 4])
        )
    work.emit("change", "motion_all", motion=op.motion, count=len(stills))


def set_clip_volume(work: Work, op: O.SetClipVolume) -> None:
    if op.scene is not None:
        index = work.resolve(op.scene)
        if index is None:
            return
        targets = [index]
    else:
        targets = [i for i, s in enumerate(work.scenes) if s["m"].get("kind") == "video"]
    clips = [i for i in targets if work.scenes[i]["m"].get("kind") == "video"]
    if not clips:
        work.emit("fail", "no_clip_sound" if op.scene is not None else "none_of_kind",
                  kind="video", scene=work.label(targets[0]) if targets else None)  # fmt: skip
        return
    for i in clips:
        work.scenes[i]["m"]["volume"] = op.volume
    work.emit("change", "clip_volume", volume=op.volume, scenes=[i + 1 for i in clips])


APPLY: dict[type[O.Op], Any] = {
    O.Create: create,
    O.SetTitle: set_title,
    O.RemoveTitle: remove_title,
    O.AddCaption: add_caption,
    O.RemoveCaptions: remove_captions,
    O.SetAspect: set_aspect,
    O.SetQuality: set_quality,
    O.SetTransition: set_transition,
    O.AddMusic: add_music,
    O.SetMusicVolume: set_music_volume,
    O.RemoveMusic: remove_music,
    O.RemoveScenes: remove_scenes,
    O.MoveScene: move_scene,
    O.SwapScenes: swap_scenes,
    O.ReplaceScene: replace_scene,
    O.AddUpload: add_upload,
    O.SetSceneDuration: set_scene_duration,
    O.Trim: trim,
    O.SetTotalDuration: set_total,
    O.SetMotion: set_motion,
    O.ChangeLength: change_length,
    O.SetEachDuration: set_each,
    O.ReverseScenes: reverse_scenes,
    O.SetClipVolume: set_clip_volume,
}


def apply(work: Work, op: O.Op) -> None:
    handler = APPLY.get(type(op))
    if handler is not None:
        work.current = op
        handler(work, op)
        work.current = None
