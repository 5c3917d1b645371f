"""The grammar's vocabulary: numbers, durations, volumes, scene references and quoted text, in English and Chinese.

Regex fragments here carry no named groups, so a rule can embed the same fragment twice
(``swap scene 1 and scene 2``); the rule names the span and the ``parse_*`` function reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# Quoted text is lifted out before matching so that words inside a title never trigger a rule.
QOPEN, QCLOSE = "\ue000", "\ue001"
# Spans already claimed by a rule are overwritten with this, so later rules cannot reuse them.
MASK = "\ue002"
QUOTE = rf"{QOPEN}\d+{QCLOSE}"

_EN_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_EN_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "opening": 1, "last": -1, "final": -1,
    "closing": -1, "ending": -1, "penultimate": -2,
}  # fmt: skip

_SMALL_WORDS = "|".join(sorted(_EN_SMALL, key=len, reverse=True))
_TENS_WORDS = "|".join(_EN_TENS)
_ONES = "one|two|three|four|five|six|seven|eight|nine"
EN_NUM = rf"(?:\d+(?:\.\d+)?|(?:{_TENS_WORDS})(?:[\s-](?:{_ONES}))?\b|(?:{_SMALL_WORDS})\b)"
ZH_DIGITS = "零〇一二两三四五六七八九十百"
ZH_NUM = rf"(?:\d+(?:\.\d+)?|[{ZH_DIGITS}]+)"

_ZH_VALUE = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def zh_number(text: str) -> float | None:
    """Chinese numerals up to the hundreds (十五, 二十五, 一百二十, 两), or plain digits."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    total, current = 0, 0
    for char in text:
        if char in _ZH_VALUE:
            current = _ZH_VALUE[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return float(total + current)


def en_number(text: str) -> float | None:
    words = re.split(r"[\s-]+", text.strip().lower())
    try:
        return float(words[0]) if len(words) == 1 else None
    except ValueError:
        pass
    if len(words) == 1 and words[0] in _EN_SMALL:
        return float(_EN_SMALL[words[0]])
    if words and words[0] in _EN_TENS:
        rest = _EN_SMALL.get(words[1], 99) if len(words) == 2 else 0
        return float(_EN_TENS[words[0]] + rest) if rest < 10 else None
    return None


def number(text: str) -> float | None:
    return en_number(text) if re.search(r"[a-z\d]", text, re.I) else zh_number(text)


# --- durations ---

_EN_UNIT = r"(?:seconds?|secs?|s|minutes?|mins?|hours?|hrs?)"
DURATION = (
    rf"(?:(?:{EN_NUM})\s*-?\s*{_EN_UNIT}\b(?:\s*(?:and\s+)?(?:{EN_NUM})\s*-?\s*(?:seconds?|secs?|s)\b)?"
    r"|half\s+a\s+minute|(?:a|an|one)\s+(?:minute|hour)(?:\s+and\s+a\s+half)?"
    rf"|(?:{ZH_NUM})\s*(?:个)?\s*(?:秒钟?|分钟|分(?![之])|小时)(?:\s*(?:{ZH_NUM})\s*秒钟?|半钟?)?"
    r"|半分钟)"
)
_DUR_PART = re.compile(
    rf"(?P<n>{EN_NUM}|{ZH_NUM}|an?)\s*-?\s*(?:个\s*)?(?P<u>seconds?|secs?|s|minutes?|mins?|hours?|hrs?|秒钟?|分钟|分|小时)",
    re.I,
)
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "秒": 1000, "分": 60_000, "小": 3_600_000}


def parse_duration(text: str) -> int | None:
    """Milliseconds in a duration phrase the DURATION fragment matched."""
    low = text.lower().strip()
    if low in ("half a minute", "半分钟"):
        return 30_000
    total = 0.0
    for part in _DUR_PART.finditer(low):
        raw = part["n"]
        value = 1.0 if raw in ("a", "an") else number(raw)
        if value is None:
            return None
        total += value * _UNIT_MS[part["u"][0]]
    if re.search(r"and a half|半", low):
        unit = 3_600_000 if ("hour" in low or "小时" in low) else 60_000
        total += unit / 2
    return round(total) if total > 0 else None


def seconds(ms: int) -> str:
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    if ms < 100:
        return f"{ms / 1000:.3f}".rstrip("0") + "s"
    return f"{ms / 1000:.1f}".removesuffix(".0") + "s"


# --- volumes ---

VOLUME = (
    rf"(?:\d+(?:\.\d+)?\s*(?:%|percent\b|per\s+cent\b|pct\b)|(?:{EN_NUM})\s+percent\b|百分之\s*(?:{ZH_NUM})"
    r"|half(?:\s+volume)?\b|full(?:\s+volume)?\b|max(?:imum)?(?:\s+volume)?\b|一半|最大|\d+(?:\.\d+)?\b)"
)


def parse_volume(text: str) -> float | None:
    """A volume phrase as a gain 0-2 (100% = 1); None when out of range or unreadable."""
    low = text.lower().strip()
    if low.startswith(("half", "一半")):
        return 0.5
    if low.startswith(("full", "max", "最大")):
        return 1.0
    if low.startswith("百分之"):
        value = zh_number(low[3:])
        percent = value if value is not None else -1.0
    else:
        match = re.match(rf"(\d+(?:\.\d+)?|{EN_NUM})", low)
        if not match:
            return None
        raw = number(match[1])
        if raw is None:
            return None
        is_percent = bool(re.search(r"%|percent|per cent|pct", low))
        # A bare "0.5" or "2" is a gain; a bare "50" is a percentage.
        percent = raw if is_percent or raw > 2 else raw * 100
    if not 0 <= percent <= 200:
        return None
    return round(percent / 100, 4)


def percent(volume: float) -> str:
    return f"{round(volume * 100)}%"


# --- scene references ---

_NOUN_ANY = r"scenes?|shots?|slides?|parts?|segments?|ones?"
_NOUN_IMAGE = r"photos?|pictures?|pics?|images?|stills?|photographs?"
_NOUN_VIDEO = r"video\s+clips?|clips?|videos?|footage"
EN_NOUN = rf"(?:{_NOUN_ANY}|{_NOUN_IMAGE}|{_NOUN_VIDEO})"
_EN_ORD = (
    r"(?:(?:second|next|one)[\s-]to[\s-]last|penultimate|first|second|third|fourth|fifth|sixth|seventh|eighth"
    r"|ninth|tenth|eleventh|twelfth|last|final|opening|closing|ending|\d+(?:st|nd|rd|th))"
)
MEDIA_EXT = r"(?:jpe?g|png|gif|webp|heic|heif|bmp|tiff?|mp4|mov|m4v|webm|avi|mkv|mp3|wav|m4a|aac|ogg|flac|opus)"
# Bounded, so a long run of text with no file name in it is not rescanned from every position.
FILE = rf"(?:[^\s\"'“”‘’,;:!?{MASK}{QOPEN}{QCLOSE}]{{1,100}}\.{MEDIA_EXT}\b)"
_CARDINAL = rf"(?:\d+|{_SMALL_WORDS})\b"
EN_REF = (
    rf"(?:(?:(?:the|my|that|this)\s+)?{_EN_ORD}\s+{EN_NOUN}\b"
    rf"|(?:the\s+)?{EN_NOUN}\s*(?:#\s*|no\.?\s*|number\s+)?{_CARDINAL}"
    r"|(?:the|my|this|that)\s+(?:only\s+)?(?:video\s+clip|clip|photo|picture|image|still)\b(?!\s*(?:#|\d))"
    rf"|(?:the\s+)?(?:(?:photo|picture|image|clip|video|file)\s+)?(?:{FILE}|{QUOTE})"
    r"|(?:the|my|that|this)\s+[a-z][\w-]*\s+(?:photo|picture|image|clip|video|shot|pic)\b)"
)
# Words that can stand before "photo" without being the photo's name ("the new photo").
_NOT_NAMES = {
    "new", "old", "other", "uploaded", "next", "previous", "same", "whole", "only", "very", "last", "first", "video",
    "each", "every", "one", "second", "third", "final", "opening", "closing", "current", "nice", "good", "bad",
}  # fmt: skip
ZH_NOUN = r"(?:场景|镜头|画面|片段|照片|相片|图片|视频|素材|幻灯片|图)"
_ZH_CLASSIFIER = r"(?:个|张|段|幕|条|支|部分)"
ZH_REF = (
    rf"(?:倒数\s*第\s*{ZH_NUM}\s*{_ZH_CLASSIFIER}?\s*{ZH_NOUN}?"
    rf"|第\s*{ZH_NUM}\s*{_ZH_CLASSIFIER}?\s*{ZH_NOUN}?"
    rf"|最后\s*一?\s*{_ZH_CLASSIFIER}\s*{ZH_NOUN}?|最后(?:的)?\s*{ZH_NOUN}"
    rf"|{ZH_NOUN}\s*(?:\d+|[一二三四五六七八九十]+)"
    r"|(?:这|那)(?:个|段)\s*(?:视频片段|视频|片段)|视频片段"
    rf"|(?:照片|图片|视频|文件)?\s*(?:{FILE}|{QUOTE}))"
)
REF = rf"(?:{EN_REF}|{ZH_REF})"


@dataclass(frozen=True)
class Ref:
    """A scene the user pointed at: by position among scenes (of a kind), by file name, or "the only clip"."""

    index: int = 0  # 1-based; negative counts from the end; 0 means "the only one of that kind"
    kind: Literal["image", "video"] | None = None
    name: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"index": self.index}
        if self.kind:
            out["kind"] = self.kind
        if self.name:
            out["name"] = self.name
        return out


def _noun_kind(noun: str) -> Literal["image", "video"] | None:
    noun = noun.lower()
    if re.match(_NOUN_IMAGE, noun) or noun in ("照片", "相片", "图片", "图"):
        return "image"
    if re.match(_NOUN_VIDEO, noun) or noun == "视频":
        return "video"
    return None


def parse_ref(text: str, quotes: list[str]) -> Ref | None:
    low = re.sub(r"\s+", " ", text.strip().lower())
    if found := re.search(rf"{QOPEN}(\d+){QCLOSE}", text):
        return Ref(name=quotes[int(found[1])])
    if found := re.search(FILE, text):
        return Ref(name=found[0])
    if found := re.match(rf"(?:(?:the|my|that|this) )?({_EN_ORD}) ({EN_NOUN})$", low):
        word = found[1]
        if re.match(r"(?:second|next|one)[\s-]to[\s-]last", word):
            index = -2
        elif word[0].isdigit():
            index = int(re.sub(r"\D", "", word))
        else:
            index = _EN_ORDINALS[word]
        return Ref(index=index, kind=_noun_kind(found[2]))
    if found := re.match(rf"(?:the )?({EN_NOUN}) ?(?:# ?|no\.? ?|number )?(\d+|{_SMALL_WORDS})$", low):
        value = number(found[2])
        return Ref(index=int(value), kind=_noun_kind(found[1])) if value else None
    if found := re.match(r"(?:the|my|this|that) (?:only )?(video clip|clip|photo|picture|image|still)$", low):
        return Ref(index=0, kind=_noun_kind(found[1]))
    if found := re.match(r"(?:the|my|that|this) ([a-z][\w-]*) (?:photo|picture|image|clip|video|shot|pic)$", low):
        return None if found[1] in _NOT_NAMES else Ref(name=found[1])
    if found := re.match(rf"(倒数)? ?第 ?({ZH_NUM}) ?{_ZH_CLASSIFIER}? ?({ZH_NOUN})?$", low):
        value = zh_number(found[2])
        if not value:
            return None
        index = -int(value) if found[1] else int(value)
        return Ref(index=index, kind=_noun_kind(found[3] or ""))
    if found := re.match(rf"最后 ?(?:一)? ?(?:{_ZH_CLASSIFIER})? ?(?:的)?({ZH_NOUN})?$", low):
        return Ref(index=-1, kind=_noun_kind(found[1] or ""))
    if re.match(r"(?:这|那)?(?:个|段)? ?(?:视频片段|视频|片段)$", low):
        return Ref(index=0, kind="video")
    if found := re.match(rf"({ZH_NOUN}) ?(\d+|[一二三四五六七八九十]+)$", low):
        value = zh_number(found[2])
        return Ref(index=int(value), kind=_noun_kind(found[1])) if value else None
    return None


# --- text and language ---

_QUOTED = re.compile(
    r"\"([^\"]*)\"|“([^”]*)”|「([^」]*)」|『([^』]*)』|《([^》]*)》|‘([^’]*)’|(?<![\w'])'([^']+)'(?![\w])"
)
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def is_chinese(text: str) -> bool:
    return bool(CJK.search(text))


def prepare(instruction: str) -> tuple[str, list[str]]:
    """NFKC-normalised text with quoted passages replaced by placeholders, and the passages."""
    # Full-width ASCII (１５秒, ：, ％) reads as ASCII; one character for one, unlike NFKC, so nothing else changes.
    text = instruction.translate(_FULLWIDTH)
    # The placeholder characters are ours; a user cannot smuggle them in.
    text = re.sub(f"[{QOPEN}{QCLOSE}{MASK}]", " ", text)
    quotes: list[str] = []

    def lift(match: re.Match[str]) -> str:
        quotes.append(next(g for g in match.groups() if g is not None).strip())
        return f"{QOPEN}{len(quotes) - 1}{QCLOSE}"

    return _QUOTED.sub(lift, text), quotes


_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_CJK_PUNCT = str.maketrans({"!": "！", "?": "？", ",": "，", ":": "：", ";": "；"})


def cjk_punctuation(text: str) -> str:
    """Give back the full-width marks the matcher read as ASCII, where they follow Chinese text."""
    return re.sub(r"(?<=[\u3400-\u9fff])[!?,:;]", lambda m: m[0].translate(_CJK_PUNCT), text)


def restore(text: str, quotes: list[str], marks: bool = True) -> str:
    def put_back(match: re.Match[str]) -> str:
        inner = quotes[int(match[1])]
        if not marks:
            return inner
        return f"“{inner}”" if is_chinese(inner) else f'"{inner}"'

    out = re.sub(rf"{QOPEN}(\d+){QCLOSE}", put_back, text)
    return re.sub(r"\s+", " ", out.replace(MASK, " ")).strip()
