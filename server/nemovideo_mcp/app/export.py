"""The export use case, and the export job it runs: draft -> render -> MP4 on disk.

Each step of the job is journaled before it is taken, so a
server restarted mid-render polls the same render again instead of starting
(and paying for) a second one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import structlog

from nemovideo_mcp.app.context import Context
from nemovideo_mcp.app.jobs import ExportOutcome, ExportState, Job, JobRecord, Reporter, minutes, no_report
from nemovideo_mcp.app.polling import PollSchedule
from nemovideo_mcp.app.results import ErrorInfo, ExportResult
from nemovideo_mcp.backend.auth import Connection, Identity
from nemovideo_mcp.backend.client import NemoApi
from nemovideo_mcp.backend.models import RenderStatus
from nemovideo_mcp.errors import ApiError, NemoError, TransportError
from nemovideo_mcp.local.files import move_into_place, resolve_inside, safe_filename
from nemovideo_mcp.media.preview import contact_sheet
from nemovideo_mcp.text.sizes import human_size
from nemovideo_mcp.text.timeline import parse_draft, project_title

log = structlog.get_logger(__name__)

RESOURCE_PREFIX = "nemovideo://exports/"
_MP4_HEAD = 12
DEFAULT_NAME = "NemoVideo video"
# The latest succeeded export of a draft with this fingerprint, if any: asked before rendering again.
RenderedLookup = Callable[[str], JobRecord | None]


@dataclass(frozen=True)
class RenderSettings:
    export_dir: Path
    poll_initial: float
    poll_max: float
    poll_factor: float
    render_timeout: float
    max_download_bytes: int


def can_resume(record: JobRecord) -> bool:
    """An export whose render may still be fetched: resuming it never renders twice.

    Either a restart cut it off, or it failed after the render was submitted (a timeout or a download).
    """
    failed_after_submit = (
        record.status == "failed"
        and record.error is not None
        and record.error.code in ("download_failed", "timeout")
        and bool(record.export.render_id)
    )
    return record.interrupted_export or failed_after_submit


def new_render_id() -> str:
    return f"render_{secrets.token_hex(8)}"


def draft_fingerprint(draft: dict[str, Any]) -> str:
    """Equal for drafts that render the same video: what decides whether an earlier render can be reused."""
    text = json.dumps(draft, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def export_filename(requested: str | None, title: str | None) -> str:
    """The MP4's name: the one asked for, else the project's title, else a plain default (never a render id)."""
    name = safe_filename(requested or title or DEFAULT_NAME, default=f"{DEFAULT_NAME}.mp4")
    return name if name.lower().endswith(".mp4") else f"{name}.mp4"


class Export:
    """The export use case: start, wait for, resume or cancel an export job, and say how it went."""

    def __init__(self, ctx: Context, settings: RenderSettings) -> None:
        self.ctx = ctx
        self.exporter = Exporter(ctx.api, ctx.conn, settings, rendered=self._rendered)

    async def run(
        self,
        *,
        job_id: str | None = None,
        filename: str | None = None,
        wait_seconds: float | None = None,
        cancel: bool = False,
        report: Reporter = no_report,
    ) -> ExportResult:
        ctx = self.ctx
        ctx.check_settings()
        wait = ctx.wait_for(wait_seconds)
        # Connect before looking the job up: nothing may await between finding a job and
        # (re)starting it, or two calls at once would both start it.
        await ctx.connect(report)
        if cancel:
            return await self._cancel(ctx.job(job_id, kind="export") if job_id else self._running())
        job = ctx.job(job_id, kind="export") if job_id else self._pending(filename)
        if job is None:
            job = self.start(filename)
        elif can_resume(job.record):
            job = ctx.jobs.resume(job, self.exporter.run)
        elif job.record.status == "succeeded":
            await self._refresh_url(job)
        return await self.wait(job, wait, report)

    def start(self, filename: str | None) -> Job:
        return self.ctx.jobs.start(ExportState(filename=filename), self.exporter.run)

    def _pending(self, filename: str | None) -> Job | None:
        """The export this call should wait for or resume instead of rendering again, if any.

        A running export (to this file name, when one is given) is waited for. Otherwise only the latest
        such export may be resumed: an older failed one must not stand in for a newer timeline.
        """
        exports = [
            j for j in self.ctx.jobs.all() if j.record.kind == "export" and filename in (None, j.record.export.filename)
        ]
        running = [j for j in exports if j.running]
        if running:
            return running[-1]
        latest = exports[-1] if exports else None
        return latest if latest is not None and can_resume(latest.record) else None

    def _rendered(self, fingerprint: str) -> JobRecord | None:
        """The latest finished export of a draft with this fingerprint: an unchanged timeline is not rendered again."""
        job = self.ctx.jobs.find(
            lambda r: (
                r.kind == "export"
                and r.status == "succeeded"
                and r.result is not None
                and r.export.draft_hash == fingerprint
            )
        )
        return job.record if job else None

    def _running(self) -> Job | None:
        jobs = self.ctx.jobs
        running = jobs.find(lambda r: r.kind == "export" and r.status == "running")
        return running or jobs.find(lambda r: r.interrupted_export)

    async def _refresh_url(self, job: Job) -> None:
        """Download URLs expire: asking for a finished export again fetches a fresh one."""
        export = job.record.export
        render_id, result = export.render_id, export.result
        if not render_id or result is None:
            return
        try:
            status = await self.ctx.conn.call(lambda _: self.ctx.api.render_status(render_id))
        except NemoError as exc:
            log.info("could not refresh the download URL", code=exc.code)
            return
        if status.url:
            result.url = status.url

    async def wait(self, job: Job, wait: float, report: Reporter) -> ExportResult:
        record = await self.ctx.jobs.wait(job, wait, report)
        base: dict[str, Any] = {
            "status": record.status,
            "job_id": record.job_id,
            "stage": record.stage,
            "progress": record.progress,
            "render_id": record.export.render_id,
            "elapsed_s": record.elapsed_s,
        }
        base["notices"] = self.ctx.conn.take_notices()
        if record.status == "running":
            return ExportResult(
                message=(
                    f"{record.stage} (job {record.job_id}, {record.elapsed_s:.0f} s so far). It keeps rendering in the "
                    f'background: call export again (job_id="{record.job_id}") to wait for it; it resumes this render, '
                    "it does not start a second one. Export is free."
                ),
                **base,
            )
        outcome = record.export.result
        if record.status == "succeeded" and outcome is not None:
            size = outcome.size_bytes or 0
            preview = await anyio.to_thread.run_sync(_preview_of, outcome.path)
            saved = (
                f"The timeline has not changed since it was rendered, so nothing was rendered again: the MP4 is "
                f"at {outcome.path} ({human_size(size)})."
                if outcome.reused_from
                else f"Saved the MP4 to {outcome.path} ({human_size(size)}) in {minutes(record.elapsed_s)}."
            )
            return ExportResult(
                message=saved
                + (f" Download link: {outcome.url}" if outcome.url else "")
                + (" A contact sheet of four frames is attached." if preview else ""),
                preview_jpeg=preview,
                **{**base, **outcome.model_dump()},
            )
        if record.status == "interrupted":
            return ExportResult(
                message=f'The server restarted during this export; call export (job_id="{record.job_id}") to resume '
                "its render and download the MP4. Nothing is rendered twice.",
                **base,
            )
        error = record.error or ErrorInfo(code="render_failed", message="The export did not finish.")
        return ExportResult(message=error.message, error=error, **base)

    async def _cancel(self, job: Job | None) -> ExportResult:
        if job is not None and not job.running and can_resume(job.record):
            return await self._cancel_orphaned(job)
        if job is None or not job.running:
            raise NemoError("job_not_found", "No export is running, so there is nothing to cancel.")
        render_id = job.record.export.render_id
        # Cancel even when the submit has not been confirmed yet: it may be in flight and accepted anyway
        # (the id was journaled before sending); cancelling an id the backend never saw is harmless.
        if render_id:
            try:
                await self.ctx.api.render_cancel(render_id)
            except NemoError as exc:
                log.info("render cancel failed", code=exc.code)
        self.ctx.jobs.cancel(job)
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
        render_id = job.record.export.render_id
        if render_id:
            try:
                await self.ctx.conn.call(lambda _: self.ctx.api.render_cancel(render_id))
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

    async def exported_file(self, name: str) -> Path | None:
        """The MP4 behind nemovideo://exports/<name>: only a file an export of this server saved, still an MP4.

        The export folder may be ~/Desktop or ~/Downloads: being in it does not make a file ours to serve.
        """
        saved = [
            job.record.export.result.path
            for job in self.ctx.jobs.all()
            if job.record.kind == "export" and job.record.status == "succeeded" and job.record.export.result
        ]
        return await anyio.to_thread.run_sync(_served_export, self.ctx.settings.export_dir, name, saved)


def _served_export(folder: Path, name: str, saved: list[str]) -> Path | None:
    path = resolve_inside(folder, name)
    if path is None:
        return None
    ours = set()
    for entry in saved:
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            ours.add(Path(entry).resolve(strict=True))
    return path if path in ours and is_mp4(path) else None


def _preview_of(path: str | None) -> bytes | None:
    """Four frames of the saved MP4 in one small JPEG; None when there is no file or ffmpeg cannot read it."""
    if not path or not Path(path).is_file():
        return None
    return contact_sheet(Path(path))


class Exporter:
    """The export job itself: draft -> render -> MP4 on disk, each step journaled before it is taken."""

    def __init__(
        self, api: NemoApi, conn: Connection, settings: RenderSettings, rendered: RenderedLookup | None = None
    ) -> None:
        self.api = api
        self.conn = conn
        self.settings = settings
        self.rendered = rendered

    async def run(self, job: Job) -> ExportOutcome:
        export = job.record.export
        resume_id = export.render_id
        unconfirmed: str | None = None
        if resume_id and not export.draft_submitted and not await self._render_exists(resume_id):
            # We died before the backend accepted it. Submit again under the same id: if the first request was
            # still in flight and lands after all, the backend refuses the duplicate instead of rendering twice.
            resume_id, unconfirmed = None, resume_id
        if resume_id:
            job.update("Resuming the render started earlier...")
            status = await self._render(job, resume_id=resume_id, first_attempt=export.attempt)
            return await self._download(job, status)
        draft = await self._export_ready_draft(job)
        fingerprint = draft_fingerprint(draft)
        export.draft_hash, export.title = fingerprint, project_title(parse_draft(draft))
        job.update()
        reused = None if unconfirmed else await self._reuse(job, fingerprint)
        if reused is not None:
            return reused
        status = await self._render(
            job, resume_id=None, first_attempt=export.attempt, draft=draft, submit_id=unconfirmed
        )
        return await self._download(job, status)

    # -- an unchanged timeline is never rendered twice ------------------------

    async def _reuse(self, job: Job, fingerprint: str) -> ExportOutcome | None:
        """The result of an earlier export of this very draft: its file, a copy of it, or its render again."""
        earlier = self.rendered(fingerprint) if self.rendered else None
        previous = earlier.export.result if earlier is not None else None
        if earlier is None or earlier.job_id == job.record.job_id or previous is None:
            return None
        path = Path(previous.path)
        wanted = job.record.export.filename
        saved: bool = bool(previous.path) and await anyio.to_thread.run_sync(is_mp4, path)
        if saved:
            job.update("This timeline was already rendered: reusing that MP4...", progress=100)
            if wanted is None or export_filename(wanted, None) == path.name:
                return previous.model_copy(update={"reused_from": earlier.job_id})
            final = await self._copy(path, export_filename(wanted, None))
            return previous.model_copy(
                update={"path": str(final), "resource_uri": RESOURCE_PREFIX + final.name, "reused_from": earlier.job_id}
            )
        render_id = previous.render_id
        if not render_id:
            return None
        # The file is gone: download the same render again (its URL is fetched fresh), without rendering.
        try:
            status = await self.conn.call(lambda _: self.api.render_status(render_id))
        except NemoError as exc:
            log.info("earlier render not available", code=exc.code)
            return None
        if status.status != "completed":
            return None
        job.record.export.render_id = render_id
        job.update("This timeline was already rendered: downloading that render again...")
        downloaded = await self._download(job, status)
        return downloaded.model_copy(update={"reused_from": earlier.job_id})

    async def _copy(self, source: Path, filename: str) -> Path:
        folder = self.settings.export_dir
        tmp = folder / f".{filename}.{secrets.token_hex(4)}.part"
        try:
            await anyio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
            await anyio.to_thread.run_sync(shutil.copyfile, source, tmp)
            return await anyio.to_thread.run_sync(move_into_place, tmp, folder, filename)
        except OSError as exc:
            raise _folder_error(folder, exc) from None
        finally:
            with anyio.CancelScope(shield=True, deadline=anyio.current_time() + 5):
                await anyio.to_thread.run_sync(partial(tmp.unlink, missing_ok=True))

    async def _render_exists(self, render_id: str) -> bool:
        """Did the backend take this render before the process that submitted it died?"""
        try:
            await self.conn.call(lambda _: self.api.render_status(render_id))
        except ApiError as exc:
            if exc.http_status == 404:
                return False
            raise
        return True

    # -- render -------------------------------------------------------------

    async def _render(
        self,
        job: Job,
        *,
        resume_id: str | None,
        first_attempt: int,
        draft: dict[str, Any] | None = None,
        submit_id: str | None = None,
    ) -> RenderStatus:
        last_error: NemoError | None = None
        for attempt in range(first_attempt, 3):  # a failed render is retried once, under a new id as the API requires
            resumed = resume_id is not None
            if resume_id is not None:
                render_id, resume_id = resume_id, None
            else:
                draft = draft if draft is not None else await self._export_ready_draft(job)
                render_id = await self._submit(job, draft, attempt, submit_id)
                submit_id = None  # a retry after a failed render needs a new id, as the API requires
            try:
                return await self._await_render(job, render_id, resumed=resumed)
            except ApiError as exc:
                if exc.code != "render_failed":
                    raise
                last_error = exc
                log.info("render failed", attempt=attempt)
                if attempt == 1:
                    job.update("The render failed; retrying once with a new render...", progress=0)
        raise NemoError(
            "render_failed",
            f"The render failed twice. The backend said: {last_error.message if last_error else 'no reason'} "
            "Try export again later, or change the timeline (for example, remove a clip that may be damaged).",
        )

    async def _export_ready_draft(self, job: Job) -> dict[str, Any]:
        job.update("Checking the timeline...", progress=0)
        state = await self.conn.call(lambda ident: self.api.state(ident.session_id))
        draft = state.draft or {}
        if not parse_draft(draft).is_export_ready:
            raise NemoError(
                "not_export_ready",
                "Nothing to export yet: the timeline has no clips. Use generate (or upload media first) to "
                "create the video, then export.",
            )
        return draft

    async def _submit(self, job: Job, draft: dict[str, Any], attempt: int, render_id: str | None = None) -> str:
        resubmitting = render_id is not None
        render_id = render_id or new_render_id()
        # Journal the id before submitting: if we die right after, the restart finds this render.
        export = job.record.export
        export.render_id, export.attempt, export.draft_submitted = render_id, attempt, False
        job.update("Submitting the render...")
        await job.checkpoint()

        async def submit(ident: Identity) -> RenderStatus:
            return await self.api.render_start(render_id, ident.session_id, draft)

        try:
            await self.conn.call(submit)
        except ApiError as exc:
            # Resubmitting after a crash: "already exists" means the lost request did arrive. That render is ours.
            if not (resubmitting and exc.http_status == 409):
                raise
            log.info("the earlier render request had arrived; following it", render_id=render_id)
        export.draft_submitted = True
        job.update("Render queued", progress=5)
        await job.checkpoint()
        return render_id

    async def _await_render(self, job: Job, render_id: str, *, resumed: bool) -> RenderStatus:
        s = self.settings
        schedule = PollSchedule(initial=s.poll_initial, ceiling=s.poll_max, factor=s.poll_factor)
        started = time.monotonic()
        if not resumed:
            schedule.record(0.0, 5)  # the start answer: pending at 5 %
        look_now = resumed  # a render resumed after a restart may have finished meanwhile
        while True:
            elapsed = time.monotonic() - started
            if elapsed > s.render_timeout:
                raise NemoError(
                    "timeout",
                    f"The render has not finished after {int(elapsed // 60)} minutes. Call export again later to "
                    "keep waiting for it; nothing is lost.",
                )
            await anyio.sleep(0 if look_now else schedule.next_delay(elapsed))
            look_now = False
            try:
                # Through the connection: an expired token mid-render is renewed, not fatal.
                status = await self.conn.call(lambda _: self.api.render_status(render_id))
            except TransportError:
                continue  # the GET already retried; keep polling, the render is unaffected
            schedule.record(time.monotonic() - started, status.progress)
            job.update(_stage(status), progress=status.progress)  # the state is unchanged: no journal write
            if status.status == "completed":
                return status
            if status.status == "failed":
                raise ApiError("render_failed", status.error or "no reason given.")
            if status.status == "cancelled":
                raise NemoError("render_cancelled", "The render was cancelled.")

    # -- download -----------------------------------------------------------

    async def _download(self, job: Job, status: RenderStatus) -> ExportOutcome:
        folder = self.settings.export_dir
        try:
            await anyio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
        except OSError as exc:
            raise _folder_error(folder, exc) from None
        export = job.record.export
        filename = export_filename(export.filename, export.title)
        sources = [u for u in (status.url, self.api.render_download_path(status.id)) if u]
        last: NemoError | None = None
        for url in sources:
            for _ in range(2):  # a cut-off download is retried once per source
                job.update("Downloading the MP4...", progress=100)
                tmp = folder / f".{filename}.{secrets.token_hex(4)}.part"
                try:
                    size = await self.api.download(url, tmp, max_bytes=self.settings.max_download_bytes)
                    await anyio.to_thread.run_sync(_check_mp4, tmp, size)
                    final = await anyio.to_thread.run_sync(move_into_place, tmp, folder, filename)
                except OSError as exc:  # the local disk, not the network: retrying the same folder will not help
                    raise _folder_error(folder, exc) from None
                except NemoError as exc:
                    last = exc
                    log.info("download failed", code=exc.code)
                    if not exc.retryable:
                        break
                    continue
                finally:
                    # Shielded: a cancelled export must still never leave a partial file behind.
                    with anyio.CancelScope(shield=True, deadline=anyio.current_time() + 5):
                        await anyio.to_thread.run_sync(partial(tmp.unlink, missing_ok=True))
                return ExportOutcome(
                    path=str(final),
                    url=status.url,
                    render_id=status.id,
                    size_bytes=size,
                    resource_uri=RESOURCE_PREFIX + final.name,
                )
        raise NemoError(
            "download_failed",
            f"The render finished but the MP4 could not be downloaded ({last.message if last else 'no URL'}). "
            "Call export again to retry the download; the render is not repeated.",
        )


# A download in progress writes its .part file all the time (a stalled one is cut off by the transfer deadline),
# so one untouched this long was left by a process that died: another server's live download is never removed.
STALE_PART_SECONDS = 15 * 60
_PART_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.part$")


def remove_stale_parts(folder: Path, *, older_than: float = STALE_PART_SECONDS) -> list[str]:
    """Delete the hidden partial downloads a crash left in the export folder; returns their names. Blocking."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed  # no folder yet, or unreadable: nothing of ours to clean
    now = time.time()
    for entry in entries:
        if not _PART_NAME.match(entry.name):
            continue
        try:
            untouched = now - entry.stat(follow_symlinks=False).st_mtime
            if not entry.is_file(follow_symlinks=False) or untouched < older_than:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(entry.name)
    return removed


def _folder_error(folder: Path, exc: OSError) -> NemoError:
    return NemoError(
        "download_failed",
        f"Could not save the MP4 in {folder} ({exc.strerror or type(exc).__name__}). Free some space or set "
        "NEMO_EXPORT_DIR to a folder you can write to, then call export again: the render is not repeated.",
    )


def is_mp4(path: Path) -> bool:
    """A saved export still there and still an MP4 (the user may have moved or replaced it)."""
    try:
        _check_mp4(path, path.stat().st_size)
    except (OSError, NemoError):
        return False
    return path.is_file()


def _check_mp4(path: Path, size: int) -> None:
    with path.open("rb") as fh:
        head = fh.read(_MP4_HEAD)
    if size < 1024 or head[4:8] != b"ftyp":
        raise NemoError("download_failed", "The downloaded file is not an MP4 video.")


def _stage(status: RenderStatus) -> str:
    if status.status == "pending":
        return "Render queued"
    if status.status == "processing":
        return f"Rendering {status.progress}%" if status.progress is not None else "Rendering..."
    if status.status == "completed":
        return "Render complete"
    return f"Render {status.status}"
