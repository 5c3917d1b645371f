"""What every use case is built from: the collaborators, and the few steps they all take."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from nemovideo_mcp.app.jobs import Job, JobManager, Reporter
from nemovideo_mcp.app.messages import Who, in_words
from nemovideo_mcp.app.results import ErrorInfo
from nemovideo_mcp.backend.auth import Connection, Identity
from nemovideo_mcp.backend.client import NemoApi
from nemovideo_mcp.backend.models import SessionState
from nemovideo_mcp.errors import NemoError, SettingsError
from nemovideo_mcp.local.store import StateStore
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.text.redact import redact

log = structlog.get_logger(__name__)


class Explainer:
    """Turns an error into what the agent sees: code, words chosen for this user, and no secrets."""

    def __init__(self, settings: Settings, conn: Connection) -> None:
        self.settings = settings
        self.conn = conn
        self.credits_left: int | None = None  # read when the backend refuses work for lack of credits

    def who(self) -> Who:
        ident = self.conn.identity
        return Who(
            anonymous=ident.anonymous if ident else (self.settings.token is None),
            user_id=ident.user_id if ident else None,
            web_url=self.settings.web_url,
            credits_left=self.credits_left,
        )

    def __call__(self, exc: NemoError) -> ErrorInfo:
        return ErrorInfo(code=exc.code, message=redact(in_words(exc, self.who())), backend_code=exc.backend_code)


@dataclass(frozen=True)
class Context:
    settings: Settings
    settings_error: SettingsError | None
    api: NemoApi
    conn: Connection
    store: StateStore
    jobs: JobManager
    explain: Explainer

    def check_settings(self) -> None:
        """Every use case starts here: an invalid setting is the answer until it is fixed."""
        if self.settings_error is not None:
            log.error(self.settings_error.message)
            raise self.settings_error

    async def connect(self, report: Reporter) -> Identity:
        async def note(message: str) -> None:
            await report(message, None)

        return await self.conn.ensure(note)

    async def session_state(self) -> SessionState:
        return await self.conn.call(lambda ident: self.api.state(ident.session_id))

    def wait_for(self, wait_seconds: float | None) -> float:
        return self.settings.default_wait if wait_seconds is None else max(0.0, wait_seconds)

    def job(self, job_id: str, kind: str | None = None) -> Job:
        job = self.jobs.get(job_id.strip())
        if job is None or (kind and job.record.kind != kind):
            known = ", ".join(j.record.job_id for j in self.jobs.all()[-5:]) or "none"
            raise NemoError(
                "job_not_found",
                f"No {kind or ''} job with id {job_id!r} on this server (recent: {known}).".replace("  ", " "),
            )
        return job
