"""The generate use case: one instruction to the NemoVideo agent, as a background job.

Plain requests (export it, show credits, upload this) are routed to those use
cases without spending credits. A started turn is never sent twice.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any

import anyio

from nemovideo_mcp.app.context import Context
from nemovideo_mcp.app.jobs import GenerateState, Job, JobRecord, Reporter, minutes, no_report
from nemovideo_mcp.app.results import ErrorInfo, GenerateResult, NextStep, TimelineView
from nemovideo_mcp.backend.sse import ReplyCollector, Text, ToolActivity
from nemovideo_mcp.errors import NemoError, TransportError
from nemovideo_mcp.text.clean import clean_text
from nemovideo_mcp.text.gui import GuiAction, translate_reply
from nemovideo_mcp.text.intent import route
from nemovideo_mcp.text.timeline import Draft, diff_drafts, parse_draft, summarize, track_summaries, video_format

if TYPE_CHECKING:
    from nemovideo_mcp.app.credits import Credits
    from nemovideo_mcp.app.export import Export
    from nemovideo_mcp.app.state import State
    from nemovideo_mcp.app.upload import Upload

MAX_INSTRUCTION_CHARS = 8000


class Generate:
    def __init__(self, ctx: Context, *, upload: Upload, export: Export, credits: Credits, state: State) -> None:
        self.ctx = ctx
        self.upload = upload
        self.export = export
        self.credits = credits
        self.state = state

    async def run(
        self, instruction: str, wait_seconds: float | None = None, report: Reporter = no_report
    ) -> GenerateResult:
        self.ctx.check_settings()
        instruction = instruction.strip()
        if not instruction:
            raise NemoError("invalid_input", "The instruction is empty: say what video to make or what to change.")
        if len(instruction) > MAX_INSTRUCTION_CHARS:
            raise NemoError(
                "invalid_input",
                f"The instruction is {len(instruction)} characters long; keep it under {MAX_INSTRUCTION_CHARS}.",
            )
        wait = self.ctx.wait_for(wait_seconds)
        decision = route(instruction)
        if decision.intent == "credits":
            credits = await self.credits.run(report)
            return GenerateResult(status="succeeded", routed_to="credits", credits=credits, message=credits.message)
        if decision.intent == "state":
            state = await self.state.run(report=report)
            return GenerateResult(status="succeeded", routed_to="state", timeline=state.timeline, message=state.message)
        if decision.intent == "export":
            export = await self.export.run(wait_seconds=wait, report=report)
            return GenerateResult(
                status=export.status,
                routed_to="export",
                export=export,
                job_id=export.job_id,
                message=export.message,
                error=export.error,
            )
        if decision.intent == "upload" and decision.sources:
            upload = await self.upload.run(decision.sources, report)
            return GenerateResult(status="succeeded", routed_to="upload", upload=upload, message=upload.message)

        # Files named in a creation instruction go up first, so the turn can use them (and a refused
        # file stops here, before any credit is spent).
        uploaded = await self.upload.run(decision.sources, report) if decision.sources else None
        await self.ctx.connect(report)
        job = self.ctx.jobs.start(
            GenerateState(instruction=instruction, also_export=decision.also_export),
            lambda j: self._run_generate(j, instruction, decision.also_export),
        )
        result = generate_result(await self.ctx.jobs.wait(job, wait, report), self.ctx.settings.stream_max)
        result.upload = uploaded
        return result

    async def _run_generate(self, job: Job, instruction: str, also_export: bool) -> GenerateResult:
        """One agent turn, as a background job: stream, then compare the timeline, then act on the reply."""
        job.update("Reading the timeline...")
        before = parse_draft((await self.ctx.session_state()).draft)
        try:
            collector, dropped = await self._stream_turn(job, instruction)
        except NemoError as exc:
            if exc.code == "no_credits":  # refused before any work: a balance read is free and safe to repeat
                with anyio.move_on_after(10):
                    with suppress(NemoError):
                        self.ctx.explain.credits_left = (
                            await self.ctx.conn.call(lambda _: self.ctx.api.credits())
                        ).available
            raise

        job.update("Checking the timeline...")
        canvas: object = None
        try:
            latest = await self.ctx.session_state()
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
        result.notices += self.ctx.conn.take_notices()
        result.message = _generate_message(
            result,
            silent=not reply and dropped is None and not collector.errors,
            pointed_at=_views_pointed_at(translated.actions),
        )
        return result

    async def _stream_turn(self, job: Job, instruction: str) -> tuple[ReplyCollector, TransportError | None]:
        """Send the instruction once and read the stream to its end (or its loss: it is never resent)."""
        job.update("Sending the instruction...")
        stream = await self.ctx.conn.call(lambda ident: self.ctx.api.open_stream(ident.session_id, instruction))
        collector = ReplyCollector()
        job.update("The agent is working...")
        try:
            # Keep-alives reset the idle timeout, so a stream that never ends needs an overall limit too.
            with anyio.move_on_after(self.ctx.settings.stream_max) as limit:
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
            return self.ctx.explain(
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
            return self.ctx.explain(
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
        export_job = self.export.start(None)
        result.export = await self.export.wait(export_job, self.ctx.settings.render_timeout, no_report)
        if result.export.error is not None:
            # The edit happened (and was paid for): the turn succeeded, only the export needs another go.
            result.notices.append(
                f"The video was made, but exporting it failed: {result.export.error.message} "
                f'Call export (job_id="{export_job.record.job_id}") to try again; do not resend the instruction.'
            )


def generate_result(record: JobRecord, stream_max: float) -> GenerateResult:
    """A generate job as its tool result: still running, finished, or cut off by a restart."""
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
    stored = record.generate.result
    if stored is not None:
        # A copy: the job keeps its own result, and every call that reads it says how long it took anew.
        result = stored.model_copy(update={**base, "status": record.status})
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
            f"generation can take up to {minutes(stream_max)}. The timeline below is what "
            "NemoVideo has now; when the change appears there, it is done.",
            **base,
        )
    error = record.error or ErrorInfo(code="backend_error", message="The job failed.")
    return GenerateResult(status=record.status, error=error, message=error.message, **base)


def timeline_view(draft: Draft, canvas: object = None) -> TimelineView:
    return TimelineView(
        summary=summarize(draft, canvas),
        tracks=track_summaries(draft),
        export_ready=draft.is_export_ready,
        format=video_format(draft, canvas),
    )


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


def _views_pointed_at(actions: list[GuiAction]) -> list[str]:
    """The panels or previews the reply told its reader to open: here the timeline summary answers for them."""
    names = [(a.detail or "timeline").strip() for a in actions if a.kind in ("show_state", "show_summary")]
    return list(dict.fromkeys(n for n in names if n))


def _humanize_tool(name: str) -> str:
    words = name.replace("_with_", " ").replace("_", " ").strip()
    for vendor in (" seedance", " kling", " veo", " runway"):
        words = words.replace(vendor, "")
    return words or "working"


def _draft_changed(before: Draft, after: Draft) -> bool:
    """Whether the turn changed the timeline at all: the word diff may miss fields it does not describe."""
    return bool(diff_drafts(before, after)) or before.model_dump(mode="json") != after.model_dump(mode="json")


def _generate_message(result: GenerateResult, *, silent: bool, pointed_at: list[str] | None = None) -> str:
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
        if pointed_at:
            views = ", ".join(f'"{name}"' for name in pointed_at)
            parts.append(f"NemoVideo pointed at its {views} view; what it shows is in the timeline below.")
        parts.append(result.timeline.summary)
    if result.export is not None and result.export.error is None:
        parts.append(result.export.message)
    parts += result.notices
    parts += [step.say for step in result.next_steps]
    return "\n\n".join(p for p in parts if p)
