"""The service: builds the collaborators and the five use cases, and nothing else.

`NemoVideo` is an async context manager that owns the HTTP client, the
identity, and a task group in which background jobs run; the use cases
(`generate.py`, `export.py`, `upload.py`, `state.py`, `credits.py`) are each
built from one `Context` and do the work. Every use case takes a `Reporter`
for progress and returns a result model from `results.py`.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

import anyio
import structlog

from nemovideo_mcp.app.jobs import Reporter, no_report
from nemovideo_mcp.errors import NemoError, SettingsError
from nemovideo_mcp.settings import Settings

if TYPE_CHECKING:
    from nemovideo_mcp.app.context import Explainer
    from nemovideo_mcp.app.credits import Credits
    from nemovideo_mcp.app.export import Export
    from nemovideo_mcp.app.generate import Generate
    from nemovideo_mcp.app.jobs import JobManager
    from nemovideo_mcp.app.results import (
        CreditsResult,
        ErrorInfo,
        ExportResult,
        GenerateResult,
        StateResult,
        UploadResult,
    )
    from nemovideo_mcp.app.state import State
    from nemovideo_mcp.app.upload import Upload

log = structlog.get_logger(__name__)

# The built-in backend runs emulated minutes as seconds so a newcomer sees a result quickly.
# The studio renders on this machine in seconds, not the cloud's minutes: poll it that much sooner.
LOCAL_TIME_SCALE = 0.05
STUDIO_FOLDER = "studio"
LOCAL_IDENTITY_FOLDER = "local"
LOCAL_BACKEND_NAME = "local-studio"


class NemoVideo:
    _explain: Explainer
    jobs: JobManager
    _credits: Credits
    _upload: Upload
    _export: Export
    _state: State
    _generate: Generate

    def __init__(self, settings: Settings, settings_error: SettingsError | None = None) -> None:
        self.settings = settings
        self.settings_error = settings_error
        self._stack = AsyncExitStack()

    # -- lifecycle ------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            return await self._start()
        except BaseException:
            await self._stack.aclose()  # a half-started service must not leave threads or sockets behind
            raise

    async def _start(self) -> Self:
        # Imported here, not at the top: the tools module (and so a cold start) needs only the names above.
        from nemovideo_mcp.app.context import Context, Explainer
        from nemovideo_mcp.app.credits import Credits
        from nemovideo_mcp.app.export import Export, RenderSettings, remove_stale_parts
        from nemovideo_mcp.app.generate import Generate
        from nemovideo_mcp.app.jobs import JobManager
        from nemovideo_mcp.app.state import State
        from nemovideo_mcp.app.upload import Upload
        from nemovideo_mcp.attribution import attribution_headers, detect_platform
        from nemovideo_mcp.backend.auth import Connection
        from nemovideo_mcp.backend.client import NemoApi
        from nemovideo_mcp.local.store import StateStore

        s = self.settings
        base_url, state_dir = s.api_url, s.state_dir
        if s.uses_local_backend:
            base_url, state_dir = self._start_local_backend()
        api = NemoApi(
            base_url,
            headers=attribution_headers(detect_platform(s.platform)),
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            stream_idle_timeout=s.stream_timeout,
            get_retries=s.get_retries,
            rate_limit_delay=s.rate_limit_delay,
            transfer_timeout=s.transfer_timeout,
            transfer_min_rate=s.transfer_min_rate_kb * 1024,
        )
        self._stack.push_async_callback(api.aclose)
        store = StateStore(state_dir)
        conn = Connection(
            api,
            store,
            user_token=s.token.get_secret_value() if s.token else None,
            client_id=s.client_id,
            language=s.language,
            backend_name=LOCAL_BACKEND_NAME if s.uses_local_backend else None,
        )
        self._explain = Explainer(s, conn)
        tg = await self._stack.enter_async_context(anyio.create_task_group())
        # Jobs must not outlive the HTTP client they use: cancel them before closing it.
        self._stack.callback(tg.cancel_scope.cancel)
        self.jobs = JobManager(
            store,
            tg,
            error_info=self._explain,
            still_working_interval=s.still_working_interval,
            generate_window=s.stream_max,
        )
        await self.jobs.load()
        # Runs before the cancel above (exit callbacks run last-in first-out): the journal is current at exit.
        self._stack.push_async_callback(self.jobs.checkpoint)

        ctx = Context(s, self.settings_error, api, conn, store, self.jobs, self._explain)
        render = RenderSettings(
            export_dir=s.export_dir,
            poll_initial=self._local_pace("poll_initial"),
            poll_max=self._local_pace("poll_max"),
            poll_factor=s.poll_factor,
            render_timeout=s.render_timeout,
            max_download_bytes=s.max_download_mb * 1024 * 1024,
        )
        self._credits = Credits(ctx)
        self._upload = Upload(ctx)
        self._export = Export(ctx, render)
        self._state = State(ctx, self._export)
        self._generate = Generate(
            ctx, upload=self._upload, export=self._export, credits=self._credits, state=self._state
        )

        removed = await anyio.to_thread.run_sync(remove_stale_parts, s.export_dir)
        if removed:
            log.info("removed partial downloads left by a crash", count=len(removed))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    def _start_local_backend(self) -> tuple[str, Path]:
        """The local studio in this process, keeping its projects in the user's state folder.

        The client's identity for the studio lives in its own subfolder, so it never replaces the
        user's cloud identity; both survive restarts, so `state` after a restart shows the same timeline.
        """
        from nemovideo_mcp.studio import local_studio

        root = self.settings.state_dir
        server = local_studio(root / STUDIO_FOLDER, time_limit_s=self.settings.render_timeout)
        # On the service's exit stack, so it closes last, after the jobs and the HTTP client that use it.
        self._stack.enter_context(server)
        log.info("using the local studio", url=server.url)
        return str(server.url), root / LOCAL_IDENTITY_FOLDER

    def _local_pace(self, name: str) -> float:
        """A polling interval; on the built-in backend, whose clock runs fast, scaled unless set explicitly."""
        value = float(getattr(self.settings, name))
        if self.settings.uses_local_backend and name not in self.settings.model_fields_set:
            return value * LOCAL_TIME_SCALE
        return value

    def explain(self, exc: NemoError) -> ErrorInfo:
        """The error as the agent sees it: code, words chosen for this user, and no secrets."""
        return self._explain(exc)

    # -- the use cases, as the tools and the CLI call them ----------------------

    async def credits(self, report: Reporter = no_report) -> CreditsResult:
        return await self._credits.run(report)

    async def state(
        self, job_id: str | None = None, wait_seconds: float | None = None, report: Reporter = no_report
    ) -> StateResult:
        return await self._state.run(job_id, wait_seconds, report)

    async def upload(
        self, sources: list[str], report: Reporter = no_report, base_dir: Path | None = None
    ) -> UploadResult:
        return await self._upload.run(sources, report, base_dir)

    async def generate(
        self, instruction: str, wait_seconds: float | None = None, report: Reporter = no_report
    ) -> GenerateResult:
        return await self._generate.run(instruction, wait_seconds, report)

    async def export(
        self,
        *,
        job_id: str | None = None,
        filename: str | None = None,
        wait_seconds: float | None = None,
        cancel: bool = False,
        report: Reporter = no_report,
    ) -> ExportResult:
        return await self._export.run(
            job_id=job_id, filename=filename, wait_seconds=wait_seconds, cancel=cancel, report=report
        )

    async def exported_file(self, name: str) -> Path | None:
        """The MP4 behind nemovideo://exports/<name>, if an export of this server saved it."""
        return await self._export.exported_file(name)


def local_studio_guide() -> str:
    """What the local studio's planner understands, for the server's instructions (only with NEMO_API_URL=local)."""
    from nemovideo_mcp.studio.planner import capabilities

    return capabilities("en")
