"""Background jobs that outlive the tool call that started them.

A generation stream runs for minutes and a render for a minute or two, while
clients cut tool calls off after about 60 s. So the server process, not the
call, owns the work: each job runs in the server's task group, the call only
waits for it a bounded time, and any later call may wait again. Every change
of status is journaled so a restarted server finds its renders again.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

import anyio
import structlog
from anyio.abc import TaskGroup
from pydantic import BaseModel, Field

from nemovideo_mcp.app.results import ErrorInfo, JobInfo, JobStatus
from nemovideo_mcp.errors import NemoError
from nemovideo_mcp.local.store import StateStore

log = structlog.get_logger(__name__)

JOURNAL = "jobs.json"
JobKind = Literal["generate", "export"]
_KEEP_FINISHED = 50  # finished jobs kept (in memory and journal) for later `state(job_id)` calls


class Reporter(Protocol):
    """Where a waiting call sends progress: MCP progress, a log line, a progress bar."""

    async def __call__(self, message: str, progress: float | None = None) -> None: ...


async def no_report(message: str, progress: float | None = None) -> None:
    return None


class JobRecord(BaseModel):
    """One job as journaled: enough to report it, and for exports to resume it."""

    job_id: str
    kind: JobKind
    status: JobStatus = "running"
    stage: str = "Starting..."
    progress: float | None = None
    started_at: float = Field(default_factory=time.time)
    finished_at: float | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: ErrorInfo | None = None

    @property
    def interrupted_export(self) -> bool:
        """An export cut off by a restart: its render may still be fetched, so it is kept and listed."""
        return self.status == "interrupted" and self.kind == "export"

    @property
    def elapsed_s(self) -> float:
        return round((self.finished_at or time.time()) - self.started_at, 1)

    def info(self) -> JobInfo:
        return JobInfo(
            job_id=self.job_id,
            kind=self.kind,
            status=self.status,
            stage=self.stage,
            progress=self.progress,
            elapsed_s=self.elapsed_s,
        )


class Job:
    def __init__(self, record: JobRecord, manager: JobManager) -> None:
        self.record = record
        self._manager = manager
        self._changed = anyio.Event()
        self.cancel_scope: anyio.CancelScope | None = None

    @property
    def running(self) -> bool:
        return self.record.status == "running"

    def update(self, stage: str | None = None, progress: float | None = None, **params: Any) -> None:
        if stage is not None:
            self.record.stage = stage
        if progress is not None:
            self.record.progress = round(max(0.0, min(100.0, progress)), 1)
        if params:
            self.record.params.update(params)
            self._manager.save()  # params (e.g. a render id) must survive a crash
        self._notify()

    def finish(
        self, status: JobStatus, *, result: dict[str, Any] | None = None, error: ErrorInfo | None = None
    ) -> None:
        self.record.status = status
        self.record.finished_at = time.time()
        self.record.result = result
        self.record.error = error
        if status == "succeeded":
            self.record.progress = 100.0
        self._manager.save()
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def changed(self) -> None:
        await self._changed.wait()

    async def checkpoint(self) -> None:
        """Make sure the journal holds this job as it is now (e.g. a render id before submitting it)."""
        await self._manager.checkpoint()


UNEXPECTED = ErrorInfo(
    code="backend_error",
    message="The NemoVideo server hit an unexpected problem (details are in its log). Try again; if it keeps "
    "happening, run `nemovideo-mcp doctor`.",
)

Runner = Callable[[Job], Awaitable[dict[str, Any]]]
ErrorMapper = Callable[[NemoError], ErrorInfo]


class JobManager:
    def __init__(
        self,
        store: StateStore,
        task_group: TaskGroup,
        *,
        error_info: ErrorMapper,
        still_working_interval: float = 120.0,
    ) -> None:
        self._store = store
        self._tg = task_group
        self._error_info = error_info
        self.still_working_interval = still_working_interval
        self._jobs: dict[str, Job] = {}
        self._write_lock = anyio.Lock()
        self._dirty = False
        self._writer_running = False

    # -- lifecycle --------------------------------------------------------

    def start(
        self, kind: JobKind, runner: Runner, *, params: dict[str, Any] | None = None, job_id: str | None = None
    ) -> Job:
        """Start `runner` in the background, or restart a journaled job under its old id."""
        record = JobRecord(job_id=job_id or f"{kind[:3]}_{secrets.token_hex(6)}", kind=kind, params=params or {})
        if job_id and job_id in self._jobs:
            old = self._jobs[job_id].record
            record.started_at, record.params = old.started_at, {**old.params, **(params or {})}
        job = Job(record, self)
        self._jobs[record.job_id] = job
        self.save()
        self._tg.start_soon(self._run, job, runner, name=f"job {record.job_id}")
        return job

    def resume(self, job: Job, runner: Runner) -> Job:
        """Run a journaled job again under its id, unless a call just did: then that run is the answer."""
        current = self._jobs.get(job.record.job_id, job)
        return current if current.running else self.start(current.record.kind, runner, job_id=current.record.job_id)

    async def _run(self, job: Job, runner: Runner) -> None:
        with anyio.CancelScope() as scope:
            job.cancel_scope = scope
            try:
                result = await runner(job)
            except NemoError as exc:
                job.finish("failed", error=self._error_info(exc))
                log.info("job failed", job_id=job.record.job_id, code=exc.code)
            except Exception:  # a bug must not take the server down with it
                log.exception("job crashed", job_id=job.record.job_id)
                job.finish("failed", error=UNEXPECTED)
            else:
                # A job may finish with a result that still reports a problem (e.g. a dropped stream).
                error = result.get("error")
                if error:
                    job.finish("failed", result=result, error=ErrorInfo.model_validate(error))
                else:
                    job.finish("succeeded", result=result)
        if scope.cancelled_caught and job.running:
            job.finish("cancelled", error=ErrorInfo(code="render_cancelled", message="The job was cancelled."))

    def cancel(self, job: Job) -> None:
        if job.cancel_scope is not None:
            job.cancel_scope.cancel()

    # -- lookup -----------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def find(self, predicate: Callable[[JobRecord], bool]) -> Job | None:
        matches = [job for job in self._jobs.values() if predicate(job.record)]
        return max(matches, key=lambda j: j.record.started_at) if matches else None

    def all(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: j.record.started_at)

    # -- waiting ----------------------------------------------------------

    async def wait(self, job: Job, seconds: float, report: Reporter = no_report) -> JobRecord:
        """Wait up to `seconds` for the job, relaying its progress; never affects the job itself.

        Safe to call any number of times, from any number of calls at once.
        """
        deadline = time.monotonic() + max(0.0, seconds)
        last_stage: str | None = None
        last_note = time.monotonic()
        while job.running:
            now = time.monotonic()
            if now >= deadline:
                break
            record = job.record
            if record.stage != last_stage:
                last_stage, last_note = record.stage, now
                await report(record.stage, record.progress)
            elif now - last_note >= self.still_working_interval:
                last_note = now
                await report(f"Still working... ({minutes(record.elapsed_s)} so far)", record.progress)
            timeout = min(deadline, last_note + self.still_working_interval) - now
            with anyio.move_on_after(max(timeout, 0.01)):
                await job.changed()
        return job.record

    # -- journal ----------------------------------------------------------

    def save(self) -> None:
        """Note that the journal must be rewritten; a background writer does it off the event loop."""
        self._dirty = True
        if not self._writer_running:
            self._writer_running = True
            self._tg.start_soon(self._writer, name="job journal writer")

    async def _writer(self) -> None:
        try:
            while self._dirty:
                await self.checkpoint()
        finally:
            self._writer_running = False

    async def checkpoint(self) -> None:
        """Return once the journal on disk reflects every job as it is now."""
        async with self._write_lock:
            # The snapshot is taken under the lock, so a later write is never older than an earlier one.
            self._dirty = False
            self._forget_old()
            data = {"jobs": [job.record.model_dump(mode="json") for job in self._jobs.values()]}
            try:
                await anyio.to_thread.run_sync(self._store.write_json, JOURNAL, data)
            except OSError as exc:  # a full disk must not fail the job itself
                log.warning("could not write the job journal", error=str(exc))

    def _forget_old(self) -> None:
        finished = [j for j in self.all() if not j.running and not j.record.interrupted_export]
        for job in finished[:-_KEEP_FINISHED]:
            del self._jobs[job.record.job_id]

    async def load(self) -> None:
        """Read the journal of a previous process; its running jobs become resumable `interrupted` ones."""
        data = await anyio.to_thread.run_sync(self._store.read_json, JOURNAL) or {}
        for raw in data.get("jobs", []) if isinstance(data.get("jobs"), list) else []:
            try:
                record = JobRecord.model_validate(raw)
            except ValueError:
                continue
            if record.status == "running":
                # Its task died with the previous process. An export resumes from its render id;
                # a generate cannot (its stream is gone, and resending could charge twice).
                record.status = "interrupted"
                if record.kind == "export":
                    record.stage = "Interrupted by a server restart; export resumes it."
                else:
                    record.stage = "Interrupted by a server restart; not sent again."
                    record.finished_at = record.finished_at or time.time()
            self._jobs[record.job_id] = Job(record, self)


def minutes(seconds: float) -> str:
    """A duration for people: '45 s', '2 min 5 s'."""
    return f"{int(seconds // 60)} min {int(seconds % 60)} s" if seconds >= 60 else f"{int(seconds)} s"
