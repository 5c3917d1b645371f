"""The MCP face of the service: five tools and the exported files as resources.

Each tool function only translates: arguments in, a `NemoVideo` call, and a
result out as a short text plus structured content (and a resource link for
an MP4). Errors become `is_error` results whose text says what to do.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import structlog
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, Icon, ImageContent, ResourceLink, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from nemovideo_mcp import __version__, rich_hidden
from nemovideo_mcp.app.results import (
    CreditsResult,
    ErrorInfo,
    ExportResult,
    GenerateResult,
    StateResult,
    UploadResult,
)
from nemovideo_mcp.errors import NemoError, SettingsError
from nemovideo_mcp.logs import configure_logging
from nemovideo_mcp.mcp.clients import Workspaces
from nemovideo_mcp.mcp.fit import fit_result
from nemovideo_mcp.mcp.schemas import fast_schema
from nemovideo_mcp.settings import Settings, load_settings
from nemovideo_mcp.text.redact import json_may_hold_secret, redact, redact_value

if TYPE_CHECKING:
    from nemovideo_mcp.app.service import NemoVideo

log = structlog.get_logger(__name__)
# resources/read sends the file inline (base64): beyond this, the path and the URL serve better.
MAX_RESOURCE_BYTES = 100 * 1024 * 1024

INSTRUCTIONS = """\
Make and edit videos with NemoVideo. Typical flow: (optional) `upload` photos, clips or music ->
`generate` with a plain-language instruction ("make a 30-second product video", "add lo-fi music at 35%")
-> `state` to see the timeline -> `export` to get the MP4 on disk plus a download link.
Costs: generate spends credits (a new video costs more than an edit); upload, state, credits and export are free.
Long work runs in the background: when a result says status "running", call `state` with its job_id
(for generate) or `export` again (for export) to keep waiting; never resend a generate instruction,
that would charge twice. Relay results in your own words; the server already performs any
"click/open/drag" steps the backend mentions."""

GENERATE_HELP = (
    "Send any creation or edit instruction to the NemoVideo agent: 'make a 20-second video about our "
    "coffee shop from the uploaded photos', 'add lo-fi BGM at 35%', 'add the title \"Urban Dreams\"'. "
    "Spends credits (creation more than edits). Returns the agent's reply, what changed on the timeline "
    "and a summary. Generation takes 1-5 minutes: if the result has status 'running', call `state` with "
    "its job_id to wait; do NOT send the same instruction again. Plain requests to export, check credits, "
    "show status or upload a file are routed to those actions without spending credits; 'make it and "
    "send me the video' also exports the result."
)

LOCAL_INSTRUCTIONS = """\
Make and edit videos with the local NemoVideo studio: it plans and renders on this computer, free and offline.
Flow: `upload` photos, clips and music from disk -> `generate` with one plain instruction per edit -> `state` to
see the timeline -> `export` to render the MP4 (a path, a link and a contact sheet of frames come back).
The studio follows fixed phrasings (below), one or a few edits per instruction; when it does not understand, it
changes nothing and says what it can do. Nothing costs credits here."""

LOCAL_GENERATE_HELP = (
    "Send one creation or edit instruction to the local studio (free, runs on this computer). It understands: "
    "'make a 15-second video from my photos' (uploaded photos and clips, in upload order), a description alone "
    "('make a 12-second video: Fresh bread daily. Open at 7.'), 'with the title \"Summer Sale\"', "
    "'add the caption \"Free shipping\" at the end', 'make it 9:16 for TikTok' / '1:1' / '4:5' / '720p', "
    "'my music at 35%', 'remove the music', 'remove scene 2', 'move scene 3 to the start', "
    "'replace scene 2 with beach.jpg', 'make scene 1 5 seconds', 'trim the clip to 4 seconds', "
    "'make it 30 seconds', 'use crossfades' / 'hard cuts'; also in Chinese ('把标题改成 夏日促销'). "
    "Returns its reply, what changed and the timeline summary. If it answers that it did not understand, "
    "nothing changed: rephrase with one of these forms."
)

WaitSeconds = Annotated[
    float | None,
    Field(
        default=None,
        ge=0,
        le=600,
        description="How long to wait for the result before returning a job id (default 45 s; 0 returns at once).",
    ),
]


# Each tool's result model in its failed form, so an argument error has the same shape as any other error.
_FAILED: dict[str, Callable[[ErrorInfo], BaseModel]] = {
    "generate": lambda e: GenerateResult(status="failed", message=e.message, error=e),
    "upload": lambda e: UploadResult(status="failed", message=e.message, error=e),
    "state": lambda e: StateResult(message=e.message, error=e),
    "credits": lambda e: CreditsResult(message=e.message, error=e),
    "export": lambda e: ExportResult(status="failed", message=e.message, error=e),
}


class _NemoServer(MCPServer[Workspaces]):
    """The SDK's server, with argument errors told in words (and with an error code) instead of pydantic's text,
    and output schemas in the form clients validate fastest."""

    def add_tool(  # the SDK's signature
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> None:
        super().add_tool(fn, name, title, description, annotations, icons, meta, structured_output)
        tool = self._tool_manager.get_tool(name or fn.__name__)
        if tool is not None and tool.fn_metadata.output_schema is not None:
            # Read live by tools/list; results are still validated against the model itself.
            tool.fn_metadata.output_schema = fast_schema(tool.fn_metadata.output_schema)

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError) or name not in _FAILED:
                raise
            tool = self._tool_manager.get_tool(name)
            allowed = sorted((tool.parameters.get("properties") or {}) if tool else {})
            info = ErrorInfo(code="invalid_input", message=argument_problems(name, exc.__cause__, allowed))
            return _to_result(_FAILED[name](info), is_error=True)


def argument_problems(tool: str, error: ValidationError, allowed: list[str]) -> str:
    """What is wrong with each argument, in words an agent can act on (no pydantic wording, no links)."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"] if part not in ("arguments",)) or "the arguments"
        ctx = item.get("ctx") or {}
        kind = item["type"]
        if kind == "missing":
            said = "is required"
        elif kind == "extra_forbidden":
            said = "is not an argument of this tool"
        elif kind == "string_too_long":
            said = f"is too long (at most {ctx.get('max_length')} characters)"
        elif kind == "string_too_short":
            said = (
                "must not be empty"
                if ctx.get("min_length") == 1
                else f"needs at least {ctx.get('min_length')} characters"
            )
        elif kind in ("greater_than_equal", "greater_than"):
            said = f"must be at least {ctx.get('ge', ctx.get('gt'))}"
        elif kind in ("less_than_equal", "less_than"):
            said = f"must be at most {ctx.get('le', ctx.get('lt'))}"
        elif kind.startswith(("float", "int", "decimal")):
            said = "must be a number"
        elif kind.startswith("bool"):
            said = "must be true or false"
        elif kind.startswith("string"):
            said = "must be text"
        elif kind.startswith("list"):
            said = "must be a list"
        else:
            said = f"is not valid ({item['msg']})"
        problems.append(f"`{where}` {said}")
    return (
        f"The {tool} call was not made: "
        + "; ".join(problems)
        + ". "
        + (f"Its arguments are: {', '.join(allowed)}." if allowed else "")
    )


def build_server(
    settings: Settings | None = None, settings_error: SettingsError | None = None, *, per_client: bool = False
) -> MCPServer[Workspaces]:
    """The MCP server; settings default to the environment (tests pass their own).

    ``per_client`` (HTTP mode): each client listed in ``NEMO_HTTP_CLIENTS`` works in its own workspace.
    """
    if settings is None:
        settings, settings_error = load_settings()
    if not structlog.is_configured():
        configure_logging(settings.log_level)
    config = (settings, settings_error)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Workspaces]) -> AsyncIterator[Workspaces]:
        # Each service, its HTTP client and its background jobs live from its first call to the server's end.
        async with anyio.create_task_group() as tasks:
            workspaces = Workspaces(tasks, *config, per_client=per_client)
            try:
                yield workspaces
            finally:
                workspaces.stop()

    instructions, generate_help = INSTRUCTIONS, GENERATE_HELP
    if settings.uses_local_backend:
        from nemovideo_mcp.app.service import local_studio_guide

        instructions = f"{LOCAL_INSTRUCTIONS}\n\n{local_studio_guide()}"
        generate_help = LOCAL_GENERATE_HELP
    with rich_hidden():  # logging is configured above: the SDK's rich handler would only cost time
        server: MCPServer[Workspaces] = _NemoServer(
            "nemovideo",
            title="NemoVideo",
            instructions=instructions,
            version=__version__,
            lifespan=lifespan,
        )

    @server.tool(
        name="generate",
        title="Generate or edit a video",
        description=generate_help,
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def generate(
        instruction: Annotated[
            str,
            Field(min_length=1, max_length=8000, description="What to make or change, in plain words (any language)."),
        ],
        ctx: Context[Workspaces],
        wait_seconds: WaitSeconds = None,
    ) -> Annotated[CallToolResult, GenerateResult]:
        service, progress = await _service(ctx), _reporter(ctx)
        return await _run(
            service,
            lambda: service.generate(instruction, wait_seconds, progress),
            _FAILED["generate"],
            progress,
        )

    @server.tool(
        name="upload",
        title="Upload media",
        description=(
            "Upload local files (absolute paths, or paths relative to your home folder) and/or http(s) URLs of "
            "videos, images or audio for the video: mp4, mov, avi, webm, mkv, jpg (or jpeg), png, gif, webp, mp3, "
            "wav, m4a, aac; at most 200 MB each. Free. Pass paths, never file contents. Returns what the backend "
            "recorded (type, duration, size). Then describe the video with `generate`."
        ),
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def upload(
        sources: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=4096)]],
            Field(min_length=1, max_length=20, description="File paths and/or http(s) URLs."),
        ],
        ctx: Context[Workspaces],
    ) -> Annotated[CallToolResult, UploadResult]:
        service = await _service(ctx)
        return await _run(
            service,
            lambda: service.upload(sources, _reporter(ctx)),
            _FAILED["upload"],
        )

    @server.tool(
        name="state",
        title="Show the timeline or a job",
        description=(
            "Show the current timeline (tracks, clips, music, titles) as a summary plus the raw draft, and the "
            "background jobs (also ones NemoVideo may still run after a restart), and the media uploaded to the "
            "project (generate may use any of it). With job_id, wait for that job (a generate or export that "
            "returned status 'running') and return its result. Free and read-only."
        ),
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        ),
    )
    async def state(
        ctx: Context[Workspaces],
        job_id: Annotated[
            str | None, Field(default=None, max_length=64, description="A job id from generate or export.")
        ] = None,
        wait_seconds: WaitSeconds = None,
    ) -> Annotated[CallToolResult, StateResult]:
        service, progress = await _service(ctx), _reporter(ctx)
        return await _run(
            service,
            lambda: service.state(job_id, wait_seconds, progress),
            _FAILED["state"],
            progress if job_id else None,
        )

    @server.tool(
        name="credits",
        title="Credit balance",
        description=(
            "Show the credit balance: available, frozen (held by running jobs) and total. For a free anonymous "
            "account that has run out, includes the link to register. Free and read-only."
        ),
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        ),
    )
    async def credits(ctx: Context[Workspaces]) -> Annotated[CallToolResult, CreditsResult]:
        service = await _service(ctx)
        return await _run(service, lambda: service.credits(_reporter(ctx)), _FAILED["credits"])

    @server.tool(
        name="export",
        title="Export the MP4",
        description=(
            "Render the current timeline to an H.264 MP4, save it on this machine and return the path, the "
            "download URL and a resource link. Free (no credits). Rendering takes 30-90 s: if the result says "
            "'running', call export again to keep waiting; it resumes the same render, never starts a second "
            "one. Use filename to choose the file name (never overwrites), cancel=true to stop a render."
        ),
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def export(
        ctx: Context[Workspaces],
        job_id: Annotated[
            str | None, Field(default=None, max_length=64, description="Resume or cancel this export job.")
        ] = None,
        filename: Annotated[
            str | None,
            Field(default=None, max_length=120, description="File name for the MP4 (saved in the export folder)."),
        ] = None,
        wait_seconds: WaitSeconds = None,
        cancel: Annotated[bool, Field(description="Cancel the running export instead.")] = False,
    ) -> Annotated[CallToolResult, ExportResult]:
        service, progress = await _service(ctx), _reporter(ctx)
        return await _run(
            service,
            lambda: service.export(
                job_id=job_id, filename=filename, wait_seconds=wait_seconds, cancel=cancel, report=progress
            ),
            _FAILED["export"],
            progress,
        )

    @server.resource(
        "nemovideo://exports/{name}",
        name="export",
        title="Exported video",
        description="An MP4 saved by export, read from the export folder.",
        mime_type="video/mp4",
    )
    async def exported(name: str, ctx: Context[Workspaces]) -> bytes:
        service = await _service(ctx)
        path = await service.exported_file(name)
        if path is None:
            raise ResourceNotFoundError("No such export. Only files saved by export in the export folder can be read.")
        if (await anyio.Path(path).stat()).st_size > MAX_RESOURCE_BYTES:
            raise ResourceError(
                f"This export is larger than {MAX_RESOURCE_BYTES // 2**20} MB, too big to send inline: open it at "
                f"{path} or use the download URL from export."
            )
        return await anyio.Path(path).read_bytes()

    return server


async def _run(
    service: NemoVideo,
    call: Callable[[], Awaitable[BaseModel]],
    on_error: Callable[[ErrorInfo], BaseModel],
    progress: ProgressReporter | None = None,
) -> CallToolResult:
    """Run a service call and turn its result, or its `NemoError`, into a tool result."""
    try:
        result = await call()
    except NemoError as exc:
        info = service.explain(exc)
        log.info("tool error", code=info.code)
        return _to_result(on_error(info), is_error=True)
    except Exception:
        # A bug of ours: the agent still gets a sentence it can act on, the details go to the log.
        from nemovideo_mcp.app.jobs import UNEXPECTED

        log.exception("tool failed unexpectedly")
        return _to_result(on_error(UNEXPECTED), is_error=True)
    status = _field(result, "status") or _field(_field(result, "job"), "status")
    if progress is not None and status != "running":
        # Finished (either way): the bar reaches its total. A job still running leaves it where it is.
        await progress.finish("Done." if status != "failed" else "Finished with a problem.")
    failed = _field(result, "error") is not None and (_field(result, "status") or "failed") == "failed"
    return _to_result(result, is_error=failed)


def _to_result(model: BaseModel, *, is_error: bool) -> CallToolResult:
    data = model.model_dump(mode="json")
    # No token leaves, no megabytes either. One encoding answers both for almost every result: one look over it
    # for anything secret-shaped, and its length; only a result that may hold a secret is walked string by string.
    encoded = json.dumps(data, ensure_ascii=False, default=str)
    data = fit_result(redact_value(data)) if json_may_hold_secret(encoded) else fit_result(data, size=len(encoded))
    content: list[Any] = [TextContent(type="text", text=str(data.get("message", "")))]
    for link in _resource_links(data):
        content.append(link)
    for preview in _previews(model):
        content.append(ImageContent(type="image", data=base64.b64encode(preview).decode(), mime_type="image/jpeg"))
    return CallToolResult(content=content, structured_content=data, is_error=is_error)


def _field(model: object, name: str) -> Any:
    """A field of a result model, None if it has no such field. (getattr of a missing one costs pydantic an
    exception, about 5 us, and each tool result asks up to six times.)"""
    return vars(model).get(name) if isinstance(model, BaseModel) else None


def _previews(model: BaseModel) -> list[bytes]:
    """Contact sheets of exported videos, from the result or the export nested in it."""
    found = [_field(model, "preview_jpeg"), _field(_field(model, "export"), "preview_jpeg")]
    return [jpeg for jpeg in found if isinstance(jpeg, bytes)]


def _resource_links(data: dict[str, Any]) -> list[ResourceLink]:
    exports = [data, data.get("export")]
    links = []
    for item in exports:
        if isinstance(item, dict) and item.get("resource_uri") and item.get("path"):
            links.append(
                ResourceLink(
                    type="resource_link",
                    uri=item["resource_uri"],
                    name=item["resource_uri"].rsplit("/", 1)[-1],
                    title="Exported MP4",
                    mime_type="video/mp4",
                    size=item.get("size_bytes"),
                    description=f"Saved at {item['path']}",
                )
            )
    return links


PROGRESS_TOTAL = 100.0
# Percentages and small steps share 0-99: the last step to the total is kept for the end of the call,
# so a bar never reads "done" while the download is still running.
_PROGRESS_CAP = 99.0


class ProgressReporter:
    """Relays a job's progress as MCP progress: rising, always with a total, within it, and reaching it at the end.

    A job that reports percentages (a render) moves the bar by them; one that does not (a generation) moves
    it by steps that halve the distance to the cap, so it keeps rising without ever claiming to be done.
    """

    def __init__(self, ctx: Context[Any]) -> None:
        self._ctx = ctx
        meta = ctx.request_context.meta or {}
        self._has_token = meta.get("progress_token") is not None or meta.get("progressToken") is not None
        self.last = 0.0

    def _next(self, progress: float | None) -> float | None:
        if progress is not None:
            target = round(max(0.0, min(100.0, progress)) * _PROGRESS_CAP / 100.0, 2)
            if target > self.last:
                return target
        step = round(self.last + (_PROGRESS_CAP - self.last) / 10, 2)
        return step if step > self.last else None

    async def __call__(self, message: str, progress: float | None = None) -> None:
        message = redact(message)
        value = self._next(progress)
        if value is not None:
            self.last = value
            # A no-op when the client sent no progress token.
            await self._ctx.report_progress(value, total=PROGRESS_TOTAL, message=message)
        if not self._has_token or value is None:
            # Without a token (or with nothing new to count) a log message is the channel.
            await self._log(message)

    async def finish(self, message: str) -> None:
        """The call is over: bring the bar to its total, once."""
        if self.last < PROGRESS_TOTAL:
            self.last = PROGRESS_TOTAL
            await self._ctx.report_progress(PROGRESS_TOTAL, total=PROGRESS_TOTAL, message=redact(message))

    async def _log(self, message: str) -> None:
        # The SDK decides per protocol version whether this may go out: always on a 2025 connection, on a
        # 2026 one only when the request opted in with a log level. It marks the call deprecated (the 2026
        # protocol retires logging); calling the undecorated function keeps the warning machinery, which is
        # process-wide, out of a call that awaits while other calls run.
        session = self._ctx.request_context.session
        send = getattr(type(session).send_log_message, "__wrapped__", None)
        if send is None:
            return  # an SDK without the wrapper: progress tokens remain the channel
        with contextlib.suppress(Exception):
            await send(session, level="info", data=message, related_request_id=self._ctx.request_id)


async def _service(ctx: Context[Workspaces]) -> NemoVideo:
    """The service of the client that sent this request, started by its first call."""
    return await ctx.request_context.lifespan_context.for_request(ctx.request_context.request).get()


def _reporter(ctx: Context[Any]) -> ProgressReporter:
    return ProgressReporter(ctx)
