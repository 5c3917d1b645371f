"""HTTP layer: Starlette routes, fault injection and response shapes.

Each endpoint goes through `_endpoint`, which records the request, applies any
scripted fault for its route, and turns `ApiError` into a response. Handlers stay
thin: the state logic lives in `Emulator`.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
import shutil
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from nemovideo_mcp.media.probe import probe
from support.emulator import media
from support.emulator.state import (
    DEFAULT_MESSAGES,
    ApiError,
    Emulator,
    Fault,
    RenderJob,
    Upload,
    envelope_error,
    http_error,
    validation_error,
)
from support.emulator.stream import Chunk, DropConnection, play_turn, relay

SKILL_HEADERS = ("x-skill-source", "x-skill-version", "x-skill-platform")
_NOT_JSON = object()  # sentinel: a body was sent but did not parse


@dataclass
class Call:
    emu: Emulator
    body: Any  # parsed JSON body, None when absent
    fault: Fault | None  # a stream/download fault the handler itself must act out


Handler = Callable[[Request, Call], Awaitable[Response]]


# --- responses that misbehave on purpose ----------------------------------------------------


class DropResponse(Response):
    """Headers (with a Content-Length) and maybe part of the body, then the socket closes."""

    def __init__(self, declared_length: int = 512, partial_body: bytes = b"") -> None:
        self.declared_length = declared_length
        self.partial_body = partial_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(self.declared_length).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if self.partial_body:
            await send({"type": "http.response.body", "body": self.partial_body, "more_body": True})
        raise DropConnection  # uvicorn closes the transport: the client sees a short body


class CutFileResponse(Response):
    """Declares the whole file's length, sends about half of it, then drops the connection."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        size = self.path.stat().st_size
        headers = [(b"content-type", b"video/mp4"), (b"content-length", str(size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        remaining = size // 2
        async with await anyio.open_file(self.path, "rb") as fh:
            while remaining > 0:
                chunk = await fh.read(min(64 * 1024, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        raise DropConnection


_PROXY_PAGES = {
    502: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    504: "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway "
    "Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
}


def _http_fault(status: int, message: str | None) -> Response:
    # Gateways in front of the API answer in their own formats, not the app's JSON.
    if status in _PROXY_PAGES and message is None:
        return Response(_PROXY_PAGES[status], status_code=status, media_type="text/html")
    if status == 503 and message is None:
        return PlainTextResponse(
            "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
            status_code=503,
        )
    defaults = {
        401: "Unauthorized",
        402: "Free plan cannot export. Register or upgrade your plan to unlock export.",
        429: "Rate limit exceeded: 1 anonymous token per client per 7 days",
    }
    return _json(http_error(status, message or defaults.get(status)))


def _json(error: ApiError) -> Response:
    if isinstance(error.body, str):
        return PlainTextResponse(error.body, status_code=error.status)
    return JSONResponse(error.body, status_code=error.status)


def _session_hint(request: Request, body: Any) -> str:
    if isinstance(body, dict) and body.get("session_id"):
        return str(body["session_id"])
    return str(request.path_params.get("session_id", "unknown"))


async def _act_out(emu: Emulator, fault: Fault, request: Request, route: str, body: Any) -> Response | None:
    """The response a fault produces, or None when the request should go on (maybe degraded)."""
    if fault.code is not None:
        message = fault.message or DEFAULT_MESSAGES.get(fault.code, "Request failed")
        return JSONResponse({"code": fault.code, "message": message})
    if fault.http_status is not None:
        return _http_fault(fault.http_status, fault.message)
    kind = fault.fault
    if kind == "hang":
        await asyncio.sleep(emu.hang_seconds)  # async: other requests keep being served
        return None
    if kind == "malformed_json":
        return Response(b'{"code": 0, "data": {"status": <!-- upstream timeout -->', media_type="application/json")
    if kind == "session_not_found_404":
        return JSONResponse({"detail": f"Session not found: {_session_hint(request, body)}"}, status_code=404)
    if kind == "validation_422":
        return _json(validation_error("new_message" if route == "run_sse" else "body"))
    stream_kinds = {
        "run_sse": ("truncated_sse", "garbage_sse"),
        "render_download": ("cut_download",),
        "cdn": ("cut_download",),
    }
    if kind in stream_kinds.get(route, ()):
        return None  # the handler acts it out
    return DropResponse()  # reset (or a stream/download fault on a route that has neither)


# --- plumbing -------------------------------------------------------------------------------


async def _read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _ok(data: Any) -> JSONResponse:
    return JSONResponse({"code": 0, "message": "ok", "data": data})


def _endpoint(emu: Emulator, route: str, handler: Handler, *, reads_json: bool = True) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        is_json = "json" in request.headers.get("content-type", "") or route != "upload"
        body = await _read_json(request) if reads_json and is_json else None
        recorded = None if body is _NOT_JSON else body
        emu.record(request.method, request.url.path, dict(request.headers.items()), recorded, route)
        fault = emu.take_fault(route)
        if fault is not None:
            early = await _act_out(emu, fault, request, route, body)
            if early is not None:
                return early
            if fault.fault == "hang":
                fault = None
        if body is _NOT_JSON:
            detail = [{"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error", "input": {}}]
            return JSONResponse({"detail": detail}, status_code=422)
        try:
            return await handler(request, Call(emu, body, fault))
        except ApiError as error:
            return _json(error)

    return endpoint


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# --- auth and sessions ----------------------------------------------------------------------


async def anonymous_token(request: Request, call: Call) -> Response:
    client_id = request.headers.get("x-client-id", "")
    try:
        uuid.UUID(client_id)
    except ValueError:
        raise http_error(400, "X-Client-Id header is required") from None
    return _ok(call.emu.issue_anonymous_token(client_id))


async def create_session(request: Request, call: Call) -> Response:
    user = call.emu.user_for(_bearer(request))
    body = call.body if isinstance(call.body, dict) else {}
    task_name = str(body.get("task_name") or "project")
    return _ok(call.emu.create_session(user, task_name, str(body.get("language") or "en")))


async def credits(request: Request, call: Call) -> Response:
    return _ok(call.emu.credits(call.emu.user_for(_bearer(request))))


async def state(request: Request, call: Call) -> Response:
    user = call.emu.user_for(_bearer(request))
    return _ok(call.emu.state(call.emu.session_for(user, request.path_params["session_id"])))


async def claim_token(request: Request, call: Call) -> Response:
    user = call.emu.user_for(_bearer(request))
    body = call.body if isinstance(call.body, dict) else {}
    if not body.get("session_id"):
        raise validation_error("session_id")
    return _ok(call.emu.claim_token(call.emu.session_for(user, str(body["session_id"]))))


# --- run_sse --------------------------------------------------------------------------------

_background: set[asyncio.Task[None]] = set()  # strong refs: the loop only keeps weak ones


def _message_text(body: dict[str, Any]) -> str | None:
    message = body.get("new_message")
    if not isinstance(message, dict) or not isinstance(message.get("parts"), list):
        return None
    return " ".join(str(p["text"]) for p in message["parts"] if isinstance(p, dict) and "text" in p)


async def run_sse(request: Request, call: Call) -> Response:
    emu, body = call.emu, call.body
    missing = [
        k for k in ("app_name", "user_id", "session_id", "new_message") if not isinstance(body, dict) or k not in body
    ]
    text = _message_text(body) if isinstance(body, dict) else None
    if missing or text is None:
        raise validation_error(*(missing or ["new_message"]))
    try:
        user = emu.user_for(_bearer(request))
    except ApiError:
        if emu.auth_failure_style == "http401":
            return JSONResponse({"detail": "Unauthorized"}, status_code=401)
        raise
    session_id = str(body["session_id"])
    try:
        session = emu.session_for(user, session_id)
    except ApiError:
        return JSONResponse({"detail": f"Session not found: {session_id}"}, status_code=404)  # ADK's own 404
    plan = emu.begin_turn(user, session, text, _base_url(request))
    queue: asyncio.Queue[Chunk] = asyncio.Queue()
    task = asyncio.create_task(
        play_turn(
            plan,
            queue,
            emu.time_scale,
            apply=partial(emu.apply_turn, session.session_id),
            settle=partial(emu.settle, user.user_id, plan.cost),
        )
    )
    _background.add(task)
    task.add_done_callback(_background.discard)
    kind = call.fault.fault if call.fault else None
    body_iter = relay(queue, truncate_after=2 if kind == "truncated_sse" else None, garbage=kind == "garbage_sse")
    return StreamingResponse(
        body_iter,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- uploads --------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^\w.\- ]+")


def _safe_name(name: str) -> str:
    return _UNSAFE.sub("_", Path(name.replace("\\", "/")).name)[-120:] or "file"


def _check_file(emu: Emulator, name: str, size: int | None) -> media.FileType:
    kind = media.file_type_for(name)
    if kind is None:
        raise envelope_error(4001, f"Unsupported file type: {name}. Supported: {', '.join(media.SUPPORTED_EXTENSIONS)}")
    if size is not None and size > emu.max_upload_bytes:
        limit = emu.max_upload_bytes // (1024 * 1024)
        raise envelope_error(4002, f"File too large: {name}. The limit is {limit} MB per file.")
    return kind


def _store(emu: Emulator, upload: UploadFile, kind: media.FileType, base: str) -> Upload:
    """Copy a spooled upload into the emulator's dir and sniff it (runs in a worker thread)."""
    file_id, directory = emu.new_file_dir()
    name = _safe_name(upload.filename or "file")
    path = directory / name
    upload.file.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, 1024 * 1024)
    record = Upload(file_id, name, kind, f"{base}/cdn/uploads/{file_id}/{quote(name)}", path.stat().st_size, path=path)
    if kind == "image":
        record.width, record.height = media.image_size(path) or (None, None)
    else:
        info = probe(path)
        record.duration, record.width, record.height = info.duration_s, info.width, info.height
    return record


def _from_url(url: str, kind: media.FileType) -> Upload:
    # Never fetched: plausible metadata derived from the name alone.
    name = _safe_name(urlsplit(url).path) or "remote"
    duration = {"video": 12.0, "audio": 30.0}.get(kind)
    width, height = (1920, 1080) if kind == "video" else (1080, 1080) if kind == "image" else (None, None)
    return Upload(f"f_{uuid.uuid4().hex[:16]}", name, kind, url, None, duration, width, height)


async def upload(request: Request, call: Call) -> Response:
    emu = call.emu
    user = emu.user_for(_bearer(request))
    session = emu.session_for(user, request.path_params.get("session_id"))
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        records = await _multipart_uploads(request, emu)
    else:
        records = _url_uploads(call.body, emu)
    emu.add_uploads(session, records)
    return _ok({"files": [r.to_json() for r in records], "session_state_applied": True})


async def _multipart_uploads(request: Request, emu: Emulator) -> list[Upload]:
    # Starlette spools each part to a temp file past 1 MB, so big uploads never sit in memory.
    form = await request.form(max_files=100)
    try:
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not files:
            raise validation_error("files")
        kinds = [_check_file(emu, f.filename or "", f.size) for f in files]  # all-or-nothing
        base = _base_url(request)
        return [await anyio.to_thread.run_sync(_store, emu, f, k, base) for f, k in zip(files, kinds, strict=True)]
    finally:
        await form.close()


def _url_uploads(body: Any, emu: Emulator) -> list[Upload]:
    urls = body.get("urls") if isinstance(body, dict) else None
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise validation_error("urls")
    kinds = [_check_file(emu, urlsplit(u).path, None) for u in urls]
    return [_from_url(u, k) for u, k in zip(urls, kinds, strict=True)]


# --- renders --------------------------------------------------------------------------------


async def render_start(request: Request, call: Call) -> Response:
    user = call.emu.user_for(_bearer(request))
    if not isinstance(call.body, dict):
        raise validation_error("id", "sessionId", "draft")
    attributed = all(request.headers.get(h) for h in SKILL_HEADERS)
    job = call.emu.start_render(user, call.body, attributed)
    return JSONResponse({"success": True, "data": {"id": job.id, "status": job.status, "progress": job.progress}})


async def _file_of(job: RenderJob) -> Path | None:
    try:
        return await asyncio.wrap_future(job.file)
    except Exception:  # ffmpeg missing or broken: report the job as failed rather than crash
        return None


async def render_status(request: Request, call: Call) -> Response:
    emu = call.emu
    job = emu.render_for(emu.user_for(_bearer(request)), request.path_params["render_id"], poll=True)
    path = await _file_of(job) if job.status == "completed" else None
    status, error = job.status, job.error
    if status == "completed" and path is None:
        status, error = "failed", "Render worker crashed: could not encode the video"
    url = None if emu.render_url_missing else f"{_base_url(request)}/cdn/renders/{job.id}.mp4"
    if url is not None and emu.render_url_override is not None:
        url = emu.render_url_override
    if emu.render_shape == "flat":
        flat: dict[str, Any] = {"taskId": job.id, "status": status, "progress": job.progress}
        if status == "completed" and path is not None:
            output: dict[str, Any] = {"duration": job.video_seconds, "size": path.stat().st_size}
            if url:
                output["url"] = url
            flat["output"] = output
        if error:
            flat["error"] = error
        return JSONResponse(flat)
    data: dict[str, Any] = {"id": job.id, "status": status, "progress": job.progress}
    if status == "completed" and url:
        data["outputUrl"] = url
    if error:
        data["error"] = error
    return JSONResponse({"success": True, "data": data})


async def render_cancel(request: Request, call: Call) -> Response:
    job = call.emu.cancel_render(call.emu.user_for(_bearer(request)), request.path_params["render_id"])
    return JSONResponse({"success": True, "data": {"id": job.id, "status": job.status, "progress": job.progress}})


async def _serve_render(job: RenderJob, call: Call) -> Response:
    if job.status != "completed":
        raise http_error(409, f"Render is not completed (status: {job.status})")
    path = await _file_of(job)
    if path is None:
        raise http_error(500, "Render output is missing")
    return _serve(path, call)


def _serve(path: Path, call: Call) -> Response:
    if call.fault is not None and call.fault.fault == "cut_download":
        return CutFileResponse(path)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type)  # Content-Length, streamed in 64 KiB chunks


async def render_download(request: Request, call: Call) -> Response:
    job = call.emu.render_for(call.emu.user_for(_bearer(request)), request.path_params["render_id"])
    return await _serve_render(job, call)


async def cdn(request: Request, call: Call) -> Response:
    """Unauthenticated files: uploads, finished renders, and generated clips."""
    kind, _, rest = request.path_params["path"].partition("/")
    if kind == "renders" and rest.endswith(".mp4"):
        try:
            job = call.emu.render_for(None, rest.removesuffix(".mp4"))
        except ApiError:
            raise http_error(404, "Not Found") from None
        return await _serve_render(job, call)
    if kind == "uploads":
        record = call.emu.uploaded_file(rest.partition("/")[0])
        if record is not None and record.path is not None:
            return _serve(record.path, call)
    if kind == "generated" and rest.endswith(".mp4"):
        try:
            path = await asyncio.wrap_future(media.render_cache.get(*media.DEFAULT_SIZE, media.MAX_RENDER_SECONDS))
        except Exception:
            raise http_error(500, "Generated clip unavailable") from None
        return _serve(path, call)
    raise http_error(404, "Not Found")


async def index(request: Request, call: Call) -> Response:
    return JSONResponse({"service": "NemoVideo API emulator", "time_scale": call.emu.time_scale})


# --- app ------------------------------------------------------------------------------------


async def _http_exception(request: Request, exc: Exception) -> Response:
    # FastAPI's shape for unknown paths and wrong methods, so clients meet what production sends.
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Internal Server Error"
    return JSONResponse({"detail": detail}, status_code=status)


def create_app(emu: Emulator) -> Starlette:
    def route(path: str, name: str, handler: Handler, method: str, **kw: Any) -> Route:
        return Route(path, _endpoint(emu, name, handler, **kw), methods=[method])

    routes = [
        route("/", "index", index, "GET", reads_json=False),
        route("/api/auth/anonymous-token", "anonymous_token", anonymous_token, "POST"),
        route("/api/tasks/me/with-session/nemo_agent", "create_session", create_session, "POST"),
        route("/run_sse", "run_sse", run_sse, "POST"),
        route("/api/upload-video/nemo_agent/me/{session_id}", "upload", upload, "POST"),
        route("/api/upload-video/nemo_agent/me", "upload", upload, "POST"),
        route("/api/credits/balance/simple", "credits", credits, "GET", reads_json=False),
        route("/api/state/nemo_agent/me/{session_id}/latest", "state", state, "GET", reads_json=False),
        route("/api/auth/claim-token", "claim_token", claim_token, "POST"),
        route("/api/render/proxy/lambda", "render_start", render_start, "POST"),
        route("/api/render/proxy/lambda/{render_id}", "render_status", render_status, "GET", reads_json=False),
        route("/api/render/proxy/lambda/{render_id}/cancel", "render_cancel", render_cancel, "POST"),
        route(
            "/api/render/proxy/{render_id}/download",
            "render_download",
            render_download,
            "GET",
            reads_json=False,
        ),
        route("/cdn/{path:path}", "cdn", cdn, "GET", reads_json=False),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_exception})
