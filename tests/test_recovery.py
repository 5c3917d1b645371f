"""Bootstrap and the documented recoveries, each driven through the MCP client.

The backend is the real studio; `support.cloud` makes it expire tokens, lose sessions and fail like the cloud.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from conftest import inprocess, make_settings, over_stdio, record_output, stdio_env, text_of
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks


@pytest.fixture
def settings(cloud_server: LoopbackServer, home: Path) -> Settings:
    return make_settings(cloud_server, home)


async def test_first_call_bootstraps_and_identity_survives_restart(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        first = await client.call_tool("state", {})
        record_output(first)
        assert not first.is_error, text_of(first)
    async with inprocess(settings) as client:  # a new server process would see the same state folder
        second = await client.call_tool("credits", {})
        assert not second.is_error
    assert len(cloud.issued_tokens) == 1
    assert len(cloud.sessions) == 1
    client_id = (settings.state_dir / "client_id").read_text().strip()
    assert len(client_id) == 36
    assert oct((settings.state_dir / "identity.json").stat().st_mode & 0o777) == "0o600"


async def test_expired_anonymous_token_is_renewed_once(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        await client.call_tool("credits", {})
        cloud.revoke_tokens()
        result = await client.call_tool("credits", {})
        record_output(result)
        assert not result.is_error, text_of(result)
    assert len(cloud.issued_tokens) == 2


async def test_http_401_is_treated_like_1001(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        await client.call_tool("credits", {})
        cloud.fail_next("credits", status=401)
        result = await client.call_tool("credits", {})
        assert not result.is_error, text_of(result)
    assert len(cloud.issued_tokens) == 2


async def test_rejected_user_token_gives_clear_message(
    cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks
) -> None:
    secret = "nmv_usr_user_supplied_but_unknown_0001"
    cloud.revoked.add(secret)
    settings = make_settings(cloud_server, home, token=secret)
    async with inprocess(settings) as client:
        result = await client.call_tool("credits", {})
        record_output(result)
    assert result.is_error
    assert result.structured_content["error"]["code"] == "token_rejected"
    assert "NEMO_TOKEN" in text_of(result)
    assert secret not in text_of(result) and secret not in repr(result.structured_content)
    assert cloud.issued_tokens == []


async def test_user_token_is_used_instead_of_anonymous(
    cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks
) -> None:
    token = "nmv_usr_registered_user_token_0002"  # on loopback the studio takes any token as a registered user
    cloud.balance = 777
    async with inprocess(make_settings(cloud_server, home, token=token)) as client:
        result = await client.call_tool("credits", {})
    assert result.structured_content["available"] == 777
    assert result.structured_content["anonymous"] is False
    assert cloud.issued_tokens == []


async def test_lost_session_is_recreated_and_user_told(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        await client.call_tool("state", {})
        cloud.drop_sessions()
        result = await client.call_tool("state", {})
        record_output(result)
    assert not result.is_error, text_of(result)
    assert any("started fresh" in n for n in result.structured_content["notices"])
    assert len(cloud.sessions) == 2 and len(cloud.issued_tokens) == 1


async def test_adk_404_session_not_found_on_stream(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        await client.call_tool("state", {})
        cloud.fail_next("run_sse", kind="session_not_found_404")
        result = await client.call_tool("generate", {"instruction": "Make a 1-second video: Hello."})
        record_output(result)
    assert not result.is_error, text_of(result)
    assert "started fresh" in text_of(result)
    assert cloud.calls["run_sse"] == 2  # the refused attempt, then one served on the new session


async def test_http_400_on_token_call_makes_new_client_id(settings: Settings, cloud: CloudQuirks) -> None:
    settings.state_dir.mkdir(parents=True)
    (settings.state_dir / "client_id").write_text("6f1c1a52-5f1e-4b53-9a44-bd0f2b0d9e11")
    cloud.fail_next("anonymous_token", status=400)
    async with inprocess(settings) as client:
        result = await client.call_tool("credits", {})
    assert not result.is_error, text_of(result)
    assert (settings.state_dir / "client_id").read_text().strip() != "6f1c1a52-5f1e-4b53-9a44-bd0f2b0d9e11"
    assert len(cloud.issued_tokens) == 1


@pytest.mark.parametrize("route", ["anonymous_token", "credits"])
async def test_429_is_retried_once_after_the_delay(
    cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks, route: str
) -> None:
    settings = make_settings(cloud_server, home, rate_limit_delay=0.4)
    cloud.fail_next(route, status=429)
    async with inprocess(settings) as client:
        began = time.monotonic()
        result = await client.call_tool("credits", {})
        took = time.monotonic() - began
    assert not result.is_error, text_of(result)
    assert took >= 0.4  # waited NEMO_RATE_LIMIT_DELAY before the one retry
    assert cloud.calls[route] == 2


async def test_429_twice_on_token_explains_the_weekly_limit(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.fail_next("anonymous_token", status=429, times=2)
    async with inprocess(settings) as client:
        result = await client.call_tool("credits", {})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "anonymous_quota"
    assert "one free anonymous account per computer per week" in text_of(result) and "NEMO_TOKEN" in text_of(result)


async def test_429_twice_elsewhere_is_rate_limiting_not_the_anonymous_quota(
    settings: Settings, cloud: CloudQuirks
) -> None:
    async with inprocess(settings) as client:
        await client.call_tool("credits", {})
        cloud.fail_next("credits", status=429, times=2)
        result = await client.call_tool("credits", {})
    assert result.structured_content["error"]["code"] == "rate_limited", text_of(result)
    assert "limiting requests" in text_of(result) and "anonymous account" not in text_of(result)


async def test_invalid_setting_keeps_server_listed_and_explains(cloud_server: LoopbackServer, home: Path) -> None:
    env = stdio_env(cloud_server, home, NEMO_LANGUAGE="not a language!")
    async with over_stdio(env) as client:
        tools = await client.list_tools()
        assert len(tools.tools) == 5
        for name, args in [("credits", {}), ("state", {}), ("generate", {"instruction": "hi"})]:
            result = await client.call_tool(name, args)
            assert result.is_error
            text = text_of(result)
            assert "NEMO_LANGUAGE" in text and "en, zh-CN" in text
            assert "\n" not in text.strip()
    log = (home / "server-stderr.log").read_text()
    assert "NEMO_LANGUAGE" in log


async def test_connected_notice_in_human_words(settings: Settings) -> None:
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with inprocess(settings) as client:
        await client.call_tool("credits", {}, progress_callback=on_progress)
    assert "Setting things up..." in messages
    assert any(m.startswith("Connected") for m in messages)
    assert not any("{" in m or "nmv_" in m for m in messages)


async def test_two_servers_started_at_once_share_one_identity(
    cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks
) -> None:
    """Two clients launching the server at the same moment must not burn two weekly anonymous tokens."""
    env = stdio_env(cloud_server, home)
    results: list[object] = []

    async def one() -> None:
        async with over_stdio(env) as client:
            results.append(await client.call_tool("credits", {}))

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)
        tg.start_soon(one)
    assert len(results) == 2 and not any(r.is_error for r in results)  # type: ignore[attr-defined]
    assert len(cloud.issued_tokens) == 1
    assert len(cloud.sessions) == 1


async def test_local_backend_never_touches_the_real_identity(cloud_server: LoopbackServer, home: Path) -> None:
    env = stdio_env(cloud_server, home, NEMO_API_URL="local")
    async with over_stdio(env) as client:
        result = await client.call_tool("credits", {})
    assert not result.is_error, text_of(result)
    assert not (home / "state" / "identity.json").exists()


@pytest.mark.parametrize("retry_after", ["1", "date"])
async def test_429_waits_for_the_retry_after_the_backend_names(retry_after: str) -> None:
    """A Retry-After is honoured (seconds or an HTTP date) instead of NEMO_RATE_LIMIT_DELAY, once."""
    import email.utils

    import httpx

    from nemovideo_mcp.backend.client import NemoApi

    seen: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(time.monotonic())
        if len(seen) == 1:
            wait = "1" if retry_after == "1" else email.utils.formatdate(time.time() + 2, usegmt=True)
            return httpx.Response(429, headers={"retry-after": wait})
        return httpx.Response(200, json={"code": 0, "data": {"available": 7, "frozen": 0, "total": 7}})

    api = NemoApi("https://api.example", headers={}, rate_limit_delay=600, transport=httpx.MockTransport(answer))
    try:
        with anyio.fail_after(30):  # not the 600 s of NEMO_RATE_LIMIT_DELAY
            balance = await api.credits()
    finally:
        await api.aclose()
    assert balance.available == 7 and len(seen) == 2
    assert seen[1] - seen[0] >= 0.9


async def test_a_render_start_is_never_repeated_after_it_may_have_arrived() -> None:
    """A POST that may have acted (here a 503 or a cut connection after sending) is sent once; a GET is retried."""
    import httpx

    from nemovideo_mcp.backend.client import NemoApi
    from nemovideo_mcp.errors import NemoError

    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if request.method == "POST":
            raise httpx.ReadError("connection reset after the request was sent", request=request)
        return httpx.Response(503, text="busy")

    api = NemoApi("https://api.example", headers={}, get_retries=2, transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(NemoError) as post:
            await api.render_start("render_1", "s", {"t": []})
        with pytest.raises(NemoError):
            await api.credits()
    finally:
        await api.aclose()
    assert post.value.code == "network_error"
    assert calls == ["POST", "GET", "GET", "GET"]


async def test_a_client_id_refused_twice_says_which_setting_to_change(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.fail_next("anonymous_token", status=400, times=2)
    async with inprocess(settings) as client:
        result = await client.call_tool("credits", {})
    assert result.structured_content["error"]["code"] == "auth_failed", text_of(result)
    assert "client id" in text_of(result) and "NEMO_CLIENT_ID" in text_of(result)
