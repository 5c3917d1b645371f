"""Route the free text given to the `generate` tool: a stream turn, or a cheaper non-stream action.

The contract's routing table says "export" / "credits" / "status" / "upload" are answered without
the stream. Spending a stream turn (and the user's credits) on "send me the video" is wasteful, but
routing "make a video about export regulations" to export would be worse. So the rule is strict:

    A non-stream intent fires only when the WHOLE message (after politeness is stripped) is that
    command: "export it", "how many credits do I have", "状态", "帮我 export 一下".

A keyword merely appearing somewhere ("a credits roll at the end", "make a status update video")
never routes; those messages go to the stream. Each intent is a handful of anchored patterns over
a small vocabulary (verb, object, modifiers), so when a phrase routes wrongly, the fix is a word
in a list, not a retrained model. :func:`route` also reports which rule fired (``reason``).

Two more rules:

* upload needs a file path or URL in the text; "upload" without one goes to the stream. Files
  plus another instruction ("add music.mp3 as background music") go to the stream with the
  files listed in ``sources`` (the caller uploads them first).
* a creation/edit instruction that ends with an export command ("make it, then send me the
  video", "生成后导出") goes to the stream with ``also_export`` set.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["Intent", "Route", "route"]

Intent = Literal["export", "credits", "state", "upload", "generate"]


class Route(BaseModel):
    intent: Intent
    sources: list[str] = Field(
        default_factory=list,
        description="File paths and URLs found in the text (what to upload, or an export destination).",
    )
    also_export: bool = Field(default=False, description="A generate that also asks for the finished video.")
    reason: str = Field(description="Which rule decided, in a few words.")


# --- sources: URLs and file paths -----------------------------------------------------------

_MEDIA_EXT = r"(?:mp4|mov|avi|webm|mkv|m4v|jpe?g|png|gif|webp|heic|mp3|wav|m4a|aac|flac|ogg)"
_SOURCE = re.compile(
    r"""
      (?:https?|file)://[^\s<>"'“”‘’「」『』《》()\[\]{}，。、；！？]+       # URL
    | "(?:[A-Za-z]:\\|~?/|\.{1,2}/)[^"\n]+"                               # quoted path (may hold spaces)
    | [A-Za-z]:\\[^\s"'<>|，。；]+                                        # Windows path
    | (?<![\w/\\.:-])(?:~|\.{1,2})?/(?:[^\s/"'<>|，。；]+/)*[^\s/"'<>|，。；]+\.\w{1,5}   # POSIX path with extension
    | (?<![\w/\\.:-])[\w\-\u4e00-\u9fff]+(?:\.[\w\-]+)*\."""
    + _MEDIA_EXT
    + r"""(?![\w.])                                                       # bare media file name
    """,
    re.X | re.I,
)
_SRC = "\ue001"  # stands in for a source in the normalised text (a private-use character, never \w)


def _find_sources(text: str) -> tuple[list[str], str]:
    """The sources in the text, and the text with each replaced by the placeholder."""
    sources: list[str] = []
    for match in _SOURCE.finditer(text):
        value = match.group(0).strip('"').rstrip(".,;:!?)")
        if value and value not in sources:
            sources.append(value)
    return sources, _SOURCE.sub(f" {_SRC} ", text)


# --- normalisation -------------------------------------------------------------------------

_CJK = r"\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
# Politeness and discourse words around a command. Stripping them before matching is what lets
# the anchored patterns stay simple ("could you please export it for me?" -> "export it").
_LEADING = re.compile(
    r"""^(?:(?:
        (?:please|pls|plz|kindly|ok|okay|hey|hi|hello|yo|so|now|just|then|alright|also|and|nemo|nemovideo)\b
      | (?:can|could|would|will)\s+(?:you|u)\b
      | (?:can|could|may)\s+i\b
      | i\s+(?:want|need|would\s+like|wanna|'d\s+like)\s+(?:you\s+)?to\b | i'd\s+like\s+to\b | i\s+wanna\b
      | let's\b | lets\b | let\s+me\b | go\s+ahead\s+and\b | help\s+me(?:\s+to)?\b | time\s+to\b
      | (?:looks\s+(?:great|good|perfect|nice|amazing)|perfect|great|awesome|nice|love\s+it|good|cool
         |excellent|thanks|thank\s+you|yes|yep|sure|wow|amazing|done)\s*[!.,]+   # "Perfect! Export it."
      | 请你?|麻烦你?|帮我|帮忙|你能|您能|你可以|您可以|能不能|能否|我想要?|我要|我需要
      | 现在|那就|直接|先|可以|好的?[,，!！。]?
      | (?:很好|不错|完美|太棒了|可以了|行)[,，!！。]+
    )[\s,，]*)+""",
    re.X,
)
# Trailing politeness is stripped from the end by hand, not with a regex anchored at $: a
# searched "(...)+$" rescans a long run of fillers from every position (quadratic time).
_TRAILING_WORDS = (
    "right now", "thank you", "for me", "please", "pls", "plz", "now", "asap", "thanks", "thx", "again",
    "好不好", "可以吗", "好吗", "行吗", "谢谢", "谢了", "吧", "呢", "吗", "啊", "呀", "嘛", "哈", "了",
)  # fmt: skip
_EDGE_CHARS = " \t\n.!?。！？~～…,，、;；:："
_FILLER_ANYWHERE = re.compile(r"一下|帮我")  # pure filler in Chinese: "查一下积分" = "查积分"


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = _FILLER_ANYWHERE.sub("", text)
    text = re.sub(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])", "", text)  # spaces between Chinese characters
    return re.sub(r"\s+", " ", text).strip()


def _strip_trailing(text: str) -> str:
    end = len(text)
    while True:
        while end and text[end - 1] in " ,，":
            end -= 1
        for word in _TRAILING_WORDS:
            start = end - len(word)
            # English words only as whole words: "know" does not end with the filler "now".
            if (
                start >= 0
                and text.startswith(word, start)
                and (not word.isascii() or not text[start - 1 : start].isalnum())
            ):
                end = start
                break
        else:
            return text[:end]


def _strip_fillers(text: str) -> str:
    while True:
        before = text
        text = _LEADING.sub("", text.strip(_EDGE_CHARS))
        text = _strip_trailing(text).strip(_EDGE_CHARS)
        if text == before:
            return text


# --- the command patterns (matched against the whole normalised message) -------------------

# "the result": what export/download/send can take as an object. Anything else ("export
# regulations", "download music from youtube") is not a request for our video.
_RESULT = r"""(?:it|this|that|them|everything|the\s+whole\s+thing
    |(?:the|my|our)\s+(?:(?:final|finished|whole|edited|complete|full|rendered|current|latest|new)\s+)*
       (?:video|videos|cut|edit|result|project|movie|film|clip|file|mp4|draft|reel|output|timeline|video\s+file))"""
_EXPORT_MODS = rf"""(?:\s+(?:now|again|please|for\s+me|locally
    |as\s+(?:an?\s+)?(?:mp4|video|file)|to\s+mp4|in\s+mp4
    |(?:in|at)\s+(?:1080p|720p|4k|hd|full\s+hd|high\s+quality|high\s+res(?:olution)?)
    |when\s+(?:it's|it\s+is|you're|you\s+are)\s+(?:done|ready|finished)
    |to\s+(?:my\s+)?(?:computer|desktop|disk|downloads?|device|laptop|phone)
    |(?:to|into|as)\s+{_SRC}))*"""
_EXPORT_EN = rf"""(?:
      (?:export|download|render|save)(?:\s+{_RESULT})?{_EXPORT_MODS}
    | (?:send|give|deliver|pass)\s+(?:me\s+)?{_RESULT}(?:\s+(?:to\s+me|over|back))?{_EXPORT_MODS}
    | (?:send|give)\s+(?:me\s+)?(?:the\s+)?(?:download\s+)?(?:link|url|mp4|file)(?:\s+to\s+the\s+video)?{_EXPORT_MODS}
    | (?:get|grab|fetch|have)\s+(?:me\s+)?(?:the|my)\s+(?:(?:final|finished|rendered)\s+)?(?:video|mp4|cut|video\s+file)
    | (?:download|export)\s+link
    | (?:the\s+)?(?:final\s+)?video\s+(?:file\s+)?please
    )"""
# Questions about getting the video; only ever matched as the whole message.
_EXPORT_EN_QUESTION = rf"""(?:
      (?:how|where)\s+(?:do|can|should|could)\s+i\s+(?:export|download|get|save)(?:\s+{_RESULT})?
    | i\s+(?:want|need|'d\s+like|would\s+like)\s+{_RESULT}
    | where(?:'s|\s+is)\s+(?:my|the)\s+(?:final\s+)?(?:video|mp4|file|download(?:\s+link)?)
    | is\s+(?:it|the\s+video|my\s+video)\s+ready\s+(?:to|for)\s+(?:download|export)
    )"""
_RESULT_ZH = (
    r"(?:视频|成片|影片|作品|项目|结果|文件|它|这个|那个|最终视频|最终版本?|成品|mp4|video|the\s+video|it|this)"
)
_EXPORT_ZH = rf"""(?:
      (?:把|将)?\s*{_RESULT_ZH}?\s*(?:给我)?\s*(?:导出|下载|渲染|输出)(?:来|出来|下来)?
      \s*(?:成|为|到)?\s*(?:mp4|视频|文件|本地|电脑|成片|高清|1080p|720p|4k|video|the\s+video|it)?(?:格式|视频)?
    | (?:把|将)?\s*{_RESULT_ZH}?\s*(?:发|传)(?:给)?我\s*{_RESULT_ZH}?
    | 给我\s*{_RESULT_ZH}
    | (?:导出|下载)(?:链接|地址)
    | (?:export|download|render)\s*{_RESULT_ZH}
    | (?:把|将)?\s*{_RESULT_ZH}?\s*(?:export|download|render)(?:来|出来|下来)?
    )"""
_EXPORT_ZH_QUESTION = r"(?:怎么|如何|怎样|在哪里?|在哪儿)(?:导出|下载|保存)(?:视频|成片)?|视频(?:在哪里?|呢)"

_CREDIT = r"(?:credits?|balance|credit\s+balance)"
_CREDITS_EN = rf"""(?:
      (?:(?:my|current|remaining|available|account|credit)\s+)*{_CREDIT}
        (?:\s+(?:left|remaining|balance|status|check|info|available))*
    | (?:check|show|see|view|get|display|tell\s+me|what\s+are|what's|what\s+is|whats|look\s+up|check\s+on)
        \s+(?:me\s+)?(?:(?:my|the|our|current|remaining|available|account|credit)\s+)*{_CREDIT}
        (?:\s+(?:left|remaining|balance|now|status))?
    | how\s+(?:many|much)\s+{_CREDIT}
        (?:\s+(?:do|does|have|has|are|is|did|i|we|got|left|remaining|still|there|available|in|on|my|account))*
    | how\s+much\s+(?:is\s+)?(?:left|remaining)\s+(?:in|on)\s+my\s+(?:account|balance)
    | (?:do|have)\s+i\s+(?:still\s+)?(?:have|got)\s+(?:enough|any)\s+credits?(?:\s+(?:left|remaining))?
    | (?:am\s+i|are\s+we)\s+(?:out\s+of|low\s+on|running\s+low\s+on)\s+credits?
    | is\s+my\s+balance\s+(?:enough|ok|okay|sufficient|low)
    | (?:how\s+(?:do|can)\s+i\s+)?(?:get|buy|top\s+up|purchase)\s+more\s+credits
    )"""
_CREDIT_ZH = r"(?:积分|余额|点数|额度|credits?|balance)"
_CREDITS_ZH = rf"""(?:
      (?:查询|查看|查|看看|看|显示|告诉我|show|check)?\s*(?:我的|账户|账号|剩余|当前|可用|的)*\s*{_CREDIT_ZH}
        \s*(?:余额|还剩多少|还有多少|剩多少|有多少|多少|够不够|够吗|还够吗|是多少|情况|还有吗|剩余|还剩几个)?
    | (?:我)?还(?:剩|有)(?:多少|几个?)?\s*{_CREDIT_ZH}
    | (?:多少|几个?)\s*{_CREDIT_ZH}
    | {_CREDIT_ZH}\s*(?:还)?(?:够|足够)(?:不够|么)?
    )"""

_STATE_NOUN = r"(?:status|state|progress|timeline|tracks?|draft|layers)"
_STATE_EN = rf"""(?:
      (?:(?:the|my|current|project|session|timeline|video|render)\s+)*(?:status|state|progress|timeline|tracks)
        (?:\s+(?:check|so\s+far|now))?
    | (?:show|list|display|view|see|check|get|print|summari[sz]e|describe|give\s+me|tell\s+me
        |what's|what\s+is|whats|what\s+are|how's|how\s+is)
        \s+(?:me\s+)?(?:(?:the|my|all|current|our|project|session|timeline|video)\s+)*{_STATE_NOUN}
        (?:\s+(?:so\s+far|now|again|update|(?:of|on|in)\s+(?:the|my|this)\s+(?:project|video|timeline|draft|session)))*
    | what(?:'s|\s+is|\s+do\s+(?:we|i)\s+have)?\s+(?:on|in)\s+the\s+timeline(?:\s+(?:so\s+far|now|right\s+now))?
    | what\s+tracks\s+(?:do\s+(?:i|we)\s+have|are\s+there|are\s+on\s+the\s+timeline|exist)
    | what\s+does\s+(?:the|my)\s+(?:timeline|project|draft)\s+look\s+like(?:\s+now)?
    | where\s+are\s+we(?:\s+at)?
    | how(?:'s|\s+is)\s+(?:it|the\s+video|the\s+project|my\s+video|everything)\s+(?:going|coming\s+along|looking)
    | (?:give\s+me\s+)?(?:a\s+|an\s+)?(?:status|progress)\s+update
    | is\s+(?:it|the\s+video|my\s+video)\s+(?:done|ready|finished)(?:\s+yet)?
    | (?:show\s+me\s+)?what\s+(?:we|i)\s+have\s+so\s+far | what\s+have\s+(?:we|i)\s+got(?:\s+so\s+far)?
    | {_STATE_NOUN}\s*(?:如何|怎么样|怎样)
    )"""
_STATE_ZH = r"""(?:
      (?:查看|看看|看|显示|列出|查询|查|告诉我|展示|show|check)?\s*(?:当前|现在|目前|项目|我的|所有|全部|的)*\s*
        (?:状态|进度|时间线|时间轴|轨道|草稿|tracks?|timeline|status)(?:如何|怎么样|怎样|是什么|有哪些|情况)?
    | (?:现在|目前|当前)?\s*(?:时间线|时间轴|轨道)\s*上?\s*(?:都)?有\s*(?:什么|哪些)(?:内容|轨道)?
    | (?:视频|它)?(?:做好|完成|弄好|生成好)了?(?:吗|没|没有)?
    )"""

# After the sources are taken out, what may remain of a pure upload message.
_UPLOAD_ONLY = r"""
    (?:(?:upload|import|add|attach|use|take|here's|here\s+is|here\s+are|上传|导入|添加|使用|用)\s*)?
    (?:(?:this|these|that|my|the|a|an|这个|这些|我的)\s*)?
    (?:(?:file|files|video|videos|clip|clips|image|images|photo|photos|picture|pictures|pic|pics|footage|audio
        |music|song|track|logo|media|asset|assets|recording|文件|视频|素材|图片|照片|音乐|音频)\s*)?
    (?:(?:to|into)\s+(?:the\s+|my\s+)?(?:project|session|timeline|editor|nemovideo|nemo)\s*|上去|到项目|到时间线)?
    | (?:把|将)\s*(?:这个|这些|我的)?\s*(?:文件|视频|素材|图片|照片|音乐|音频)?\s*(?:上传|导入)(?:上去|到项目|到时间线)?
    """
_UPLOAD_WORD = re.compile(r"\b(?:upload|import)\b|上传|导入")
_SOURCE_JOINERS = re.compile(rf"\s*(?:,|，|、|&|\band\b|和|以及|及)\s*(?={_SRC})|{_SRC}")


def _compile(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.X)


_EXPORT = _compile(_EXPORT_EN, _EXPORT_ZH)
_EXPORT_QUESTION = _compile(_EXPORT_EN_QUESTION, _EXPORT_ZH_QUESTION)
_CREDITS = _compile(_CREDITS_EN, _CREDITS_ZH)
_STATE = _compile(_STATE_EN, _STATE_ZH)
_UPLOAD = _compile(_UPLOAD_ONLY)

# Where a creation instruction hands over to a follow-up ("..., then export it", "生成后导出").
_EXPORT_AHEAD = r"(?=(?:直接|马上|立刻|就|再|请)?(?:导出|下载|渲染|发给我|发我|给我))"
_THEN = re.compile(
    rf"""\s*[,;，；]?\s*(?:
        \b(?:and\s+then|and|then|after\s+that|afterwards|when\s+(?:it's\s+|it\s+is\s+)?(?:done|finished|ready)
           |once\s+(?:it's\s+|it\s+is\s+)?(?:done|finished|ready))\b
      | 然后|之后|以后|接着|并且|最后|完成后|再
      | (?<=[\u4e00-\u9fff])(?:(?:完|好)了?(?:之?后|以后)?|之?后|以后){_EXPORT_AHEAD}
    )\s*[,，]?\s*|\s*[,;，；]\s*""",
    re.X,
)
_KEYWORDS = re.compile(
    r"\b(?:export|download|render|credits?|balance|status|state|tracks?|upload|import)\b|导出|下载|积分|余额|状态|上传"
)


# Unsure between a free action and a paid one, take the free one: a question (not an instruction) about
# credits, the timeline or the export is answered by that free action. Misrouting it costs the user nothing;
# sending it to the stream costs credits. A question that asks for work ("can you add ...?") still goes to the
# stream, unless it asks what that work would cost ("how many credits will an edit cost?").
_QUESTION = re.compile(
    r"[?？]\s*$|^(?:do|does|did|is|are|am|can|could|will|would|should|how|what|what's|when|where|which|have|has)\b"
    r"|吗\s*[?？]?\s*$|么\s*[?？]?\s*$|多少|够不够|是否|几条|几个|有没有"
)
_ASKS_FOR_WORK = re.compile(
    r"(?<![a-z])(?:make|create|generate|add|put|insert|change|edit|replace|remove|delete|cut|trim|turn|write|produce"
    r"|design|film|animate|apply|set|shorten|lengthen|speed|slow|swap|move|mute|fade)(?![a-z])"
    r"|做|生成|制作|添加|加上|加入|改成|换成|删|剪"
)
# Chinese characters are word characters, so \b never falls between "视频" and "download": ASCII edges.
_CREDIT_WORDS = re.compile(r"(?<![a-z])(?:credits?|balance)(?![a-z])|积分|余额|点数|额度")
_COST_WORDS = re.compile(
    r"(?<![a-z])(?:cost|costs|price|afford|charge[sd]?|pay|free|enough|run\s+out)(?![a-z])"
    r"|够|多少积分|要多少|花多少|费用|免费|收费|多少钱"
)
_STATE_WORDS = re.compile(r"(?<![a-z])(?:timeline|tracks?|status|progress|draft)(?![a-z])|时间线|时间轴|轨道|状态|进度")
_EXPORT_WORDS = re.compile(
    r"(?<![a-z])(?:export(?:ing|ed)?|download(?:ing|ed)?|render(?:ing|ed)?)(?![a-z])|导出|下载|渲染"
)


def _free_question(text: str) -> Intent | None:
    """The free action a question is about, or None when it is not a question about one."""
    if not _QUESTION.search(text):
        return None
    work = bool(_ASKS_FOR_WORK.search(text))
    if _COST_WORDS.search(text) and (_CREDIT_WORDS.search(text) or _EXPORT_WORDS.search(text) or work):
        return "credits"  # "what would it cost": the balance, and the cost rules in the credits answer
    if work:
        return None
    if _CREDIT_WORDS.search(text):
        return "credits"
    if _STATE_WORDS.search(text):
        return "state"  # also "is the timeline ready to export?": the state says whether it is
    if _EXPORT_WORDS.search(text):
        return "export"
    return None


def _is_export_command(text: str) -> bool:
    return bool(_EXPORT.fullmatch(text))


def _ends_with_export(core: str) -> str | None:
    """The trailing export command of "make X, then export it", or None."""
    parts = [p for p in _THEN.split(core) if p and p.strip()]
    if len(parts) < 2:
        return None
    last = _strip_fillers(parts[-1])
    head = _strip_fillers(" ".join(parts[:-1]))
    if head and not _is_export_command(head) and _is_export_command(last):
        return last
    return None


def _shown(core: str) -> str:
    """The normalised message for a reason string, sources shown as <file>."""
    return " ".join(core.replace(_SRC, " <file> ").split())


def route(text: str) -> Route:
    """Decide where a message to `generate` goes. Deterministic; never raises."""
    raw = text if isinstance(text, str) else ""
    sources, with_placeholders = _find_sources(raw)
    core = _strip_fillers(_normalise(with_placeholders))

    if sources:
        rest = _strip_fillers(_SOURCE_JOINERS.sub(" ", core).strip())
        if not rest:
            return Route(intent="upload", sources=sources, reason="upload: the message is only files/URLs")
        if _UPLOAD.fullmatch(rest):
            return Route(intent="upload", sources=sources, reason=f"upload: '{_shown(rest)}' with a file or URL")

    if _is_export_command(core) or (not sources and _EXPORT_QUESTION.fullmatch(core)):
        return Route(
            intent="export", sources=sources, reason=f"export: the message is an export command ('{_shown(core)}')"
        )
    if not sources and _CREDITS.fullmatch(core):
        return Route(intent="credits", reason=f"credits: the message asks for the balance ('{_shown(core)}')")
    if not sources and _STATE.fullmatch(core):
        return Route(intent="state", reason=f"state: the message asks for the timeline/status ('{_shown(core)}')")

    follow_up = _ends_with_export(core)
    asked = None if sources or follow_up else _free_question(_normalise(raw))
    if asked is not None:
        return Route(intent=asked, reason=f"{asked}: a question about it, answered for free ('{_shown(core)}')")
    if follow_up:
        reason = f"generate: an instruction followed by an export command ('{follow_up}')"
    elif sources and _UPLOAD_WORD.search(core):
        reason = "generate: files plus an instruction; upload them, then run the instruction"
    elif _UPLOAD_WORD.search(core):
        reason = "generate: 'upload' without a file path or URL"
    elif keyword := _KEYWORDS.search(core):
        reason = f"generate: mentions '{keyword.group(0)}' but is not that command"
    else:
        reason = "generate: no non-stream command; goes to the stream"
    return Route(intent="generate", sources=sources, also_export=follow_up is not None, reason=reason)
