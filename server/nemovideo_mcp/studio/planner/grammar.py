"""From an instruction (English or Chinese) to typed operations, by ordered regex rules.

Rules run in priority order over the instruction; each match claims its span (masked out), so
a later, looser rule cannot reread words an earlier one used. What no rule claimed is checked
for content words: those are reported back as not understood rather than silently ignored.
Creating a video is special: the sentences after "make a video:" (or after the creating
sentence) are the description, each a caption, unless a sentence is entirely an instruction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from .lexicon import (
    DURATION,
    EN_NOUN,
    EN_REF,
    FILE,
    MASK,
    QCLOSE,
    QOPEN,
    QUOTE,
    VOLUME,
    ZH_NUM,
    ZH_REF,
    Ref,
    cjk_punctuation,
    number,
    parse_duration,
    parse_ref,
    parse_volume,
    prepare,
    restore,
)
from .ops import (
    AddCaption,
    AddMusic,
    AddUpload,
    ChangeLength,
    Create,
    CreateMark,
    Duration,
    MoveScene,
    Op,
    RemoveCaptions,
    RemoveMusic,
    RemoveScenes,
    RemoveTitle,
    ReplaceScene,
    ReverseScenes,
    Saying,
    SetAspect,
    SetClipVolume,
    SetEachDuration,
    SetMotion,
    SetMusicVolume,
    SetQuality,
    SetSceneDuration,
    SetTitle,
    SetTotalDuration,
    SetTransition,
    Subject,
    SwapScenes,
    Trim,
    UseMedia,
)

Handler = Callable[[re.Match[str], list[str]], list[Op] | None]


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    handler: Handler


@dataclass
class Parsed:
    ops: list[Op] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # parts of the instruction no rule understood


# --- text slots -------------------------------------------------------------------------------

_UNQ = rf"[^,;!?。{MASK}{QOPEN}{QCLOSE}]+?"
_STOP_EN = r"(?!(?:and|then|with|plus|but|also|to|on|at|in|for|please|of)\b)"
_PLATFORM = r"(?:\d|vertical\b|portrait\b|landscape\b|square\b|tiktok\b|youtube\b|instagram\b|reels\b|shorts\b)"
TERM_EN = (
    rf"(?=\s*(?:$|[,;!?。{MASK}]|\.(?:\s|$))|\s+(?:and|then|plus|but|also|with|using)\b"
    rf"|\s+(?:in|as|for)\s+{_PLATFORM})"
)
TERM_ZH = rf"(?=\s*(?:$|[,;!?。{MASK}])|然后|并且|同时|并把|再把|并将|再将)"
TEXT_EN = rf"(?:(?P<q>{QUOTE})|{_STOP_EN}(?P<u>{_UNQ}))"
TEXT_ZH = rf"(?:(?P<q>{QUOTE})|(?![和并然])(?P<u>{_UNQ}))"


def _text(m: re.Match[str], quotes: list[str]) -> str | None:
    groups = m.groupdict()
    if groups.get("q"):
        inner = re.search(r"\d+", groups["q"])
        return quotes[int(inner[0])].strip() or None if inner else None
    raw = groups.get("u")
    if not raw:
        return None
    text = restore(raw, quotes).strip().strip("\"'“”‘’「」").strip(" .,;:!?。，")
    return cjk_punctuation(text) or None


def _ref(m: re.Match[str], name: str, quotes: list[str]) -> Ref | None:
    raw = m.groupdict().get(name)
    return parse_ref(raw, quotes) if raw else None


def _dur(m: re.Match[str], name: str = "dur") -> int | None:
    raw = m.groupdict().get(name)
    if not raw:
        return None
    if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", raw):  # "from 3 to 7 seconds": the unit is shared
        return int(float(raw) * 1000)
    return parse_duration(raw)


# --- handlers ---------------------------------------------------------------------------------


def _create(m: re.Match[str], q: list[str]) -> list[Op]:
    return [CreateMark()]


def _create_from_media(m: re.Match[str], q: list[str]) -> list[Op]:
    return [CreateMark(), UseMedia()]


def _use_media(m: re.Match[str], q: list[str]) -> list[Op]:
    return [UseMedia()]


def _no_media(m: re.Match[str], q: list[str]) -> list[Op]:
    return [UseMedia(use=False)]


_MEDIA_WORDS = re.compile(
    r"^(?:(?:all\s+)?(?:of\s+)?(?:my|the|these|those|our)\s+)?(?:uploaded\s+)?(?:photos?|pictures?|images?|clips?|"
    r"videos?|uploads?|files?|media|footage|pics?)\b|^(?:tiktok|youtube|instagram|reels|shorts|me|us|you|it)\b",
    re.I,
)


def _subject(m: re.Match[str], q: list[str]) -> list[Op] | None:
    text = restore(m["s"], q).strip(" .,;:!?。，的")
    text = re.sub(r"^(?:a|an|the)\s+", "", text, flags=re.I)
    if not text or _MEDIA_WORDS.match(text) or len(text) > 60 or text in ("我", "我们", "你", "他们"):
        return None
    return [Subject(text)]


def _saying(m: re.Match[str], q: list[str]) -> list[Op] | None:
    text = _text(m, q)
    return [Saying(text)] if text else None


def _title(m: re.Match[str], q: list[str]) -> list[Op]:
    return [SetTitle(_text(m, q))]


def _title_required(m: re.Match[str], q: list[str]) -> list[Op] | None:
    text = _text(m, q)
    return [SetTitle(text)] if text else None


def _remove_title(m: re.Match[str], q: list[str]) -> list[Op]:
    return [RemoveTitle()]


def _position(m: re.Match[str], q: list[str]) -> tuple[Ref | None, Literal["start", "end"] | None]:
    raw = (m.groupdict().get("pos") or "").strip().lower()
    if not raw:
        return None, None
    if re.fullmatch(r"(?:the\s+)?(?:very\s+)?(?:end|ending|close|last\s+one|结尾|最后|末尾|片尾|最后面|结束)", raw):
        return None, "end"
    if re.fullmatch(r"(?:the\s+)?(?:very\s+)?(?:start|beginning|first\s+one|开头|片头|最前面|开始)", raw):
        return None, "start"
    return parse_ref(raw, q), None


def _caption(m: re.Match[str], q: list[str]) -> list[Op] | None:
    ref, at = _position(m, q)
    if m.groupdict().get("pos") and ref is None and at is None:
        return None
    return [AddCaption(_text(m, q), scene=ref, at=at)]


def _edit_caption(m: re.Match[str], q: list[str]) -> list[Op] | None:
    ref, at = _position(m, q)
    owner = m.groupdict().get("owner")
    if owner:
        if ref is not None or at is not None:
            return None
        ref = parse_ref(owner, q)
        if ref is None:
            return None
    text = _text(m, q)
    return [AddCaption(text, scene=ref, at=at, replace=True)] if text else None


def _remove_captions(m: re.Match[str], q: list[str]) -> list[Op]:
    return [RemoveCaptions(_ref(m, "a", q))]


def _aspect(aspect: str) -> Handler:
    def handle(m: re.Match[str], q: list[str]) -> list[Op]:
        return [SetAspect(aspect, platform=m[0].strip())]

    return handle


def _quality(m: re.Match[str], q: list[str]) -> list[Op]:
    raw = m["qual"].lower().replace(" ", "")
    if raw in ("1080p", "1080", "fullhd", "fhd", "高清", "全高清"):
        return [SetQuality("1080p")]
    if raw in ("720p", "720", "hdready", "标清"):
        return [SetQuality("720p")]
    return [SetQuality(m["qual"].upper() if raw.isascii() else m["qual"])]


def _cut(m: re.Match[str], q: list[str]) -> list[Op]:
    return [SetTransition("cut")]


def _remove_music(m: re.Match[str], q: list[str]) -> list[Op]:
    return [RemoveMusic()]


def _mute_music(m: re.Match[str], q: list[str]) -> list[Op]:
    return [SetMusicVolume(volume=0.0)]


def _music_volume(m: re.Match[str], q: list[str]) -> list[Op] | None:
    volume = parse_volume(m["vol"])
    return [SetMusicVolume(volume=volume)] if volume is not None else None


_UP = re.compile(r"louder|higher|up|raise|boost|increase|调大|调高|大声|大一|响|提高|加大|大些", re.I)


def _add_music(m: re.Match[str], q: list[str]) -> list[Op] | None:
    groups = m.groupdict()
    mine_word = (groups.get("mine") or "").lower()
    mine = bool(re.match(r"my|our|the\s+uploaded|我|自己|上传", mine_word))
    if not groups.get("verb") and not mine and not groups.get("name"):
        return None
    name = _name(groups.get("name"), q)
    raw_volume = groups.get("vol") or groups.get("vol2")
    volume = parse_volume(raw_volume) if raw_volume else None
    if raw_volume and volume is None:
        return None
    return [AddMusic(mine=mine or bool(name), name=name, volume=volume)]


def _name(raw: str | None, q: list[str]) -> str | None:
    if not raw:
        return None
    found = re.search(rf"{QOPEN}(\d+){QCLOSE}", raw)
    return q[int(found[1])].strip() if found else raw.strip().strip(".,")


def _swap(m: re.Match[str], q: list[str]) -> list[Op] | None:
    a, b = _ref(m, "a", q), _ref(m, "b", q)
    if a is None or b is None:
        return None
    if a.kind is None and b.kind is not None and a.name is None:
        a = replace(a, kind=b.kind)
    return [SwapScenes(a, b)]


def _swap_numbers(m: re.Match[str], q: list[str]) -> list[Op] | None:
    noun = parse_ref(f"{m['noun']} 1", q) if re.match(r"[a-z]", m["noun"], re.I) else parse_ref(f"{m['noun']}1", q)
    kind = noun.kind if noun else None
    a, b = number(m["a"]), number(m["b"])
    if not a or not b:
        return None
    return [SwapScenes(Ref(int(a), kind), Ref(int(b), kind))]


def _move(m: re.Match[str], q: list[str]) -> list[Op] | None:
    scene = _ref(m, "a", q)
    if scene is None:
        return None
    groups = m.groupdict()
    where = (groups.get("where") or "").lower().strip()
    if groups.get("rel"):
        other = _ref(m, "b", q)
        if other is None:
            return None
        if re.match(r"before|ahead|in front|前|之前", groups["rel"].lower()):
            return [MoveScene(scene, before=other)]
        return [MoveScene(scene, after=other)]
    if re.match(r"start|beginning|front|first|top|opening|最前|开头|开始|最开始|第一位", where):
        return [MoveScene(scene, to="start")]
    if re.match(r"end|last|back|final|closing|最后|结尾|末尾|最末", where):
        return [MoveScene(scene, to="end")]
    found = re.search(rf"(\d+|[a-z]+|{ZH_NUM})", where.replace("position", "").replace("place", ""))
    if found:
        word = found[1]
        ordinals = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7}
        value = ordinals.get(word) or number(re.sub(r"(st|nd|rd|th)$", "", word))
        if value:
            return [MoveScene(scene, position=int(value))]
    return None


def _move_to(where: Literal["start", "end"]) -> Handler:
    def handle(m: re.Match[str], q: list[str]) -> list[Op] | None:
        scene = _ref(m, "a", q)
        return [MoveScene(scene, to=where)] if scene else None

    return handle


def _replace(m: re.Match[str], q: list[str]) -> list[Op] | None:
    scene, name = _ref(m, "a", q), _name(m["name"], q)
    if scene is None or not name or name.lower() in ("it", "that", "this", "them", "one"):
        return None
    return [ReplaceScene(scene, name)]


def _scene_duration(m: re.Match[str], q: list[str]) -> list[Op] | None:
    scene, ms = _ref(m, "a", q), _dur(m)
    if scene is None or ms is None:
        return None
    return [SetSceneDuration(scene, duration_ms=ms)]


_SHORTER = re.compile(r"shorten|reduce|cut|shorter|trim|缩短|减少|短", re.I)


def _scene_delta(m: re.Match[str], q: list[str]) -> list[Op] | None:
    scene = _ref(m, "a", q)
    if scene is None:
        return None
    ms = _dur(m) or 1000
    sign = -1 if _SHORTER.search(m["verb"]) else 1
    return [SetSceneDuration(scene, delta_ms=sign * ms)]


def _trim_start_at(m: re.Match[str], q: list[str]) -> list[Op] | None:
    scene, ms = _ref(m, "a", q), _dur(m)
    if scene is None or ms is None:
        return None
    return [Trim(scene, src_in_ms=ms, duration_ms=_dur(m, "dur2"))]


def _trim_range(m: re.Match[str], q: list[str]) -> list[Op] | None:
    scene, start, end = _ref(m, "a", q), _dur(m), _dur(m, "dur2")
    if scene is None or start is None or end is None or end <= start:
        return None
    return [Trim(scene, src_in_ms=start, duration_ms=end - start)]


def _trim_cut(which: Literal["start", "end"]) -> Handler:
    def handle(m: re.Match[str], q: list[str]) -> list[Op] | None:
        scene, ms = _ref(m, "a", q) or Ref(0, "video"), _dur(m)
        if ms is None:
            return None
        return [Trim(scene, cut_start_ms=ms)] if which == "start" else [Trim(scene, cut_end_ms=ms)]

    return handle


def _remove_scenes(m: re.Match[str], q: list[str]) -> list[Op] | None:
    refs = [r for r in (_ref(m, "a", q), _ref(m, "b", q)) if r is not None]
    if not refs:
        return None
    if len(refs) == 2 and refs[0].kind is None and refs[1].kind is not None and refs[0].name is None:
        refs[0] = replace(refs[0], kind=refs[1].kind)
    return [RemoveScenes(tuple(refs))]


def _remove_list(m: re.Match[str], q: list[str]) -> list[Op] | None:
    kind_ref = parse_ref(f"{m['noun']} 1", q)
    kind = kind_ref.kind if kind_ref else None
    values = [number(v) for v in re.findall(r"\d+|[a-z]+", m["list"].lower()) if v not in ("and",)]
    if not values or any(not v for v in values):
        return None
    return [RemoveScenes(tuple(Ref(int(v or 0), kind) for v in values))]


def _total(m: re.Match[str], q: list[str]) -> list[Op] | None:
    ms = _dur(m)
    return [SetTotalDuration(ms)] if ms else None


def _bare_duration(m: re.Match[str], q: list[str]) -> list[Op] | None:
    ms = _dur(m)
    return [Duration(ms, text=m[0].strip())] if ms else None


def _reverse(m: re.Match[str], q: list[str]) -> list[Op]:
    return [ReverseScenes()]


def _add_upload(m: re.Match[str], q: list[str]) -> list[Op] | None:
    groups = m.groupdict()
    name = _name(groups.get("name"), q)
    if groups.get("name") and not name:
        return None
    where = (groups.get("where") or "").lower()
    at: Literal["start", "end"] | None = None
    if re.match(r"start|beginning|front|first|开头|最前", where):
        at = "start"
    elif where:
        at = "end"
    before = after = None
    if groups.get("rel"):
        other = _ref(m, "b", q)
        if other is None:
            return None
        if re.match(r"before|前", groups["rel"].lower()):
            before = other
        else:
            after = other
    return [AddUpload(name, at=at, before=before, after=after)]


def _motion(motion: str) -> Handler:
    def handle(m: re.Match[str], q: list[str]) -> list[Op]:
        return [SetMotion(motion, _ref(m, "a", q))]

    return handle


def _clip_volume(m: re.Match[str], q: list[str]) -> list[Op] | None:
    groups = m.groupdict()
    volume = parse_volume(groups["vol"]) if groups.get("vol") else 0.0
    if volume is None:
        return None
    return [SetClipVolume(volume, _ref(m, "a", q))]


# --- the rules, in priority order -------------------------------------------------------------

_MEDIA_NOUNS = r"(?:photos|pictures|pics|images|video\s+clips|clips|videos|uploads|files|media|footage|shots|stills)"
_VNOUN = (
    r"(?:video|slideshow|slide\s*show|reel|movie|montage|short|film|clip|promo|ad|advert|teaser|trailer|intro|"
    r"vlog|compilation|collage|tiktok|story)s?"
)
_ZVNOUN = r"(?:视频|短片|影片|幻灯片|短视频|宣传片|vlog|片子|电子相册|相册|混剪|合集)"
_REMOVE_EN = r"(?:remove|delete|drop|cut|take\s+out|get\s+rid\s+of|lose|skip|ditch|erase|eliminate|throw\s+out)"
_REMOVE_ZH = r"(?:删除|删掉|去掉|移除|拿掉|去除|删了|不要了?|去了|删)"
_CARD = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_ZH_SEP = r"(?:和|与|跟|、|,)"
_ENGLISH_ORD = r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|final|\d+(?:st|nd|rd|th))"
_CAP_NOUN = r"(?:captions?|subtitles?|text\s+overlays?|on-screen\s+text|texts?|lower\s+thirds?)"
_MUSIC = r"(?:background\s+music|music|songs?|soundtrack|bgm|tune|audio\s+track)"
_ZMUSIC = r"(?:背景音乐|音乐|配乐|bgm|歌曲|歌)"
_ZDUR = DURATION

RULES_SPEC: list[tuple[str, str, Handler]] = [
    # Creating: only the verb is claimed, so the modifiers in between ("a 15-second vertical video")
    # stay for their own rules.
    (
        "create",
        r"\b(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?(?:please\s+)?"
        r"(?:make|create|build|generate|produce|put\s+together|assemble|prepare|design|craft|edit|render|whip\s+up|"
        r"give\s+me|i\s+(?:want|need)|i'?d\s+like|i\s+would\s+like|let'?s\s+(?:make|do|create))\s+(?:me\s+|us\s+)?"
        rf"(?:a|an|one|another|some)\b(?:\s+new\b)?(?=(?:\s+(?!version\b|copy\b)[^\s{MASK}]+){{0,6}}?\s+{_VNOUN}\b)",
        _create,
    ),
    (
        "create_from_media",
        r"\b(?:turn|make|put|combine|compile|stitch|assemble|edit|cut)\s+(?:all\s+)?(?:of\s+)?(?:my|these|the|those|our)"
        rf"\s+(?:uploaded\s+|new\s+)?{_MEDIA_NOUNS}(?:\s+(?:and|&)\s+{_MEDIA_NOUNS})?\s+(?:together\s+)?(?:into|to)"
        r"\s+(?:a|an|one)\b",
        _create_from_media,
    ),
    (
        "create_zh",
        rf"(?:做|制作|生成|创建|剪辑|剪|弄|整|来|拍)(?:成)?\s*(?:一个|一段|一支|一条|一部|个|段|条|支|部)"
        rf"(?=[^,;!?。{MASK}]{{0,15}}?{_ZVNOUN})|(?:制作|生成|创建|做成|帮我做|给我做)(?=[^,;!?。{MASK}]{{0,15}}?{_ZVNOUN})",
        _create,
    ),
    # "make a video with this text: ..." - the colon was cut off with the description after it (see parse).
    (
        "description_intro",
        r"\b(?:with|using|from)\s+(?:the\s+|this\s+|these\s+|my\s+|some\s+)?(?:following\s+)?"
        r"(?:text|words|lines|message|script|sentences)\s*$",
        lambda m, q: [],
    ),
    # --- titles and captions (their free text stops at "and", commas and sentence ends) ---
    (
        "remove_captions_of_scene",
        rf"\b{_REMOVE_EN}\s+(?:the\s+)?(?P<a>{EN_REF})(?:'s)?\s+{_CAP_NOUN}",
        _remove_captions,
    ),
    (
        "remove_captions",
        r"\b(?:remove|delete|drop|clear|take\s+(?:off|out|away)|get\s+rid\s+of|hide|erase|no|without|turn\s+off)\s+"
        rf"(?:all\s+)?(?:of\s+)?(?:the\s+|any\s+)?{_CAP_NOUN}(?:\s+(?:from|on|of|in)\s+(?P<a>{EN_REF}))?",
        _remove_captions,
    ),
    (
        "remove_captions_zh",
        r"(?:去掉|删除|删掉|移除|不要|清除|取消|去除|关掉)\s*(?:所有|全部)?\s*(?:的)?\s*"
        rf"(?:(?P<a>{ZH_REF})\s*(?:上|里|中)?\s*的?\s*)?(?:字幕|文字|说明文字)",
        _remove_captions,
    ),
    (
        "remove_captions_zh2",
        rf"(?:把|将)?\s*(?:(?P<a>{ZH_REF})\s*(?:上|里|中)?\s*的?\s*)?(?:所有|全部)?(?:的)?(?:字幕|文字)\s*(?:都|全)?\s*"
        r"(?:去掉|删除|删掉|移除|清除|去除|拿掉)",
        _remove_captions,
    ),
    (
        "edit_caption",
        r"\b(?:change|set|edit|update|rewrite|replace|make|switch)\s+(?:the\s+)?"
        rf"(?:(?P<owner>{EN_REF})(?:'s|’s)\s+)?(?:caption|subtitle|text)"
        rf"(?:\s+(?:on|of|for|in)\s+(?P<pos>{EN_REF}|the\s+end|the\s+start))?\s+(?:to|with|into|so\s+it\s+says)\s*"
        rf"{TEXT_EN}(?(u){TERM_EN})",
        _edit_caption,
    ),
    (
        "edit_caption_zh",
        rf"(?:把|将)?\s*(?:(?P<pos>{ZH_REF}|开头|结尾)\s*(?:上|里|中)?\s*的?\s*)?字幕\s*"
        rf"(?:改成|改为|换成|换为|设为|修改为|改)\s*:?\s*{TEXT_ZH}(?(u){TERM_ZH})",
        _edit_caption,
    ),
    (
        "add_caption",
        r"\b(?:add|put|place|insert|write|show|include|overlay|display|type|with)\s+(?:a\s+|an\s+|the\s+|some\s+)?"
        r"(?:text\s+caption|caption|subtitle|text(?:\s+overlay)?|lower\s+third|tagline)s?\s*"
        r"(?:that\s+says|saying|reading|which\s+reads|with\s+the\s+(?:text|words)|of|:|=)?\s*"
        rf"{TEXT_EN}?(?:\s*(?:to|on|at|in|over|for|under|onto)\s+(?:the\s+)?"
        rf"(?P<pos>{EN_REF}|very\s+end|end|ending|start|beginning|last\s+one|first\s+one))?(?(u){TERM_EN})",
        _caption,
    ),
    (
        "add_quoted_as_caption",
        rf"\b(?:add|put|use|show|write)\s+(?P<q>{QUOTE})\s+as\s+(?:a\s+|the\s+)?(?:caption|subtitle|text)"
        rf"(?:\s+(?:to|on|at|in|over|for)\s+(?:the\s+)?(?P<pos>{EN_REF}|end|start|beginning))?",
        _caption,
    ),
    (
        "caption_first",
        rf"\b(?:on|to|in|at|for)\s+(?:the\s+)?(?P<pos>{EN_REF}|end|start|beginning)\s*,?\s*(?:add|put|write|show)\s+"
        rf"(?:a\s+|the\s+)?(?:caption|subtitle|text)\s*(?:saying|that\s+says|reading|:)?\s*{TEXT_EN}(?(u){TERM_EN})",
        _caption,
    ),
    ("caption_colon", rf"\b(?:caption|subtitle)\s*:\s*{TEXT_EN}(?(u){TERM_EN})", _caption),
    (
        "caption_scene",
        rf"\b(?:caption|subtitle|label)\s+(?P<pos>{EN_REF})\s*(?:with|as|:|saying)?\s*{TEXT_EN}(?(u){TERM_EN})",
        _caption,
    ),
    (
        "add_caption_zh",
        rf"(?:在|给|为|往)?\s*(?P<pos>{ZH_REF}|开头|结尾|最后|末尾|片尾|片头|最前面|最后面)?\s*(?:上|中|里|处)?\s*"
        r"(?:加上?|添加|增加|放上?|写上?|打上?|配上?|显示)\s*(?:一[个条句行段])?\s*(?:字幕|文字|说明文字|文案)\s*"
        rf"(?:写着|为|是|说|内容是|内容为)?\s*:?\s*{TEXT_ZH}?(?(u){TERM_ZH})",
        _caption,
    ),
    ("caption_colon_zh", rf"(?:字幕|文字)\s*:\s*{TEXT_ZH}(?(u){TERM_ZH})", _caption),
    (
        "remove_title",
        r"\b(?:remove|delete|drop|clear|take\s+(?:off|out|away)|get\s+rid\s+of|hide|erase|turn\s+off|no|without|lose|ditch|"
        r"kill|scrap)\s+(?:the\s+|a\s+|any\s+)?(?:title(?:\s+card)?|heading|headline)\b"
        r"|\btake\s+(?:the\s+)?(?:title|heading)\s+(?:off|out|away)\b",
        _remove_title,
    ),
    (
        "remove_title_zh",
        r"(?:去掉|删除|删掉|移除|不要|取消|去除|拿掉)\s*(?:视频的?)?标题|(?:把|将)?标题\s*(?:去掉|删除|删掉|移除|拿掉|去除)",
        _remove_title,
    ),
    (
        "set_title",
        r"\b(?:set|change|make|update|rename|edit|switch|replace)\s+(?:the\s+)?(?:video\s+)?(?:title|heading|headline)"
        rf"(?:\s+card)?\s*(?:to|as|into|with|:|=)\s*{TEXT_EN}(?(u){TERM_EN})",
        _title_required,
    ),
    (
        "add_title",
        r"\b(?:with|and|plus|add|use|put|include|give\s+it|show)\s+(?:a\s+|an\s+|the\s+)?(?:big\s+|main\s+)?"
        r"(?:title|heading|headline)(?:\s+card)?\s*(?:of|saying|that\s+says|reading|which\s+reads|:|=|called)?\s*"
        rf"{TEXT_EN}?(?(u){TERM_EN})",
        _title,
    ),
    ("make_title_quoted", rf"\b(?:make|set)\s+the\s+(?:video\s+)?title\s*(?P<q>{QUOTE})", _title_required),
    (
        "title_is",
        r"\b(?:the\s+)?(?:title|heading)\s*(?:should\s+(?:be|say|read)|(?:needs\s+)?to\s+(?:be|say|read)|is|reads|says|:|=)"
        rf"\s*{TEXT_EN}(?(u){TERM_EN})",
        _title_required,
    ),
    (
        "titled",
        r"\b(?:titled|entitled|called|named|title\s+it|call\s+it|name\s+it|rename\s+(?:it|the\s+video)(?:\s+to)?|retitle\s+it)"
        rf"\s*{TEXT_EN}"
        rf"(?(u){TERM_EN})",
        _title_required,
    ),
    ("title_colon_zh", rf"(?:标题|题目|片名)\s*:\s*{TEXT_ZH}(?(u){TERM_ZH})", _title_required),
    (
        "set_title_zh",
        r"(?:把|将)?\s*(?:视频的?)?(?:标题|题目|片名|名字)\s*(?:改成|改为|换成|换为|设为|设置为|设成|定为|是|为|叫做?|用|写成)"
        rf"\s*:?\s*{TEXT_ZH}(?(u){TERM_ZH})",
        _title_required,
    ),
    (
        "add_title_zh",
        r"(?:加上?|添加|增加|设置|配上?|加个|放上?)\s*(?:一个)?\s*(?:大)?标题\s*(?:为|是|叫做?|写着)?\s*:?\s*"
        rf"{TEXT_ZH}?(?(u){TERM_ZH})",
        _title,
    ),
    (
        "titled_zh",
        rf"(?:标题为|标题是|标题叫做?|名为|叫做)\s*{TEXT_ZH}(?(u){TERM_ZH})",
        _title_required,
    ),
    # --- scenes: the specific verbs first, the plain "remove scene 2" last ---
    (
        "swap_numbers",
        r"\b(?:swap|switch|exchange|flip|trade|interchange|reverse)\s+(?:the\s+)?(?:order\s+of\s+)?(?:places\s+of\s+)?"
        rf"(?P<noun>{EN_NOUN})\s+(?P<a>{_CARD})\s*(?:and|&|with|,)\s*(?P<b>{_CARD})\b",
        _swap_numbers,
    ),
    (
        "swap_pair",
        r"\b(?:swap|switch|exchange|flip|trade|interchange)\s+(?:the\s+)?(?P<which>first|last|final)\s+(?:two|2)\s+"
        rf"(?P<noun>{EN_NOUN})",
        lambda m, q: _swap_pair(m, q),
    ),
    (
        "swap_ordinals",
        r"\b(?:swap|switch|exchange|flip|trade|interchange)\s+(?:the\s+)?"
        rf"(?P<o1>{_ENGLISH_ORD})\s+(?:and|&|with)\s+(?:the\s+)?(?P<o2>{_ENGLISH_ORD})\s+(?P<noun>{EN_NOUN})",
        lambda m, q: _swap_ordinals(m, q),
    ),
    (
        "swap",
        r"\b(?:swap|switch|exchange|flip|trade|interchange)\s+(?:the\s+)?(?:positions?\s+of\s+)?"
        rf"(?P<a>{EN_REF})\s*(?:and|&|with|,)\s*(?P<b>{EN_REF})",
        _swap,
    ),
    (
        "swap_zh",
        rf"(?:交换|对调|互换|调换)\s*(?:一下)?\s*(?P<a>{ZH_REF})\s*{_ZH_SEP}\s*(?P<b>{ZH_REF})(?:的?位置|的?顺序)?",
        _swap,
    ),
    (
        "swap_zh2",
        rf"(?:把|将)?\s*(?P<a>{ZH_REF})\s*{_ZH_SEP}\s*(?P<b>{ZH_REF})\s*(?:的)?(?:位置|顺序)?\s*"
        r"(?:交换|对调|互换|调换|换一下|换下|换个)(?:位置|顺序)?",
        _swap,
    ),
    (
        "swap_numbers_zh",
        rf"(?P<noun>场景|镜头|照片|图片|视频|画面)\s*(?P<a>\d+|[一二三四五六七八九十]+)\s*{_ZH_SEP}\s*"
        r"(?P<b>\d+|[一二三四五六七八九十]+)\s*(?:交换|对调|互换|调换)",
        _swap_numbers,
    ),
    (
        "move_relative",
        r"\b(?:move|put|place|bring|shift|drag|insert)\s+"
        rf"(?P<a>{EN_REF})\s+(?:to\s+)?(?P<rel>before|after|ahead\s+of|behind|in\s+front\s+of)\s+(?P<b>{EN_REF})",
        _move,
    ),
    (
        "move",
        r"\b(?:move|put|place|bring|shift|drag|push|send)\s+"
        rf"(?P<a>{EN_REF})\s+(?:to\s+|at\s+|in\s+|as\s+)?(?:the\s+)?(?:very\s+)?"
        rf"(?P<where>start|beginning|front|first|top|end|last|back|(?:position|place|slot|spot)\s+(?:#\s*)?{_CARD}"
        rf"|{_ENGLISH_ORD}(?:\s+(?:position|place|slot|spot|scene|one))?)\b(?:\s+of\s+the\s+(?:video|timeline|list))?",
        _move,
    ),
    (
        "make_first",
        rf"\bmake\s+(?P<a>{EN_REF})\s+(?:the\s+)?(?P<where>first|last|opening|final|closing)"
        r"(?:\s+(?:scene|one|shot|slide|photo|clip))?\b",
        _move,
    ),
    ("open_with", rf"\b(?:start|open|begin)\s+(?:the\s+video\s+|it\s+)?with\s+(?P<a>{EN_REF})", _move_to("start")),
    ("end_with", rf"\b(?:end|finish|close)\s+(?:the\s+video\s+|it\s+)?with\s+(?P<a>{EN_REF})", _move_to("end")),
    (
        "move_relative_zh",
        rf"(?:把|将)?\s*(?P<a>{ZH_REF})\s*(?:移到|移动到|放到|挪到|调到|放在|移至|拖到|排到)\s*(?P<b>{ZH_REF})\s*(?:的)?"
        r"(?P<rel>前面|之前|前|后面|之后|后)",
        _move,
    ),
    (
        "move_zh",
        rf"(?:把|将)?\s*(?P<a>{ZH_REF})\s*(?:移到|移动到|放到|挪到|调到|放在|移至|拖到|换到|排到)\s*(?:视频的?)?"
        rf"(?P<where>最前面|最前|开头|最开始|开始|第一位|最后面|最后|结尾|末尾|最末|第\s*{ZH_NUM}\s*(?:个|位)?(?:位置)?)",
        _move,
    ),
    ("open_with_zh", rf"(?:用|以)\s*(?P<a>{ZH_REF})\s*(?:开头|开场|开始)", _move_to("start")),
    ("end_with_zh", rf"(?:用|以)\s*(?P<a>{ZH_REF})\s*(?:结尾|结束|收尾)", _move_to("end")),
    # Scene lengths come before replace: "change scene 2 to 5 seconds" is not a file called "5".
    (
        "trim_range",
        rf"\b(?:trim|cut|use|keep)\s+(?P<a>{EN_REF})\s+from\s+(?P<dur>{DURATION}|\d+(?:\.\d+)?)\s+(?:to|until|-)\s+"
        rf"(?P<dur2>{DURATION})",
        _trim_range,
    ),
    (
        "trim_start_at",
        rf"\b(?:trim|cut|set|make)\s+(?P<a>{EN_REF})\s+(?:so\s+(?:that\s+)?it\s+)?(?:to\s+)?(?:start|begin)s?\s+"
        rf"(?:at|from)\s+(?P<dur>{DURATION})(?:\s+(?:in|into)(?:\s+the\s+clip)?)?"
        rf"(?:\s+(?:and\s+)?(?:last|run|be)\s+(?P<dur2>{DURATION}))?",
        _trim_start_at,
    ),
    (
        "start_at",
        rf"\b(?:start|begin)\s+(?P<a>{EN_REF})\s+(?:at|from)\s+(?P<dur>{DURATION})(?:\s+(?:in|into)(?:\s+the\s+clip)?)?",
        _trim_start_at,
    ),
    (
        "starts_at",
        rf"(?P<a>{EN_REF})\s+(?:should\s+)?(?:start|begin)s?\s+(?:at|from)\s+(?P<dur>{DURATION})",
        _trim_start_at,
    ),
    (
        "trim_first",
        r"\b(?:trim|cut|remove|drop|skip|chop|take)\s+(?:off\s+)?(?:the\s+)?(?:first|opening)\s+"
        rf"(?P<dur>{DURATION})\s+(?:off\s+|from\s+|of\s+)(?:the\s+(?:start|beginning)\s+of\s+)?(?P<a>{EN_REF})",
        _trim_cut("start"),
    ),
    (
        "trim_last",
        r"\b(?:trim|cut|remove|drop|chop|take)\s+(?:off\s+)?(?:the\s+)?(?:last|final)\s+"
        rf"(?P<dur>{DURATION})\s+(?:off\s+|from\s+|of\s+)(?:the\s+end\s+of\s+)?(?P<a>{EN_REF})",
        _trim_cut("end"),
    ),
    (
        "trim_end_of",
        rf"\b(?:trim|cut|remove|take|chop|drop)\s+(?:off\s+)?(?P<dur>{DURATION})\s+(?:off\s+|from\s+)(?:of\s+)?(?:the\s+)?"
        rf"(?P<which>end|start|beginning|front|back)\s+of\s+(?P<a>{EN_REF})",
        lambda m, q: _trim_which(m, q),
    ),
    (
        "scene_delta",
        rf"\b(?P<verb>extend|lengthen|stretch|shorten|reduce|cut|trim)\s+(?P<a>{EN_REF})\s+by\s+(?P<dur>{DURATION})",
        _scene_delta,
    ),
    (
        "scene_delta_cmp",
        rf"\bmake\s+(?P<a>{EN_REF})\s+(?:(?P<dur>{DURATION})|a\s+(?:bit|little)|slightly)?\s*(?P<verb>longer|shorter)",
        _scene_delta,
    ),
    (
        "scene_duration",
        r"\b(?:make|set|change|adjust|turn|extend|lengthen|shorten|stretch|cut|trim|reduce)\s+"
        rf"(?:the\s+(?:duration|length)\s+of\s+)?(?P<a>{EN_REF})(?:'s\s+(?:duration|length))?\s+(?:down\s+)?"
        rf"(?:to\s+|last\s+|be\s+)?(?:exactly\s+|about\s+|only\s+|just\s+)?(?P<dur>{DURATION})(?:\s+long)?",
        _scene_duration,
    ),
    (
        "scene_lasts",
        rf"(?P<a>{EN_REF})\s+(?:should\s+(?:be|last)|to\s+(?:be|last)|lasts?|for|=|:)\s+(?:only\s+|just\s+)?"
        rf"(?P<dur>{DURATION})",
        _scene_duration,
    ),
    (
        "hold_scene",
        rf"\b(?:show|hold|keep|display)\s+(?P<a>{EN_REF})\s+(?:on\s+screen\s+)?for\s+(?P<dur>{DURATION})",
        _scene_duration,
    ),
    (
        "trim_start_zh",
        rf"(?:把|将)?\s*(?P<a>{ZH_REF})\s*(?:改成|改为|设为|调成)?\s*从\s*(?:第\s*)?(?P<dur>{_ZDUR})\s*"
        r"(?:处|的地方)?\s*(?:开始|起)(?:播放)?",
        _trim_start_at,
    ),
    (
        "trim_first_zh",
        rf"(?:剪掉|去掉|裁掉|删掉|剪去|切掉)\s*(?:(?P<a>{ZH_REF})\s*的?)?\s*(?:开头|前面|最前面|前)\s*(?:的)?\s*"
        rf"(?P<dur>{_ZDUR})",
        _trim_cut("start"),
    ),
    (
        "trim_first_zh2",
        rf"(?:把|将)?\s*(?P<a>{ZH_REF})\s*的?\s*(?:开头|前面|前)\s*(?:剪掉|去掉|裁掉|删掉|剪去|切掉)\s*(?P<dur>{_ZDUR})",
        _trim_cut("start"),
    ),
    (
        "trim_last_zh",
        rf"(?:剪掉|去掉|裁掉|删掉|剪去|切掉)\s*(?:(?P<a>{ZH_REF})\s*的?)?\s*(?:结尾|最后|末尾|后面|后)\s*(?:的)?\s*"
        rf"(?P<dur>{_ZDUR})",
        _trim_cut("end"),
    ),
    (
        "scene_delta_zh",
        rf"(?:把|将)?\s*(?P<a>{ZH_REF})\s*(?:的)?(?:时长|长度|时间)?\s*(?P<verb>延长|加长|增加|缩短|减少)\s*(?P<dur>{_ZDUR})",
        _scene_delta,
    ),
    (
        "scene_duration_zh",
        rf"(?:把|将)?\s*(?P<a>{ZH_REF})\s*(?:的)?\s*(?:时长|长度|时间|持续时间)?\s*"
        r"(?:改成|改为|设为|设置为|设成|调成|调到|调整为|调整到|变成|延长到|缩短到|延长至|缩短至|剪到|剪成|裁剪到|裁剪为|"
        rf"裁到|截到|改到|为|是|到|持续|显示|停留|剪)?\s*(?P<dur>{_ZDUR})",
        _scene_duration,
    ),
    (
        "replace",
        rf"\b(?:replace|swap(?:\s+out)?|switch(?:\s+out)?|change|exchange|substitute)\s+(?P<a>{EN_REF})\s+(?:with|for|by|to|into)\s+"
        r"(?:the\s+|my\s+)?(?:(?:photo|picture|image|clip|video|file)\s+)?"
        rf"(?P<name>{FILE}|{QUOTE}|[\w.-]+)(?:\s+(?:photo|picture|image|clip|video|one|file))?",
        _replace,
    ),
    (
        "use_instead",
        r"\buse\s+(?:the\s+)?(?:(?:photo|picture|image|clip|video|file)\s+)?"
        rf"(?P<name>{FILE}|{QUOTE})\s+(?:for|as|in|instead\s+of|in\s+place\s+of)\s+(?P<a>{EN_REF})",
        _replace,
    ),
    (
        "use_instead_zh",
        rf"用\s*(?P<name>{FILE}|{QUOTE}|[\w.-]+?)\s*(?:替换|代替|替代|换掉|换)\s*(?P<a>{ZH_REF})",
        _replace,
    ),
    (
        "replace_zh",
        rf"(?:把|将)?\s*(?P<a>{ZH_REF})\s*(?:换成|替换成|替换为|改成|换为|改为|替换)\s*(?:照片|图片|视频)?\s*"
        rf"(?P<name>{FILE}|{QUOTE}|[\w.-]+)",
        _replace,
    ),
    # "add song.mp3 as background music": a file name makes it the user's own music.
    (
        "file_as_music",
        rf"\b(?:add|use|put|set|play)\s+(?P<name>{FILE}|{QUOTE})\s+(?:as|for)\s+(?:the\s+|my\s+)?{_MUSIC}"
        rf"(?:\s+(?:at|to)\s+(?P<vol>{VOLUME})(?:\s+volume)?)?",
        lambda m, q: _add_music_named(m, q),
    ),
    (
        "file_as_music_zh",
        rf"(?:用|把|加上?|添加|使用)\s*(?P<name>{FILE}|{QUOTE})\s*(?:作为|做|当|当作|设为)\s*(?:背景音乐|音乐|配乐)"
        rf"(?:\s*,?\s*音量\s*(?P<vol>{VOLUME}))?",
        lambda m, q: _add_music_named(m, q),
    ),
    (
        "music_to_file_zh",
        rf"(?:把)?\s*{_ZMUSIC}\s*(?:换成|改成|换为|改为|用|替换成|替换为)\s*(?P<name>{FILE}|{QUOTE})"
        rf"(?:\s*,?\s*音量\s*(?P<vol>{VOLUME}))?",
        lambda m, q: _add_music_named(m, q),
    ),
    (
        "music_to_file",
        rf"\b(?:change|switch|swap|replace)\s+(?:the\s+)?{_MUSIC}\s+(?:to|with|for)\s+(?P<name>{FILE}|{QUOTE})"
        rf"(?:\s+(?:at|to)\s+(?P<vol>{VOLUME}))?",
        lambda m, q: _add_music_named(m, q),
    ),
    (
        "add_upload",
        r"\b(?:add|insert|include|append|put\s+in|use)\s+(?:the\s+)?(?:(?:photo|picture|image|clip|video|file)\s+)?"
        rf"(?P<name>{FILE}|{QUOTE})(?:\s+(?:at\s+|to\s+)?(?:the\s+)?(?P<where>end|start|beginning|front)"
        rf"|\s+(?P<rel>before|after)\s+(?P<b>{EN_REF}))?",
        _add_upload,
    ),
    (
        "add_new_uploads",
        r"\b(?:add|insert|include|append|use)\s+(?:in\s+)?(?:all\s+)?(?:the\s+|my\s+)?(?:new|other|remaining|rest\s+of\s+"
        r"(?:the|my))\s+(?:uploaded\s+)?(?:photos|pictures|images|clips|videos|uploads|files|media)"
        r"(?:\s+(?:at\s+|to\s+)?(?:the\s+)?(?P<where>end|start|beginning|front))?",
        _add_upload,
    ),
    (
        "add_upload_zh",
        rf"(?:把|将)?\s*(?P<name>{FILE}|{QUOTE})\s*(?:加到|放到|添加到|插入到|加在|放在)\s*(?P<where>开头|结尾|最后|最前面)",
        _add_upload,
    ),
    (
        "add_upload_zh2",
        rf"(?:加上?|添加|插入|加入)\s*(?P<name>{FILE}|{QUOTE})(?:\s*(?:到|在)\s*(?P<where>开头|结尾|最后|最前面))?",
        _add_upload,
    ),
    (
        "remove_scene_list",
        rf"\b{_REMOVE_EN}\s+(?:out\s+)?(?:the\s+)?(?P<noun>scenes|shots|slides|photos|pictures|images|clips)\s+"
        r"(?P<list>(?:\d+|[a-z]+)(?:\s*(?:,|and|&)\s*(?:\d+|[a-z]+))+)\b",
        _remove_list,
    ),
    (
        "remove_scene",
        rf"\b{_REMOVE_EN}\s+(?:out\s+)?(?P<a>{EN_REF})(?:\s*(?:and|&|,)\s*(?P<b>{EN_REF}))?",
        _remove_scenes,
    ),
    (
        "remove_scene_zh",
        rf"{_REMOVE_ZH}\s*(?:掉)?\s*(?P<a>{ZH_REF})(?:\s*{_ZH_SEP}\s*(?P<b>{ZH_REF}))?",
        _remove_scenes,
    ),
    (
        "remove_scene_zh2",
        rf"(?:把|将)?\s*(?P<a>{ZH_REF})(?:\s*{_ZH_SEP}\s*(?P<b>{ZH_REF}))?\s*(?:给)?\s*{_REMOVE_ZH}",
        _remove_scenes,
    ),
    # --- music ---
    (
        "remove_music",
        r"\b(?:remove|delete|drop|take\s+(?:out|off|away)|get\s+rid\s+of|turn\s+off|lose|kill|ditch|cut|stop|no|without|"
        rf"disable|scrap|mute\s+and\s+remove)\s+(?:the\s+|my\s+|all\s+|any\s+|that\s+|this\s+)?{_MUSIC}\b"
        rf"|\btake\s+(?:the\s+|my\s+)?{_MUSIC}\s+(?:off|out|away)\b",
        _remove_music,
    ),
    (
        "remove_music_zh",
        rf"(?:去掉|删除|删掉|移除|不要|关掉|取消|去除|拿掉|关闭)\s*(?:背景)?\s*{_ZMUSIC}"
        rf"|(?:把|将)?\s*{_ZMUSIC}\s*(?:去掉|删除|删掉|移除|拿掉|关掉|关了|去了|删了|不要了?|不用了?)",
        _remove_music,
    ),
    ("mute_music", rf"\bmute\s+(?:the\s+|my\s+)?{_MUSIC}", _mute_music),
    ("mute_music_zh", rf"{_ZMUSIC}\s*静音|静音\s*{_ZMUSIC}|{_ZMUSIC}\s*(?:音量)?\s*(?:调到|设为)?\s*0\b", _mute_music),
    (
        "music_volume",
        r"\b(?:set|change|turn|put|adjust|bring|lower|raise|reduce|drop|increase|boost|make|keep|have)\s+(?:the\s+)?"
        rf"(?:volume\s+of\s+(?:the\s+)?{_MUSIC}|{_MUSIC}(?:'s)?(?:\s+volume|\s+level)?)\s+(?:down\s+|up\s+)?"
        rf"(?:to|at)\s+(?P<vol>{VOLUME})",
        _music_volume,
    ),
    (
        "add_music",
        r"\b(?:(?P<verb>add|use|put|include|with|play|plus|and|insert|throw\s+in|lay|put\s+on|want|need|give\s+it)\s+)?"
        r"(?P<mine>my(?:\s+own)?|our|the\s+uploaded|the|some|a|an)?\s*(?:background\s+|uploaded\s+|bg\s+)?"
        r"(?P<noun>music|song|soundtrack|bgm|tune|audio)\b(?:\s+(?:file|track))?"
        rf"(?:\s+(?P<name>{FILE}|{QUOTE}))?(?:\s+(?:at|to|with|on)\s+(?P<vol>{VOLUME})(?:\s+volume)?"
        r"|\s+(?P<vol2>\d+(?:\.\d+)?\s*(?:%|percent\b)))?",
        _add_music,
    ),
    (
        "music_volume_bare",
        rf"\b(?:the\s+)?{_MUSIC}(?:'s)?\s+(?:volume|level)\s*(?:to|at|=|:|of)?\s*(?P<vol>{VOLUME})"
        rf"|\b(?:the\s+)?(?:volume\s+of\s+(?:the\s+)?)?{_MUSIC}\s+(?:to|at|=|:)\s*(?P<vol2>{VOLUME})"
        rf"|\b(?:the\s+)?{_MUSIC}\s+(?P<vol3>\d+(?:\.\d+)?\s*(?:%|percent\b))",
        lambda m, q: _music_volume_either(m, q),
    ),
    (
        "music_relative",
        r"\b(?:make|turn|set|put)\s+(?:the\s+)?(?:background\s+)?(?:music|song|bgm|soundtrack)\s+"
        r"(?P<amt>a\s+(?:bit|little)\s+|much\s+|a\s+lot\s+|slightly\s+)?(?P<dir>louder|quieter|softer|lower|higher|up|down)\b"
        r"|\bturn\s+(?P<dir2>up|down)\s+(?:the\s+)?(?:background\s+)?(?:music|song|bgm)",
        lambda m, q: _music_relative_either(m, q),
    ),
    (
        "music_relative2",
        r"\b(?P<dir>lower|raise|reduce|boost|increase|decrease)\s+(?:the\s+)?(?:volume\s+of\s+(?:the\s+)?)?"
        r"(?:background\s+)?(?:music|song|bgm|soundtrack)(?:\s+volume)?"
        r"|\b(?:music|bgm|soundtrack)\s+(?P<amt>a\s+(?:bit|little)\s+|much\s+|slightly\s+)?(?P<dir2>louder|quieter|softer)\b"
        r"|\b(?P<dir3>louder|quieter|softer)\s+(?:background\s+)?music\b",
        lambda m, q: _music_relative_either(m, q),
    ),
    (
        "music_volume_zh",
        rf"(?:把|将)?\s*{_ZMUSIC}\s*(?:的)?\s*(?:音量|声音)?\s*"
        r"(?:调到|调成|调为|设为|设置为|设成|改为|改成|调整到|调整为|降到|降低到|提高到|调高到|调低到|减小到|加大到|放到|为|到|是|在)?\s*"
        rf"(?P<vol>{VOLUME})",
        _music_volume,
    ),
    (
        "music_relative_zh",
        rf"{_ZMUSIC}\s*(?:的)?\s*(?:音量|声音)?\s*(?P<dir>调大|调高|大声|大一|响一|提高|加大|调小|调低|小声|小一|轻一|降低|减小|低一)"
        r"(?:点|些)?(?P<amt>很多)?|(?P<dir2>调大|调小|降低|提高|调高|调低)\s*(?:背景)?(?:音乐|配乐)(?:的)?(?:音量)?",
        lambda m, q: _music_relative_either(m, q),
    ),
    (
        "add_music_zh",
        r"(?:(?P<verb>加上?|添加|增加|用|配上?|放上?|插入|使用|加入|要)\s*)?"
        rf"(?P<mine>我的|我上传的|自己的|我自己的|上传的)?\s*(?:背景)?\s*(?P<noun>音乐|配乐|歌曲|歌|bgm)"
        rf"(?:\s*(?P<name>{FILE}|{QUOTE}))?(?:\s*,?\s*(?:音量)?\s*(?P<vol>\d+(?:\.\d+)?\s*%|百分之\s*{ZH_NUM}|一半))?",
        _add_music,
    ),
    # --- canvas ---
    (
        "unsupported_quality",
        r"(?P<qual>\b(?:4k|8k|2k|2160p|1440p|4320p|uhd|ultra\s+hd)\b|超高清|蓝光)",
        _quality,
    ),
    (
        "quality",
        r"(?P<qual>\b(?:1080p|1080|full\s*hd|fhd|720p|720|hd\s+ready)\b|全高清|高清|标清)",
        _quality,
    ),
    (
        "aspect_9_16",
        r"\b9\s*[:x×/]\s*16\b|9\s*比\s*16|\byoutube\s+shorts?\b|\binstagram\s+(?:reels?|stor(?:y|ies))\b"
        r"|\b(?:vertical(?:ly)?|portrait|upright|tiktok|tik\s+tok|reels?|shorts|snapchat|stories|phone\s+screen)\b"
        r"|竖屏|竖版|竖的|竖着|竖向|抖音|快手|视频号|小红书",
        _aspect("9:16"),
    ),
    (
        "aspect_16_9",
        r"\b16\s*[:x×/]\s*9\b|16\s*比\s*9|\b(?:landscape|horizontal(?:ly)?|widescreen|wide\s*screen|youtube)\b"
        r"|横屏|横版|横的|横向|宽屏|b站|哔哩哔哩|西瓜视频",
        _aspect("16:9"),
    ),
    ("aspect_1_1", r"\b1\s*[:x×/]\s*1\b|1\s*比\s*1|\bsquare\b|正方形|方形|方屏", _aspect("1:1")),
    (
        "aspect_4_5",
        r"\b4\s*[:x×/]\s*5\b|4\s*比\s*5|\binstagram(?:\s+(?:feed|post))?\b|\binsta\b|\big\s+(?:feed|post)\b|ins帖子",
        _aspect("4:5"),
    ),
    # --- transitions ---
    (
        "cuts",
        r"\b(?:no|without|remove(?:\s+the|\s+all)?|turn\s+off(?:\s+the)?|disable|drop(?:\s+the)?|get\s+rid\s+of(?:\s+the)?|"
        r"skip(?:\s+the)?|lose(?:\s+the)?|stop(?:\s+the)?)\s+(?:transitions?|cross[\s-]?fades?|fades?|dissolves?)\b"
        r"|\b(?:hard|straight|jump|simple|clean|quick|plain)\s+cuts?\b|\bjust\s+cut(?:s|\s+between)?\b"
        r"|\bcut\s+(?:directly|straight)\b|不要转场|去掉转场|取消转场|删除转场|无转场|没有转场|不用转场|硬切|直接切换?|直切",
        _cut,
    ),
    (
        "crossfade",
        rf"(?:(?P<dur>{DURATION})\s*(?:long\s+)?)?(?:\b(?:use|add|with|apply)\s+)?(?:\b(?:smooth|soft|gentle|nice)\s+)?"
        r"(?:\bcross[\s-]?fades?|\bcross[\s-]?dissolves?"
        r"|\bdissolves?|\bfades?\s+between(?:\s+(?:scenes|shots|photos|clips|them))?|\bsmooth\s+transitions?|\btransitions?)\b"
        r"(?:\s+between\s+(?:the\s+)?(?:scenes|shots|photos|clips|pictures|slides|them))?"
        rf"(?:\s+(?:of|lasting)\s+(?P<dur2>{DURATION}))?"
        rf"|(?:(?:加上?|添加|增加|用|使用)\s*)?(?:(?P<dur3>{DURATION})\s*的?\s*)?"
        r"(?:交叉淡化|淡入淡出|叠化|溶解|转场效果|转场|渐变过渡|过渡效果)(?:的?转场|效果)?",
        lambda m, q: _crossfade_either(m, q),
    ),
    # --- motion and clip sound ---
    (
        "no_motion",
        r"\b(?:no|without|remove(?:\s+the)?|turn\s+off(?:\s+the)?|disable|stop(?:\s+the)?)\s+(?:zoom(?:ing)?|motion|"
        r"ken\s+burns|pans?|panning|movement|animation)(?:\s+effects?)?\b|\bkeep\s+(?:the\s+)?(?:photos|pictures|images)"
        r"\s+still\b|\bstatic\s+(?:photos|pictures|images)\b|不要缩放|不要动效|去掉动效|照片不要动|静止",
        _motion("none"),
    ),
    (
        "motion_named",
        rf"\b(?:make\s+|let\s+)?(?P<a>{EN_REF})\s+(?P<motion>zoom[\s_-]in|zoom[\s_-]out|pan[\s_-]left|pan[\s_-]right)\b"
        rf"|\b(?P<motion2>zoom[\s_-]in|zoom[\s_-]out|pan[\s_-]left|pan[\s_-]right)\s+(?:on|for)\s+(?P<a2>{EN_REF})",
        lambda m, q: _motion_either(m, q),
    ),
    (
        "motion_on",
        r"\b(?:add|use|with|apply)\s+(?:some\s+)?(?:ken\s+burns|zoom(?:ing)?|motion|pan\s+and\s+zoom)(?:\s+effects?)?\b"
        r"|加上?动效|加上?缩放",
        _motion("auto"),
    ),
    (
        "mute_clip",
        rf"\bmute\s+(?:the\s+)?(?:sound\s+(?:of|on|in)\s+)?(?P<a>{EN_REF})"
        r"|\bmute\s+(?:the\s+|all\s+)?(?:clips|videos|original\s+(?:sound|audio)|clip\s+(?:sound|audio)|video\s+sound)\b"
        r"|视频原声静音|静音原声|关掉原声|去掉原声|原声静音",
        _clip_volume,
    ),
    (
        "clip_volume",
        rf"\b(?:set\s+)?(?:the\s+)?(?:clip(?:'s)?|video|original)\s+(?:sound|audio|volume)\s+(?:to|at)\s+(?P<vol>{VOLUME})"
        rf"|原声\s*(?:音量)?\s*(?:调到|设为)?\s*(?P<vol2>{VOLUME})",
        lambda m, q: _clip_volume_either(m, q),
    ),
    # --- length of the whole video ---
    (
        "each_duration",
        r"\b(?:make|set|show|hold|keep|display|give)\s+(?:each|every|all(?:\s+of)?(?:\s+the)?|the)\s+"
        rf"(?P<noun>scenes?|photos?|pictures?|images?|clips?|slides?|shots?)\s+(?:for\s+|to\s+|last\s+|be\s+)?"
        rf"(?P<dur>{DURATION})(?:\s+(?:long|each))?(?:\s+each)?"
        rf"|(?P<dur2>{DURATION})\s+(?:per|for\s+each|for\s+every|each|a|an)\s+"
        r"(?P<noun2>scene|photo|picture|slide|image|clip|shot)\b",
        lambda m, q: _each_either(m, q),
    ),
    (
        "each_duration_zh",
        r"每(?:一)?(?:个|张|段)?\s*(?P<noun>场景|照片|图片|镜头|画面|视频|片段)?\s*(?:都)?\s*"
        rf"(?:改成|改为|设为|设置为|显示|停留|持续|为|是)?\s*(?P<dur>{_ZDUR})",
        lambda m, q: _each_either(m, q),
    ),
    (
        "length_relative",
        r"\b(?:make|get)\s+(?:it|the\s+(?:whole\s+)?video|everything)\s+"
        rf"(?:(?P<dur>{DURATION})\s+|(?P<amt>a\s+(?:bit|little)|much|a\s+lot|slightly)\s+)?(?P<cmp>longer|shorter)\b"
        rf"|\b(?P<cmp2>shorten|extend|lengthen)\s+(?:it|the\s+(?:whole\s+)?video)\s+by\s+(?P<dur2>{DURATION})"
        r"|\b(?P<cmp3>shorten|extend|lengthen)\s+(?:it|the\s+(?:whole\s+)?video)\b(?:\s+(?P<amt2>a\s+(?:bit|little)|a\s+lot))?",
        lambda m, q: _length_either(m, q),
    ),
    (
        "length_relative_zh",
        r"(?:把)?(?:视频|整个视频|它)?\s*(?:的)?(?:时长)?\s*"
        rf"(?P<cmp>缩短|延长|加长)\s*(?P<dur>{_ZDUR})|(?:视频)?\s*(?P<cmp2>短|长|缩短|加长)\s*(?P<amt>一点|一些|点|些|很多)",
        lambda m, q: _length_either(m, q),
    ),
    (
        "reverse",
        r"\b(?:reverse|flip|invert)\s+(?:the\s+)?(?:order(?:\s+of\s+(?:the\s+)?(?:scenes|photos|clips|shots|slides))?"
        r"|scenes|scene\s+order|photos|slides)\b|\bplay\s+(?:the\s+)?scenes\s+(?:in\s+reverse|backwards)"
        r"|倒序|顺序反过来|反转顺序|顺序颠倒|颠倒顺序|倒过来排",
        _reverse,
    ),
    (
        "total_duration",
        r"\b(?:make|set|change|cut|trim|shorten|extend|lengthen|bring|get|keep|stretch|reduce|edit|squeeze)\s+"
        r"(?:it|the\s+(?:whole\s+|entire\s+|total\s+|final\s+)?(?:video|thing|movie|slideshow|reel|duration|length|"
        r"runtime|project|montage)|everything|this|that)(?:'s\s+(?:length|duration))?\s+(?:down\s+|up\s+)?"
        rf"(?:to\s+|be\s+|into\s+|at\s+)?(?:exactly\s+|about\s+|around\s+|only\s+|just\s+)?(?P<dur>{DURATION})"
        r"(?:\s+(?:long|total|in\s+total|overall))?",
        _total,
    ),
    (
        "total_duration2",
        r"\b(?:the\s+)?(?:total\s+|overall\s+)?(?:duration|length|runtime|run\s+time)\s*(?:of\s+(?:the\s+)?video\s*)?"
        rf"(?:to|:|=|of|should\s+be|is|at)?\s*(?P<dur>{DURATION})",
        _total,
    ),
    (
        "total_duration_zh",
        r"(?:把|将)?\s*(?:视频|整个视频|全片|成片|它|总时长|时长|长度|总长度|视频时长|视频长度)?\s*(?:的)?(?:总)?(?:时长|长度)?\s*"
        r"(?:改成|改为|变成|做成|剪到|剪成|缩短到|缩短为|延长到|延长为|调整为|调整到|设为|设置为|控制在|压缩到|加长到|缩到|调成|改到)"
        rf"\s*(?P<dur>{_ZDUR})(?:左右|以内)?",
        _total,
    ),
    ("total_duration_zh2", rf"(?:总)?(?:时长|长度)\s*:?\s*(?:为|是)?\s*(?P<dur>{_ZDUR})", _total),
    ("bare_duration", rf"(?P<dur>{DURATION})(?:\s*-?\s*long)?", _bare_duration),
    # --- what a new video is made of ---
    (
        "saying",
        rf"\b(?:saying|that\s+says|with\s+the\s+(?:text|words|message))\s*{TEXT_EN}(?(u){TERM_EN})",
        _saying,
    ),
    (
        "no_media",
        rf"\b(?:without|no|not\s+using|don'?t\s+use)\s+(?:my\s+|the\s+|any\s+)?(?:uploaded\s+)?{_MEDIA_NOUNS}"
        r"|不用(?:我的)?(?:照片|图片|素材)|不要用(?:我的)?(?:照片|图片|素材)",
        _no_media,
    ),
    (
        "media_source",
        r"\b(?:from|of|with|using|use|out\s+of)\s+(?:all\s+)?(?:of\s+)?(?:my|these|the|those|our)\s+(?:uploaded\s+|new\s+)?"
        rf"{_MEDIA_NOUNS}(?:\s+(?:and|&)\s+{_MEDIA_NOUNS})?\b"
        r"|(?:用|拿|把|使用|根据|从)\s*(?:我的|我上传的|这些|那些|上传的|所有的?|全部的?)?\s*"
        r"(?:照片|图片|相片|素材|视频片段|片段|文件|图)(?:和(?:视频|片段|照片|图片))?",
        _use_media,
    ),
    (
        "subject",
        r"\b(?:about|for|of|on|showing|featuring|promoting|advertising|celebrating|introducing)\s+"
        rf"(?P<s>(?:(?!\s(?:with|and|in|on|for|at|using|from|set|that|lasting|to|as|then)\b)[^,.;:!?{MASK}{QOPEN}])+)",
        _subject,
    ),
    (
        "subject_zh",
        rf"(?:关于|介绍|宣传)\s*(?P<s>[^,;:!?。的{MASK}{QOPEN}]{{1,30}})的?"
        rf"|(?:给|为)\s*(?P<s2>[^,;:!?。{MASK}{QOPEN}]{{1,15}}?)\s*(?:做|制作|生成)",
        lambda m, q: _subject_either(m, q),
    ),
]


def _trim_which(m: re.Match[str], q: list[str]) -> list[Op] | None:
    which: Literal["start", "end"] = "start" if m["which"].lower() in ("start", "beginning", "front") else "end"
    return _trim_cut(which)(m, q)


def _each_either(m: re.Match[str], q: list[str]) -> list[Op] | None:
    groups = m.groupdict()
    raw_dur, noun = groups.get("dur") or groups.get("dur2"), groups.get("noun") or groups.get("noun2") or ""
    ms = parse_duration(raw_dur) if raw_dur else None
    if not ms:
        return None
    probe = parse_ref(f"{noun} 1" if noun.isascii() else f"{noun}1", q) if noun else None
    return [SetEachDuration(ms, probe.kind if probe else None)]


def _length_either(m: re.Match[str], q: list[str]) -> list[Op] | None:
    groups = m.groupdict()
    word = (groups.get("cmp") or groups.get("cmp2") or groups.get("cmp3") or "").lower()
    raw_dur = groups.get("dur") or groups.get("dur2")
    amount = (groups.get("amt") or groups.get("amt2") or "").lower()
    longer = bool(re.search(r"longer|extend|lengthen|延长|加长|^长", word))
    if raw_dur:
        ms = parse_duration(raw_dur)
        return [ChangeLength(delta_ms=ms if longer else -ms)] if ms else None
    step = 0.25
    if re.search(r"much|lot|很多", amount):
        step = 0.5
    elif re.search(r"bit|little|slightly|点|些", amount):
        step = 0.15
    return [ChangeLength(factor=1 + step if longer else 1 - step)]


def _swap_pair(m: re.Match[str], q: list[str]) -> list[Op] | None:
    probe = parse_ref(f"{m['noun']} 1", q)
    kind = probe.kind if probe else None
    if m["which"].lower() == "first":
        return [SwapScenes(Ref(1, kind), Ref(2, kind))]
    return [SwapScenes(Ref(-2, kind), Ref(-1, kind))]


def _swap_ordinals(m: re.Match[str], q: list[str]) -> list[Op] | None:
    a, b = parse_ref(f"{m['o1']} {m['noun']}", q), parse_ref(f"{m['o2']} {m['noun']}", q)
    return [SwapScenes(a, b)] if a and b else None


def _add_music_named(m: re.Match[str], q: list[str]) -> list[Op] | None:
    name = _name(m["name"], q)
    volume = parse_volume(m["vol"]) if m.groupdict().get("vol") else None
    return [AddMusic(mine=True, name=name, volume=volume)] if name else None


def _music_volume_either(m: re.Match[str], q: list[str]) -> list[Op] | None:
    volume = parse_volume(m["vol"] or m["vol2"] or m["vol3"] or "")
    return [SetMusicVolume(volume=volume)] if volume is not None else None


def _music_relative_either(m: re.Match[str], q: list[str]) -> list[Op] | None:
    groups = m.groupdict()
    direction = groups.get("dir") or groups.get("dir2") or groups.get("dir3")
    if not direction:
        return None
    step = 0.25
    amount = (groups.get("amt") or "").lower()
    if "much" in amount or "lot" in amount or "很多" in amount:
        step = 0.5
    elif "bit" in amount or "little" in amount or "slightly" in amount:
        step = 0.15
    return [SetMusicVolume(delta=step if _UP.search(direction) else -step)]


def _crossfade_either(m: re.Match[str], q: list[str]) -> list[Op]:
    ms = _dur(m) or _dur(m, "dur2") or _dur(m, "dur3")
    return [SetTransition("crossfade", ms)]


def _motion_either(m: re.Match[str], q: list[str]) -> list[Op] | None:
    groups = m.groupdict()
    raw, ref_raw = groups.get("motion") or groups.get("motion2"), groups.get("a") or groups.get("a2")
    if not raw or not ref_raw:
        return None
    ref = parse_ref(ref_raw, q)
    motion = re.sub(r"[\s_-]+", "_", raw.lower())
    return [SetMotion(motion, ref)] if ref else None


def _clip_volume_either(m: re.Match[str], q: list[str]) -> list[Op] | None:
    volume = parse_volume(m["vol"] or m["vol2"] or "")
    return [SetClipVolume(volume)] if volume is not None else None


def _subject_either(m: re.Match[str], q: list[str]) -> list[Op] | None:
    raw = m["s"] or m["s2"]
    if not raw:
        return None
    proxy = re.match(r"(?P<s>.*)", raw, re.S)
    return _subject(proxy, q) if proxy else None


# Python's \b sees a boundary only between word and non-word characters, and CJK characters are
# word characters: "改成720p" has no \b before the 7. The rules use an ASCII-only boundary instead.
_ASCII_B = r"(?:(?<![A-Za-z0-9_])(?=[A-Za-z0-9_])|(?<=[A-Za-z0-9_])(?![A-Za-z0-9_]))"
# Digit runs are bounded too: an unbounded \d+ in front of an optional unit rescans a long number from
# every position (quadratic); no instruction needs a seven-digit number.


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace(r"\b", _ASCII_B).replace(r"\d+", r"\d{1,6}"), re.I)


RULES = [Rule(name, _compile(pattern), handler) for name, pattern, handler in RULES_SPEC]
_CREATE_RULES = [rule for rule in RULES if rule.name in ("create", "create_from_media", "create_zh")]

# --- what is left over ------------------------------------------------------------------------

# Glue words: a leftover made only of these was not an instruction the grammar missed.
_FILLER_WORDS = """
    a an the and then also please pls plz it its it's this that these those video videos make made can could
    would will you u i i'd i'm we want wanna need like to me us my our for with of in on at is be should now
    just ok okay thanks thank hey hi so too as well one some do go but plus oh yes yeah great nice cool perfect
    awesome looks good sure again instead actually maybe kindly right from into turn using use together put all
    out long total version edit change set update little bit more really very slideshow movie reel montage clip
    clips short film new quick simple fun photos pictures images pics uploads files media uploaded please!
    let's lets give get have has here there what how about mine your yours are was were been being by up down
    off over them they alright hmm um uh let lovely beautiful nicely something thing things done finally first
    second seconds sec secs convert switch format mode size ratio aspect layout orientation between scenes
    scene each other whole entire look
"""
_FILLER_EN = frozenset(_FILLER_WORDS.split())
_FILLER_ZH = re.compile(
    r"请|帮我|帮忙|麻烦|给我|把|将|一下|吧|了|的|和|并且|并|然后|再|也|同时|视频|这个|它|谢谢|好的|好|我想|我要|想要|能不能|可以|吗|呢|啊|呀|"
    r"要|让|用|我|上传|照片|图片|素材|一个|一段|个|做|制作|生成|下|都|全部|所有|就|还|顺便|另外|以及|还有|嗯|哦|那|就是|一点|点|"
    r"给|成|设置|改|调|弄|帮|你|们|这|段|张|些|新|吧|哈|嘛|呗|整个|出来|出|一|来|在|里|中|上|"
    r"尺寸|比例|格式|画面|版本|模式|样子|效果|场景|顺序|位置"
)


_LEADING_GLUE = re.compile(r"^(?:(?:and|then|also|please|plus|but)\s+|再|然后|并且|还要|还|也|并|同时|另外)+", re.I)


def _leftovers(masked: str, quotes: list[str]) -> list[str]:
    chunks = re.split(rf"{MASK}+|[,;!?。.:]+(?:\s|$)|[,;!?。]|\s+(?:and|then|also|plus)\s+|然后|并且", masked)
    unknown: list[str] = []
    for chunk in chunks:
        text = restore(chunk, quotes).strip(" .,;:!?-—'\"")
        text = _LEADING_GLUE.sub("", text).strip()
        if not text:
            continue
        words = re.findall(r"[a-z0-9'%]+", text.lower())
        content_en = [w for w in words if w not in _FILLER_EN and not w.isdigit()]
        content_zh = _FILLER_ZH.sub("", "".join(re.findall(r"[\u3400-\u9fff]", text)))
        if content_en or content_zh or (QOPEN in chunk):
            unknown.append(text)
    return unknown


def scan(text: str, quotes: list[str]) -> tuple[list[Op], list[str]]:
    """The operations in ``text`` in the order written, and the parts no rule understood."""
    chars = list(text)
    found: list[tuple[int, int, Op]] = []
    order = 0
    for rule in RULES:
        current = "".join(chars)
        for match in rule.pattern.finditer(current):
            start, end = match.span()
            if end <= start or MASK in current[start:end]:
                continue
            ops = rule.handler(match, quotes)
            if ops is None:
                continue
            for op in ops:
                found.append((start, order, op))
                order += 1
            chars[start:end] = MASK * (end - start)
    found.sort(key=lambda item: (item[0], item[1]))
    return [op for _, _, op in found], _leftovers("".join(chars), quotes)


_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[。!?\n]")
_AFTER_LABEL = re.compile(r"(?:title|caption|subtitle|text|called|titled|标题|字幕|题目)\s*$", re.I)
# "with this text: ..." / "with the following words: ..." introduces the description, not one caption.
_AFTER_TEXT_INTRO = re.compile(
    r"\b(?:with|using|from)\s+(?:the\s+|this\s+|these\s+|my\s+|some\s+)?(?:following\s+)?"
    r"(?:text|words|lines|message|script|sentences)\s*$",
    re.I,
)
# A colon between digits is a ratio or a clock time ("9:16", "7:30"), never the start of a description.
_DESCRIPTION_COLON = re.compile(r"(?<!\d):|:(?!\d)")


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?;])\s+|(?<=[。!?;])|\n+", text)
    return [p.strip() for p in parts if p and p.strip(" .。")]


def _caption_text(sentence: str, quotes: list[str]) -> str:
    text = restore(sentence, quotes).strip()
    return cjk_punctuation(re.sub(r"[.。]+$", "", text).strip())


def parse(instruction: str) -> Parsed:
    """Read an instruction into operations; markers are folded, so Create (if any) comes first."""
    text, quotes = prepare(instruction)
    head, tail = text, ""
    create = min(
        (m for rule in _CREATE_RULES if (m := rule.pattern.search(text))),
        key=lambda m: m.start(),
        default=None,
    )
    if create:
        found = _DESCRIPTION_COLON.search(text, create.end())
        colon = found.start() if found else -1
        end = _SENTENCE_END.search(text, create.end())
        labelled = colon != -1 and bool(_AFTER_LABEL.search(text[:colon]))
        if labelled and _AFTER_TEXT_INTRO.search(text[:colon]):
            labelled = False
        if colon != -1 and (end is None or end.start() > colon) and not labelled:
            head, tail = text[:colon], text[colon + 1 :]
        elif end:
            head, tail = text[: end.end()], text[end.end() :]
    ops, unknown = scan(head, quotes)
    if unknown and not any(isinstance(op, CreateMark | UseMedia) for op in ops):
        unknown += [op.text for op in ops if isinstance(op, Duration)]
        ops = [op for op in ops if not isinstance(op, Duration)]
    captions: list[str] = []
    for sentence in _sentences(tail):
        sub_ops, sub_unknown = scan(sentence, quotes)
        if sub_ops and not sub_unknown and not any(isinstance(op, Subject | Duration) for op in sub_ops):
            ops.extend(sub_ops)
        else:
            captions.append(_caption_text(sentence, quotes))
    return Parsed(_fold(ops, captions), unknown)


_PLATFORMS = re.compile(
    r"tiktok|tik tok|youtube|instagram|insta|reels?|shorts|snapchat|stories|抖音|快手|视频号|小红书|b站", re.I
)


def _one_aspect(ops: list[Op]) -> list[Op]:
    """One aspect per instruction: a shape ("square") wins over a platform ("for Instagram")."""
    aspects = [op for op in ops if isinstance(op, SetAspect)]
    if len(aspects) < 2:
        return ops
    shaped = [op for op in aspects if not _PLATFORMS.search(op.platform or "")]
    keep = (shaped or aspects)[0]
    return [op for op in ops if not isinstance(op, SetAspect) or op is keep]


def _one_transition_length(ops: list[Op]) -> list[Op]:
    """ "转场用0.5秒的交叉淡化" reads as two crossfades; the one with a length says it all."""
    timed = {op.style for op in ops if isinstance(op, SetTransition) and op.duration_ms is not None}
    return [op for op in ops if not (isinstance(op, SetTransition) and op.duration_ms is None and op.style in timed)]


def _fold(ops: list[Op], captions: list[str]) -> list[Op]:
    ops = _one_transition_length(_one_aspect(ops))
    unique: list[Op] = []
    for op in ops:
        if op not in unique or isinstance(op, AddCaption):
            unique.append(op)
    ops = unique
    creating = any(isinstance(op, CreateMark | UseMedia) and getattr(op, "use", True) for op in ops)
    if not creating:
        out: list[Op] = []
        for op in ops:
            if isinstance(op, Duration):
                out.append(SetTotalDuration(op.duration_ms))
            elif not isinstance(op, CreateMark | UseMedia | Subject | Saying):
                out.append(op)
        return out
    create = Create(sentences=tuple(captions))
    rest: list[Op] = []
    for op in ops:
        if isinstance(op, Duration | SetTotalDuration) and create.duration_ms is None:
            create = replace(create, duration_ms=op.duration_ms)
        elif isinstance(op, SetTitle) and op.text and create.title is None:
            create = replace(create, title=op.text)
        elif isinstance(op, SetAspect) and create.aspect is None:
            create = replace(create, aspect=op.aspect)
        elif isinstance(op, SetQuality) and op.quality in ("1080p", "720p") and create.quality is None:
            create = replace(create, quality=op.quality)
        elif isinstance(op, SetTransition) and create.transition is None:
            create = replace(create, transition=op.style, transition_ms=op.duration_ms)
        elif isinstance(op, SetEachDuration) and create.each_ms is None:
            create = replace(create, each_ms=op.duration_ms)
        elif isinstance(op, Subject) and create.subject is None:
            create = replace(create, subject=op.text)
        elif isinstance(op, Saying):
            create = replace(create, sentences=(*create.sentences, *_split_saying(op.text)))
        elif isinstance(op, UseMedia) and not op.use:
            create = replace(create, use_media=False)
        elif isinstance(op, RemoveMusic | RemoveTitle | RemoveCaptions | CreateMark | UseMedia | Subject | Duration):
            continue  # "a video without music" asks for nothing to be removed from a new video
        else:
            rest.append(op)
    return [create, *rest]


def _split_saying(text: str) -> list[str]:
    return [re.sub(r"[.。]+$", "", s).strip() for s in _sentences(text)] or [text]
