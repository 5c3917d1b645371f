"""The domain facade: what the five tools (and the CLI) do, with no MCP in sight.

`NemoVideo` is an async context manager that owns the HTTP client, the
identity, and a task group in which background jobs run. Every public
method takes a `Reporter` for progress and returns a result model from
`results.py`; failures raise `NemoError` with words already chosen.
"""

from __future__ import annotations

import contextlib
from contextlib import AsyncExitStack, ExitStack, suppress
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio
import structlog

from nemovideo_mcp.app.export import Exporter, RenderSettings, can_resume, remove_stale_parts
from nemovideo_mcp.app.export import is_mp4 as _is_mp4
from nemovideo_mcp.app.jobs import Job, JobManager, JobRecord, Reporter, minutes, no_report
from nemovideo_mcp.app.messages import Who, in_words
from nemovideo_mcp.app.results import (
    CreditsResult,
    ErrorInfo,
    ExportResult,
    GenerateResult,
    NextStep,
    StateResult,
    TimelineView,
    UploadedItem,
    UploadResult,
)
from nemovideo_mcp.attribution import attribution_headers, detect_platform
from nemovideo_mcp.backend.auth import Connection, Identity
from nemovideo_mcp.backend.client import NemoApi
from nemovideo_mcp.backend.models import SessionState, UploadedFile
from nemovideo_mcp.backend.sse import ReplyCollector, Text, ToolActivity
from nemovideo_mcp.errors import NemoError, SettingsError, TransportError
from nemovideo_mcp.local.files import UploadCandidate, check_upload_path, check_url, open_upload, resolve_inside
from nemovideo_mcp.local.store import StateStore
from nemovideo_mcp.media.preview import contact_sheet
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.text.clean import clean_text
from nemovideo_mcp.text.gui import GuiAction, translate_reply
from nemovideo_mcp.text.intent import route
from nemovideo_mcp.text.redact import redact
from nemovideo_mcp.text.sizes import human_size
from nemovideo_mcp.text.timeline import Draft, diff_drafts, parse_draft, summarize, track_summaries, video_format

log = structlog.get_logger(__name__)

# The built-in backend runs emulated minutes as seconds so a newcomer sees a result quickly.
# The studio renders on this machine in seconds, not the cloud's minutes: poll it that much sooner.
LOCAL_TIME_SCALE = 0.05
STUDIO_FOLDER = "studio"
LOCAL_IDENTITY_FOLDER = "local"
LOCAL_BACKEND_NAME = "local-studio"
MAX_INSTRUCTION_CHARS = 8000


class NemoVideo:
    def __init__(self, settings: Settings, settings_error: SettingsError | None = None) -> None:
        self.settings = settings
        self.settings_error = settings_error
        self._stack = AsyncExitStack()
        self._credits_left: int | None = None  # read when the backend refuses work for lack of credits

    # -- lifecycle ------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            return await self._start()
        except BaseException:
            await self._stack.aclose()  # a half-started service must not leave threads or sockets behind
            raise

    async def _start(self) -> Self:
        s = self.settings
        base_url, state_dir = s.api_url, s.state_dir
        if s.uses_local_backend:
            base_url, state_dir = self._start_local_backend()
        platform = detect_platform(s.platform)
        self.api = NemoApi(
            base_url,
            headers=attribution_headers(platform),
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            stream_idle_timeout=s.stream_timeout,
            get_retries=s.get_retries,
            transfer_timeout=s.transfer_timeout,
            transfer_min_rate=s.transfer_min_rate_kb * 1024,
        )
        self._stack.push_async_callback(self.api.aclose)
        self.store = StateStore(state_dir)
        self.conn = Connection(
            self.api,
            self.store,
            user_token=s.token.get_secret_value() if s.token else None,
            client_id=s.client_id,
            language=s.language,
            rate_limit_delay=s.rate_limit_delay,
            backend_name=LOCAL_BACKEND_NAME if s.uses_local_backend else None,
        )
        tg = await self._stack.enter_async_context(anyio.create_task_group())
        # Jobs must not outlive the HTTP client they use: cancel them before closing it.
        self._stack.callback(tg.cancel_scope.cancel)
        self.jobs = JobManager(
            self.store,
            tg,
            error_info=self.explain,
            still_working_interval=s.still_working_interval,
            generate_window=s.stream_max,
        )
        await self.jobs.load()
        # Runs before the cancel above (exit callbacks run last-in first-out): the journal is current at exit.
        self._stack.push_async_callback(self.jobs.checkpoint)
        self.exporter = Exporter(
            self.api,
            self.conn,
            RenderSettings(
                export_dir=s.export_dir,
                poll_initial=self._local_pace("poll_initial"),
                poll_max=self._local_pace("poll_max"),
                poll_factor=s.poll_factor,
                render_timeout=s.render_timeout,
                max_download_bytes=s.max_download_mb * 1024 * 1024,
            ),
            rendered=self._rendered,
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

    def _check_settings(self) -> None:
        if self.settings_error is not None:
            log.error(self.settings_error.message)
            raise self.settings_error

    def _who(self) -> Who:
        ident = self.conn.identity
        return Who(
            anonymous=ident.anonymous if ident else (self.settings.token is None),
            user_id=ident.user_id if ident else None,
            web_url=self.settings.web_url,
            credits_left=self._credits_left,
        )

    def explain(self, exc: NemoError) -> ErrorInfo:
        """The error as the agent sees it: code, words chosen for this user, and no secrets."""
        return ErrorInfo(code=exc.code, message=redact(in_words(exc, self._who())), backend_code=exc.backend_code)

    async def _connect(self, report: Reporter) -> Identity:
        async def note(message: str) -> None:
            await report(message, None)

        return await self.conn.ensure(note)

    async def _state(self) -> SessionState:
        return await self.conn.call(lambda ident: self.api.state(ident.session_id))

    # -- credits ----------------------------------------------------------------

    async def credits(self, report: Reporter = no_report) -> CreditsResult:
        self._check_settings()
        await self._connect(report)
        balance = await self.conn.call(lambda _: self.api.credits())
        who = self._who()
        out_of_credits = balance.available <= 0
        register = who.register_link() if who.anonymous and out_of_credits else None
        if self.settings.uses_local_backend:
            return CreditsResult(
                message="The local studio is in use: planning, editing and rendering are free and run on this "
                "computer, so no credits are spent.",
                available=balance.available,
                frozen=0,
                total=balance.total,
                anonymous=who.anonymous,
                notices=self.conn.take_notices(),
            )
        message = f"Credits: {balance.available} available"
        if balance.frozen:
            message += f", {balance.frozen} held by running jobs"
        message += f" ({balance.total} total)."
        if register:
            message += f" The free credits are used up: register (free) to get more: {register}"
        elif who.anonymous:
            message += " (free anonymous account)"
        return CreditsResult(
            message=message,
            available=balance.available,
            frozen=balance.frozen,
            total=balance.total,
            anonymous=who.anonymous,
            register_url=register,
            notices=self.conn.take_notices(),
        )

    # -- state ------------------------------------------------------------------

    async def state(
        self, job_id: str | None = None, wait_seconds: float | None = None, report: Reporter = no_report
    ) -> StateResult:
        self._check_settings()
        job_result: GenerateResult | ExportResult | None = None
        if job_id:
            job = self._job(job_id)
            if job.record.kind == "export":
                job_result = await self._export_wait(job, self._wait(wait_seconds), report)
            else:
                job_result = self._generate_result(await self.jobs.wait(job, self._wait(wait_seconds), report))
        await self._connect(report)
        state = await self._state()
        view = timeline_view(parse_draft(state.draft), state.raw_state.get("canvas_config"))
        # Also jobs this server no longer follows but NemoVideo may still run (and charge for): cut off by a restart.
        jobs = [
            j.record.info()
            for j in self.jobs.all()
            if j.running or j.record.interrupted_export or self.jobs.backend_may_run(j.record)
        ]
        media = _session_media(state.raw_state.get("video_infos"))
        message = view.summary
        if job_result is not None:
            message = f"{job_result.message}\n\n{view.summary}"
        elif jobs:
            message += "\n" + "\n".join(f"Job {j.job_id} ({j.kind}): {j.stage}" for j in jobs)
        if media and job_result is None:
            message += "\n" + _media_line(media, self.store.root)
        return StateResult(
            message=message,
            timeline=view,
            draft=state.draft,
            jobs=jobs,
            job=job_result,
            media=media,
            notices=self.conn.take_notices(),
        )

    # -- upload -----------------------------------------------------------------

    async def upload(
        self, sources: list[str], report: Reporter = no_report, base_dir: Path | None = None
    ) -> UploadResult:
        self._check_settings()
        s = self.settings
        urls: list[str] = []
        candidates: list[tuple[str, UploadCandidate]] = []
        refused: list[ErrorInfo] = []
        check_path = partial(
            check_upload_path,
            base_dir=base_dir or Path.home(),  # the CLI passes the folder the person stands in
            allowed_dirs=s.upload_dir_list,
            allow_hidden=s.allow_hidden_uploads,
        )
        for source in sources:
            try:
                # Anything with a scheme other than file:// is a URL, and only http(s) will pass check_url.
                lowered = source.strip().lower()
                if "://" in lowered and not lowered.startswith("file://"):
                    urls.append(check_url(source))
                else:
                    candidates.append((source, await anyio.to_thread.run_sync(check_path, source)))
            except NemoError as exc:
                refused.append(self.explain(exc))
        if not urls and not candidates:
            first = refused[0] if refused else ErrorInfo(code="invalid_input", message="No files or URLs were given.")
            raise NemoError(first.code, " ".join(r.message for r in refused) or first.message)

        await self._connect(report)
        items: list[UploadedItem] = []
        if candidates:
            total = sum(c.size for _, c in candidates)
            await report(f"Uploading {len(candidates)} file(s), {human_size(total)}...", None)

            async def send(ident: Identity) -> list[Any]:
                with ExitStack() as stack:
                    handles = [(c.filename, stack.enter_context(open_upload(c))) for _, c in candidates]
                    return await self.api.upload_files(ident.session_id, handles)

            uploaded = await self.conn.call(send)
            items += _items([src for src, _ in candidates], uploaded, [c.shown_name for _, c in candidates])
        if urls:
            await report(f"Adding {len(urls)} URL(s)...", None)
            uploaded = await self.conn.call(lambda ident: self.api.upload_urls(ident.session_id, urls))
            items += _items(urls, uploaded)
        lines = [f"- {i.filename or i.source}: {_describe_item(i)}" for i in items]
        message = f"Uploaded {len(items)} file(s):\n" + "\n".join(lines)
        if refused:
            message += "\nNot uploaded:\n" + "\n".join(f"- {r.message}" for r in refused)
        message += "\nNext: describe the video you want with generate; the uploaded media will be used."
        return UploadResult(message=message, files=items, refused=refused, notices=self.conn.take_notices())

    # -- generate ---------------------------------------------------------------

    async def generate(
        self, instruction: str, wait_seconds: float | None = None, report: Reporter = no_report
    ) -> GenerateResult:
        self._check_settings()
        instruction = instruction.strip()
        if not instruction:
            raise NemoError("invalid_input", "The instruction is empty: say what video to make or what to change.")
        if len(instruction) > MAX_INSTRUCTION_CHARS:
            raise NemoError(
                "invalid_input",
                f"The instruction is {len(instruction)} characters long; keep it under {MAX_INSTRUCTION_CHARS}.",
            )
        wait = self._wait(wait_seconds)
        decision = route(instruction)
        if decision.intent == "credits":
            credits = await self.credits(report)
            return GenerateResult(status="succeeded", routed_to="credits", credits=credits, message=credits.message)
        if decision.intent == "state":
            state = await self.state(report=report)
            return GenerateResult(status="succeeded", routed_to="state", timeline=state.timeline, message=state.message)
        if decision.intent == "export":
            export = await self.export(wait_seconds=wait, report=report)
            return GenerateResult(
                status=export.status,
                routed_to="export",
                export=export,
                job_id=export.job_id,
                message=export.message,
                error=export.error,
            )
        if decision.intent == "upload" and decision.sources:
            upload = await self.upload(decision.sources, report)
            return GenerateResult(status="succeeded", routed_to="upload", upload=upload, message=upload.message)

        # Files named in a creation instruction go up first, so the turn can use them (and a refused
        # file stops here, before any credit is spent).
        uploaded = await self.upload(decision.sources, report) if decision.sources else None
        await self._connect(report)
        params = {"instruction": instruction, "also_export": decision.also_export}
        job = self.jobs.start(
            "generate", lambda j: self._run_generate(j, instruction, decision.also_export), params=params
        )
        result = self._generate_result(await self.jobs.wait(job, wait, report))
        result.upload = uploaded
        return result

    async def _run_generate(self, job: Job, instruction: str, also_export: bool) -> dict[str, Any]:
        """One agent turn, as a background job: stream, then compare the timeline, then act on the reply."""
        job.update("Reading the timeline...")
        before = parse_draft((await self._state()).draft)
        try:
            collector, dropped = await self._stream_turn(job, instruction)
        except NemoError as exc:
            if exc.code == "no_credits":  # refused before any work: a balance read is free and safe to repeat
                with anyio.move_on_after(10):
                    with suppress(NemoError):
                        self._credits_left = (await self.conn.call(lambda _: self.api.credits())).available
            raise

        job.update("Checking the timeline...")
        canvas: object = None
        try:
            latest = await self._state()
            after, canvas = parse_draft(latest.draft), latest.raw_state.get("canvas_config")
        except NemoError:
            after = parse_draft(collector.draft) if collector.draft is not None else before
        changes = diff_drafts(before, after)
        reply = clean_text(collector.text)
        translated = translate_reply(reply)
        result = GenerateResult(
            status="succeeded",
            reply=translated.text,
            changes=changes,
            timeline_changed=_draft_changed(before, after),
            timeline=timeline_view(after, canvas),
            message="",
        )
        result.error = self._turn_problem(dropped, collector, reply, changes)
        result.next_steps = _next_steps(translated.actions, user_asked_export=also_export)
        if also_export and result.error is None:
            await self._export_after_turn(job, result, after)
        result.notices += self.conn.take_notices()
        result.message = _generate_message(result, silent=not reply and dropped is None and not collector.errors)
        return result.model_dump(mode="json")

    async def _stream_turn(self, job: Job, instruction: str) -> tuple[ReplyCollector, TransportError | None]:
        """Send the instruction once and read the stream to its end (or its loss: it is never resent)."""
        job.update("Sending the instruction...")
        stream = await self.conn.call(lambda ident: self.api.open_stream(ident.session_id, instruction))
        collector = ReplyCollector()
        job.update("The agent is working...")
        try:
            # Keep-alives reset the idle timeout, so a stream that never ends needs an overall limit too.
            with anyio.move_on_after(self.settings.stream_max) as limit:
                async for event in stream.events():
                    collector.feed(event)
                    if isinstance(event, ToolActivity) and event.phase == "call":
                        job.update(f"Working on it: {_humanize_tool(event.name)}...")
                    elif isinstance(event, Text) and event.text.strip():
                        job.update("Writing the reply...")
        except TransportError as exc:
            # Never resend: the backend may have acted and charged already.
            return collector, exc
        finally:
            # Close the connection even when the job is being cancelled (but never wait on it forever).
            with anyio.CancelScope(shield=True, deadline=anyio.current_time() + 5):
                await stream.aclose()
        if limit.cancelled_caught:
            return collector, TransportError("stream_dropped", "The stream ran past NEMO_STREAM_MAX.")
        return collector, None

    def _turn_problem(
        self, dropped: TransportError | None, collector: ReplyCollector, reply: str, changes: list[str]
    ) -> ErrorInfo | None:
        done = "; ".join(changes)
        if dropped is not None:
            return self.explain(
                NemoError(
                    "stream_dropped",
                    "The connection to NemoVideo dropped while it was working. The instruction was not sent again "
                    "(that could charge twice). "
                    + (f"So far: {done}. " if changes else "Nothing has changed on the timeline yet. ")
                    + "Call state in a minute to see whether it finished before sending the instruction again.",
                )
            )
        if collector.errors and not reply:
            reason = clean_text(collector.errors[-1].message, limit=200)
            return self.explain(
                NemoError(
                    "stream_failed",
                    f"NemoVideo could not finish this instruction ({reason}). "
                    + (f"Changes made: {done}. " if changes else "Nothing was changed. ")
                    + "Try again, or rephrase it more simply.",
                )
            )
        return None

    async def _export_after_turn(self, job: Job, result: GenerateResult, after: Draft) -> None:
        """The user asked for the video too ("make it and send me the video"): export it in the same job."""
        if not after.is_export_ready:
            result.notices.append("Nothing to export yet: the timeline has no clips.")
            return
        job.update("Exporting the video...")
        export_job = self.jobs.start("export", self.exporter.run, params={"filename": None})
        result.export = await self._export_wait(export_job, self.settings.render_timeout, no_report)
        if result.export.error is not None:
            # The edit happened (and was paid for): the turn succeeded, only the export needs another go.
            result.notices.append(
                f"The video was made, but exporting it failed: {result.export.error.message} "
                f'Call export (job_id="{export_job.record.job_id}") to try again; do not resend the instruction.'
            )

    def _generate_result(self, record: JobRecord) -> GenerateResult:
        base: dict[str, Any] = {"job_id": record.job_id, "stage": record.stage, "elapsed_s": record.elapsed_s}
        if record.status == "running":
            return GenerateResult(
                status="running",
                message=(
                    f"Still working ({record.stage}, {record.elapsed_s:.0f} s so far). The job keeps running in the "
                    f'background: call state with job_id="{record.job_id}" to wait for the result. '
                    "Do not send the instruction again: that would charge twice."
                ),
                **base,
            )
        if record.result is not None:
            result = GenerateResult.model_validate({**record.result, **base, "status": record.status})
            if record.error is not None:
                result.error = record.error
            result.message = f"{result.message}\n\n(Took {minutes(record.elapsed_s)}.)"
            return result
        if record.status == "interrupted":
            # Not "call state": this is the answer to state. Say what is known and how to tell when it is done.
            return GenerateResult(
                status="interrupted",
                message=f"This instruction was cut off from the server that sent it ({minutes(record.elapsed_s)} "
                "ago) and was not sent again. NemoVideo may still be working on it, and charging for it: a "
                f"generation can take up to {minutes(self.settings.stream_max)}. The timeline below is what "
                "NemoVideo has now; when the change appears there, it is done.",
                **base,
            )
        error = record.error or ErrorInfo(code="backend_error", message="The job failed.")
        return GenerateResult(status=record.status, error=error, message=error.message, **base)

    # -- export -----------------------------------------------------------------

    async def export(
        self,
        *,
        job_id: str | None = None,
        filename: str | None = None,
        wait_seconds: float | None = None,
        cancel: bool = False,
        report: Reporter = no_report,
    ) -> ExportResult:
        self._check_settings()
        wait = self._wait(wait_seconds)
        # Connect before looking the job up: nothing may await between finding a job and
        # (re)starting it, or two calls at once would both start it.
        await self._connect(report)
        if cancel:
            return await self._cancel_export(self._job(job_id, kind="export") if job_id else self._running_export())
        job = self._job(job_id, kind="export") if job_id else self._pending_export(filename)
        if job is None:
            job = self.jobs.start("export", self.exporter.run, params={"filename": filename})
        elif can_resume(job.record):
            job = self.jobs.resume(job, self.exporter.run)
        elif job.record.status == "succeeded":
            await self._refresh_url(job)
        return await self._export_wait(job, wait, report)

    def _pending_export(self, filename: str | None) -> Job | None:
        """The export this call should wait for or resume instead of rendering again, if any.

        A running export (to this file name, when one is given) is waited for. Otherwise only the latest
        such export may be resumed: an older failed one must not stand in for a newer timeline.
        """
        exports = [
            j
            for j in self.jobs.all()
            if j.record.kind == "export" and filename in (None, j.record.params.get("filename"))
        ]
        running = [j for j in exports if j.running]
        if running:
            return running[-1]
        latest = exports[-1] if exports else None
        return latest if latest is not None and can_resume(latest.record) else None

    def _rendered(self, fingerprint: str) -> JobRecord | None:
        """The latest finished export of a draft with this fingerprint: an unchanged timeline is not rendered again."""
        job = self.jobs.find(
            lambda r: (
                r.kind == "export"
                and r.status == "succeeded"
                and r.result is not None
                and r.params.get("draft_hash") == fingerprint
            )
        )
        return job.record if job else None

    def _running_export(self) -> Job | None:
        running = self.jobs.find(lambda r: r.kind == "export" and r.status == "running")
        return running or self.jobs.find(lambda r: r.interrupted_export)

    async def _refresh_url(self, job: Job) -> None:
        """Download URLs expire: asking for a finished export again fetches a fresh one."""
        render_id, result = job.record.params.get("render_id"), job.record.result
        if not render_id or result is None:
            return
        try:
            status = await self.conn.call(lambda _: self.api.render_status(render_id))
        except NemoError as exc:
            log.info("could not refresh the download URL", code=exc.code)
            return
        if status.url:
            result["url"] = status.url

    async def _export_wait(self, job: Job, wait: float, report: Reporter) -> ExportResult:
        record = await self.jobs.wait(job, wait, report)
        base: dict[str, Any] = {
            "status": record.status,
            "job_id": record.job_id,
            "stage": record.stage,
            "progress": record.progress,
            "render_id": record.params.get("render_id"),
            "elapsed_s": record.elapsed_s,
        }
        base["notices"] = self.conn.take_notices()
        if record.status == "running":
            return ExportResult(
                message=(
                    f"{record.stage} (job {record.job_id}, {record.elapsed_s:.0f} s so far). It keeps rendering in the "
                    f'background: call export again (job_id="{record.job_id}") to wait for it; it resumes this render, '
                    "it does not start a second one. Export is free."
                ),
                **base,
            )
        if record.status == "succeeded" and record.result:
            size = record.result.get("size_bytes") or 0
            preview = await anyio.to_thread.run_sync(_preview_of, record.result.get("path"))
            saved = (
                f"The timeline has not changed since it was rendered, so nothing was rendered again: the MP4 is "
                f"at {record.result['path']} ({human_size(size)})."
                if record.result.get("reused_from")
                else f"Saved the MP4 to {record.result['path']} ({human_size(size)}) in {minutes(record.elapsed_s)}."
            )
            return ExportResult(
                message=saved
                + (f" Download link: {record.result['url']}" if record.result.get("url") else "")
                + (" A contact sheet of four frames is attached." if preview else ""),
                preview_jpeg=preview,
                **{**base, **record.result},
            )
        if record.status == "interrupted":
            return ExportResult(
                message=f'The server restarted during this export; call export (job_id="{record.job_id}") to resume '
                "its render and download the MP4. Nothing is rendered twice.",
                **base,
            )
        error = record.error or ErrorInfo(code="render_failed", message="The export did not finish.")
        return ExportResult(message=error.message, error=error, **base)

    async def _cancel_export(self, job: Job | None) -> ExportResult:
        if job is not None and not job.running and can_resume(job.record):
            return await self._cancel_orphaned(job)
        if job is None or not job.running:
            raise NemoError("job_not_found", "No export is running, so there is nothing to cancel.")
        render_id = job.record.params.get("render_id")
        # Cancel even when the submit has not been confirmed yet: it may be in flight and accepted anyway
        # (the id was journaled before sending); cancelling an id the backend never saw is harmless.
        if render_id:
            try:
                await self.api.render_cancel(render_id)
            except NemoError as exc:
                log.info("render cancel failed", code=exc.code)
        self.jobs.cancel(job)
        with anyio.move_on_after(5):
            while job.running:
                await job.changed()
        return ExportResult(
            status="cancelled",
            job_id=job.record.job_id,
            render_id=render_id,
            message="The export was cancelled; no file was saved.",
        )

    async def _cancel_orphaned(self, job: Job) -> ExportResult:
        """An export the previous process started: its render may still run at the backend, so cancel it there."""
        render_id = job.record.params.get("render_id")
        if render_id:
            try:
                await self.conn.call(lambda _: self.api.render_cancel(render_id))
            except NemoError as exc:
                # A render that already finished or never arrived cannot be cancelled: the job still ends here.
                log.info("render cancel failed", code=exc.code)
        job.finish("cancelled", error=ErrorInfo(code="render_cancelled", message="The export was cancelled."))
        return ExportResult(
            status="cancelled",
            job_id=job.record.job_id,
            render_id=render_id,
            message="The export was cancelled (its render was stopped at NemoVideo); no file was saved.",
        )

    # -- files served as resources ------------------------------------------------

    async def exported_file(self, name: str) -> Path | None:
        """The MP4 behind nemovideo://exports/<name>: only a file an export of this server saved, still an MP4.

        The export folder may be ~/Desktop or ~/Downloads: being in it does not make a file ours to serve.
        """
        saved = [
            path
            for job in self.jobs.all()
            if job.record.kind == "export" and job.record.status == "succeeded"
            and isinstance(path := (job.record.result or {}).get("path"), str)
        ]  # fmt: skip
        return await anyio.to_thread.run_sync(_served_export, self.settings.export_dir, name, saved)

    # -- helpers ----------------------------------------------------------------

    def _wait(self, wait_seconds: float | None) -> float:
        return self.settings.default_wait if wait_seconds is None else max(0.0, wait_seconds)

    def _job(self, job_id: str, kind: str | None = None) -> Job:
        job = self.jobs.get(job_id.strip())
        if job is None or (kind and job.record.kind != kind):
            known = ", ".join(j.record.job_id for j in self.jobs.all()[-5:]) or "none"
            raise NemoError(
                "job_not_found",
                f"No {kind or ''} job with id {job_id!r} on this server (recent: {known}).".replace("  ", " "),
            )
        return job


def local_studio_guide() -> str:
    """What the local studio's planner understands, for the server's instructions (only with NEMO_API_URL=local)."""
    from nemovideo_mcp.studio.planner import capabilities

    return capabilities("en")


def _served_export(folder: Path, name: str, saved: list[str]) -> Path | None:
    path = resolve_inside(folder, name)
    if path is None:
        return None
    ours = set()
    for entry in saved:
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            ours.add(Path(entry).resolve(strict=True))
    return path if path in ours and _is_mp4(path) else None


def _preview_of(path: str | None) -> bytes | None:
    """Four frames of the saved MP4 in one small JPEG; None when there is no file or ffmpeg cannot read it."""
    if not path or not Path(path).is_file():
        return None
    return contact_sheet(Path(path))


def timeline_view(draft: Draft, canvas: object = None) -> TimelineView:
    return TimelineView(
        summary=summarize(draft, canvas),
        tracks=track_summaries(draft),
        export_ready=draft.is_export_ready,
        format=video_format(draft, canvas),
    )


def _items(sources: list[str], uploaded: list[Any], names: list[str] | None = None) -> list[UploadedItem]:
    """One item per uploaded file; named as the user named it (a .jpeg was sent as .jpg)."""
    items = []
    for index, file in enumerate(uploaded):
        items.append(
            UploadedItem(
                source=sources[index] if index < len(sources) else "",
                filename=names[index] if names and index < len(names) else file.filename,
                type=file.file_type,
                duration_s=file.duration,
                width=file.width,
                height=file.height,
                size_bytes=file.size,
                url=file.cdn_url,
            )
        )
    return items


_MEDIA_LISTED = 12


def _session_media(raw: object) -> list[UploadedItem]:
    """The project's uploaded media as the backend keeps it: generate may use any of it, old uploads too."""
    if not isinstance(raw, list):
        return []
    files = []
    for entry in raw[:500]:
        if isinstance(entry, dict):
            with contextlib.suppress(ValueError):
                files.append(UploadedFile.model_validate(entry))
    names = [clean_text(f.filename or f.cdn_url or "", limit=120) for f in files]
    return _items(names, files, names)


def _media_line(media: list[UploadedItem], state_dir: Path) -> str:
    shown = "; ".join(f"{m.filename or 'unnamed'} ({_describe_item(m)})" for m in media[:_MEDIA_LISTED])
    more = f"; and {len(media) - _MEDIA_LISTED} more" if len(media) > _MEDIA_LISTED else ""
    return (
        f"Media in this project ({len(media)}), which generate may use: {shown}{more}. To start a fresh project "
        f"without them, quit the server, delete {state_dir / 'session.json'} and start it again."
    )


def _describe_item(item: UploadedItem) -> str:
    parts = [item.type or "file"]
    if item.duration_s:
        parts.append(f"{item.duration_s:g} s")
    if item.width and item.height:
        parts.append(f"{item.width}x{item.height}")
    if item.size_bytes:
        parts.append(human_size(item.size_bytes))
    return ", ".join(parts)


def _next_steps(actions: list[GuiAction], *, user_asked_export: bool) -> list[NextStep]:
    """GUI instructions in the reply, as tool calls the agent can offer (an asked-for export just runs)."""
    steps = []
    for action in actions:
        if action.kind == "export" and not user_asked_export:
            steps.append(
                NextStep(tool="export", say="The video is ready to export: export renders it to an MP4 (free).")
            )
        elif action.kind in ("edit", "perform") and action.detail:
            say = f"To apply it: {action.detail}." if action.kind == "edit" else f"Next possible step: {action.detail}."
            steps.append(NextStep(tool="generate", arguments={"instruction": action.detail}, say=say))
    return steps


def _humanize_tool(name: str) -> str:
    words = name.replace("_with_", " ").replace("_", " ").strip()
    for vendor in (" seedance", " kling", " veo", " runway"):
        words = words.replace(vendor, "")
    return words or "working"


def _draft_changed(before: Draft, after: Draft) -> bool:
    """Whether the turn changed the timeline at all: the word diff may miss fields it does not describe."""
    return bool(diff_drafts(before, after)) or before.model_dump(mode="json") != after.model_dump(mode="json")


def _generate_message(result: GenerateResult, *, silent: bool) -> str:
    parts: list[str] = []
    if result.error is not None:
        parts.append(result.error.message)
    if result.reply and result.timeline_changed is False and result.error is None:
        # A reply such as "已更新时间线" over an unchanged draft must not read as a finished edit.
        parts.append(
            "Nothing changed on the timeline. NemoVideo replied: "
            f'"{result.reply}". If you expected an edit, rephrase the instruction more specifically.'
        )
    elif result.reply:
        parts.append(result.reply)
    elif silent:
        if result.changes or result.timeline_changed:
            parts.append("Done.")
        else:
            parts.append(
                "NemoVideo finished without a reply and the timeline did not change. Try rephrasing the "
                'instruction more specifically (for example: add a title "Summer Sale" for the first 3 seconds).'
            )
    if result.changes:
        parts.append("Changes: " + "; ".join(result.changes))
    if result.timeline is not None:
        parts.append(result.timeline.summary)
    if result.export is not None and result.export.error is None:
        parts.append(result.export.message)
    parts += result.notices
    parts += [step.say for step in result.next_steps]
    return "\n\n".join(p for p in parts if p)
