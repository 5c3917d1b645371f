"""Serving MCP over streamable HTTP, safely.

Loopback by default, with the SDK's DNS-rebinding protection on. Binding any
other address is refused unless the operator passes the explicit flag AND
sets a bearer secret, which every request must then carry: an MCP server
that uploads the user's files must never be open to the local network.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from nemovideo_mcp.errors import NemoError

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, allow_remote: bool, secret: str | None) -> None:
    """Refuse an unsafe bind with a message that says how to make it safe."""
    if is_loopback(host):
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
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <secret>`."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self._expected = f"Bearer {secret}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"error":"missing or wrong bearer secret"}'})
                return
        await self.app(scope, receive, send)


def build_http_app(server: MCPServer[Any], *, host: str, port: int, secret: str | None) -> ASGIApp:
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
    if secret:
        app = BearerGuard(app, secret)
    return app


def serve_http(server: MCPServer[Any], *, host: str, port: int, allow_remote: bool, secret: str | None) -> None:
    check_bind(host, allow_remote=allow_remote, secret=secret)
    app = build_http_app(server, host=host, port=port, secret=secret)
    uvicorn.run(app, host=host, port=port, log_level="warning")
