"""The ADK event stream, read the way the contract describes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import inprocess, make_settings, text_of
from nemovideo_mcp.backend.sse import (
    DraftUpdate,
    Heartbeat,
    Ignored,
    ReplyCollector,
    StreamError,
    Text,
    ToolActivity,
    parse_data,
)
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks


def _event(**fields: object) -> str:
    return json.dumps({"author": "nemo_agent", "invocationId": "e-1", "id": "x", "timestamp": 1.0, **fields})


def _text(text: str, partial: bool = False) -> str:
    extra = {"partial": True} if partial else {}
    return _event(content={"parts": [{"text": text}], "role": "model"}, **extra)


def test_each_kind_of_event() -> None:
    call = _event(
        content={"parts": [{"functionCall": {"id": "adk-1", "name": "generate_video", "args": {}}}]},
        longRunningToolIds=["adk-1"],
    )
    response = _event(
        content={
            "parts": [{"functionResponse": {"id": "adk-1", "name": "generate_video", "response": {"status": "ok"}}}],
            "role": "user",
        },
        actions={"stateDelta": {"draft": {"t": []}}, "artifactDelta": {}},
    )
    assert parse_data(_text("Hi")) == [Text("Hi", partial=False)]
    assert parse_data(call) == [ToolActivity("generate_video", "call")]
    assert parse_data(response) == [ToolActivity("generate_video", "response"), DraftUpdate({"t": []})]
    assert parse_data('{"errorCode":"MALFORMED_FUNCTION_CALL","errorMessage":"bad"}') == [
        StreamError("bad", "MALFORMED_FUNCTION_CALL")
    ]
    assert parse_data('{"error":"SomeException: boom"}') == [StreamError("SomeException: boom", None)]
    assert parse_data("") == [Heartbeat()]
    assert parse_data('{"type":"heartbeat"}') == [Heartbeat()]
    assert parse_data("not json") == [Ignored("not JSON")]


def test_partial_chunks_are_never_shown_twice() -> None:
    collector = ReplyCollector()
    for data in (_text("Here is ", True), _text("your draft.", True), _text("Here is your draft.")):
        for event in parse_data(data):
            collector.feed(event)
    assert collector.text == "Here is your draft."


def test_partial_chunks_without_a_final_event_still_count() -> None:
    collector = ReplyCollector()
    for event in parse_data(_text("Cut short", True)):
        collector.feed(event)
    assert collector.text == "Cut short"


def test_trailing_temporary_issue_after_real_work_is_dropped() -> None:
    collector = ReplyCollector()
    for data in (_text("Added the music."), _text("I encountered a temporary issue. Please try again.")):
        for event in parse_data(data):
            collector.feed(event)
    assert collector.text == "Added the music."


@pytest.fixture
def settings(cloud_server: LoopbackServer, home: Path) -> Settings:
    return make_settings(cloud_server, home)


async def test_partial_stream_through_the_server(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.partial_replies = True  # the studio's reply arrives in pieces first, then whole
    async with inprocess(settings) as client:
        result = await client.call_tool("generate", {"instruction": "Make a 1-second video: Three scenes."})
    reply = result.structured_content["reply"]
    assert reply.startswith("Done: made a 1s") and reply.count("Done") == 1, reply
    assert text_of(result).count("Done: made a 1s") == 1


async def test_stream_error_event_is_a_failed_turn(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.fail_next("run_sse", kind="model_error")
    async with inprocess(settings) as client:
        result = await client.call_tool("generate", {"instruction": "make a video about a harbour"})
        assert not (await client.call_tool("credits", {})).is_error
    assert result.is_error
    assert result.structured_content["error"]["code"] == "stream_failed"
    assert "{" not in text_of(result)
