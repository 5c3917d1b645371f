"""Faults acted out on the wire around any ASGI app: what a broken backend, gateway or network sends.

Each `Fault` is one answer gone wrong: an envelope error code, an HTTP status in the format the
gateway in front of the cloud uses (nginx pages, plain text, FastAPI details), or a transport
fault (a reset, a hang, malformed JSON, a cut-off SSE stream, SSE garbage, a download cut
midway). `act_out` answers a request with it, calling the wrapped app when the fault degrades
a real answer rather than replacing it. For tests only, never shipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FaultKind = Literal[
    "reset",  # headers promising a body, then the socket closes
    "hang",  # nothing for `hang_seconds`, then the real answer
    "malformed_json",  # a 200 whose JSON is cut by an upstream error page
    "truncated_sse",  # two events, half of the third, then the socket closes
    "garbage_sse",  # the real stream with noise lines between its events
    "cut_download",  # the whole length declared, half the bytes sent, then the socket closes
    "session_not_found_404",  # ADK's own 404 for an unknown session
    "validation_422",  # FastAPI's validation detail
    "model_error",  # a 200 stream whose only event is the model's error code: the turn did nothing
]

ENVELOPE_MESSAGES = {
    1001: "Token expired or invalid",
    1002: "Session not found",
    2001: "Insufficient credits",
    4001: "Unsupported file type",
    4002: "File too large",
}
# What the gateway in front of the cloud answers on its own, in its own formats.
_NGINX = (
    "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_PLAIN_503 = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
_DETAILS = {
    401: "Unauthorized",
    402: "Free plan cannot export. Register or upgrade your plan to unlock export.",
    429: "Rate limit exceeded: 1 anonymous token per client per 7 days",
}
# Noise a sloppy proxy or backend may interleave; a tolerant client ignores all of it.
GARBAGE: tuple[bytes, ...] = (
    b"data: this is not json\n\n",
    b"event: x\n\n",
    b"id: 3\n\n",
    b"a line without any colon\n\n",
    b"data: [1, 2, 3]\n\n",
    b"retry: 1000\n\n",
    b"data: " + b"x" * 70_000 + b"\n\n",
    b'data: {"unterminated": \n\n',
)
_SESSION_IN_PATH = re.compile(r"/me/([^/]+)")  # /api/state/nemo_agent/me/{id}/latest, uploads alike


@dataclass
class Fault:
    """One answer gone wrong. An envelope `code` may come with an HTTP `status` (200 otherwise)."""

    code: int | None = None
    status: int | None = None
    kind: FaultKind | None = None
    message: str | None = None  # the envelope's message or the status's detail, in place of the usual words


class DropConnection(Exception):
    """Raised to the server after the answer started: uvicorn closes the socket mid-answer."""


class _HideDeliberateDrops(logging.Filter):
    """uvicorn logs every exception that escapes the app; these are scripted faults, not bugs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        return not isinstance(exc, DropConnection)


_error_logger = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _HideDeliberateDrops) for f in _error_logger.filters):
    _error_logger.addFilter(_HideDeliberateDrops())


async def act_out(
    fault: Fault, app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, hang_seconds: float
) -> None:
    """Answer one request with `fault` (the wrapped `app` answers too when the fault only degrades it)."""
    if fault.code is not None:
        message = fault.message or ENVELOPE_MESSAGES.get(fault.code, "Request failed")
        await _answer(send, fault.status or 200, {"code": fault.code, "message": message, "data": None})
    elif fault.status is not None and fault.message is not None:
        await _answer(send, fault.status, {"detail": fault.message})
    elif fault.status is not None:
        await _http_status(send, fault.status)
    elif fault.kind == "hang":
        await asyncio.sleep(hang_seconds)  # async: other requests keep being served meanwhile
        await app(scope, receive, send)
    elif fault.kind == "malformed_json":
        await _answer(send, 200, b'{"code": 0, "data": {"status": <!-- upstream timeout -->')
    elif fault.kind == "session_not_found_404":
        await _answer(send, 404, {"detail": f"Session not found: {await _session_hint(scope, receive)}"})
    elif fault.kind == "validation_422":
        field = "new_message" if scope["path"] == "/run_sse" else "body"
        detail = [{"type": "missing", "loc": ["body", field], "msg": "Field required", "input": None}]
        await _answer(send, 422, {"detail": detail})
    elif fault.kind in ("truncated_sse", "cut_download"):
        cut = _TruncatedStream(send) if fault.kind == "truncated_sse" else _CutBody(send)
        await app(scope, receive, cut)  # the work still lands server-side; only the client loses the end
        raise DropConnection
    elif fault.kind == "model_error":
        event = {"author": "nemo_agent", "errorCode": "MALFORMED_FUNCTION_CALL", "errorMessage": "The model stopped."}
        await _answer(send, 200, b"data: " + json.dumps(event).encode() + b"\n\n", b"text/event-stream")
    elif fault.kind == "garbage_sse":
        await app(scope, receive, _Garbage(send))
    else:  # a reset: a length promised, nothing sent
        headers = [(b"content-type", b"application/json"), (b"content-length", b"512")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise DropConnection


async def _answer(send: Send, status: int, body: Any, content_type: bytes = b"application/json") -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = [(b"content-type", content_type), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


async def _http_status(send: Send, status: int) -> None:
    phrase = f"{status} {HTTPStatus(status).phrase}"
    if status in (502, 504):
        await _answer(send, status, _NGINX.format(phrase.replace("Timeout", "Time-out")).encode(), b"text/html")
    elif status == 503:
        await _answer(send, status, _PLAIN_503.encode(), b"text/plain; charset=utf-8")
    else:
        await _answer(send, status, {"detail": _DETAILS.get(status, HTTPStatus(status).phrase)})


async def _session_hint(scope: Scope, receive: Receive) -> str:
    """The session the request names (in its path, or its JSON body), for ADK's 404 message."""
    if match := _SESSION_IN_PATH.search(scope["path"]):
        return match[1]
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if message["type"] != "http.request" or not message.get("more_body"):
            break
    try:
        parsed = json.loads(body)
    except ValueError:
        return "unknown"
    if not isinstance(parsed, dict):
        return "unknown"
    return str(parsed.get("session_id") or parsed.get("sessionId") or "unknown")


class _TruncatedStream:
    """Passes two SSE events, then half of the next (or half a line at the end), then nothing."""

    KEEP = 2
    TAIL = b'data: {"content":{"parts":[{"te'

    def __init__(self, send: Send) -> None:
        self.send = send
        self.events = 0
        self.cut = False
        self.pending = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            await self.send(message)
            return
        if self.cut:
            return
        self.pending += message.get("body", b"")
        out = b""
        while b"\n\n" in self.pending:
            block, self.pending = self.pending.split(b"\n\n", 1)
            block += b"\n\n"
            if _is_event(block):
                if self.events >= self.KEEP:
                    out += block[: max(8, len(block) // 2)]
                    self.cut = True
                    break
                self.events += 1
            out += block
        if not self.cut and not message.get("more_body"):
            out += self.pending + self.TAIL  # the stream ended before a third event: cut its last line
            self.cut = True
        if out:
            await self.send({"type": "http.response.body", "body": out, "more_body": True})


def _is_event(block: bytes) -> bool:
    data = block.strip()
    return data.startswith(b"data:") and data[5:].strip() not in (b"", b'{"type":"heartbeat"}')


class _Garbage:
    """A byte-order mark and a comment first, one noise line before each chunk, the rest at the end."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.noise = iter(GARBAGE)
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            await self.send(message)
            return
        body = message.get("body", b"")
        if body:
            body = next(self.noise, b"") + body
        if not self.started:
            self.started = True
            body = "\ufeff: stream start\n\n".encode() + body
        if not message.get("more_body"):
            body += b"".join(self.noise)
        await self.send({**message, "body": body})


class _CutBody:
    """Keeps the declared length, sends the first half of the bytes, then nothing."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.left: int | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            length = dict(message["headers"]).get(b"content-length")
            self.left = int(length) // 2 if length else 0
            await self.send(message)
            return
        if message["type"] != "http.response.body" or not self.left:
            return
        chunk = message.get("body", b"")[: self.left]
        self.left -= len(chunk)
        if chunk:
            await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
