"""The cloud's quirks, wrapped around the real local studio: for tests only, never shipped.

The studio answers like a well-behaved backend. The cloud does more: GUI-phrase replies ("click
the Export button"), the other render-status shape, keep-alives in the stream, and errors a
client must recover from. `CloudQuirks` is an ASGI wrapper that adds them to the studio's own
app, so the real client is tested against the real studio as the cloud would behave.

    quirks = CloudQuirks(create_app(Studio(root)))
    quirks.gui_phrases = True
    quirks.fail_next("state", code=1002)
    with LoopbackServer(quirks) as server: ...
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nemovideo_mcp.studio.adk import Turn, encode

_ROUTES: list[tuple[str, str, re.Pattern[str]]] = [
    ("POST", "anonymous_token", re.compile(r"^/api/auth/anonymous-token$")),
    ("POST", "create_session", re.compile(r"^/api/tasks/me/with-session/nemo_agent$")),
    ("GET", "credits", re.compile(r"^/api/credits/balance/simple$")),
    ("GET", "state", re.compile(r"^/api/state/nemo_agent/me/[^/]+/latest$")),
    ("POST", "run_sse", re.compile(r"^/run_sse$")),
    ("POST", "upload", re.compile(r"^/api/upload-video/nemo_agent/me/[^/]+$")),
    ("POST", "render_start", re.compile(r"^/api/render/proxy/lambda$")),
    ("POST", "render_cancel", re.compile(r"^/api/render/proxy/lambda/[^/]+/cancel$")),
    ("GET", "render_status", re.compile(r"^/api/render/proxy/lambda/[^/]+$")),
]
GUI_REPLY = "Your video is ready! Click the Export button to download it."
HEARTBEATS: dict[str, bytes] = {
    "comment": b": ping\n\n",
    "empty": b"data:\n\n",
    "json": b'data: {"type":"heartbeat"}\n\n',
}


@dataclass
class Fault:
    code: int | None = None  # an envelope error code (1001, 1002, 2001...)
    status: int = 200  # an HTTP status (401, 402, 429, 500...)


def route_of(method: str, path: str) -> str | None:
    return next((name for m, name, pattern in _ROUTES if m == method and pattern.match(path)), None)


class CloudQuirks:
    """ASGI wrapper: the studio's app, behaving like the cloud where a test asks it to."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gui_phrases = False
        self.render_shape: Literal["data", "task"] = "data"
        self.heartbeats: Literal["none", "comment", "empty", "json"] = "none"
        self._faults: dict[str, list[Fault]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)
        self.shaped = 0  # render-status answers sent in the task shape

    def fail_next(self, route: str, *, code: int | None = None, status: int = 200) -> None:
        self._faults[route].append(Fault(code, status))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_of(scope["method"], scope["path"])
        if route is not None:
            self.calls[route] += 1
            if self._faults[route]:
                await self._fail(self._faults[route].pop(0), send)
                return
        if route == "render_status" and self.render_shape == "task":
            self.shaped += 1
            await self.app(scope, receive, _Rewrite(send, _task_shape))
        elif route == "run_sse" and (self.gui_phrases or self.heartbeats != "none"):
            await self.app(scope, receive, _Stream(send, self.heartbeats, self.gui_phrases))
        else:
            await self.app(scope, receive, send)

    async def _fail(self, fault: Fault, send: Send) -> None:
        if fault.code is not None:
            body: dict[str, Any] = {"code": fault.code, "message": f"error {fault.code}", "data": None}
        else:
            body = {"detail": f"HTTP {fault.status}"}
        raw = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})


def _task_shape(answer: dict[str, Any]) -> dict[str, Any]:
    """The other documented render-status shape: taskId and output.url at the top level."""
    data = answer.get("data") or {}
    shaped: dict[str, Any] = {"taskId": data.get("id"), "status": data.get("status"), "progress": data.get("progress")}
    if "output" in data:
        shaped["output"] = data["output"]
    if "error" in data:
        shaped["error"] = data["error"]
    return shaped


class _Rewrite:
    """Buffers a JSON answer and sends it rewritten, with a correct length."""

    def __init__(self, send: Send, rewrite: Any) -> None:
        self.send, self.rewrite = send, rewrite
        self.start: Message | None = None
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        self.body += message.get("body", b"")
        if message.get("more_body"):
            return
        assert self.start is not None
        raw = self.body
        if self.start["status"] == 200:
            raw = json.dumps(self.rewrite(json.loads(self.body))).encode()
        headers = [(k, v) for k, v in self.start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(raw)).encode()))
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": raw})


class _Stream:
    """Keep-alives before the first event, and a GUI-phrase reply after the last one."""

    def __init__(self, send: Send, heartbeats: str, gui: bool) -> None:
        self.send, self.heartbeat, self.gui = send, HEARTBEATS.get(heartbeats, b""), gui
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            await self.send(message)
            return
        body = message.get("body", b"")
        if not self.started:
            self.started = True
            body = self.heartbeat * 3 + body
        if not message.get("more_body") and self.gui:
            body += encode(Turn().text(GUI_REPLY))
        await self.send({**message, "body": body})
