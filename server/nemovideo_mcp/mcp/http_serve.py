"""Serving MCP over streamable HTTP, safely.

Loopback by default, with the SDK's DNS-rebinding protection on. Binding any
other address is refused unless the operator passes the explicit flag AND
sets a bearer secret, which every request must then carry: an MCP server
that uploads the user's files must never be open to the local network.
With ``NEMO_HTTP_CLIENTS`` each person has a secret of their own, and the guard
tells the tools whose request it is (see `clients`).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from typing import Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from nemovideo_mcp.errors import NemoError
from nemovideo_mcp.mcp.clients import CLIENT_KEY

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, allow_remote: bool, secret: str | None, clients: Mapping[str, str] | None = None) -> None:
    """Refuse an unsafe bind with a message that says how to make it safe."""
    if secret and clients:
        raise NemoError(
            "invalid_setting",
            "Set NEMO_HTTP_SECRET or NEMO_HTTP_CLIENTS, not both: with NEMO_HTTP_CLIENTS every person sends their "
            "own secret, and a shared one would not say whose work a request touches.",
        )
    if is_loopback(host) or clients:
        return
    if not allow_remote:
        raise NemoError(
            "invalid_setting",
            f"Refusing to serve on {host}: only loopback (127.0.0.1) is allowed by default. Pass --allow-remote "
            "and set NEMO_HTTP_SECRET to a long random secret that clients send as 'Authorization: Bearer ...'.",
        )
    if not secret or len(secret) < 16:
        raise NemoError(
            "invalid_setting",
            f"Refusing to serve on {host} without a secret: set NEMO_HTTP_SECRET to a random string of at least "
            "16 characters (clients send it as 'Authorization: Bearer <secret>').",
        )


class BearerGuard:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <secret>` with a known secret.

    *secrets* maps each accepted secret to the client it names (None: the one shared identity); the name
    goes into the request's scope for the tools, so a request cannot claim to be someone else.
    """

    def __init__(self, app: ASGIApp, secrets: Mapping[str, str | None]) -> None:
        self.app = app
        self._expected = [(f"Bearer {secret}".encode(), name) for secret, name in secrets.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            # Every secret is compared, in constant time each, so the time taken does not tell which one nearly matched.
            matches = [name for expected, name in self._expected if hmac.compare_digest(given, expected)]
            if not matches:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"error":"missing or wrong bearer secret"}'})
                return
            state = scope.setdefault("state", {})
            state.pop(CLIENT_KEY, None)
            if matches[0] is not None:
                state[CLIENT_KEY] = matches[0]
        await self.app(scope, receive, send)


def build_http_app(
    server: MCPServer[Any], *, host: str, port: int, secret: str | None, clients: Mapping[str, str] | None = None
) -> ASGIApp:
    """The server's streamable HTTP app behind its guards; *clients* maps each person's secret to their name."""
    if is_loopback(host):
        # The names a local client may use for this server; anything else is a rebinding attempt.
        bound = f"[{host}]" if ":" in host else host
        names = list(dict.fromkeys(["127.0.0.1", "localhost", "[::1]", bound]))
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[f"{name}:{port}" for name in names] + names,
            allowed_origins=[f"http://{name}:{port}" for name in names],
        )
    else:
        # Behind an explicit --allow-remote the Host is whatever name clients use; the secret guards access.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app: ASGIApp = server.streamable_http_app(transport_security=security, host=host)
    secrets: dict[str, str | None] = dict(clients or {})
    if secret:
        secrets[secret] = None
    if secrets:
        app = BearerGuard(app, secrets)
    return app


def serve_http(
    server: MCPServer[Any],
    *,
    host: str,
    port: int,
    allow_remote: bool,
    secret: str | None,
    clients: Mapping[str, str] | None = None,
) -> None:
    check_bind(host, allow_remote=allow_remote, secret=secret, clients=clients)
    app = build_http_app(server, host=host, port=port, secret=secret, clients=clients)
    uvicorn.run(app, host=host, port=port, log_level="warning")
