"""GUI-phrase translation of backend replies (nemovideo_mcp.text.gui)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nemovideo_mcp.text.gui import GuiAction, TranslatedReply, translate_reply
from support.gui_oracle import never_tells_user_to_click

CORPUS = Path(__file__).parent / "corpus" / "gui_replies.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_corpus_is_big_and_covers_both_languages() -> None:
    assert len(CASES) >= 60
    assert len({c["id"] for c in CASES}) == len(CASES)
    passthrough = [c for c in CASES if not c["actions"]]
    assert len(passthrough) >= 15
    assert sum(_has_cjk(c["text"]) for c in CASES) >= 20
    assert sum(not _has_cjk(c["text"]) for c in CASES) >= 40
    kinds = {kind for c in CASES for kind in c["actions"]}
    assert kinds == {"export", "show_state", "edit", "show_summary", "perform"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reply_translates_as_expected(case: dict[str, Any]) -> None:
    result = translate_reply(case["text"])
    assert [a.kind for a in result.actions] == case["actions"]
    if not case["actions"]:
        assert result.text == case["text"]  # untouched, byte for byte
    if "expect" in case:
        assert result.text == case["expect"]
    if "details" in case:
        assert [a.detail for a in result.actions] == case["details"]
    for bad in case.get("forbid", []):
        assert bad not in result.text
    for good in case.get("require", []):
        assert good in result.text
    # What the agent receives never tells its user to click, open, drag or preview anything...
    assert never_tells_user_to_click(result.text)
    # ...and translating it again finds nothing more.
    assert translate_reply(result.text) == TranslatedReply(text=result.text, actions=[])
    for action in result.actions:
        assert action.phrase and action.phrase in case["text"]


def test_the_raw_replies_do_tell_the_user_to_click() -> None:
    for case in CASES:
        if case["actions"]:
            assert not never_tells_user_to_click(case["text"]), case["id"]


def test_no_leftover_blank_lines_or_dangling_punctuation() -> None:
    for case in CASES:
        text = translate_reply(case["text"]).text
        assert "\n\n\n" not in text, case["id"]
        assert text == text.strip(), case["id"]
        for line in text.splitlines():
            assert not line.rstrip().endswith((",", "，", " —", " -", ":", "：")) or line in case["text"], case["id"]
            assert not line.lstrip().startswith((",", "，", ".", "。")), case["id"]


def test_export_wins_over_other_buttons_and_dedupes() -> None:
    result = translate_reply("Click Export. Then click the Export button again, or press Download.")
    assert [a.kind for a in result.actions] == ["export"]
    assert result.text == ""


def test_button_mapping() -> None:
    def kind(text: str) -> tuple[str, str | None]:
        (action,) = translate_reply(text).actions
        return action.kind, action.detail

    assert kind("Click Download.") == ("export", "Download")
    assert kind("点击下载。") == ("export", "下载")
    assert kind("Click Preview.") == ("show_summary", "Preview")
    assert kind("点击预览。") == ("show_summary", "预览")
    assert kind("Click Apply.") == ("perform", "Apply")
    assert kind("Click Confirm to continue.") == ("perform", "Confirm")
    assert kind("点击确认。") == ("perform", "确认")
    assert kind("Click the Music tab.") == ("show_state", "Music tab")


def test_empty_and_non_string_input() -> None:
    assert translate_reply("") == TranslatedReply(text="", actions=[])
    assert translate_reply(None) == TranslatedReply(text="", actions=[])  # type: ignore[arg-type]
    assert never_tells_user_to_click("")


def test_actions_are_models() -> None:
    (action,) = translate_reply("Drag the clip to the start of the timeline.").actions
    assert action == GuiAction(
        kind="edit",
        phrase="Drag the clip to the start of the timeline",
        detail="move the clip to the start of the timeline",
    )


# --- properties ------------------------------------------------------------------------------

_GUI_WORDS = [
    "click", "Click", "the", "Export", "button", "open", "Open", "panel", "Music", "drag", "Drag", "and", "drop",
    "it", "onto", "timeline", "preview", "Preview", "in", "to", "then", ",", ".", "!", "?", ":", "—", '"', "'",
    "“", "”", "「", "」", "《", "》", "点击", "导出", "按钮", "打开", "面板", "拖拽", "到", "时间线", "预览", "，",
    "。", "you", "can", "Title:", "named", "Road", "**", "-", "1.", "\n", "\n\n", "here", "tap", "on", "hit",
    "press", "Download", "Render", "but", "or", "tell", "me", "if", "To", "download", "your", "video", "File", ">",
    "在", "中", "可以", "然后", "或者", "告诉我", "选择", "Choose", "slider", "volume", "Generate", "下载", "`",
    "```", "https://x.y/click",
]  # fmt: skip
_gui_soup = st.lists(st.sampled_from(_GUI_WORDS), max_size=30).map(" ".join) | st.lists(
    st.sampled_from(_GUI_WORDS), max_size=30
).map("".join)


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_any_text_never_raises_and_settles(text: str) -> None:
    result = translate_reply(text)
    assert not translate_reply(result.text).actions
    if not result.actions:
        assert result.text == text


@given(_gui_soup)
@settings(max_examples=600, deadline=None)
def test_gui_word_soup_never_raises_and_settles(text: str) -> None:
    result = translate_reply(text)
    assert translate_reply(text) == result  # deterministic
    assert not translate_reply(result.text).actions
    if not result.actions:
        assert result.text == text
    never_tells_user_to_click(text)


_SPACES = " " * 20000


@pytest.mark.parametrize(
    "text",
    [
        _SPACES,
        "Click" + _SPACES + "Export",
        "Title: x" + _SPACES + "y",
        "named" + "\t" * 20000 + "X",
        "Drag the x" + _SPACES + "y",
        "export" + _SPACES + "x",
        "!" * 20000 + "x",
        "click on " * 3000,
        '"' * 20000,
    ],
    ids=["spaces", "click", "title", "named", "drag", "export", "marks", "click-on", "quotes"],
)
def test_pathological_input_stays_fast(text: str) -> None:
    # A regex that rescans a long run from each of its positions is quadratic: each of these took
    # 1-15 s before the guards (possessive quantifiers, (?<!\s)) were added.
    started = time.perf_counter()
    translate_reply(text)
    never_tells_user_to_click(text)
    assert time.perf_counter() - started < 2
