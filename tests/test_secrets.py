"""Secrets: forced through every output path and checked there.

Every test's outputs (tool results, stdio servers' stderr, captured logs) are also
scanned for every token the studios issued, after each test, by the autouse
fixture in `conftest.py`, and once more over the whole run at the end: the scan
does not depend on file names, test order, `-k` or parallel workers.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from conftest import OUTPUTS, inprocess, make_settings, record_output, text_of
from nemovideo_mcp.logs import configure_logging
from nemovideo_mcp.studio.server import LoopbackServer
from nemovideo_mcp.text.redact import MASK
from support.cloud import CloudQuirks

# A registered user's token with no recognisable shape: only the secret registry can catch it.
USER_TOKEN = "plainSecretValue-ABCDEFGH-42"


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """Route the server's structlog and stdlib logging into a buffer for the test, then restore."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging("DEBUG")  # the server's own set-up (processors, filters), then aimed at the buffer
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(buffer)
    yield buffer
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)
    OUTPUTS.append(buffer.getvalue())


async def test_tokens_forced_through_every_path_are_redacted(
    cloud: CloudQuirks, cloud_server: LoopbackServer, home: Path, server_log: io.StringIO
) -> None:
    # On loopback the studio takes any token as a registered user's.
    settings = make_settings(cloud_server, home, token=USER_TOKEN)
    notes: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append(message or "")

    texts: list[str] = []
    async with inprocess(settings) as client:

        async def call(name: str, args: dict[str, object]) -> None:
            result = await client.call_tool(name, args, progress_callback=on_progress)
            record_output(result)
            texts.append(text_of(result) + repr(result.structured_content))

        # 1. error text: an HTTP error body, an unknown envelope code, each quoting the token
        cloud.fail_next("credits", status=400, message=f"bad header Authorization: Bearer {USER_TOKEN}")
        await call("credits", {})
        cloud.fail_next("state", code=9999, message=f"internal: token={USER_TOKEN}")
        await call("state", {})
        # 2. the stream: a failed turn, a reply and a tool name (progress note) carrying the token
        cloud.next_turn(error=f"RuntimeError: cannot use {USER_TOKEN}")
        await call("generate", {"instruction": "add a title Hello"})
        cloud.next_turn(f"Done. (debug: your token is {USER_TOKEN})")
        await call("generate", {"instruction": "add a title Bye"})
        call_event = {
            "content": {
                "role": "model",
                "parts": [{"functionCall": {"id": "a1", "name": f"x {USER_TOKEN}", "args": {}}}],
            }
        }
        cloud.next_turn("ok", events=[call_event], duration_s=500)  # 0.5 s real: the note is seen
        await call("generate", {"instruction": "add lo-fi music", "wait_seconds": 20})
        # 3. an argument echoed back in a refusal
        await call("upload", {"sources": [f"/nonexistent/{USER_TOKEN}.png"]})
        # 4. the anonymous-shaped tokens the studio hands out, quoted back by the backend
        cloud.fail_next("credits", status=400, message=f"token {cloud.issued_tokens or ['nmv_usr_0123456789abcdef']}")
        await call("credits", {})

    # 5. log lines: structlog (event, key-values, exception) and stdlib loggers (message, args, traceback)
    log = structlog.get_logger("nemovideo_mcp.test")
    log.warning(f"token {USER_TOKEN}", auth=f"Bearer {USER_TOKEN}", nested={"t": [USER_TOKEN]})
    try:
        raise RuntimeError(f"backend said {USER_TOKEN}")
    except RuntimeError:
        log.exception("failed")
        logging.getLogger("httpx").error("request with %s failed", USER_TOKEN, exc_info=True)
    logging.getLogger("mcp.server").warning("Authorization: Bearer nmv_usr_deadbeefdeadbeef")

    written = server_log.getvalue()
    everything = [*texts, *notes, written]
    for text in everything:
        assert USER_TOKEN not in text
        assert "nmv_usr_deadbeef" not in text
        for token in cloud.issued_tokens:
            assert token not in text
    # every path was really exercised: the mask shows where a token was
    assert MASK in texts[0] and MASK in texts[1] and MASK in texts[2] and MASK in texts[3]
    assert written.count(MASK) >= 5, written
    assert "RuntimeError" in written  # the traceback is kept, only the secret goes


async def test_progress_and_log_notes_are_redacted() -> None:
    """The reporter every tool hands to the service: progress notes and protocol log notes."""
    from types import SimpleNamespace

    from nemovideo_mcp.mcp.tools import _reporter
    from nemovideo_mcp.text.redact import register_secret

    register_secret(USER_TOKEN)  # as Connection does with NEMO_TOKEN at start-up
    sent: list[str] = []

    async def report_progress(progress: float, total: float | None = None, message: str | None = None) -> None:
        sent.append(message or "")

    async def log_note(session: object, level: str, data: str, related_request_id: object = None) -> None:
        sent.append(data)

    class Session:  # the SDK's session as the reporter reaches it: the undecorated log call
        send_log_message = SimpleNamespace(__wrapped__=log_note)

    for meta in ({"progress_token": "p1"}, {}):  # with a progress token, and without (log note instead)
        context = SimpleNamespace(meta=meta, session=Session())
        ctx = SimpleNamespace(request_context=context, request_id="1", report_progress=report_progress)
        report = _reporter(ctx)  # type: ignore[arg-type]
        await report(f"Working on it: upload with {USER_TOKEN}...", 10)
        await report("Authorization: Bearer nmv_usr_0123456789abcdef0123", None)
    assert len(sent) >= 4
    for message in sent:
        assert USER_TOKEN not in message and "nmv_usr_0123" not in message
        assert MASK in message
    OUTPUTS.extend(sent)
