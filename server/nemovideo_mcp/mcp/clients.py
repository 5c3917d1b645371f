"""Whose work a request touches: one shared service, or one per named HTTP client.

Over stdio there is one client, so one service. Over HTTP every client shares that
service unless the operator lists several people in ``NEMO_HTTP_CLIENTS``: each
name then gets its own service, with its own state folder (token, session, jobs)
and export folder, and a request belongs to the name whose secret it carried.
The name comes from the credential, not from the MCP session: a person who
reconnects finds their work again, and stateless requests are told apart too.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self

from nemovideo_mcp.app.service import NemoVideo
from nemovideo_mcp.errors import NemoError, SettingsError
from nemovideo_mcp.settings import Settings

#: Where the HTTP guard writes the name of the client whose secret a request carried (the ASGI scope's state).
CLIENT_KEY = "nemovideo_client"


def client_settings(settings: Settings, name: str) -> Settings:
    """The settings of one named client: the same server, its own state and export folders."""
    return settings.model_copy(
        update={"state_dir": settings.state_dir / "clients" / name, "export_dir": settings.export_dir / name}
    )


class Workspaces:
    """The services of this server, opened at start (so each one's unfinished jobs resume) and closed at the end."""

    def __init__(self, settings: Settings, settings_error: SettingsError | None = None, *, per_client: bool) -> None:
        self._settings, self._error = settings, settings_error
        self._names = sorted(set(settings.http_client_secrets.values())) if per_client else []
        self._services: dict[str | None, NemoVideo] = {}
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        await self._stack.__aenter__()
        try:
            if not self._names:
                self._services[None] = await self._stack.enter_async_context(NemoVideo(self._settings, self._error))
            for name in self._names:
                service = NemoVideo(client_settings(self._settings, name), self._error)
                self._services[name] = await self._stack.enter_async_context(service)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.__aexit__(kind, exc, tb)

    def for_request(self, request: Any) -> NemoVideo:
        """The service of the client that sent *request* (a Starlette request over HTTP, None over stdio)."""
        if not self._names:
            return self._services[None]
        scope = getattr(request, "scope", None) or {}
        name = (scope.get("state") or {}).get(CLIENT_KEY)
        service = self._services.get(name)
        if service is None:
            # The HTTP guard admits only listed secrets: a request without one never got this far.
            raise NemoError(
                "invalid_setting",
                "NEMO_HTTP_CLIENTS gives each HTTP client its own identity, so a request must carry one of the "
                "listed secrets as 'Authorization: Bearer <secret>'.",
            )
        return service
