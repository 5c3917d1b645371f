"""Hostile input: property-based tests for every parser and every tool's arguments.

No input may crash the server or hang it; a tool call with wrong types or
out-of-range values must come back as an error result the agent can act on
(naming the argument), never as a generic "Error executing tool".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import inprocess, make_settings, record_output, text_of
from nemovideo_mcp.backend import sse
from nemovideo_mcp.backend.client import _unwrap
from nemovideo_mcp.backend.models import RenderStatus
from nemovideo_mcp.errors import NemoError
from nemovideo_mcp.studio.server import LoopbackServer
from nemovideo_mcp.text.timeline import Draft, diff_drafts, parse_draft, summarize, track_summaries
from support.cloud import CloudQuirks

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))

# JSON-ish values, with the awkward corners: huge ints, NaN/inf, deep nesting, odd unicode.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", "0", "completed", "failed", "1002", "nmv_usr_abcdefgh1234", "\u202e\u200b", "\x00"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)


def _with_keys(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts that use the keys the parser looks for, with hostile values."""
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), json_values, max_size=len(keys) + 2)


# -- the SSE parser and the reply collector ----------------------------------------------------

SSE_KEYS = [
    "content",
    "parts",
    "text",
    "partial",
    "error",
    "errorCode",
    "errorMessage",
    "type",
    "actions",
    "stateDelta",
    "draft",
    "functionCall",
    "functionResponse",
    "name",
    "thought",
    "role",
]


def _event_like() -> st.SearchStrategy[Any]:
    part = _with_keys(["text", "thought", "functionCall", "functionResponse"])
    content = st.fixed_dictionaries({"parts": st.lists(part | json_values, max_size=4)}, optional={"role": scalars})
    actions = st.fixed_dictionaries({"stateDelta": st.fixed_dictionaries({}, optional={"draft": json_values})})
    return st.fixed_dictionaries(
        {},
        optional={
            "content": content | json_values,
            "partial": scalars,
            "actions": actions | json_values,
            "error": scalars,
            "errorCode": scalars,
            "errorMessage": scalars,
            "type": st.sampled_from(["heartbeat", "x"]) | scalars,
        },
    )


payloads = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")),
    json_values.map(json.dumps),
    _event_like().map(json.dumps),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),  # deep nesting
)


@FUZZ
@given(st.lists(payloads, max_size=12))
def test_sse_parser_and_collector_never_raise(datas: list[str]) -> None:
    collector = sse.ReplyCollector()
    for data in datas:
        events = sse.parse_data(data)
        assert events, "every payload yields at least one event"
        for event in events:
            assert isinstance(
                event, sse.Text | sse.ToolActivity | sse.StreamError | sse.Heartbeat | sse.Ignored | sse.DraftUpdate
            )
            collector.feed(event)
    assert isinstance(collector.text, str)
    for error in collector.errors:
        assert len(error.message) <= 500


async def test_sse_framing_with_garbage_lines_through_the_client() -> None:
    """The client's framing layer (httpx-sse) plus our parser over a hostile body."""
    from nemovideo_mcp.backend.client import Stream

    body = (
        b"\xef\xbb\xbf: hello\n\ndata: not json\n\nevent: x\nid: 1\nretry: abc\n\nno colon here\n\n"
        b'data: {"content":{"parts":[{"text":"Hi"}]}}\n\n' + b"data: " + b"x" * 100_000 + b"\n\n"
        b"data: \xff\xfe\n\n" + b'data: {"content":{"parts":[{"te'
    )
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)
    collector = sse.ReplyCollector()
    async for event in Stream(response).events():
        collector.feed(event)
    assert collector.text == "Hi"


# -- the envelope / error parser ----------------------------------------------------------------

bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    _with_keys(["code", "message", "data", "detail", "error", "msg", "success"]).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.sampled_from([b"", b"<html>502</html>", b'{"code": 0, "data": {"status": <!--', b"null", b"\xff\xfe"]),
)


@FUZZ
@given(
    status=st.sampled_from([200, 201, 204, 400, 401, 402, 404, 409, 422, 429, 500, 502, 503, 504])
    | st.integers(100, 599),
    body=bodies,
    render=st.booleans(),
)
def test_envelope_parser_returns_a_dict_or_a_nemo_error(status: int, body: bytes, render: bool) -> None:
    response = httpx.Response(status, content=body, request=httpx.Request("GET", "http://test/x"))
    try:
        data = _unwrap(response, render=render)
    except NemoError as exc:
        assert exc.message and len(exc.message) < 700
        assert '{"' not in exc.message, exc.message
        return
    assert isinstance(data, dict)
    assert status < 400


@FUZZ
@given(
    answer=_with_keys(
        ["data", "id", "taskId", "status", "progress", "outputUrl", "output_url", "output", "url", "error", "message"]
    ),
    fallback=st.text(max_size=20),
)
def test_render_status_reader_never_raises(answer: dict[str, Any], fallback: str) -> None:
    status = RenderStatus.from_answer(answer, fallback)
    assert status.status in ("pending", "processing", "completed", "failed", "cancelled", "unknown")
    assert status.url is None or isinstance(status.url, str)
    assert status.progress is None or isinstance(status.progress, int)


# -- the draft model -----------------------------------------------------------------------------

segment = _with_keys(["d", "m", "st", "start", "name"]) | json_values
track = (
    st.fixed_dictionaries(
        {},
        optional={
            "tt": scalars,
            "sg": st.lists(segment, max_size=4) | json_values,
            "m": _with_keys(["name", "title", "text", "volume", "kind"]) | json_values,
        },
    )
    | json_values
)
drafts = st.one_of(
    json_values,
    st.fixed_dictionaries({"t": st.lists(track, max_size=5) | json_values}, optional={"m": json_values}),
    st.fixed_dictionaries(
        {"state": st.fixed_dictionaries({"draft": st.fixed_dictionaries({"t": st.lists(track, max_size=4)})})}
    ),
    st.text(max_size=100),
)


@FUZZ
@given(before=drafts, after=drafts)
def test_draft_model_never_raises(before: Any, after: Any) -> None:
    a, b = parse_draft(before), parse_draft(after)
    assert isinstance(a, Draft) and isinstance(b, Draft)
    for draft in (a, b):
        text = summarize(draft)
        assert isinstance(text, str) and len(text) < 20_000
        for summary in track_summaries(draft):
            assert math.isfinite(summary.start_s) and math.isfinite(summary.end_s)
    changes = diff_drafts(a, b)
    assert all(isinstance(c, str) for c in changes)
    assert diff_drafts(a, a) == []


# -- every tool's argument handling, through the MCP client --------------------------------------

TOOL_PARAMS = {
    "generate": ["instruction", "wait_seconds"],
    "upload": ["sources"],
    "state": ["job_id", "wait_seconds"],
    "credits": [],
    "export": ["job_id", "filename", "wait_seconds", "cancel"],
}
tool_calls = st.sampled_from(sorted(TOOL_PARAMS)).flatmap(
    lambda name: st.tuples(
        st.just(name),
        st.dictionaries(st.sampled_from([*TOOL_PARAMS[name], "extra"]), json_values, max_size=4),
    )
)


@pytest.fixture
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal(backend="asyncio") as p:
        yield p


class _Served:
    """A server shared by all examples: hypothesis runs sync code; the MCP client lives in a portal."""

    def __init__(self, portal: BlockingPortal, backend: LoopbackServer, home: Path) -> None:
        self.portal = portal
        settings = make_settings(backend, home, default_wait=2.0, render_timeout=5.0)
        self._cm = portal.wrap_async_context_manager(inprocess(settings))
        self.client = self._cm.__enter__()

    def call(self, name: str, args: dict[str, Any]) -> Any:
        async def go() -> Any:
            with anyio.fail_after(30):  # "never hangs": a wait_seconds of up to 600 is clamped by the job
                return await self.client.call_tool(name, args)

        return self.portal.call(go)

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


@pytest.fixture
def served(portal: BlockingPortal, cloud: CloudQuirks, cloud_server: LoopbackServer, home: Path) -> Iterator[_Served]:
    cloud.render_size = (160, 90)  # whatever timeline the drawn instructions make renders quickly
    s = _Served(portal, cloud_server, home)
    yield s
    s.close()


def _check_result(name: str, args: dict[str, Any], result: Any) -> None:
    record_output(result)
    text = text_of(result)
    assert "Traceback" not in text, (name, args, text)
    # Arguments that fail validation are told in words naming the argument, never in pydantic's wording;
    # "Error executing tool" would be a crash whose detail went only to the log.
    assert "Error executing tool" not in text and "validation error" not in text, (name, args, text)
    if result.is_error and "was not made" in text:
        assert result.structured_content["error"]["code"] == "invalid_input", (name, args, text)
        assert any(arg in text for arg in ARGUMENTS[name]), (name, args, text)
    if result.is_error:
        assert text.strip(), (name, args)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(call=tool_calls)
def test_tools_survive_arbitrary_arguments(served: _Served, call: tuple[str, dict[str, Any]]) -> None:
    name, args = call
    if name in ("generate", "export", "state"):
        wait = args.get("wait_seconds", 0)
        if isinstance(wait, int | float) and not isinstance(wait, bool) and wait >= 0:
            # Keep valid waits valid but short; wrong types and negatives still go through as drawn.
            args = {**args, "wait_seconds": min(wait, 0.05)}
    _check_result(name, args, served.call(name, args))


ARGUMENTS = {
    "generate": ("instruction", "wait_seconds"),
    "upload": ("sources",),
    "state": ("job_id", "wait_seconds"),
    "credits": ("credits",),
    "export": ("job_id", "filename", "wait_seconds", "cancel"),
}

WRONG = [
    ("generate", {}, "instruction"),
    ("generate", {"instruction": 5}, "instruction"),
    ("generate", {"instruction": ""}, "instruction"),
    ("generate", {"instruction": "x" * 8001}, "instruction"),
    ("generate", {"instruction": "hi", "wait_seconds": -1}, "wait_seconds"),
    ("generate", {"instruction": "hi", "wait_seconds": 601}, "wait_seconds"),
    ("generate", {"instruction": "hi", "wait_seconds": "soon"}, "wait_seconds"),
    ("upload", {}, "sources"),
    ("upload", {"sources": "a.png"}, "sources"),
    ("upload", {"sources": []}, "sources"),
    ("upload", {"sources": [1, 2]}, "sources"),
    ("upload", {"sources": ["a"] * 21}, "sources"),
    ("state", {"job_id": ["x"]}, "job_id"),
    ("state", {"job_id": "x" * 65}, "job_id"),
    ("export", {"cancel": "maybe"}, "cancel"),
    ("export", {"filename": {"a": 1}}, "filename"),
    ("export", {"filename": "x" * 121}, "filename"),
    ("export", {"wait_seconds": 1e9}, "wait_seconds"),
]


@pytest.mark.parametrize(("name", "args", "field"), WRONG, ids=[f"{n}-{f}-{i}" for i, (n, _, f) in enumerate(WRONG)])
async def test_wrong_arguments_name_the_argument(
    cloud: CloudQuirks, cloud_server: LoopbackServer, home: Path, name: str, args: dict[str, Any], field: str
) -> None:
    async with inprocess(make_settings(cloud_server, home)) as client:
        result = await client.call_tool(name, args)
        record_output(result)
        _check_result(name, args, result)
        assert result.is_error, text_of(result)
        assert field in text_of(result), text_of(result)
        after = await client.call_tool("credits", {})
        assert not after.is_error, text_of(after)
    assert cloud.calls["run_sse"] == 0  # a refused call never reaches the backend's paid endpoint
