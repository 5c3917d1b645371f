"""Streamable-HTTP mode: loopback by default, DNS-rebinding protection on, remote only with a secret.

Servers run under uvicorn on a free 127.0.0.1 port in a thread; clients are the
SDK's own `Client` (through its streamable-HTTP transport) and raw httpx.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import structlog
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import make_settings, record_output, text_of
from nemovideo_mcp.cli import commands as cli
from nemovideo_mcp.errors import NemoError
from nemovideo_mcp.mcp.http_serve import build_http_app, check_bind, is_loopback
from nemovideo_mcp.mcp.tools import build_server
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks

SECRET = "s3cr3t-for-tests-0123456789abcdef"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


@pytest.fixture
def settings(cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks) -> Settings:
    cloud.balance = 100  # what the cloud gives a new account (the studio's own credits are unlimited)
    cloud.render_size = (160, 90)
    return make_settings(cloud_server, home)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    settings: Settings, *, app_host: str = "127.0.0.1", secret: str | None = None, per_client: bool = False
) -> Iterator[str]:
    """Serve the app built for `app_host` (always bound to 127.0.0.1 here) and yield its /mcp URL."""
    port = _free_port()
    mcp_server = build_server(settings, per_client=per_client)
    clients = settings.http_client_secrets if per_client else None
    app = build_http_app(mcp_server, host=app_host, port=port, secret=secret, clients=clients)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(5)


def _post(url: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, json=INIT, headers={**MCP_HEADERS, **(headers or {})}, timeout=10)


# -- binding rules ---------------------------------------------------------------------------


def test_loopback_is_the_default_everywhere() -> None:
    assert cli._parser().parse_args(["serve", "--http"]).host == "127.0.0.1"
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host)
        check_bind(host, allow_remote=False, secret=None)  # no flag, no secret needed
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com", ""):
        assert not is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10"])
def test_non_loopback_is_refused_without_the_flag(host: str) -> None:
    with pytest.raises(NemoError) as info:
        check_bind(host, allow_remote=False, secret=SECRET)  # a secret alone is not enough
    assert "--allow-remote" in info.value.message and "NEMO_HTTP_SECRET" in info.value.message


@pytest.mark.parametrize("secret", [None, "", "short-secret"])
def test_non_loopback_with_the_flag_needs_a_long_secret(secret: str | None) -> None:
    with pytest.raises(NemoError) as info:
        check_bind("0.0.0.0", allow_remote=True, secret=secret)
    assert "NEMO_HTTP_SECRET" in info.value.message and "16" in info.value.message
    check_bind("0.0.0.0", allow_remote=True, secret=SECRET)  # flag + secret: allowed


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`cli.main` configures logging onto the (captured) stderr of the moment: undo it afterwards."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_cli_refuses_a_remote_bind_and_exits_with_the_settings_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--http", "--host", "0.0.0.0", "--port", str(_free_port())]) == cli.EXIT_SETTINGS
    assert "--allow-remote" in capsys.readouterr().err


@pytest.mark.usefixtures("restore_logging")
def test_cli_refuses_allow_remote_without_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["serve", "--http", "--host", "0.0.0.0", "--allow-remote", "--port", str(_free_port())])
    assert code == cli.EXIT_SETTINGS
    assert "NEMO_HTTP_SECRET" in capsys.readouterr().err


# -- the loopback server ---------------------------------------------------------------------


async def test_sdk_client_works_over_loopback_http(settings: Settings) -> None:
    with serving(settings) as url:
        async with Client(url) as client:
            tools = await client.list_tools()
            assert {t.name for t in tools.tools} == {"generate", "upload", "state", "credits", "export"}
            result = await client.call_tool("credits", {})
            record_output(result)
            assert not result.is_error, text_of(result)
            assert result.structured_content["available"] == 100


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"host": "evil.com"}, 421),  # DNS rebinding: a page on evil.com resolving to 127.0.0.1
        ({"host": "evil.com:80"}, 421),
        ({"origin": "http://evil.com"}, 403),  # a browser page on another origin
        ({}, 200),
    ],
)
def test_dns_rebinding_protection_is_on(settings: Settings, headers: dict[str, str], status: int) -> None:
    with serving(settings) as url:
        response = _post(url, headers=headers)
    assert response.status_code == status, response.text


def test_another_loopback_address_accepts_its_own_name(settings: Settings) -> None:
    """Bound to 127.0.0.2, the server must accept clients that call it by that name (and still refuse others)."""
    with serving(settings, app_host="127.0.0.2") as url:
        port = url.split(":")[2].split("/")[0]
        own = _post(url, headers={"host": f"127.0.0.2:{port}"})
        other = _post(url, headers={"host": "evil.com"})
    assert own.status_code == 200, own.text
    assert other.status_code == 421


# -- the bearer secret on a remote bind ------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-secret-0123456789", f"bearer {SECRET}x", SECRET, f"Basic {SECRET}"],
)
def test_remote_mode_rejects_a_missing_or_wrong_secret(settings: Settings, authorization: str | None) -> None:
    with serving(settings, app_host="0.0.0.0", secret=SECRET) as url:
        headers = {"authorization": authorization} if authorization is not None else {}
        response = _post(url, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert SECRET not in response.text
        # GET and DELETE on the endpoint are guarded too, not just POST
        assert httpx.get(url, headers=headers, timeout=10).status_code == 401
        assert httpx.delete(url, headers=headers, timeout=10).status_code == 401


async def test_remote_mode_accepts_the_right_secret(settings: Settings) -> None:
    with serving(settings, app_host="0.0.0.0", secret=SECRET) as url:
        assert _post(url, headers={"authorization": f"Bearer {SECRET}"}).status_code == 200
        http_client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {SECRET}"}, timeout=30)
        async with http_client, Client(streamable_http_client(url, http_client=http_client)) as client:
            result: Any = await client.call_tool("credits", {})
            record_output(result)
            assert not result.is_error, text_of(result)


# -- several people on one server: NEMO_HTTP_CLIENTS -----------------------------------------

ALICE, BOB = "alice-secret-0123456789abcdef", "bob-secret-fedcba9876543210"


@asynccontextmanager
async def person(url: str, secret: str, mode: str) -> AsyncIterator[Client]:
    http_client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    async with http_client, Client(streamable_http_client(url, http_client=http_client), mode=mode) as client:
        yield client


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result: Any = await client.call_tool(tool, arguments)
    record_output(result)
    assert not result.is_error, text_of(result)
    return dict(result.structured_content)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_each_listed_client_has_its_own_identity(
    cloud_server: LoopbackServer, cloud: CloudQuirks, home: Path, photos: list[str], mode: str
) -> None:
    cloud.render_size = (160, 90)
    settings = make_settings(cloud_server, home, http_clients=f"alice={ALICE}, bob={BOB}")
    with serving(settings, per_client=True) as url:
        async with person(url, ALICE, mode) as alice:
            await _call(alice, "upload", {"sources": photos[:1]})
            await _call(alice, "generate", {"instruction": "Make a 1-second video: City lights."})
            exported = await _call(alice, "export", {})
            mine = await _call(alice, "state", {})
        async with person(url, BOB, mode) as bob:
            theirs = await _call(bob, "state", {})
            with pytest.raises(Exception, match="No such export"):
                await bob.read_resource(exported["resource_uri"])
            await _call(bob, "upload", {"sources": photos[1:]})
        async with person(url, ALICE, mode) as alice:  # a new connection finds the same work
            again = await _call(alice, "state", {})
    assert [m["filename"] for m in mine["media"]] == ["photo1.png"]
    assert theirs["media"] == [] and theirs["jobs"] == [] and theirs["draft"] != mine["draft"]
    assert Path(exported["path"]).parent == home / "exports" / "alice"
    assert [m["filename"] for m in again["media"]] == ["photo1.png"]
    assert len({project.user_id for project in cloud.projects}) == 2  # two identities at the backend
    for name in ("alice", "bob"):
        assert (home / "state" / "clients" / name).is_dir()


def test_listed_clients_need_their_own_secret(cloud_server: LoopbackServer, home: Path) -> None:
    settings = make_settings(cloud_server, home, http_clients=f"alice={ALICE},bob={BOB}")
    with serving(settings, per_client=True) as url:
        assert _post(url).status_code == 401
        assert _post(url, headers={"authorization": f"Bearer {ALICE}x"}).status_code == 401
        assert _post(url, headers={"authorization": f"Bearer {BOB}"}).status_code == 200


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("alice", "name=secret"),
        ("Alice=" + ALICE, "name=secret"),
        ("alice=short", "at least 16"),
        (f"alice={ALICE},alice={BOB}", "listed twice"),
        (f"alice={ALICE},bob={ALICE}", "same secret"),
        (" , ", "at least one"),
    ],
)
def test_a_bad_client_list_says_what_to_change(value: str, words: str) -> None:
    from nemovideo_mcp.settings import load_settings

    _, error = load_settings(_env_file=None, http_clients=value)
    assert error is not None and "NEMO_HTTP_CLIENTS" in error.message and words in error.message
    assert ALICE not in error.message and BOB not in error.message


def test_a_shared_secret_and_a_client_list_are_not_mixed() -> None:
    with pytest.raises(NemoError) as info:
        check_bind("127.0.0.1", allow_remote=False, secret=SECRET, clients={ALICE: "alice"})
    assert "not both" in info.value.message
    check_bind("0.0.0.0", allow_remote=True, secret=None, clients={ALICE: "alice"})  # each person has a secret
