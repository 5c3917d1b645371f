"""The studio's HTTP face: the NemoVideo contract (../shared/nemovideo-api.md), served on loopback.

Every endpoint answers the way the cloud does (envelopes, error codes, ADK events), so the MCP
client cannot tell the two apart; the differences a user should know (free, offline, no URL
uploads) are said in words. Disk and CPU work runs in worker threads: the loop only routes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from nemovideo_mcp.media.formats import BACKEND_EXTENSIONS, DESCRIPTIONS, extension
from nemovideo_mcp.media.probe import probe
from nemovideo_mcp.media.sniff import HEAD_BYTES, IMAGE_FAMILIES, extension_matches, image_problem, sniff_media
from nemovideo_mcp.studio import adk
from nemovideo_mcp.studio.planner import MediaItem, plan
from nemovideo_mcp.studio.projects import Account, MediaRecord, Project, ProjectStore, RenderRecord
from nemovideo_mcp.studio.renders import RenderQueue

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_FILES_PER_UPLOAD = 20
MAX_JSON_BYTES = 4 * 1024 * 1024
SUPPORTED = ", ".join(BACKEND_EXTENSIONS)
# A large balance rather than a fake count: nothing local costs credits, and the client says so.
LOCAL_CREDITS = 1_000_000


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status, self.body = status, body


def envelope_error(code: int, message: str, status: int = 200) -> ApiError:
    return ApiError(status, {"code": code, "message": message, "data": None})


def ok(data: Any) -> JSONResponse:
    return JSONResponse({"code": 0, "message": "success", "data": data})


class Studio:
    """The studio's state for one app: the project store and the render queue."""

    def __init__(self, root: Path, *, concurrency: int = 1, time_limit_s: float = 900.0) -> None:
        self.store = ProjectStore(root)
        self.queue = RenderQueue(self.store, concurrency=concurrency, time_limit_s=time_limit_s)

    # -- helpers the endpoints share ----------------------------------------------------

    def account(self, request: Request) -> Account:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise envelope_error(1001, "Missing or malformed token.", status=401)
        return self.store.account_for(token.strip())

    def project(self, account: Account, session_id: str) -> Project:
        project = self.store.project(session_id)
        if project is None or project.user_id != account.user_id:
            raise envelope_error(1002, f"Session not found: {session_id}")
        return project


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        raise ApiError(413, {"detail": "Request body too large"})
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise ApiError(422, {"detail": [{"loc": ["body"], "msg": "Invalid JSON", "type": "json_invalid"}]}) from None
    if not isinstance(data, dict):
        raise ApiError(422, {"detail": [{"loc": ["body"], "msg": "Expected an object", "type": "dict_type"}]})
    return data


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


# --- endpoints ---------------------------------------------------------------------------


async def anonymous_token(request: Request, studio: Studio) -> Response:
    if not request.headers.get("x-client-id"):
        raise ApiError(400, {"detail": "Missing X-Client-Id header"})
    token, account = await anyio.to_thread.run_sync(studio.store.new_anonymous_token)
    return ok({"token": token, "user_id": account.user_id, "expires_at": None, "credits": LOCAL_CREDITS})


async def create_session(request: Request, studio: Studio) -> Response:
    account = await anyio.to_thread.run_sync(studio.account, request)
    body = await _json(request)
    project = await anyio.to_thread.run_sync(
        studio.store.create_project, account, str(body.get("task_name") or "project"), str(body.get("language") or "en")
    )
    return ok({"task_id": project.task_id, "session_id": project.session_id, "user_id": account.user_id})


async def credits(request: Request, studio: Studio) -> Response:
    await anyio.to_thread.run_sync(studio.account, request)
    return ok({"available": LOCAL_CREDITS, "frozen": 0, "total": LOCAL_CREDITS, "plan": "local studio (free)"})


def _media_json(project: Project, record: MediaRecord, base: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "filename": record.name,
        "file_type": record.kind,
        "cdn_url": f"{base}/files/media/{project.session_id}/{record.id}",
        "duration": record.duration_ms / 1000 if record.duration_ms else None,
        "width": record.width,
        "height": record.height,
        "size": record.size,
    }


async def state(request: Request, studio: Studio) -> Response:
    account = await anyio.to_thread.run_sync(studio.account, request)
    project = await anyio.to_thread.run_sync(studio.project, account, request.path_params["session_id"])
    draft = project.draft or {}
    meta = draft.get("m") or {}
    base = _base_url(request)
    return ok(
        {
            "session_id": project.session_id,
            "task_id": project.task_id,
            "task_name": project.task_name,
            "state": {
                "draft": draft,
                "video_infos": [_media_json(project, m, base) for m in project.media],
                "generated_media": [],
                "canvas_config": {"width": meta.get("width"), "height": meta.get("height")},
            },
        }
    )


def _media_items(project: Project) -> list[MediaItem]:
    return [
        MediaItem(id=m.id, name=m.name, kind=m.kind, duration_ms=m.duration_ms, width=m.width, height=m.height)
        for m in project.media
    ]


async def run_sse(request: Request, studio: Studio) -> Response:
    body = await _json(request)
    account = await anyio.to_thread.run_sync(studio.account, request)
    session_id = str(body.get("session_id") or "")
    project = studio.store.project(session_id)
    if project is None or project.user_id != account.user_id:
        raise ApiError(404, {"detail": f"Session not found: {session_id}"})
    parts = ((body.get("new_message") or {}).get("parts")) or []
    text = " ".join(str(p.get("text") or "") for p in parts if isinstance(p, dict)).strip()
    if not text:
        raise ApiError(422, {"detail": [{"loc": ["body", "new_message"], "msg": "No text", "type": "missing"}]})

    outcome = await anyio.to_thread.run_sync(plan, text, project.draft or None, _media_items(project))
    turn = adk.Turn()

    async def events() -> AsyncIterator[bytes]:
        if outcome.draft is not None:
            call, call_id = turn.function_call(outcome.tool or "edit_timeline", outcome.args)
            yield adk.encode(call)
            project.draft = outcome.draft
            await anyio.to_thread.run_sync(studio.store.save, project)
            response = {"status": "ok", "changes": outcome.changes}
            yield adk.encode(turn.function_response(call_id, outcome.tool or "edit_timeline", response, outcome.draft))
        yield adk.encode(turn.text(outcome.reply))

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _check_upload(name: str, path: Path, size: int) -> MediaRecord:
    """Refuse what the backend would refuse, naming the file; probe what it keeps."""
    ext = extension(name)
    kind = BACKEND_EXTENSIONS.get(ext)
    if kind is None:
        raise envelope_error(4001, f"{name}: unsupported file type. Supported formats: {SUPPORTED}.")
    if size > MAX_UPLOAD_BYTES:
        raise envelope_error(4002, f"{name} is larger than 200 MB. Compress or trim it and upload again.")
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    family = sniff_media(head)
    if size == 0 or not extension_matches(ext, family):
        raise envelope_error(4001, f"{name} does not contain {DESCRIPTIONS[ext]}. Supported formats: {SUPPORTED}.")
    if family in IMAGE_FAMILIES and (problem := image_problem(path)):
        raise envelope_error(4001, f"{name} cannot be used: {problem}.")
    info = probe(path)
    if (kind == "video" and not info.has_video) or (kind == "audio" and not info.has_audio):
        raise envelope_error(4001, f"{name} has no readable {kind} stream (an unsupported codec or a damaged file).")
    width, height = info.width, info.height
    if kind == "image":
        from PIL import Image, ImageOps

        with Image.open(path) as image:
            width, height = ImageOps.exif_transpose(image).size if image.getexif() else image.size
    duration_ms = round(info.duration_s * 1000) if info.duration_s and kind != "image" else None
    return MediaRecord(
        id="m" + secrets.token_hex(8),
        name=name,
        kind=kind,
        file="",
        size=size,
        duration_ms=duration_ms,
        width=width,
        height=height,
        has_audio=info.has_audio if kind != "image" else False,
    )


async def _receive(upload: UploadFile, folder: Path) -> tuple[Path, int]:
    """Spool one part to a private temporary file in the project, with the size limit applied."""
    fd, raw = tempfile.mkstemp(prefix=".incoming-", dir=folder)
    path, size = Path(raw), 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise envelope_error(4002, f"{upload.filename} is larger than 200 MB. Compress or trim it.")
                await anyio.to_thread.run_sync(out.write, chunk)
    except BaseException:
        await anyio.Path(path).unlink(missing_ok=True)
        raise
    return path, size


async def upload(request: Request, studio: Studio) -> Response:
    account = await anyio.to_thread.run_sync(studio.account, request)
    project = await anyio.to_thread.run_sync(studio.project, account, request.path_params["session_id"])
    if "multipart/form-data" not in request.headers.get("content-type", ""):
        await _json(request)
        raise envelope_error(
            4001,
            "The local studio works offline and cannot fetch links: download the file and upload it from disk.",
        )
    folder = studio.store.project_dir(project) / "media"
    await anyio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
    base = _base_url(request)
    accepted: list[dict[str, Any]] = []
    async with request.form(max_files=MAX_FILES_PER_UPLOAD, max_part_size=1024 * 1024) as form:
        parts = [p for p in form.getlist("files") if isinstance(p, UploadFile)]
        if not parts:
            raise envelope_error(4001, "No files in the upload (the field name is 'files').")
        for part in parts:
            name = Path(part.filename or "upload").name[:200]
            path, size = await _receive(part, folder)
            try:
                record = await anyio.to_thread.run_sync(_check_upload, name, path, size)
                record = await anyio.to_thread.run_sync(studio.store.add_media, project, path, record)
            finally:
                await anyio.Path(path).unlink(missing_ok=True)  # moved on success; a refused file is not kept
            accepted.append(_media_json(project, record, base))
    return ok({"files": accepted, "session_state_applied": True})


def _render_json(record: RenderRecord, base: str) -> dict[str, Any]:
    data: dict[str, Any] = {"id": record.id, "status": record.state, "progress": record.progress}
    if record.state == "completed":
        data["outputUrl"] = f"{base}/files/renders/{record.id}/{record.url_key}.mp4"
        data["output"] = {"url": data["outputUrl"], "duration": record.duration_s, "size": record.size}
    if record.error:
        data["error"] = record.error
    return {"success": True, "data": data}


async def render_start(request: Request, studio: Studio) -> Response:
    account = await anyio.to_thread.run_sync(studio.account, request)
    body = await _json(request)
    render_id = str(body.get("id") or "")
    if not render_id or len(render_id) > 120 or not render_id.replace("_", "").replace("-", "").isalnum():
        raise ApiError(422, {"detail": [{"loc": ["body", "id"], "msg": "A unique render id is required"}]})
    project = await anyio.to_thread.run_sync(studio.project, account, str(body.get("sessionId") or ""))
    if (existing := project.renders.get(render_id)) is not None:  # the same id again: the same render
        return JSONResponse(_render_json(existing, _base_url(request)))
    draft = body.get("draft") if isinstance(body.get("draft"), dict) and body["draft"].get("t") else project.draft
    record = RenderRecord(id=render_id, draft=draft or {})
    project.renders[render_id] = record
    await anyio.to_thread.run_sync(studio.store.save, project)
    studio.queue.submit(project, record)
    return JSONResponse(_render_json(record, _base_url(request)))


async def _owned_render(request: Request, studio: Studio) -> tuple[Project, RenderRecord]:
    account = await anyio.to_thread.run_sync(studio.account, request)
    found = await anyio.to_thread.run_sync(studio.store.find_render, request.path_params["render_id"])
    if found is None or found[0].user_id != account.user_id:
        raise ApiError(404, {"success": False, "error": "Render not found"})
    return found


async def render_status(request: Request, studio: Studio) -> Response:
    _, record = await _owned_render(request, studio)
    return JSONResponse(_render_json(record, _base_url(request)))


async def render_cancel(request: Request, studio: Studio) -> Response:
    _, record = await _owned_render(request, studio)
    studio.queue.cancel(record.id)
    return JSONResponse({"success": True, "data": {"id": record.id, "status": "cancelled"}})


async def render_download(request: Request, studio: Studio) -> Response:
    project, record = await _owned_render(request, studio)
    if record.state != "completed":
        raise ApiError(409, {"success": False, "error": f"Render is {record.state}"})
    return FileResponse(studio.store.render_path(project, record.id), media_type="video/mp4")


async def render_file(request: Request, studio: Studio) -> Response:
    # Like a CDN link: no token, but an unguessable key in the path.
    found = await anyio.to_thread.run_sync(studio.store.find_render, request.path_params["render_id"])
    if found is None or not secrets.compare_digest(found[1].url_key, request.path_params["key"]):
        raise ApiError(404, {"detail": "Not Found"})
    project, record = found
    path = studio.store.render_path(project, record.id)
    if record.state != "completed" or not path.is_file():
        raise ApiError(404, {"detail": "Not Found"})
    return FileResponse(path, media_type="video/mp4")


async def media_file(request: Request, studio: Studio) -> Response:
    project = studio.store.project(request.path_params["session_id"])
    record = next((m for m in project.media if m.id == request.path_params["media_id"]), None) if project else None
    if project is None or record is None:
        raise ApiError(404, {"detail": "Not Found"})
    return FileResponse(studio.store.media_path(project, record))


async def index(request: Request, studio: Studio) -> Response:
    return JSONResponse({"name": "NemoVideo local studio", "contract": "nemovideo-api", "free": True})


# --- the app ---------------------------------------------------------------------------------

Handler = Callable[[Request, Studio], Awaitable[Response]]


def _wrap(studio: Studio, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, studio)
        except ApiError as exc:
            return JSONResponse(exc.body, status_code=exc.status)

    return endpoint


def create_app(studio: Studio) -> Starlette:
    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, _wrap(studio, handler), methods=[method])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        resumed = studio.queue.resume_unfinished()
        if resumed:
            log.info("resumed %d unfinished render(s)", resumed)
        try:
            yield
        finally:
            await studio.queue.close()

    return Starlette(
        routes=[
            route("/", index, "GET"),
            route("/api/auth/anonymous-token", anonymous_token, "POST"),
            route("/api/tasks/me/with-session/nemo_agent", create_session, "POST"),
            route("/api/credits/balance/simple", credits, "GET"),
            route("/api/state/nemo_agent/me/{session_id}/latest", state, "GET"),
            route("/run_sse", run_sse, "POST"),
            route("/api/upload-video/nemo_agent/me/{session_id}", upload, "POST"),
            route("/api/render/proxy/lambda", render_start, "POST"),
            route("/api/render/proxy/lambda/{render_id}", render_status, "GET"),
            route("/api/render/proxy/lambda/{render_id}/cancel", render_cancel, "POST"),
            route("/api/render/proxy/{render_id}/download", render_download, "GET"),
            route("/files/renders/{render_id}/{key}.mp4", render_file, "GET"),
            route("/files/media/{session_id}/{media_id}", media_file, "GET"),
        ],
        lifespan=lifespan,
    )
