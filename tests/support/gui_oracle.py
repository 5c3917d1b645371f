"""The test oracle for GUI replies: does a text still tell its reader to click, open, drag or preview?

Deliberately broader than the translator in `nemovideo_mcp.text.gui` (it also flags any clause that
starts like a GUI command), so the tests can check the translator's output against a second opinion.
It lives here, not in the package: production code never needs to ask.
"""

from __future__ import annotations

import re

from nemovideo_mcp.text.gui import (
    _CLAUSE_SEP,
    _LINE_PREFIX,
    _command_start,
    _mask,
    _pieces,
    _sentences,
    translate_reply,
)

_TELLS_EN = re.compile(
    r"(?i:click|tap|double[- ]click|right[- ]click|drag|press\s+the|hit\s+the|open\s+the|preview\s+(?:it|the|your)"
    r"|go\s+to\s+the)\b"
)
_TELLS_ANYWHERE = re.compile(
    r"(?i:\b(?:export|download)\s+button\b|\bclick\s+(?:on|the|here)\b"
    r"|\b(?:preview|view|check|see|watch)\b[^.!?\n]{0,30}\b(?:in|on)\s+the\s+timeline\b)"
    r"|点击(?!量|率)|拖拽|拖动|拖放|导出按钮|下载按钮|打开[^，。\n]{0,12}(?:面板|菜单)|在时间线[^，。\n]{0,4}预览"
)


def never_tells_user_to_click(text: str) -> bool:
    """True when the text contains no GUI instruction: nothing the translator would act on, and
    (a deliberately broader check) no clause starting with click/tap/drag/open the/... and no
    "Export button", "点击", "拖拽" outside quotes and titles."""
    if not isinstance(text, str) or not text:
        return True
    if translate_reply(text).actions:
        return False
    masked = _mask(text)
    if _TELLS_ANYWHERE.search(masked):
        return False
    for line in masked.split("\n"):
        prefix = _LINE_PREFIX.match(line)
        body = line[prefix.end() if prefix else 0 :]
        for _, start, end in _sentences(body):
            sentence = body[start:end]
            for _, a, b in _pieces(sentence, _CLAUSE_SEP):
                clause = sentence[a:b]
                if _TELLS_EN.match(clause, _command_start(clause)):
                    return False
    return True
