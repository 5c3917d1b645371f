"""The cloud's quirks, wrapped around the real local studio: for tests only, never shipped.

The studio answers like a well-behaved backend. The cloud does more: GUI-phrase replies ("click
the Export button"), the other render-status shape, keep-alives in the stream, renders that take
their time, and errors a client must recover from (`support.faults`). `CloudQuirks` is an ASGI
wrapper that adds them to the studio's own app, so the real client is tested against the real
studio as the cloud would behave. Turns a test scripts are answered by the wrapper, their draft
written into the studio's project; renders are the studio's, their status held to a chosen time.
It also records what a test checks afterwards: the requests, the tokens and sessions handed out, each
render's state as the cloud reports it (a cancel included) and its status polls.

    studio = Studio(root)
    quirks = CloudQuirks(create_app(studio), studio)
    quirks.gui_phrases = True
    quirks.fail_next("state", code=1002)
    quirks.next_turn("Added the music.", draft={...}, duration_s=120)
    quirks.render_seconds = 300  # cloud seconds; quirks.time_scale real seconds each
    with LoopbackServer(quirks) as server: ...
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nemovideo_mcp.media.formats import BACKEND_EXTENSIONS, extension
from nemovideo_mcp.studio.adk import Turn, encode
from nemovideo_mcp.studio.app import Studio
from nemovideo_mcp.studio.projects import Project
from support.faults import DropConnection, Fault, FaultKind, act_out

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
    ("GET", "render_download", re.compile(r"^/api/render/proxy/[^/]+/download$")),
    ("GET", "cdn", re.compile(r"^/files/renders/[^/]+/[^/]+\.mp4$")),  # the render's link: no token, like a CDN
]
GUI_REPLY = "Your video is ready! Click the Export button to download it."
HEARTBEATS: dict[str, bytes] = {
    "comment": b": ping\n\n",
    "empty": b"data:\n\n",
    "json": b'data: {"type":"heartbeat"}\n\n',
}
_SESSION_IN_PATH = re.compile(r"/me/([^/]+)")
_STILL_RUNNING = 95  # the progress a render that never finishes stays at
_HEARTBEAT_EVERY = 10.0  # cloud seconds between keep-alives while a scripted turn works
_CUT_EVENT = b'data: {"content":{"parts":[{"te'  # half an event: where a dropped turn stops


@dataclass(frozen=True)
class Request:
    """One request as the wrapper saw it (header names lower-case)."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class ScriptedTurn:
    """One /run_sse turn the test writes, answered by the wrapper in place of the studio's planner.

    Its `draft` is written into the studio's project when the turn's work is done, so the next
    /state of the real studio returns it. `duration_s` is cloud seconds (see `CloudQuirks.time_scale`):
    the turn works that long, with keep-alives, before it answers. With `drop_after_s` the connection
    drops then; the draft lands all the same, as the cloud's work does.
    """

    text: str | None = None  # None: the cloud's usual words (none when `events` are given)
    draft: dict[str, Any] | None = None
    events: list[dict[str, Any]] | None = None  # exactly these events, in place of the call and its response
    error: str | None = None  # an ADK error event
    duration_s: float = 0.0
    drop_after_s: float | None = None
    silent: bool = False  # no words at all
    heartbeats: int | None = None  # exactly this many keep-alives, spread over the turn (else one every 10 s)

    def plan(self) -> list[tuple[float, bytes | None]]:
        """(cloud second, chunk) in order; a None chunk is the moment the draft lands."""
        turn = Turn()
        at = self.duration_s
        steps: list[tuple[float, bytes | None]] = []
        if self.draft is not None and self.events is None:
            call, call_id = turn.function_call("update_draft", {})
            steps.append((0.0, encode(call)))
        beats = self.heartbeats if self.heartbeats is not None else int(at // _HEARTBEAT_EVERY)
        steps += [((i + 1) * at / (beats + 1), HEARTBEATS["comment"]) for i in range(beats)]
        steps.append((at, None))
        if self.draft is not None and self.events is None:
            steps.append((at, encode(turn.function_response(call_id, "update_draft", {"status": "ok"}, self.draft))))
        steps += [(at, encode(event)) for event in self.events or []]
        if self.error:
            steps.append((at, encode(turn.error(self.error))))
        text = self.text
        if text is None and self.events is None and not self.error:
            text = "Done! I've updated your video." if self.draft is not None else "Sure, what would you like to make?"
        if text is not None and not self.silent:
            steps.append((at, encode(turn.text(text))))
        return steps


def route_of(method: str, path: str) -> str | None:
    return next((name for m, name, pattern in _ROUTES if m == method and pattern.match(path)), None)


class CloudQuirks:
    """ASGI wrapper: the studio's app, behaving like the cloud where a test asks it to."""

    def __init__(self, app: ASGIApp, studio: Studio | None = None) -> None:
        self.app = app
        self.studio = studio  # what scripted turns write their drafts into, and renders are counted in
        self.time_scale = 0.001  # real seconds per cloud second, for scripted turns
        self._scripts: list[ScriptedTurn] = []
        self.requests: list[Request] = []  # every request, in order
        self.gui_phrases = False
        self.render_shape: Literal["data", "task"] = "data"
        self.heartbeats: Literal["none", "comment", "empty", "json"] = "none"
        self.partial_replies = False  # replies streamed in partial pieces before the whole event
        # Status answers say "processing" at 95 % whatever the studio's render did (it does finish meanwhile).
        self.render_never_finishes = False
        # Renders last this many cloud seconds (see `time_scale`): status answers say "processing" with the
        # progress that time gives, while the studio's real render finishes underneath.
        self.render_seconds: float | None = None
        self.render_url_missing = False  # finished renders name no URL: the client must fall back to /download
        self.render_url_override: str | None = None  # finished renders name this URL instead of the studio's
        self._render_failures: list[str] = []  # the reasons the next renders started will fail with
        self._failed_renders: dict[str, str] = {}
        self._render_started: dict[str, float] = {}
        self._cancelled: set[str] = set()  # renders the cloud cancelled while it still reported them running
        self.status_requests: dict[str, int] = defaultdict(int)  # status answers each render got, by its id
        # Renders are made at this size whatever the draft asks: real renders, fast enough for many tests.
        self.render_size: tuple[int, int] | None = None
        self.hang_seconds = 30.0  # how long a "hang" fault holds its request before the real answer
        self.canvas_fps: int | None = None  # the frame rate the cloud's session canvas says (the studio's says none)
        self.balance: int | None = None  # the credits left, as the cloud counts them (the studio's are unlimited)
        self.balances: dict[str, int] = {}  # the credits left per token, where a test gives them (before `balance`)
        # Anonymous tokens expire this long after they are issued, as the cloud's do (the studio's never expire).
        self.token_lifetime_s: float | None = None
        # The cloud's limit: one anonymous token per client id; another is refused with 429 (the studio has none).
        self.one_token_per_client = False
        self._clients: set[str] = set()
        self.omit_session_user_id = False  # session answers leave the user id out, as some cloud answers do
        # Uploads by link are accepted, as the cloud fetches them (the studio works offline and refuses them).
        # The link is never fetched here: its record is made from the name alone and kept nowhere.
        self.fetches_links = False
        self._faults: dict[str, list[Fault]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)
        self.shaped = 0  # render-status answers sent in the task shape
        self.issued_tokens: list[str] = []  # every anonymous token the studio handed out, in order
        self.user_ids: list[str] = []  # the users those tokens stand for, in the same order
        self.sessions: list[str] = []  # every session the studio created, in order
        # What the cloud no longer knows: tokens it refuses (1001) and sessions it lost (1002, ADK's 404).
        self.revoked: set[str] = set()
        self.dropped: set[str] = set()

    def fail_next(
        self,
        route: str,
        *,
        code: int | None = None,
        status: int | None = None,
        kind: FaultKind | None = None,
        message: str | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` requests to `route` meet this fault: an envelope code, an HTTP status or a kind.

        `message` replaces the usual words: the envelope's message, or the HTTP status's detail.
        """
        if route not in {name for _, name, _ in _ROUTES}:
            raise ValueError(f"unknown route {route!r}")
        if code is None and status is None and kind is None:
            raise ValueError("give a code, a status or a kind")
        self._faults[route].extend(Fault(code, status, kind, message) for _ in range(times))

    def next_turn(self, text: str | None = None, **script: Any) -> ScriptedTurn:
        """The next /run_sse turn answers as scripted (`ScriptedTurn`'s fields); turns queue in order."""
        if self.studio is None:
            raise ValueError("scripted turns write into the studio: give CloudQuirks the Studio")
        turn = ScriptedTurn(text, **script)
        self._scripts.append(turn)
        return turn

    @property
    def projects(self) -> list[Project]:
        """The studio's projects, as it stored them (one per session)."""
        assert self.studio is not None, "give CloudQuirks the Studio"
        return list(self.studio.store.projects())

    @property
    def renders(self) -> int:
        """Renders the studio made (or is making), counted in its projects."""
        return sum(len(project.renders) for project in self.projects)

    @property
    def render_states(self) -> dict[str, str]:
        """Every render the studio made (or is making), oldest first: the state the cloud reports for it now
        ("pending", "processing", "completed", "failed" or "cancelled")."""
        records = sorted((r for p in self.projects for r in p.renders.values()), key=lambda r: r.created_at)
        return {record.id: self._reported(record.id, record.state) for record in records}

    def fail_next_render(self, reason: str, *, times: int = 1) -> None:
        """The next `times` renders started fail with `reason`, as the cloud's render farm reports it."""
        self._render_failures.extend([reason] * times)

    def clear_faults(self) -> None:
        """Faults and render failures asked for and not met yet are forgotten."""
        self._faults.clear()
        self._render_failures.clear()

    def revoke_tokens(self) -> None:
        """Every token handed out so far expires: requests bearing one are refused with 1001."""
        self.revoked.update(self.issued_tokens)

    def drop_sessions(self) -> None:
        """The cloud loses every session created so far."""
        self.dropped.update(self.sessions)

    @property
    def queued(self) -> int:
        """Faults asked for that no request has met yet."""
        return sum(len(faults) for faults in self._faults.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_of(scope["method"], scope["path"])
        if route is None:
            await self.app(scope, receive, send)
            return
        self.calls[route] += 1
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.requests.append(Request(scope["method"], scope["path"], headers))
        if self._faults[route]:
            fault = self._faults[route].pop(0)
            await act_out(fault, self._quirky(route), scope, receive, send, hang_seconds=self.hang_seconds)
        else:
            await self._quirky(route)(scope, receive, send)

    def _quirky(self, route: str) -> ASGIApp:
        """The studio's app for this route, with the quirks the test switched on."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            refusal, receive = await self._refusal(route, scope, receive)
            if refusal is not None:
                await act_out(refusal, self.app, scope, receive, send, hang_seconds=0)
                return
            if route == "upload" and self.fetches_links:
                raw, receive = await _buffered(receive)
                urls = (_json_object(raw) or {}).get("urls")
                if isinstance(urls, list) and urls:
                    await _answer(send, _linked([str(url) for url in urls]))
                    return
            if route == "render_start" and self.render_size is not None:
                receive = await _rewritten_body(receive, self._resized)
            if route == "anonymous_token":
                send = _Rewrite(send, self._issued)
            elif route == "credits" and (balance := self._balance_of(_bearer(scope))) is not None:
                send = _Rewrite(send, lambda answer: _with_balance(answer, balance))
            elif route == "state" and self.canvas_fps is not None:
                send = _Rewrite(send, self._canvas)
            elif route == "create_session":
                send = _Peek(send, lambda data: self.sessions.append(str(data["session_id"])))
                if self.omit_session_user_id:
                    send = _Rewrite(send, _without_user_id)
            elif route == "render_start":
                send = _Rewrite(send, self._render_began)
            elif route == "render_cancel" and self.studio is not None:
                render_id = scope["path"].rsplit("/", 2)[-2]
                found = await anyio.to_thread.run_sync(self.studio.store.find_render, render_id)
                if found is not None and self._reported(render_id, found[1].state) in ("pending", "processing"):
                    send = _Rewrite(send, lambda answer: self._render_cancelled(render_id, answer))
            elif route == "render_status":
                send = _Rewrite(send, self._render_status)
            elif route == "run_sse" and (self.gui_phrases or self.heartbeats != "none" or self.partial_replies):
                send = _Stream(send, self.heartbeats, self.gui_phrases, self.partial_replies)
            if route == "run_sse" and self._scripts:
                raw, receive = await _buffered(receive)
                session = str((_json_object(raw) or {}).get("session_id") or "")
                if self.studio is not None and self.studio.store.project(session) is not None:
                    await self._play(self._scripts.pop(0), session, send)
                    return
            await self.app(scope, receive, send)

        return app

    async def _refusal(self, route: str, scope: Scope, receive: Receive) -> tuple[Fault | None, Receive]:
        """How the cloud refuses a revoked token or a lost session, if the request carries one."""
        if _bearer(scope) in self.revoked:
            return Fault(code=1001), receive
        if route == "anonymous_token" and self.one_token_per_client:
            client = dict(scope["headers"]).get(b"x-client-id", b"").decode()
            if client in self._clients:
                return Fault(status=429), receive
            self._clients.add(client)
        if not self.dropped:
            return None, receive
        session = match[1] if (match := _SESSION_IN_PATH.search(scope["path"])) else None
        if route in ("run_sse", "render_start"):
            raw, receive = await _buffered(receive)
            body = _json_object(raw) or {}
            session = str(body.get("session_id") or body.get("sessionId") or "")
        if session not in self.dropped:
            return None, receive
        return (Fault(kind="session_not_found_404") if route == "run_sse" else Fault(code=1002)), receive

    async def _play(self, script: ScriptedTurn, session: str, send: Send) -> None:
        """Answer a turn as scripted, in scaled time; its draft lands in the studio's project on time."""
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        clock, landed = 0.0, False
        for at, chunk in script.plan():
            if script.drop_after_s is not None and at >= script.drop_after_s:
                await asyncio.sleep(max(0.0, script.drop_after_s - clock) * self.time_scale)
                if not landed:
                    await self._land(script, session)
                await send({"type": "http.response.body", "body": _CUT_EVENT, "more_body": True})
                raise DropConnection
            await asyncio.sleep(max(0.0, at - clock) * self.time_scale)
            clock = max(clock, at)
            if chunk is None:
                await self._land(script, session)
                landed = True
            else:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _land(self, script: ScriptedTurn, session: str) -> None:
        """The turn's work done: its draft becomes the project's, as the studio's own turns save it."""
        assert self.studio is not None
        store = self.studio.store
        project = store.project(session)
        if script.draft is not None and project is not None:
            project.draft = copy.deepcopy(script.draft)
            await anyio.to_thread.run_sync(store.save, project)

    def _issued(self, answer: dict[str, Any]) -> dict[str, Any]:
        data = answer.get("data")
        if answer.get("code") != 0 or not isinstance(data, dict):
            return answer
        self.issued_tokens.append(str(data["token"]))
        self.user_ids.append(str(data["user_id"]))
        if self.token_lifetime_s is not None:
            expiry = datetime.now(UTC) + timedelta(seconds=self.token_lifetime_s)
            data["expires_at"] = expiry.isoformat(timespec="seconds").replace("+00:00", "Z")
        if (balance := self._balance_of(str(data["token"]))) is not None:
            data["credits"] = balance
        return answer

    def _balance_of(self, token: str) -> int | None:
        return self.balances.get(token, self.balance)

    def _canvas(self, answer: dict[str, Any]) -> dict[str, Any]:
        state = (answer.get("data") or {}).get("state")
        if answer.get("code") == 0 and isinstance(state, dict):
            state["canvas_config"] = {**(state.get("canvas_config") or {}), "fps": self.canvas_fps}
        return answer

    def _render_began(self, answer: dict[str, Any]) -> dict[str, Any]:
        render_id = str((answer.get("data") or {}).get("id") or "")
        if render_id and render_id not in self._render_started:  # the same id again is the same render
            self._render_started[render_id] = time.monotonic()
            if self._render_failures:
                self._failed_renders[render_id] = self._render_failures.pop(0)
        return answer

    def _render_cancelled(self, render_id: str, answer: dict[str, Any]) -> dict[str, Any]:
        """A render the cloud still called running is cancelled, though the studio's may have finished meanwhile."""
        if answer.get("success"):
            self._cancelled.add(render_id)
        return answer

    def _reported(self, render_id: str, status: str) -> str:
        """The state the cloud reports for a render the studio says is in `status` (as `_render_status` says it)."""
        running = status in ("pending", "processing", "completed")
        if render_id in self._cancelled:
            return "cancelled"
        if render_id in self._failed_renders and running:
            return "failed"
        if running and (
            self.render_never_finishes or (self.render_seconds is not None and self._clock_share(render_id) < 1)
        ):
            return "processing"
        return status

    def _render_status(self, answer: dict[str, Any]) -> dict[str, Any]:
        data = answer.get("data") or {}
        render_id, status = str(data.get("id") or ""), data.get("status")
        self.status_requests[render_id] += 1
        running = status in ("pending", "processing", "completed")
        if render_id in self._cancelled:
            data = {"id": render_id, "status": "cancelled", "progress": int(data.get("progress") or 0)}
        elif render_id in self._failed_renders and running:
            data = {"id": render_id, "status": "failed", "progress": 0, "error": self._failed_renders[render_id]}
        elif self.render_never_finishes and running:
            data = {
                "id": render_id,
                "status": "processing",
                "progress": min(int(data.get("progress") or 0), _STILL_RUNNING),
            }
        elif self.render_seconds is not None and running and (share := self._clock_share(render_id)) < 1:
            data = {"id": render_id, "status": "processing", "progress": int(share * 100)}
        elif status == "completed" and (self.render_url_missing or self.render_url_override):
            output = {k: v for k, v in (data.get("output") or {}).items() if k != "url"}
            data = {k: v for k, v in data.items() if k not in ("outputUrl", "output")}
            if self.render_url_override:
                data["outputUrl"] = output["url"] = self.render_url_override
            data["output"] = output
        answer = {**answer, "data": data}
        if self.render_shape == "task":
            self.shaped += 1
            return _task_shape(answer)
        return answer

    def _clock_share(self, render_id: str) -> float:
        """How much of its `render_seconds` a render has had, on the accelerated clock."""
        assert self.render_seconds is not None
        started = self._render_started.setdefault(render_id, time.monotonic())
        lasting = self.render_seconds * self.time_scale
        return (time.monotonic() - started) / lasting if lasting > 0 else 1.0

    def _resized(self, body: dict[str, Any]) -> dict[str, Any]:
        draft = body.get("draft")
        if isinstance(draft, dict) and self.render_size is not None:
            width, height = self.render_size
            body = {**body, "draft": {**draft, "m": {**(draft.get("m") or {}), "width": width, "height": height}}}
        return body


def _linked(urls: list[str]) -> dict[str, Any]:
    """The cloud's answer to an upload by link: a record per file, its metadata guessed from the name."""
    files = []
    for url in urls:
        name = PurePosixPath(urlsplit(url).path).name or "remote"
        kind = BACKEND_EXTENSIONS.get(extension(name))
        if kind is None:
            return {"code": 4001, "message": f"{name}: unsupported file type.", "data": None}
        width, height = {"video": (1920, 1080), "image": (1080, 1080)}.get(kind, (None, None))
        duration = {"video": 12.0, "audio": 30.0}.get(kind)
        record = {"id": "m" + secrets.token_hex(8), "filename": name, "file_type": kind, "cdn_url": url}
        files.append({**record, "duration": duration, "width": width, "height": height, "size": None})
    return {"code": 0, "message": "success", "data": {"files": files, "session_state_applied": True}}


async def _answer(send: Send, answer: dict[str, Any]) -> None:
    raw = json.dumps(answer).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


def _with_balance(answer: dict[str, Any], balance: int) -> dict[str, Any]:
    data = answer.get("data")
    if answer.get("code") != 0 or not isinstance(data, dict):
        return answer
    frozen = int(data.get("frozen") or 0)
    return {**answer, "data": {**data, "available": balance, "total": balance + frozen}}


def _without_user_id(answer: dict[str, Any]) -> dict[str, Any]:
    data = answer.get("data")
    if isinstance(data, dict):
        data.pop("user_id", None)
    return answer


def _bearer(scope: Scope) -> str:
    return dict(scope["headers"]).get(b"authorization", b"").decode().partition(" ")[2].strip()


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that gives the app that body again (then the disconnect)."""
    raw = b""
    message = await receive()
    while message["type"] == "http.request":
        raw += message.get("body", b"")
        if not message.get("more_body"):
            break
        message = await receive()
    return raw, _replay(message if message["type"] != "http.request" else _body(raw), receive)


async def _rewritten_body(receive: Receive, rewrite: Callable[[dict[str, Any]], dict[str, Any]]) -> Receive:
    """A `receive` that gives the app the JSON request body rewritten (what is not a JSON object, as sent)."""
    raw, replay = await _buffered(receive)
    parsed = _json_object(raw)
    return replay if parsed is None else _replay(_body(json.dumps(rewrite(parsed)).encode()), receive)


def _body(raw: bytes) -> Message:
    return {"type": "http.request", "body": raw, "more_body": False}


def _replay(first: Message, receive: Receive) -> Receive:
    pending: list[Message] = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class _Peek:
    """Passes a JSON answer through unchanged and hands its envelope's `data` to `seen` when it succeeded."""

    def __init__(self, send: Send, seen: Callable[[dict[str, Any]], None]) -> None:
        self.send, self.seen = send, seen
        self.status = 0
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            if not message.get("more_body") and self.status == 200:
                answer = json.loads(self.body)
                if answer.get("code") == 0:
                    self.seen(answer["data"])
        await self.send(message)


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
    """Keep-alives before the first event, replies streamed in partial pieces first, a GUI-phrase reply last."""

    def __init__(self, send: Send, heartbeats: str, gui: bool, partial: bool) -> None:
        self.send, self.heartbeat, self.gui, self.partial = send, HEARTBEATS.get(heartbeats, b""), gui, partial
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            await self.send(message)
            return
        body = message.get("body", b"")
        if self.partial:
            body = _pieces_first(body)
        if not self.started:
            self.started = True
            body = self.heartbeat * 3 + body
        if not message.get("more_body") and self.gui:
            body += encode(Turn().text(GUI_REPLY))
        await self.send({**message, "body": body})


def _pieces_first(chunk: bytes) -> bytes:
    """ADK's streaming mode: a model reply arrives in partial pieces, then once more whole."""
    event = _json_object(chunk.removeprefix(b"data: ")) if chunk.startswith(b"data: ") else None
    parts = (event or {}).get("content", {}).get("parts") or [{}]
    text = parts[0].get("text") if event and event.get("content", {}).get("role") == "model" else None
    if not isinstance(text, str) or not text or event is None:
        return chunk
    size = -(-len(text) // 3)
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    content = event["content"]
    partials = [{**event, "content": {**content, "parts": [{"text": p}]}, "partial": True} for p in pieces]
    return b"".join(encode(partial) for partial in partials) + chunk
