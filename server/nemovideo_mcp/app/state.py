"""The state use case: the timeline, the project's media, and the jobs still worth knowing about."""

from __future__ import annotations

import contextlib
from pathlib import Path

from nemovideo_mcp.app.context import Context
from nemovideo_mcp.app.export import Export
from nemovideo_mcp.app.generate import generate_result, timeline_view
from nemovideo_mcp.app.jobs import Reporter, no_report
from nemovideo_mcp.app.results import ExportResult, GenerateResult, StateResult, UploadedItem
from nemovideo_mcp.app.upload import describe_item, items_of
from nemovideo_mcp.backend.models import UploadedFile
from nemovideo_mcp.text.clean import clean_text
from nemovideo_mcp.text.timeline import parse_draft

_MEDIA_LISTED = 12


class State:
    def __init__(self, ctx: Context, export: Export) -> None:
        self.ctx = ctx
        self.export = export

    async def run(
        self, job_id: str | None = None, wait_seconds: float | None = None, report: Reporter = no_report
    ) -> StateResult:
        ctx = self.ctx
        ctx.check_settings()
        job_result: GenerateResult | ExportResult | None = None
        if job_id:
            job = ctx.job(job_id)
            if job.record.kind == "export":
                job_result = await self.export.wait(job, ctx.wait_for(wait_seconds), report)
            else:
                record = await ctx.jobs.wait(job, ctx.wait_for(wait_seconds), report)
                job_result = generate_result(record, ctx.settings.stream_max)
        await ctx.connect(report)
        state = await ctx.session_state()
        view = timeline_view(parse_draft(state.draft), state.raw_state.get("canvas_config"))
        # Also jobs this server no longer follows but NemoVideo may still run (and charge for): cut off by a restart.
        jobs = [
            j.record.info()
            for j in ctx.jobs.all()
            if j.running or j.record.interrupted_export or ctx.jobs.backend_may_run(j.record)
        ]
        media = _session_media(state.raw_state.get("video_infos"))
        message = view.summary
        if job_result is not None:
            message = f"{job_result.message}\n\n{view.summary}"
        elif jobs:
            message += "\n" + "\n".join(f"Job {j.job_id} ({j.kind}): {j.stage}" for j in jobs)
        if media and job_result is None:
            message += "\n" + _media_line(media, ctx.store.root)
        return StateResult(
            message=message,
            timeline=view,
            draft=state.draft,
            jobs=jobs,
            job=job_result,
            media=media,
            notices=ctx.conn.take_notices(),
        )


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
    return items_of(names, files, names)


def _media_line(media: list[UploadedItem], state_dir: Path) -> str:
    shown = "; ".join(f"{m.filename or 'unnamed'} ({describe_item(m)})" for m in media[:_MEDIA_LISTED])
    more = f"; and {len(media) - _MEDIA_LISTED} more" if len(media) > _MEDIA_LISTED else ""
    return (
        f"Media in this project ({len(media)}), which generate may use: {shown}{more}. To start a fresh project "
        f"without them, quit the server, delete {state_dir / 'session.json'} and start it again."
    )
