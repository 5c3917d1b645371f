"""The export workflow: draft -> render -> MP4 on disk.

Runs inside an export job. Each step is journaled before it is taken, so a
server restarted mid-render polls the same render again instead of starting
(and paying for) a second one.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import structlog

from nemovideo_mcp.app.jobs import Job, JobRecord
from nemovideo_mcp.app.polling import PollSchedule
from nemovideo_mcp.backend.auth import Connection, Identity
from nemovideo_mcp.backend.client import NemoApi
from nemovideo_mcp.backend.models import RenderStatus
from nemovideo_mcp.errors import ApiError, NemoError, TransportError
from nemovideo_mcp.local.files import move_into_place, safe_filename
from nemovideo_mcp.text.timeline import parse_draft

log = structlog.get_logger(__name__)

RESOURCE_PREFIX = "nemovideo://exports/"
_MP4_HEAD = 12


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
        and bool(record.params.get("render_id"))
    )
    return record.interrupted_export or failed_after_submit


def new_render_id() -> str:
    return f"render_{secrets.token_hex(8)}"


class Exporter:
    def __init__(self, api: NemoApi, conn: Connection, settings: RenderSettings) -> None:
        self.api = api
        self.conn = conn
        self.settings = settings

    async def run(self, job: Job) -> dict[str, Any]:
        params = job.record.params
        resume_id = params.get("render_id")
        if resume_id and not params.get("draft_submitted") and not await self._render_exists(resume_id):
            resume_id = None  # we died before the backend accepted it: submitting now renders once
        if resume_id:
            job.update("Resuming the render started earlier...")
        status = await self._render(job, resume_id=resume_id, first_attempt=params.get("attempt", 1))
        return await self._download(job, status)

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

    async def _render(self, job: Job, *, resume_id: str | None, first_attempt: int) -> RenderStatus:
        draft: dict[str, Any] | None = None
        last_error: NemoError | None = None
        for attempt in range(first_attempt, 3):  # a failed render is retried once, under a new id as the API requires
            resumed = resume_id is not None
            if resume_id is not None:
                render_id, resume_id = resume_id, None
            else:
                draft = draft if draft is not None else await self._export_ready_draft(job)
                render_id = await self._submit(job, draft, attempt)
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

    async def _submit(self, job: Job, draft: dict[str, Any], attempt: int) -> str:
        render_id = new_render_id()
        # Journal the id before submitting: if we die right after, the restart finds this render.
        job.update("Submitting the render...", render_id=render_id, attempt=attempt, draft_submitted=False)
        await job.checkpoint()

        async def submit(ident: Identity) -> RenderStatus:
            return await self.api.render_start(render_id, ident.session_id, draft)

        await self.conn.call(submit)
        job.update("Render queued", progress=5, draft_submitted=True)
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
            job.update(
                _stage(status), progress=status.progress, status_polls=job.record.params.get("status_polls", 0) + 1
            )
            if status.status == "completed":
                return status
            if status.status == "failed":
                raise ApiError("render_failed", status.error or "no reason given.")
            if status.status == "cancelled":
                raise NemoError("render_cancelled", "The render was cancelled.")

    # -- download -----------------------------------------------------------

    async def _download(self, job: Job, status: RenderStatus) -> dict[str, Any]:
        folder = self.settings.export_dir
        try:
            await anyio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
        except OSError as exc:
            raise _folder_error(folder, exc) from None
        filename = safe_filename(job.record.params.get("filename") or f"nemovideo-{status.id}.mp4")
        if not filename.lower().endswith(".mp4"):
            filename += ".mp4"
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
                return {
                    "path": str(final),
                    "url": status.url,
                    "render_id": status.id,
                    "size_bytes": size,
                    "resource_uri": RESOURCE_PREFIX + final.name,
                }
        raise NemoError(
            "download_failed",
            f"The render finished but the MP4 could not be downloaded ({last.message if last else 'no URL'}). "
            "Call export again to retry the download; the render is not repeated.",
        )


def _folder_error(folder: Path, exc: OSError) -> NemoError:
    return NemoError(
        "download_failed",
        f"Could not save the MP4 in {folder} ({exc.strerror or type(exc).__name__}). Free some space or set "
        "NEMO_EXPORT_DIR to a folder you can write to, then call export again: the render is not repeated.",
    )


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
