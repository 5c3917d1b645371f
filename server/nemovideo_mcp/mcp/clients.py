"""Whose work a request touches, and starting that work's service on its first call.

Over stdio there is one client, so one service. Over HTTP every client shares that
service unless the operator lists several people in ``NEMO_HTTP_CLIENTS``: each
name then gets its own service, with its own state folder (token, session, jobs)
and export folder, and a request belongs to the name whose secret it carried.
The name comes from the credential, not from the MCP session: a person who
reconnects finds their work again, and stateless requests are told apart too.

A service starts on the first call that needs it, not with the server: a client
that only connects and lists the tools never waits for the HTTP client, the
state folder or the backend modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import structlog
from mcp.server.mcpserver.exceptions import ToolError

from nemovideo_mcp.errors import NemoError, SettingsError
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.text.redact import redact

if TYPE_CHECKING:
    from anyio.abc import TaskGroup, TaskStatus

    from nemovideo_mcp.app.service import NemoVideo

log = structlog.get_logger(__name__)

#: Where the HTTP guard writes the name of the client whose secret a request carried (the ASGI scope's state).
CLIENT_KEY = "nemovideo_client"


def client_settings(settings: Settings, name: str) -> Settings:
    """The settings of one named client: the same server, its own state and export folders."""
    return settings.model_copy(
        update={"state_dir": settings.state_dir / "clients" / name, "export_dir": settings.export_dir / name}
    )


class LazyService:
    """One `NemoVideo` service, started by the first call that needs it.

    It lives in a task of the server's lifespan, so its task group is entered and left by one task, and it
    closes (journal written) when the server stops. A start that fails leaves nothing behind: the next call
    tries again.
    """

    def __init__(self, tasks: TaskGroup, settings: Settings, settings_error: SettingsError | None) -> None:
        self._tasks = tasks
        self._config = (settings, settings_error)
        self._service: NemoVideo | None = None
        self._starting = anyio.Lock()
        self._stopping = anyio.Event()

    async def get(self) -> NemoVideo:
        if self._service is None:
            async with self._starting:  # concurrent first calls share one start
                if self._service is None:
                    try:
                        self._service = await self._tasks.start(self._run)
                    except Exception as exc:
                        log.exception("the service could not start")
                        raise ToolError(
                            f"The server could not start: {redact(str(exc)) or type(exc).__name__}. "
                            "Run `nemovideo-mcp doctor` to see what to fix; the next call tries again."
                        ) from exc
        return self._service

    async def _run(self, *, task_status: TaskStatus[NemoVideo]) -> None:
        from nemovideo_mcp.app.service import NemoVideo

        async with NemoVideo(*self._config) as service:
            task_status.started(service)
            await self._stopping.wait()

    def stop(self) -> None:
        self._stopping.set()


class Workspaces:
    """The services of this server: one, or one per client named in ``NEMO_HTTP_CLIENTS`` (HTTP mode)."""

    def __init__(
        self, tasks: TaskGroup, settings: Settings, settings_error: SettingsError | None = None, *, per_client: bool
    ) -> None:
        names = sorted(set(settings.http_client_secrets.values())) if per_client else []
        self._per_client = bool(names)
        self._services: dict[str | None, LazyService] = (
            {name: LazyService(tasks, client_settings(settings, name), settings_error) for name in names}
            if names
            else {None: LazyService(tasks, settings, settings_error)}
        )

    def for_request(self, request: Any) -> LazyService:
        """The service of the client that sent *request* (a Starlette request over HTTP, None over stdio)."""
        if not self._per_client:
            return self._services[None]
        scope = getattr(request, "scope", None) or {}
        service = self._services.get((scope.get("state") or {}).get(CLIENT_KEY))
        if service is None:
            # The HTTP guard admits only listed secrets: a request without one never got this far.
            raise NemoError(
                "invalid_setting",
                "NEMO_HTTP_CLIENTS gives each HTTP client its own identity, so a request must carry one of the "
                "listed secrets as 'Authorization: Bearer <secret>'.",
            )
        return service

    def stop(self) -> None:
        for service in self._services.values():
            service.stop()
