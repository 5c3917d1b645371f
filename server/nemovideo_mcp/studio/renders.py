"""The render queue: renders run one ffmpeg each, a bounded number at a time, each with a time limit.

A render's record lives in its project (so it survives a restart); a render that was queued or
running when the studio stopped is queued again on start, under the same id, so a client that
polls that id after a restart still gets its video.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from pathlib import Path

import anyio

from nemovideo_mcp.media.probe import probe
from nemovideo_mcp.studio.draft import DraftError, read_timeline
from nemovideo_mcp.studio.projects import MediaRecord, Project, ProjectStore, RenderRecord
from nemovideo_mcp.studio.render import Asset, RenderFailed, render

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 1  # ffmpeg's x264 already uses every core; two at once only slows both
DEFAULT_TIME_LIMIT_S = 900.0


def asset_for(store: ProjectStore, project: Project, record: MediaRecord) -> Asset:
    return Asset(
        path=store.media_path(project, record),
        kind=record.kind,
        width=record.width,
        height=record.height,
        duration_ms=record.duration_ms,
        has_audio=record.has_audio,
    )


class RenderQueue:
    """Starts, tracks and cancels renders. Lives on one event loop (the studio app's)."""

    def __init__(
        self,
        store: ProjectStore,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    ) -> None:
        self.store = store
        self.time_limit_s = time_limit_s
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closing = False  # renders stopped by a shutdown are resumed at the next start, not cancelled

    def submit(self, project: Project, record: RenderRecord) -> None:
        task = asyncio.create_task(self._run(project, record), name=f"render {record.id}")
        self._tasks[record.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(record.id, None))

    def resume_unfinished(self) -> int:
        """Queue again what a previous run left pending or processing."""
        count = 0
        for project in self.store.projects():
            for record in project.renders.values():
                if record.state in ("pending", "processing") and record.id not in self._tasks:
                    record.state, record.progress = "pending", 0
                    self.submit(project, record)
                    count += 1
        return count

    def cancel(self, render_id: str) -> bool:
        task = self._tasks.get(render_id)
        if task is None:
            return False
        task.cancel()
        return True

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    async def _save(self, project: Project) -> None:
        await anyio.to_thread.run_sync(self.store.save, project)

    async def _run(self, project: Project, record: RenderRecord) -> None:
        try:
            async with self._slots:
                record.state, record.progress = "processing", 1
                await self._save(project)
                await self._render(project, record)
        except asyncio.CancelledError:
            if self._closing:
                record.state, record.progress = "pending", 0
            else:
                record.state, record.error = "cancelled", "The render was cancelled."
                record.finished_at = time.time()
            await asyncio.shield(self._save(project))
            raise
        except (RenderFailed, DraftError) as exc:
            record.state, record.error = "failed", str(exc)
        except Exception as exc:  # the studio must keep serving whatever one render does
            log.exception("render %s failed unexpectedly", record.id)
            record.state, record.error = "failed", f"The local renderer failed unexpectedly ({type(exc).__name__})."
        record.finished_at = time.time()
        await self._save(project)
        await anyio.to_thread.run_sync(self.store.prune_renders)

    async def _render(self, project: Project, record: RenderRecord) -> None:
        timeline = read_timeline(record.draft)
        assets = {m.id: asset_for(self.store, project, m) for m in project.media}
        out = self.store.render_path(project, record.id)
        out.parent.mkdir(parents=True, exist_ok=True)

        def on_progress(fraction: float) -> None:
            # 1-99 while running: 100 only once the file is in place
            record.progress = max(record.progress, min(99, 1 + int(fraction * 98)))

        work = Path(tempfile.mkdtemp(prefix=f"{record.id}-", dir=out.parent))
        try:
            with anyio.fail_after(self.time_limit_s):
                await render(timeline, assets, out, work, on_progress=on_progress, timeout_s=self.time_limit_s)
        except TimeoutError:
            raise RenderFailed(
                f"The render took longer than the studio's limit of {self.time_limit_s:.0f} s and was stopped."
            ) from None
        finally:
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(work, ignore_errors=True))
        info = await anyio.to_thread.run_sync(probe, out)
        record.file = str(out.relative_to(self.store.project_dir(project)))
        record.size = out.stat().st_size
        record.duration_s = info.duration_s
        record.state, record.progress = "completed", 100
