"""Background jobs that outlive the tool call that started them.

A generation stream runs for minutes and a render for a minute or two, while
clients cut tool calls off after about 60 s. So the server process, not the
call, owns the work: each job runs in the server's task group, the call only
waits for it a bounded time, and any later call may wait again. Every change
of status is journaled so a restarted server finds its renders again.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, Protocol

import anyio
import filelock
import structlog
from anyio.abc import TaskGroup
from pydantic import BaseModel, Field, model_validator

from nemovideo_mcp.app.results import ErrorInfo, GenerateResult, JobInfo, JobStatus
from nemovideo_mcp.errors import NemoError
from nemovideo_mcp.local.store import StateStore
from nemovideo_mcp.text.redact import redact_value

log = structlog.get_logger(__name__)

JOURNAL = "jobs.json"
JOURNAL_LOCK = "jobs"
_KEEP_IN_JOURNAL = 200  # all servers' jobs together: a dead server's old jobs do not pile up forever
JobKind = Literal["generate", "export"]
_KEEP_FINISHED = 50  # finished jobs kept (in memory and journal) for later `state(job_id)` calls
# How long an export cut off by a restart stays resumable: a day-old render is not worth keeping "interrupted".
EXPORT_RESUME_WINDOW = 24 * 3600.0


class Reporter(Protocol):
    """Where a waiting call sends progress: MCP progress, a log line, a progress bar."""

    async def __call__(self, message: str, progress: float | None = None) -> None: ...


async def no_report(message: str, progress: float | None = None) -> None:
    return None


class ExportOutcome(BaseModel):
    """What a finished export saved: the MP4 on disk and the render it came from."""

    path: str
    url: str | None = None  # never journaled: it may be signed, and it expires
    render_id: str | None = None
    size_bytes: int | None = None
    resource_uri: str | None = None
    reused_from: str | None = None  # the earlier export job whose render or file this one reused


class ExportState(BaseModel):
    """An export's progress through its steps, journaled so a restart resumes the same render."""

    kind: Literal["export"] = "export"
    filename: str | None = None  # as the user asked; the saved name is chosen at download
    render_id: str | None = None  # journaled before the render is submitted
    draft_submitted: bool = False  # whether the backend confirmed it took `render_id`
    attempt: int = 1  # which render this is: a failed one is retried once under a new id
    draft_hash: str | None = None  # the fingerprint of the draft rendered (see export.draft_fingerprint)
    title: str | None = None  # the project's title, the default file name
    result: ExportOutcome | None = None


class GenerateState(BaseModel):
    kind: Literal["generate"] = "generate"
    instruction: str = ""
    also_export: bool = False  # the user asked for the video too: the job exports after the turn
    result: GenerateResult | None = None


JobState = Annotated[ExportState | GenerateState, Field(discriminator="kind")]
JobOutcome = ExportOutcome | GenerateResult


class JobRecord(BaseModel):
    """One job as journaled: enough to report it, and for exports to resume it."""

    job_id: str
    kind: JobKind
    status: JobStatus = "running"
    stage: str = "Starting..."
    progress: float | None = None
    started_at: float = Field(default_factory=time.time)
    # When this run began, if the job was resumed after a restart: "took" counts this run, not the downtime.
    run_started_at: float | None = None
    finished_at: float | None = None
    state: JobState
    error: ErrorInfo | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_older_journal(cls, data: Any) -> Any:
        """Journals written before jobs had typed state kept it in `params` and `result` dicts."""
        if not isinstance(data, dict) or "state" in data:
            return data
        params = data.get("params")
        state: dict[str, Any] = dict(params) if isinstance(params, dict) else {}
        state["kind"] = data.get("kind")
        if data.get("result") is not None:
            state["result"] = data["result"]
        return {k: v for k, v in data.items() if k not in ("params", "result")} | {"state": state}

    @property
    def export(self) -> ExportState:
        if not isinstance(self.state, ExportState):
            raise TypeError(f"job {self.job_id} is not an export")
        return self.state

    @property
    def generate(self) -> GenerateState:
        if not isinstance(self.state, GenerateState):
            raise TypeError(f"job {self.job_id} is not a generation")
        return self.state

    @property
    def result(self) -> JobOutcome | None:
        return self.state.result

    @property
    def interrupted_export(self) -> bool:
        """An export cut off by a restart: its render may still be fetched, so it is kept and listed."""
        return self.status == "interrupted" and self.kind == "export"

    @property
    def elapsed_s(self) -> float:
        return round((self.finished_at or time.time()) - (self.run_started_at or self.started_at), 1)

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
        # Set by JobManager.cancel: only then is a cancelled task a cancelled job. The server shutting down also
        # cancels the task, but the work goes on at the backend, so the journal must keep it as running.
        self.cancel_requested = False
        self._journaled = record.state.model_copy(deep=True)  # the state as last handed to the journal

    @property
    def running(self) -> bool:
        return self.record.status == "running"

    def update(self, stage: str | None = None, progress: float | None = None) -> None:
        """Show a new stage or progress; the journal is rewritten only when the job's state changed with it.

        A runner changes `record.state` (a render id, a submitted draft) and then calls this: that must survive a
        crash. A stage or a percentage need not, so a render poll does not rewrite the journal.
        """
        if stage is not None:
            self.record.stage = stage
        if progress is not None:
            self.record.progress = round(max(0.0, min(100.0, progress)), 1)
        if self.record.state != self._journaled:
            self._journaled = self.record.state.model_copy(deep=True)
            self._manager.save()
        self._notify()

    def finish(self, status: JobStatus, *, result: JobOutcome | None = None, error: ErrorInfo | None = None) -> None:
        self.record.status = status
        self.record.finished_at = time.time()
        state = self.record.state
        if isinstance(state, ExportState):
            state.result = result if isinstance(result, ExportOutcome) else None
        else:
            state.result = result if isinstance(result, GenerateResult) else None
        self.record.error = error
        if status == "succeeded":
            self.record.progress = 100.0
        self._journaled = state.model_copy(deep=True)
        self._manager.own(self.record.job_id)
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

Runner = Callable[[Job], Awaitable[JobOutcome]]
ErrorMapper = Callable[[NemoError], ErrorInfo]


class JobManager:
    def __init__(
        self,
        store: StateStore,
        task_group: TaskGroup,
        *,
        error_info: ErrorMapper,
        still_working_interval: float = 120.0,
        generate_window: float = 1200.0,
        export_window: float = EXPORT_RESUME_WINDOW,
    ) -> None:
        self._store = store
        self._tg = task_group
        self._error_info = error_info
        self.still_working_interval = still_working_interval
        self.generate_window = generate_window  # the longest a stream runs (NEMO_STREAM_MAX)
        self.export_window = export_window
        self._jobs: dict[str, Job] = {}
        # Jobs this process started or changed: its version of them wins in the journal. Every other job there
        # belongs to another server on the same HOME (or an earlier process) and is kept as that one wrote it.
        self._owned: set[str] = set()
        self._forgotten: set[str] = set()
        self._write_lock = anyio.Lock()
        self._dirty = False
        self._writer_running = False

    # -- lifecycle --------------------------------------------------------

    def start(self, state: ExportState | GenerateState, runner: Runner, *, job_id: str | None = None) -> Job:
        """Start `runner` in the background, or restart a journaled job under its old id."""
        record = JobRecord(job_id=job_id or f"{state.kind[:3]}_{secrets.token_hex(6)}", kind=state.kind, state=state)
        if job_id and job_id in self._jobs:
            record.started_at = self._jobs[job_id].record.started_at
            record.run_started_at = time.time()
        job = Job(record, self)
        self._jobs[record.job_id] = job
        self._owned.add(record.job_id)
        self.save()
        self._tg.start_soon(self._run, job, runner, name=f"job {record.job_id}")
        return job

    def resume(self, job: Job, runner: Runner) -> Job:
        """Run a journaled job again under its id, unless a call just did: then that run is the answer."""
        current = self._jobs.get(job.record.job_id, job)
        if current.running:
            return current
        # The same steps so far (the render id above all), without the outcome of the run that ended.
        state = current.record.state.model_copy(update={"result": None}, deep=True)
        return self.start(state, runner, job_id=current.record.job_id)

    async def _run(self, job: Job, runner: Runner) -> None:
        with anyio.CancelScope() as scope:
            job.cancel_scope = scope
            try:
                result = await runner(job)
            except NemoError as exc:
                # A render stopped at the backend (by this cancel racing a poll, or by someone else) was cancelled,
                # not failed: no file was promised.
                status: JobStatus = "cancelled" if exc.code == "render_cancelled" else "failed"
                job.finish(status, error=self._error_info(exc))
                log.info("job ended", status=status, job_id=job.record.job_id, code=exc.code)
            except Exception:  # a bug must not take the server down with it
                log.exception("job crashed", job_id=job.record.job_id)
                job.finish("failed", error=UNEXPECTED)
            else:
                # A generation may finish with a result that still reports a problem (e.g. a dropped stream).
                error = result.error if isinstance(result, GenerateResult) else None
                job.finish("failed" if error else "succeeded", result=result, error=error)
        if scope.cancelled_caught and job.running and job.cancel_requested:
            job.finish("cancelled", error=ErrorInfo(code="render_cancelled", message="The job was cancelled."))

    def cancel(self, job: Job) -> None:
        job.cancel_requested = True
        if job.cancel_scope is not None:
            job.cancel_scope.cancel()

    def backend_may_run(self, record: JobRecord) -> bool:
        """A generation cut off from this server (a restart, Ctrl-C) that NemoVideo may still be working on."""
        return (
            record.kind == "generate"
            and record.status == "interrupted"
            and time.time() - record.started_at <= self.generate_window
        )

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

    def own(self, job_id: str) -> None:
        self._owned.add(job_id)

    async def checkpoint(self) -> None:
        """Return once the journal on disk reflects every job of this process as it is now."""
        async with self._write_lock:
            # The snapshot is taken under the lock, so a later write is never older than an earlier one.
            self._dirty = False
            self._forget_old()
            ours = [_journal_entry(job.record) for job in self._jobs.values() if job.record.job_id in self._owned]
            try:
                await anyio.to_thread.run_sync(self._merge_write, ours, frozenset(self._forgotten))
            except (OSError, filelock.Timeout) as exc:  # a full disk must not fail the job itself
                log.warning("could not write the job journal", error=str(exc))

    def _merge_write(self, ours: list[dict[str, Any]], forgotten: frozenset[str]) -> None:
        """Read, merge and write under the cross-process lock, so two servers never drop each other's jobs."""
        with self._store.lock(JOURNAL_LOCK, timeout=10):
            disk = self._store.read_json(JOURNAL) or {}
            found = disk.get("jobs")
            raw: list[Any] = found if isinstance(found, list) else []
            mine = {entry["job_id"] for entry in ours}
            theirs = [
                entry
                for entry in raw
                if isinstance(entry, dict)
                and isinstance(entry.get("job_id"), str)
                and entry["job_id"] not in mine
                and entry["job_id"] not in forgotten
            ]
            merged = sorted([*theirs, *ours], key=_started)[-_KEEP_IN_JOURNAL:]
            self._store.write_json(JOURNAL, {"jobs": merged})

    def _forget_old(self) -> None:
        finished = [j for j in self.all() if not j.running and not j.record.interrupted_export]
        for job in finished[:-_KEEP_FINISHED]:
            del self._jobs[job.record.job_id]
            # Dropped from the journal too, but only the ones this process had loaded or made.
            self._forgotten.add(job.record.job_id)
            self._owned.discard(job.record.job_id)

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
                    record.stage = (
                        "Cut off by a server restart; NemoVideo may still be working on it (and charging). "
                        "Not sent again."
                    )
                    record.finished_at = record.finished_at or time.time()
            if self._end_if_old(record):
                self._owned.add(record.job_id)  # ended here: written back, so it does not stay interrupted
            self._jobs[record.job_id] = Job(record, self)

    def _end_if_old(self, record: JobRecord) -> bool:
        """Interrupted jobs do not stay interrupted forever: past the time their work can take, they end."""
        if record.status != "interrupted":
            return False
        age = time.time() - record.started_at
        if record.kind == "generate" and age > self.generate_window:
            record.status, record.stage = "failed", "Cut off by a server restart; NemoVideo has finished with it."
            record.error = ErrorInfo(
                code="stream_dropped",
                message="The server that sent this instruction stopped before the answer came back. NemoVideo has "
                "finished with it by now (it was not sent again): the current timeline shows what it did.",
            )
            record.finished_at = record.finished_at or time.time()
        elif record.kind == "export" and age > self.export_window:
            record.status, record.stage = "failed", "Interrupted long ago; not resumed."
            record.error = ErrorInfo(
                code="render_failed",
                message="This export was cut off by a restart more than a day ago and never resumed. Call export to "
                "render the current timeline.",
            )
            record.finished_at = record.finished_at or time.time()
        return record.status != "interrupted"


_URL = re.compile(r"(https?://[^\s/?#\"'<>]+)[^\s\"'<>]*", re.IGNORECASE)
# Download URLs may be signed (a credential in the query) and expire anyway: a later export fetches a fresh one.
_URL_KEYS = frozenset({"url", "outputUrl", "output_url", "cdn_url"})


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in _URL_KEYS}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return _URL.sub(r"\1/[redacted]", value)
    return value


def _journal_entry(record: JobRecord) -> dict[str, Any]:
    """A job as it may be written to disk: backend text redacted, render URLs left out (issue 11 #5)."""
    return dict(_scrub(redact_value(record.model_dump(mode="json"))))


def _started(entry: dict[str, Any]) -> float:
    value = entry.get("started_at")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def minutes(seconds: float) -> str:
    """A duration for people: '45 s', '2 min 5 s'."""
    return f"{int(seconds // 60)} min {int(seconds % 60)} s" if seconds >= 60 else f"{int(seconds)} s"
