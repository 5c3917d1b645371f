"""The `generate` tool's router: corpus, report and properties (nemovideo_mcp.text.intent)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intent_report import INTENTS, evaluate, intent_report, load_corpus, precision_recall
from nemovideo_mcp.text.intent import route

CASES = load_corpus()


def test_corpus_is_big_and_varied() -> None:
    assert len(CASES) >= 150
    tags = [tag for case in CASES for tag in case.get("tags", [])]
    for tag in ("en", "zh", "mixed", "negative", "also_export"):
        assert tags.count(tag) >= 5, tag
    assert {case["intent"] for case in CASES} == set(INTENTS)
    assert len({case["text"] for case in CASES}) == len(CASES), "duplicate phrases"


@pytest.mark.parametrize("case", CASES, ids=[c["text"][:40] for c in CASES])
def test_phrase_routes_as_labelled(case: dict) -> None:
    got = route(case["text"])
    assert got.intent == case["intent"], got.reason
    assert got.also_export == bool(case.get("also_export", False)), got.reason
    if "sources" in case:
        assert got.sources == case["sources"]
    assert got.reason


class _ReportPlugin:
    """Prints the intent report in pytest's closing summary, not in the middle of the progress dots."""

    def __init__(self, report: str) -> None:
        self.report = report

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("intent router corpus")
        for line in self.report.splitlines():
            terminalreporter.write_line(line)


def test_report(request: pytest.FixtureRequest) -> None:
    outcomes = evaluate(CASES)
    report = intent_report(outcomes)
    manager = request.config.pluginmanager
    if not manager.has_plugin("intent-report"):
        manager.register(_ReportPlugin(report), "intent-report")
    assert all(o.ok for o in outcomes), report
    assert not [o for o in outcomes if "negative" in o.case.get("tags", []) and not o.intent_ok]
    for intent, (precision, recall, _) in precision_recall(outcomes).items():
        assert (precision, recall) == (1.0, 1.0), intent


def test_upload_needs_a_source() -> None:
    assert route("upload my video").intent == "generate"
    assert "without a file" in route("upload my video").reason
    assert route("upload /tmp/a.mp4").intent == "upload"


def test_files_with_an_instruction_go_to_the_stream_with_the_files() -> None:
    got = route("add ~/music/song.mp3 as background music at 30%")
    assert (got.intent, got.sources) == ("generate", ["~/music/song.mp3"])


def test_reason_names_the_keyword_that_did_not_route() -> None:
    assert "'export'" in route("generate a video about export regulations").reason


@given(st.text(max_size=300))
@settings(max_examples=400, deadline=None)
def test_route_never_raises_on_any_text(text: str) -> None:
    got = route(text)
    assert got.intent in INTENTS
    assert got == route(text)  # deterministic
    if got.intent == "upload":
        assert got.sources
    if got.also_export:
        assert got.intent == "generate"


_WORDS = [
    "export", "download", "send", "me", "the", "video", "it", "credits", "balance", "status", "show", "tracks",
    "upload", "and", "then", "make", "a", "about", "导出", "积分", "余额", "状态", "上传", "帮我", "一下", "后",
    "/tmp/a.mp4", "https://x.y/z.mp4", "please", "?", "!", ",", "，", "how", "many", "do", "I", "have", "吗",
]  # fmt: skip


@given(st.lists(st.sampled_from(_WORDS), max_size=12).map(" ".join))
@settings(max_examples=400, deadline=None)
def test_route_never_raises_on_keyword_soup(text: str) -> None:
    got = route(text)
    assert got.intent in INTENTS
    if got.intent == "upload":
        assert got.sources


@pytest.mark.parametrize(
    "text",
    [
        "x" + "吧" * 20000 + "x",
        "please " * 5000 + "x",
        ", " * 10000 + "x",
        "/tmp/a.mp4 " + ", " * 5000 + "x",
        "!" * 20000,
    ],
    ids=["zh-fillers", "en-fillers", "commas", "source-commas", "marks"],
)
def test_pathological_input_stays_fast(text: str) -> None:
    # Regexes anchored at $ and searched rescan long runs from every position (quadratic); these took seconds.
    started = time.perf_counter()
    route(text)
    assert time.perf_counter() - started < 2


def test_held_out_questions_never_open_the_paid_stream() -> None:
    held_out = [c for c in CASES if "held_out_2" in c.get("tags", [])]
    assert len(held_out) >= 20
    report = intent_report(evaluate(held_out))
    assert "held out (held_out_2): " in report
    free = [c for c in held_out if c["intent"] != "generate"]
    paid = [c["text"] for c in free if route(c["text"]).intent == "generate"]
    assert paid == [], f"questions about a free action routed to the paid stream: {paid}"
    for text in ("do I have enough credits for another video?", "帮我export一下视频"):  # the two from issue 12
        assert route(text).intent != "generate"


def test_the_report_comes_after_the_progress_not_inside_it() -> None:
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{__file__}::test_report"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    out = proc.stdout
    assert proc.returncode == 0, out
    assert out.index("[100%]") < out.index("intent router corpus") < out.index("1 passed"), out
