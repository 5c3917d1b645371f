"""Turn the backend's GUI instructions into actions an agent can take.

NemoVideo's agent was built for its web editor, so its replies say "click the Export button",
"open the Music panel", "drag the clip onto the timeline", "在时间线中预览". An MCP user has no
such buttons. :func:`translate_reply` finds those instructions (English and Chinese), removes
them from the text and returns them as :class:`GuiAction` items, following the contract's table:

==============================  ===============  ==========================================
backend says                    action kind      what the caller does
==============================  ===============  ==========================================
click/点击 Export/Download/导出   ``export``       run the export (if the user asked) or offer it
click/点击 Generate/Apply/确认    ``perform``      offer it as a next step (detail = button)
open/打开 the X panel             ``show_state``   answer inline with the session state
drag/drop/拖拽                    ``edit``         offer/send the edit (detail = instruction)
preview in the timeline/预览      ``show_summary`` answer inline with the track summary
==============================  ===============  ==========================================

How it works, in order:

1. **Masking.** Quoted text ("...", '...', “...”, 「...」, 《...》, `code`), URLs, and values of
   titles/names ("Title: Click Here", "a track named Open Road") are masked, so a phrase inside
   them never triggers. The mask keeps string length, so offsets map back to the original.
2. **Units.** Each line is split into sentences, each sentence into clauses (at commas, dashes,
   "and", "then", "，", "然后"...).
3. **Detection.** A clause is a GUI instruction when a pattern matches: verbs in command position
   ("click", "you can preview", "just drag", "请点击"), or a GUI noun anywhere ("the Export
   button", "in the Music panel", "导出按钮").
4. **Rewrite.** A sentence with no GUI clause is kept byte for byte. Otherwise the GUI clause and
   what hangs on it are dropped: clauses after it ("click Export, then pick 1080p"), and the
   conditions/purposes right before it ("To download it, ..." / "如果满意，..."). What is left
   ("I added the music") stays, with the sentence's own end punctuation. Follow-up steps of a
   removed instruction ("Choose 1080p." after "Click Export.") and a list's lead-in line
   ("To export:") go with it.

Everything is regular expressions over a small vocabulary, deterministic and explainable; a
missed phrase is fixed by adding a word, and the corpus in tests/corpus/gui_replies.yaml pins
the behaviour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["GuiAction", "GuiActionKind", "TranslatedReply", "translate_reply"]

GuiActionKind = Literal["export", "show_state", "edit", "show_summary", "perform"]


class GuiAction(BaseModel):
    kind: GuiActionKind
    phrase: str = Field(description="The GUI instruction as the backend wrote it.")
    detail: str | None = Field(
        default=None,
        description="Button or panel name; for edits, the instruction to send (e.g. 'move the clip to the start').",
    )


class TranslatedReply(BaseModel):
    text: str = Field(description="The reply without GUI instructions; everything else verbatim.")
    actions: list[GuiAction] = Field(default_factory=list)


# --- 1. masking ----------------------------------------------------------------------------

_MASK = "\ue000"  # private-use character: not \w, never in patterns, same length as what it hides

_CODE_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_URL = re.compile(r"\b(?:https?|file)://\S+")
# Quotes: the delimiters stay visible (a quoted button name is still an object: Click "Export"),
# only the content is hidden. Single quotes must not be apostrophes ("don't", "users'").
_QUOTE = re.compile(
    r"""(")(?P<c>[^"\n]{1,200})"
      | (“)(?P<c2>[^”\n]{1,200})”
      | (‘)(?P<c3>[^’\n]{1,200})’
      | ([「『《【])(?P<c4>[^」』》】\n]{1,200})[」』》】]
      | (`)(?P<c5>[^`\n]{1,200})`
      | (?<![\w'’])(')(?P<c6>[^'\n]{1,80})'(?![\w])""",
    re.X,
)
# Values of titles and names: "Title: Click Here (0-3s)", "标题：点击有礼".
_LABEL_VALUE = re.compile(
    r"""(?i:\b(?:title|subtitle|caption|heading|headline|text|name|track\s+name|label|overlay)\s*[:：]\s*)
        (?P<v>[^\s"“‘「『《【`'(（]+(?:[ \t][^\s"“‘「『《【`'(（]+)*?)
        (?=\s*+[(（]|\s++[-—–]\s|[.!?;。！？；,，](?:\s|$)|$)
      | (?:标题|字幕|文字|文本|名称|名字)\s*[:：]\s*(?P<v2>[^\n，。；！？,(（"“「『《【]+)""",
    re.X | re.M,
)
# "a track named Open Road", "a title called Click Here", "名为点击有礼的标题".
_NAMED = re.compile(
    r"""(?i:\b(?:named|called|titled|entitled|labell?ed|saying|says|reads|reading))(?:\s*+:)?\s++
        (?P<v>[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*)
      | (?:名为|叫做|标题为|写着|显示为|内容为)\s*(?P<v2>[^\s，。；！？,、"“「『《【]{1,12})""",
    re.X,
)


def _mask_span(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = _MASK


def _mask(text: str) -> str:
    """The text with protected spans hidden; same length, newlines kept."""
    chars = list(text)
    for pattern in (_CODE_FENCE, _URL):
        for match in pattern.finditer(text):
            _mask_span(chars, match.start(), match.end())
    masked = "".join(chars)
    for match in _QUOTE.finditer(masked):
        group = next(g for g in ("c", "c2", "c3", "c4", "c5", "c6") if match.group(g) is not None)
        _mask_span(chars, match.start(group), match.end(group))
    masked = "".join(chars)
    for pattern in (_LABEL_VALUE, _NAMED):
        for match in pattern.finditer(masked):
            group = "v" if match.group("v") is not None else "v2"
            _mask_span(chars, match.start(group), match.end(group))
        masked = "".join(chars)
    return masked


# --- 2. units: lines, sentences, clauses ---------------------------------------------------

_LINE_PREFIX = re.compile(r"^(?:\s*>)*\s*(?:[-*•+]\s+|\d{1,3}[.)]\s+|\d{1,3}、\s*|#{1,6}\s+)?")
_NUMBERED = re.compile(r"^(\s*)(\d{1,3})([.)、])")
# (?<!...): a match starts only at the start of a run of marks (no quadratic rescans of "!!!!...").
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]+[\"'”’)\]*_」』]*(?=\s|$)|[。！？]+[」』”’)*]*")
_TERMINAL = re.compile(r"(?<![.!?。！？])(?:[.!?]+|[。！？]+)[\"'”’)\]*_」』]*\s*$")
# Every alternative that may start with whitespace starts only where whitespace starts ((?<!\s)):
# otherwise a long run of spaces is rescanned from each of its positions (quadratic time).
_CLAUSE_SEP = re.compile(
    r"""(?<!\s)(?:\s*[,;]\s+|\s*：\s*|\s+[—–-]{1,2}\s+|\s*——?\s*|\s*[，；]\s*
        | \s+(?:and\s+then|and|then|or|but|so|where|which)\s+(?!(?:drop|hold|release)\b))
      | :\s+ | (?=然后|接着|并且|或者|但是|不过)""",
    re.X | re.I,
)


@dataclass
class _Clause:
    sep: str  # the separator before it (original text), "" for the first
    text: str  # original
    masked: str


def _pieces(masked: str, separators: re.Pattern[str]) -> list[tuple[int, int, int]]:
    """The text between separators, as (separator_start, start, end); the separator is
    masked[separator_start:start] and belongs to the piece after it."""
    pieces: list[tuple[int, int, int]] = []
    sep_start = start = 0
    for match in separators.finditer(masked):
        if match.start() > start:
            pieces.append((sep_start, start, match.start()))
            sep_start = match.start()
        start = max(start, match.end())
    if start < len(masked) or not pieces:
        pieces.append((sep_start, start, len(masked)))
    return pieces


def _sentences(masked: str) -> list[tuple[int, int, int]]:
    """Sentences keep their end punctuation; the whitespace after one is the next one's separator."""
    pieces: list[tuple[int, int, int]] = []
    sep_start = start = 0
    for match in _SENTENCE_END.finditer(masked):
        if match.end() <= start:
            continue
        pieces.append((sep_start, start, match.end()))
        rest = masked[match.end() :]
        sep_start, start = match.end(), match.end() + len(rest) - len(rest.lstrip())
    if start < len(masked):
        pieces.append((sep_start, start, len(masked)))
    return pieces


def _clauses(text: str, masked: str) -> list[_Clause]:
    return [_Clause(text[s:a], text[a:b], masked[a:b]) for s, a, b in _pieces(masked, _CLAUSE_SEP)]


# --- 3. detection --------------------------------------------------------------------------

# Words that may stand before a command without changing it: "you can now simply click ...".
_PREFIX_EN = re.compile(
    r"""(?:(?:please|kindly|just|simply|now|next|then|first|finally|also|afterwards|after\s+that|and|so|but|or
        |otherwise|alternatively|instead|from\s+there|once\s+there|you\s+can|you\s+could|you\s+may|you\s+might
        |you(?:'|’)ll\s+(?:need|want)\s+to|you\s+will\s+(?:need|want)\s+to|you\s+need\s+to|you\s+should
        |you\s+just\s+need\s+to|you(?:'|’)ll\s+be\s+able\s+to|you\s+will\s+be\s+able\s+to|you\s+are\s+able\s+to
        |all\s+you\s+need\s+to\s+do\s+is|feel\s+free\s+to|go\s+ahead\s+and|try(?:\s+to)?|be\s+sure\s+to
        |make\s+sure\s+(?:to|you)|don(?:'|’)t\s+forget\s+to|remember\s+to|want\s+to|to\s+do\s+(?:this|that|so)
        |here\s+you\s+can|there\s+you\s+can|simply|quickly|easily)\b[\s,]*)*""",
    re.X | re.I,
)
_PREFIX_ZH = re.compile(
    r"(?:请|您可以|你可以|可以|只需|只要|直接|然后|接着|再|之后|最后|现在|先|并且|并|或者|也可以|就可以|即可"
    r"|随时|马上|立即|立刻|但是|不过|另外|您也可以|你也可以|您|你|还可以)*"
)
_LEADING_MARKUP = re.compile(r"[^\w\"“‘'「『《【`\ue000]*")

_QUOTED = r"""(?:"[^"\n]*"|“[^”\n]*”|‘[^’\n]*’|'[^'\n]*'|[「『《【][^」』》】\n]*[」』》】]|`[^`\n]*`)"""
_BOLD = r"\*\*[^*\n]+\*\*"
_BUTTON_WORDS = (
    r"export|download|render|generate|regenerate|apply|confirm|submit|ok|done|preview|play|save|create"
    r"|continue|next|share|publish|upload|retry|start|finish|undo|redo|cancel|close|back|add|insert"
)
_UI_NOUN = r"button|icon|tab|link|menu|option|arrow|checkbox|toggle|panel|switch|sidebar"
# The object of click/tap/press/hit: something that looks like a control.
_OBJECT = rf"""(?P<obj>
      (?i:on\s+)?(?i:the\s+)?(?:{_QUOTED}|{_BOLD})(?:\s+(?i:{_UI_NOUN}))?
    | (?i:on\s+)?(?i:the|that|this|your)\s+(?:[^\s,.;:!?]+\s+){{0,3}}?(?i:{_UI_NOUN})\b
    | (?i:on\s+)?(?i:the\s+)?(?i:{_BUTTON_WORDS})\b(?:\s+(?i:button|icon))?
    | (?i:on\s+)?(?i:the\s+)?[A-Z][\w-]*(?:\s+[A-Z][\w-]*){{0,2}}(?:\s+(?i:{_UI_NOUN}))?
    )"""
# click/tap also take plain objects ("click on the clip", "tap here").
_LOOSE_OBJECT = (
    r"(?P<loose>(?i:on\s+[^,.;:!?\n]{1,60}|here|it|that|this"
    r"|(?:the|a|an|any|each)\s+[\w-]+(?:\s+(?!(?:to|and|or|in|on|at|for|then|so|if)\b)[\w-]+)?))"
)
_CLICK_ANYWHERE = re.compile(
    rf"(?<![\w-])(?i:double[- ]click|right[- ]click|click|tap)\s+(?:{_OBJECT}|{_LOOSE_OBJECT})", re.X
)
_PRESS = re.compile(rf"(?i:press|hit)\s+{_OBJECT}", re.X)
_PANEL_NOUN = (
    r"(?i:panel|tab|menu|sidebar|settings|editor|library|toolbar|inspector|window|dialog|drawer"
    r"|properties|section|timeline|preview|workspace|pane)"
)
_OPEN = re.compile(
    rf"""(?i:open)\s+(?i:it|the\s+(?:project|video|draft))\s+(?i:in)\s+(?i:the\s+)?(?i:web\s+)?
        (?P<obj2>(?i:editor|app))\b
      | (?i:open(?:\s+up)?|go\s+to|head\s+(?:over\s+)?to|navigate\s+to|switch\s+to|jump\s+to|expand
          |bring\s+up|pull\s+up)
        \s+(?P<obj>(?:(?i:the|your)\s+)?(?:{_QUOTED}\s+|{_BOLD}\s+|[^\s,.;:!?]+\s+){{0,3}}?{_PANEL_NOUN})\b""",
    re.X,
)
_DRAG_ANYWHERE = re.compile(
    r"(?<![\w-])(?<!\ba\s)(?<!\bthe\s)(?i:drag)(?:(?:\s*(?:and|&)\s*|-and-|-n-)(?i:drop))?\b"
    r"(?!\s+(?i:queen|race|racing|show|king)\b)"
)
_DROP = re.compile(
    r"(?i:drop)\s+(?i:it|them|this|that|the|your|a|an|files?|clips?|media|images?|videos?)\b"
    r".*\b(?i:onto|into|on|in|to|here|over|at|between)\b"
)
_PLACE = (
    r"(?i:(?:in|on|using|with|from|via)\s+(?:the\s+)?(?:timeline|preview(?:\s+(?:window|panel|player|pane|area))?"
    r"|player|editor|canvas|viewer|monitor))"
)
_SEE_OBJECT = r"(?i:it|this|that|them|everything|the\s+[\w-]+(?:\s+[\w-]+)?|your\s+[\w-]+(?:\s+[\w-]+)?)"
_PREVIEW = re.compile(
    rf"""(?P<pv>(?i:preview|replay|scrub\s+through))\b(?:\s+(?P<pobj>{_SEE_OBJECT}))?(?:\s+(?P<place>{_PLACE}))?
      | (?i:play(?:\s+back)?|watch|view|see|check|review|look\s+at|take\s+a\s+look\s+at|have\s+a\s+look\s+at
          |check\s+out)\b\s*(?:{_SEE_OBJECT}\s+)?{_PLACE}
      | (?i:check|watch|view|see|open|play|look\s+at|take\s+a\s+look\s+at|check\s+out)
        \s+the\s+(?i:preview|timeline)\b""",
    re.X,
)
_EXPORT_CMD = re.compile(
    r"""(?i:export|download|render)
        (?:\s+(?i:it|this|that|them|the\s+(?:final\s+|finished\s+)?(?:video|result|project|clip|file|mp4|edit|cut|movie)
              |your\s+(?:final\s+)?(?:video|project|edit|creation|movie|clip|masterpiece)))?
        (?=\s*+(?:[*_.!?]*+\s*+$|(?i:when|once|if|from|via|using|with|in|at|to|now|as|and|by)\b))""",
    re.X,
)
_GUI_NOUN_ANYWHERE: list[tuple[re.Pattern[str], GuiActionKind]] = [
    (
        re.compile(r"\b(?P<obj>(?i:export|download|render)(?:\s+(?i:video|mp4))?\s+(?i:button|icon|option|menu))\b"),
        "export",
    ),
    (re.compile(r"\b(?P<obj>(?i:preview|play)\s+(?i:button|icon))\b"), "show_summary"),
    (
        re.compile(r"\b(?P<obj>(?i:generate|regenerate|apply|confirm|submit|create|save)\s+(?i:button|icon))\b"),
        "perform",
    ),
    (re.compile(r"\b(?P<obj>[A-Z]\w*(?:\s*>\s*[A-Z][\w ]*?)+)(?=[\s.,;!?]|$)"), "perform"),  # "File > Export"
    (
        re.compile(
            r"""\b(?i:in|from|under|on|via|using|inside|within|at)\s+(?i:the)\s+
                (?P<obj>[A-Z][\w-]*(?:\s+[A-Z][\w-]*){0,2}\s+(?i:panel|tab|sidebar|inspector|toolbar|menu|window|section)
                |(?:[\w-]+\s+){0,2}(?i:panel|sidebar|inspector|toolbar))\b""",
            re.X,
        ),
        "show_state",
    ),
    (
        re.compile(r"\b(?i:in|on)\s+the\s+(?P<obj>(?i:preview)(?:\s+(?i:window|panel|player|pane|area))?)\b"),
        "show_summary",
    ),
]

# Chinese. Verbs are found anywhere in the clause: a location often comes first ("在右上角点击导出").
_ZH_LOCATION = (
    r"(?:(?:页面|屏幕|界面|编辑器)?"
    r"(?:右上角|左上角|右下角|左下角|顶部|底部|上方|下方|右侧|左侧|右边|左边|上面|下面|中间)的?)?"
)
_ZH_BUTTONS = r"重新生成|导出视频|下载视频|导出|下载|渲染|保存|预览|播放|生成|应用|确认|确定|提交|完成|开始|这里|此处"
_ZH_CLICK = re.compile(
    rf"""(?:点击|单击|双击|点按|轻点|轻触|点一下|按一下|按下)(?!量|率|数|次)\s*{_ZH_LOCATION}\s*
        (?P<obj>{_QUOTED}|[A-Za-z][\w ]{{0,20}}?(?=\s*(?:按钮|图标|键|选项|$|[，。；！？,.\s]))
          |[\u4e00-\u9fff]{{1,6}}?(?=按钮|图标|键|选项|标签|面板|菜单)|{_ZH_BUTTONS})?
        \s*(?P<noun>按钮|图标|键|选项|标签页?|面板|菜单)?""",
    re.X,
)
_ZH_OPEN = re.compile(
    r"(?:打开|进入|前往|切换到|展开|点开|转到)\s*(?P<obj>[^\s，。；！？,.]{0,12}?"
    r"(?:面板|菜单|标签页|标签|选项卡|窗口|设置|素材库|音乐库|媒体库|资源库|编辑器|时间线|时间轴|侧边栏|工具栏|属性栏|页面|界面))"
)
_ZH_IN_PANEL = re.compile(
    r"(?:在|于|从)[^，。；]{0,10}?(?P<obj>[^\s，。；在的]{1,8}(?:面板|菜单|标签页|选项卡|侧边栏|工具栏|属性栏))(?:中|里|内|上)?"
)
_ZH_DRAG = re.compile(r"拖(?:拽|动|放|曳|入|到|至|进)")
_ZH_PREVIEW = re.compile(
    r"(?:在|于|到)?(?:时间线|时间轴|预览窗口|预览区|预览面板|播放器)(?:上|中|里|内)?(?:预览|查看|播放|浏览)"
    r"|查看(?:时间线|时间轴|预览)"
)
_ZH_PREVIEW_CMD = re.compile(r"预览(?P<pobj>一下|效果|视频|成品|结果)?")
_ZH_BUTTON_NOUN = re.compile(
    r"(?P<obj>(?:导出|下载|渲染|保存|预览|播放|生成|应用|确认|确定|提交)(?:视频)?)(?:按钮|键|选项)"
)
_ZH_EXPORT_CMD = re.compile(r"导出(?!设置|格式|质量|分辨率|完成|成功|失败|进度|中|的|时|功能|记录|历史|后的|了)")
_ZH_EXPORT_VIA = re.compile(
    r"(?:使用|通过|点|在[^，。；]{0,8}?(?:角|上方|下方|顶部|底部|菜单|页面)的?)\s*(?P<obj>导出|下载)"
)

# Clauses that only make sense with the instruction they lead into or follow.
_FILLER_CLAUSE = re.compile(
    r"(?i:then|next|now|finally|also|first|there|here|tip|note|pro\s+tip|hint|step\s+\d+|ready\??|alternatively"
    r"|otherwise|ok|okay|so|and|or|after\s+that|afterwards|once\s+done|when\s+ready)"
    r"|然后|接着|最后|另外|提示|注意|小贴士|之后"
)
_SUBORDINATE_EN = re.compile(
    r"(?i:if|once|when|whenever|after|before|as\s+soon\s+as|to|in\s+order\s+to|so\s+that|for|should\s+you|now\s+that"
    r"|while|until|and\s+if|so\s+if|and\s+when|then\s+if)\b"
)
_SUBORDINATE_ZH = re.compile(
    r"^(?:如果|若|要是|假如|如需|如要|想要|要|为了|当|待|等|一旦|满意|确认无误)|(?:的话|后|之后|以后|时|时候|前)$"
)
_UI_VERB = re.compile(
    r"""(?:(?i:then|and|next|now|just|simply|finally|also)\s+)*
        (?i:select|choose|pick|find|locate|scroll|hover|highlight|tick|untick|toggle|enable|disable|adjust|set
           |resize|release|hold|wait|confirm|save|type|enter|paste|browse|use|move|slide|zoom)\b
      | (?:然后|再|并|接着)?(?:选择|选中|勾选|设置|调整|确认|找到|滚动|输入|粘贴|等待|保存|使用|切换|拉动|滑动|松开)""",
    re.X,
)
_SEP_PUNCT = re.compile(r"^[\s,;:—–\-，；：]+")
_CONTRAST = re.compile(
    r"(?i:but|however|although|though|or|otherwise|alternatively)\b[\s,]*|(?:或者|但是|不过|另外)[，,]?"
)
# Clauses addressed to the agent/user that survive the instruction they follow ("..., and tell me
# if you want it longer"): they are conversation, not GUI steps.
_TALK_BACK = re.compile(r"(?i:let\s+me\s+know|tell\s+me|ask\s+me|just\s+tell\s+me)\b|告诉我|跟我说|让我知道")


@dataclass
class _Hit:
    kind: GuiActionKind
    detail: str | None


def _clean_name(text: str) -> str:
    """'**the "Export" button**' -> 'Export'."""
    name = re.sub(r"^(?i:on\s+)?(?i:the\s+)?", "", text.strip())
    name = name.strip("*_`\"'“”‘’「」『』《》【】 ")
    name = re.sub(r"\s+(?i:button|icon)$|(?:按钮|图标|键)$", "", name)
    return name.strip("*_`\"'“”‘’「」『』《》【】 ")


def _button_hit(name: str) -> _Hit:
    """What clicking a named control means (Export -> export, Music tab -> show_state...)."""
    low = name.lower()
    if re.search(r"\b(?:export|download|render)\b|导出|下载|渲染", low):
        return _Hit("export", name)
    if re.search(r"\b(?:tab|panel|menu|sidebar|library|settings)\b|面板|菜单|标签|设置|库", low):
        return _Hit("show_state", name)
    if re.search(r"\btimeline\b|时间线|时间轴", low):
        return _Hit("show_summary", name)
    if re.search(r"\b(?:preview|play)\b|预览|播放", low):
        return _Hit("show_summary", name)
    return _Hit("perform", name or None)


def _panel_hit(name: str) -> _Hit:
    low = name.lower()
    if re.search(r"\b(?:export|download)\b|导出|下载", low):
        return _Hit("export", name)
    if re.search(r"\b(?:timeline|preview)\b|时间线|时间轴|预览", low):
        return _Hit("show_summary", name)
    return _Hit("show_state", name)


# "Drag and drop your files here": that is an upload, not an edit.
_UPLOADISH = re.compile(
    r"(?i:\bhere\b|\bto\s+upload\b|\bupload\s+area\b|from\s+your\s+(?:computer|device|desktop)"
    r"|\byour\s+(?:own\s+)?files?\b)"
    r"|这里|此处|上传区|本地|电脑|上传(?!的|过)"
)


def _drag_hit(original: str, verb_end: int, zh: bool) -> _Hit:
    """A drag becomes an edit instruction for the stream ("move the clip to the start")."""
    rest = original[verb_end:].strip(" \t.!?,;:*_。！？，；")
    if _UPLOADISH.search(original):
        return _Hit("perform", "upload")  # "drag and drop your files here": that is the upload tool
    if zh:
        head = _PREFIX_ZH.sub("", original.strip(" \t*_。！？，；"), count=1)
        instruction = re.sub(r"拖(?:拽|动|放|曳)", "移动", head)
        instruction = re.sub(r"拖(?:入|进)", "移入", instruction)
        return _Hit("edit", re.sub(r"拖(?:到|至)", "移到", instruction) or None)
    slider = re.match(r"(?i:the\s+)?(?P<what>[\w-]+(?:\s[\w-]+){0,3}?)\s+slider(?:\s+(?i:to)\s+(?P<to>.+))?$", rest)
    if slider:
        what = slider.group("what")
        return _Hit("edit", f"set the {what} to {slider.group('to')}" if slider.group("to") else f"adjust the {what}")
    # "... onto the timeline to add it": the destination says it all.
    rest = re.sub(
        r"(?<!\s)\s+(?i:to|so\s+as\s+to|in\s+order\s+to)\s+(?i:add|place|put|insert|include)\s+(?i:it|them)\b.*$",
        "",
        rest,
    )
    return _Hit("edit", f"move {rest}" if rest else None)


def _command_start(masked: str) -> int:
    """Where the command would start: after leading markup and "you can just" words."""
    pos = _LEADING_MARKUP.match(masked)
    start = pos.end() if pos else 0
    english = _PREFIX_EN.match(masked, start)
    return english.end() if english else start


def _detect(text: str, masked: str) -> _Hit | None:
    """The GUI instruction in one clause, or None."""
    lead = _LEADING_MARKUP.match(masked)
    lead_end = lead.end() if lead else 0
    start = _command_start(masked)
    had_prefix = start > lead_end
    tail = masked[start:]

    # English verbs in command position.
    if m := _PRESS.match(tail):
        return _button_hit(_clean_name(text[start + m.start("obj") : start + m.end("obj")]))
    if m := _OPEN.match(tail):
        group = "obj" if m.group("obj") is not None else "obj2"
        return _panel_hit(_clean_name(text[start + m.start(group) : start + m.end(group)]))
    if m := _DROP.match(tail):
        return _drag_hit(text[start:], len("drop"), zh=False)
    if m := _EXPORT_CMD.match(tail):
        return _Hit("export", "Export")
    if (m := _PREVIEW.match(tail)) and (m.group("pv") is None or had_prefix or m.group("pobj") or m.group("place")):
        return _Hit("show_summary", "timeline")

    # English phrases anywhere in the clause.
    if m := _CLICK_ANYWHERE.search(masked):
        group = "obj" if m.group("obj") is not None else "loose"
        name = _clean_name(text[m.start(group) : m.end(group)])
        return _button_hit(name) if group == "obj" else _Hit("perform", name or None)
    if m := _DRAG_ANYWHERE.search(masked):
        return _drag_hit(text[m.start() :], m.end() - m.start(), zh=False)
    for pattern, kind in _GUI_NOUN_ANYWHERE:
        if m := pattern.search(masked):
            name = _clean_name(text[m.start("obj") : m.end("obj")])
            if kind == "perform":  # menu paths: "File > Export" is an export, "Edit > Trim" a click
                return _button_hit(name)
            return _Hit(kind, name) if kind != "show_state" else _panel_hit(name)

    # Chinese.
    if m := _ZH_CLICK.search(masked):
        name = text[m.start("obj") : m.end("obj")] if m.group("obj") else ""
        if m.group("noun") in ("面板", "菜单", "标签", "标签页"):  # 点击音乐面板: a panel, not a button
            name += m.group("noun")
        name = _clean_name(name)
        return _button_hit(name) if name else _Hit("perform", None)
    if m := _ZH_OPEN.search(masked):
        return _panel_hit(text[m.start("obj") : m.end("obj")])
    if m := _ZH_IN_PANEL.search(masked):
        return _panel_hit(text[m.start("obj") : m.end("obj")])
    if m := _ZH_DRAG.search(masked):
        return _drag_hit(text, 0, zh=True)
    if _ZH_PREVIEW.search(masked):
        return _Hit("show_summary", "时间线")
    if m := _ZH_BUTTON_NOUN.search(masked):
        return _button_hit(m.group("obj"))
    if m := _ZH_EXPORT_VIA.search(masked):
        return _Hit("export", m.group("obj"))
    zh_start = lead_end + (z.end() if (z := _PREFIX_ZH.match(masked[lead_end:])) else 0)
    if _ZH_EXPORT_CMD.match(masked, zh_start):
        return _Hit("export", "导出")
    if (m := _ZH_PREVIEW_CMD.match(masked, zh_start)) and (zh_start > lead_end or m.group("pobj")):
        return _Hit("show_summary", "时间线")
    return None


# --- 4. rewrite ----------------------------------------------------------------------------


def _stripped(text: str) -> str:
    return text.strip().strip("*_~>#").strip()


def _is_dependent(clause: _Clause) -> bool:
    """A clause that only led into an instruction: "To download it", "如果满意", "Then"."""
    body = _stripped(clause.masked)
    if not re.search(r"[^\W_]", body):
        return True
    return bool(
        _FILLER_CLAUSE.fullmatch(body.rstrip("?!"))
        or _SUBORDINATE_EN.match(body)
        or _SUBORDINATE_ZH.search(body)
        or _UI_VERB.match(body)
    )


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass
class _SentenceResult:
    text: str | None  # None: drop the sentence
    hits: list[tuple[str, _Hit]] = field(default_factory=list)
    gui: bool = False


def _rewrite_sentence(text: str, masked: str, after_gui: bool) -> _SentenceResult:
    terminal_match = _TERMINAL.search(masked)
    terminal = text[terminal_match.start() :].strip() if terminal_match else ""
    body_end = terminal_match.start() if terminal_match else len(text)
    clauses = _clauses(text[:body_end], masked[:body_end])
    hits = [_detect(c.text, c.masked) for c in clauses]
    if not any(hits):
        # A follow-up step of an instruction we just removed ("Choose 1080p.") goes too.
        if after_gui and clauses and _UI_VERB.match(_stripped(clauses[0].masked)):
            return _SentenceResult(None, gui=True)
        return _SentenceResult(text)

    first = next(i for i, hit in enumerate(hits) if hit)
    found = [(_phrase(c.text), hit) for c, hit in zip(clauses, hits, strict=True) if hit]
    before = clauses[:first]
    while before and _is_dependent(before[-1]):
        before.pop()

    # After the instruction, keep only a contrasting thought ("..., but the title is still a draft").
    groups: list[list[_Clause]] = []
    keeping = False
    for clause, hit in zip(clauses[first + 1 :], hits[first + 1 :], strict=True):
        # The conjunction may sit in the separator (" or ask me") or start the clause ("however, ...").
        joined = _stripped(_SEP_PUNCT.sub("", clause.sep + clause.masked))
        if hit:
            keeping = False
        elif (_CONTRAST.match(joined) and not _UI_VERB.match(_CONTRAST.sub("", joined, count=1))) or _TALK_BACK.match(
            _CONTRAST.sub("", joined, count=1)
        ):
            groups.append([clause])
            keeping = True
        elif keeping:
            groups[-1].append(clause)

    cjk = bool(re.search(r"[\u3000-\u9fff]", terminal or text))
    end_mark = terminal or ("。" if cjk else "")
    pieces: list[str] = []
    if before:
        head = before[0].text + "".join(c.sep + c.text for c in before[1:])
        pieces.append(head.rstrip(" ,;:—–-，；：") + (end_mark if not groups else ("。" if cjk else ".")))
    for n, group in enumerate(groups):
        first_text = _SEP_PUNCT.sub("", group[0].sep + group[0].text).lstrip()
        first_text = _CONTRAST.sub("", re.sub(r"^(?i:and|then|so)\s+", "", first_text), count=1)
        body = _capitalised(first_text) + "".join(c.sep + c.text for c in group[1:])
        mark = end_mark if n == len(groups) - 1 else ("。" if cjk else ".")
        pieces.append(body.rstrip(" ,;:—–-，；：") + mark)
    result = ("" if cjk else " ").join(pieces).strip()
    if not re.search(r"[^\W_]", result.replace(_MASK, "")):
        return _SentenceResult(None, found, gui=True)
    return _SentenceResult(result, found, gui=True)


def _phrase(clause: str) -> str:
    phrase = clause.strip().strip("*_ ").strip()
    return phrase if len(phrase) <= 200 else phrase[:199] + "…"


@dataclass
class _Line:
    original: str
    text: str | None  # None: removed
    changed: bool


def _balance_markup(line: str) -> str:
    """Dropping a clause can leave one half of **bold**; drop the strays."""
    if line.count("**") % 2:
        line = line.replace("**", "")
    return re.sub(r"\(\s*\)|（\s*）", "", line).rstrip()


def _rewrite_line(line: str, masked: str, after_gui: bool) -> tuple[str | None, list[tuple[str, _Hit]], bool]:
    prefix_match = _LINE_PREFIX.match(masked)
    prefix_end = prefix_match.end() if prefix_match else 0
    prefix, body, mbody = line[:prefix_end], line[prefix_end:], masked[prefix_end:]
    out: list[str] = []
    hits: list[tuple[str, _Hit]] = []
    changed = False
    for sep_start, start, end in _sentences(mbody):
        result = _rewrite_sentence(body[start:end], mbody[start:end], after_gui)
        hits.extend(result.hits)
        if result.gui:
            after_gui = True
            changed = True
        elif result.text and result.text.strip():
            after_gui = False
        if result.text is not None:
            out.append((body[sep_start:start] if out else "") + result.text)
    if not changed:
        return line, hits, after_gui
    new_body = "".join(out).strip()
    if not new_body:
        return None, hits, after_gui
    return _balance_markup(prefix + new_body), hits, after_gui


def _renumber(lines: list[_Line]) -> None:
    """Renumber a numbered list that lost items (1. 3. -> 1. 2.)."""
    block: list[_Line] = []
    for line in [*lines, _Line("", "", False)]:
        if _NUMBERED.match(line.original):
            block.append(line)
            continue
        if any(item.text is None for item in block):
            kept = [item for item in block if item.text is not None]
            for n, item in enumerate(kept, start=1):
                assert item.text is not None
                number = _NUMBERED.match(item.text)
                if number:
                    item.text = f"{number.group(1)}{n}{number.group(3)}{item.text[number.end() :]}"
        block = []


def _drop_orphan_lead_ins(lines: list[_Line]) -> None:
    """ "To export your video:" above a list whose every item was removed goes too."""
    for i, line in enumerate(lines):
        if line.text is None or not _stripped(line.text).rstrip().endswith((":", "：")):
            continue
        following = []
        for nxt in lines[i + 1 :]:
            if not nxt.original.strip():
                break
            following.append(nxt)
        if following and all(item.text is None for item in following):
            line.text = None


def _translate_once(text: str) -> TranslatedReply:
    masked_lines = _mask(text).split("\n")
    lines: list[_Line] = []
    found: list[tuple[str, _Hit]] = []
    after_gui = False
    for original, masked in zip(text.split("\n"), masked_lines, strict=True):
        if not original.strip():
            after_gui = False  # a blank line ends a paragraph and its follow-up steps
            lines.append(_Line(original, original, False))
            continue
        new, hits, after_gui = _rewrite_line(original, masked, after_gui)
        found.extend(hits)
        lines.append(_Line(original, new, new != original))
    if not any(line.changed for line in lines):
        return TranslatedReply(text=text, actions=_actions(found))
    _renumber(lines)
    _drop_orphan_lead_ins(lines)
    kept = [line.text for line in lines if line.text is not None]
    result = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", "\n".join(kept)).strip("\n")
    return TranslatedReply(text=result, actions=_actions(found))


def _actions(found: list[tuple[str, _Hit]]) -> list[GuiAction]:
    actions: list[GuiAction] = []
    seen: set[tuple[str, str]] = set()
    for phrase, hit in found:
        # One export is enough however many times the reply mentions it.
        key = (hit.kind, "" if hit.kind == "export" else (hit.detail or "").lower())
        if key not in seen:
            seen.add(key)
            actions.append(GuiAction(kind=hit.kind, phrase=phrase, detail=hit.detail))
    return actions


def translate_reply(text: str) -> TranslatedReply:
    """The reply without GUI instructions, and the instructions as actions. Never raises.

    A reply with no GUI instruction comes back identical with no actions."""
    if not isinstance(text, str) or not text:
        return TranslatedReply(text=text if isinstance(text, str) else "", actions=[])
    result = _translate_once(text)
    # Removing a clause can, in odd texts, expose another instruction (a quote re-pairs after its
    # partner went): repeat until nothing changes, so translating the output finds nothing more.
    for _ in range(3):
        if not result.actions:
            break
        again = _translate_once(result.text)
        if not again.actions:
            break
        result = TranslatedReply(text=again.text, actions=_actions_merge(result.actions, again.actions))
    return result


def _actions_merge(first: list[GuiAction], more: list[GuiAction]) -> list[GuiAction]:
    keys = {(a.kind, "" if a.kind == "export" else (a.detail or "").lower()) for a in first}
    extra = [a for a in more if (a.kind, "" if a.kind == "export" else (a.detail or "").lower()) not in keys]
    return [*first, *extra]
