"""Each documented error code reaches the agent as the documented words and a machine code.

The backend is the real studio, answering with the cloud's error codes where a test asks (`support.cloud`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import inprocess, make_settings, record_output, text_of
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks


@pytest.fixture
def settings(cloud_server: LoopbackServer, home: Path) -> Settings:
    return make_settings(cloud_server, home)


async def test_2001_anonymous_gets_registration_link_with_bind(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        await client.call_tool("state", {})
        user_id = cloud.user_ids[-1]
        cloud.balance = 0
        cloud.fail_next("run_sse", code=2001)
        result = await client.call_tool("generate", {"instruction": "make a video about a cat"})
        record_output(result)
        credits = await client.call_tool("credits", {})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "no_credits"
    assert result.structured_content["error"]["backend_code"] == 2001
    assert f"https://nemovideo.com/register?bind={user_id}" in text_of(result)
    assert credits.structured_content["register_url"].endswith(f"?bind={user_id}")


async def test_2001_registered_user_is_told_to_top_up(
    cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks
) -> None:
    token = "nmv_usr_registered_without_credits_03"  # on loopback the studio takes any token as a registered user
    cloud.balance = 0
    cloud.fail_next("run_sse", code=2001)
    async with inprocess(make_settings(cloud_server, home, token=token)) as client:
        result = await client.call_tool("generate", {"instruction": "make a video about a dog"})
    assert result.is_error
    assert "Top up credits in your account" in text_of(result)
    assert "register" not in text_of(result).lower()


async def test_402_on_export_is_the_plan_not_credits(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.fail_next("render_start", status=402)
    async with inprocess(settings) as client:
        await client.call_tool("generate", {"instruction": "make a 1-second video about the sea"})
        result = await client.call_tool("export", {})
        record_output(result)
    assert result.is_error
    error = result.structured_content["error"]
    assert error["code"] == "plan_limit"
    assert "plan limit, not a lack of credits" in error["message"]
    assert "register" in error["message"].lower()
    # The free way out is named, with the exact switch.
    assert "local studio" in error["message"] and "NEMO_API_URL=local" in error["message"]


async def test_4001_lists_supported_formats(settings: Settings, cloud: CloudQuirks, photos: list[str]) -> None:
    cloud.fail_next("upload", code=4001)
    async with inprocess(settings) as client:
        result = await client.call_tool("upload", {"sources": photos[:1]})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "unsupported_file"
    assert "mp4" in text_of(result) and "webp" in text_of(result) and "aac" in text_of(result)


async def test_4002_suggests_compressing_with_the_limit(
    settings: Settings, cloud: CloudQuirks, photos: list[str]
) -> None:
    cloud.fail_next("upload", code=4002)
    async with inprocess(settings) as client:
        result = await client.call_tool("upload", {"sources": photos[:1]})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "file_too_large"
    assert "200 MB" in text_of(result) and "ompress" in text_of(result)


async def test_export_refused_early_when_timeline_is_empty(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        result = await client.call_tool("export", {})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "not_export_ready"
    assert cloud.calls["render_start"] == 0


async def test_invalid_arguments_get_a_validation_error(settings: Settings) -> None:
    async with inprocess(settings) as client:
        result = await client.call_tool("generate", {"instruction": "", "wait_seconds": -1})
        assert result.is_error
        assert "instruction" in text_of(result) and "wait_seconds" in text_of(result)
        result = await client.call_tool("upload", {"sources": "not-a-list"})
        assert result.is_error
        # The server still answers afterwards.
        assert not (await client.call_tool("credits", {})).is_error


async def test_unusable_state_folder_is_a_clear_error(cloud_server: LoopbackServer, home: Path) -> None:
    (home / "state-file").write_text("not a folder")
    settings = make_settings(cloud_server, home, state_dir=home / "state-file")
    async with inprocess(settings) as client:
        result = await client.call_tool("credits", {})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "local_storage"
    assert "NEMO_STATE_DIR" in text_of(result) and "Error executing tool" not in text_of(result)


def test_numeric_ids_from_the_backend_are_read_as_text() -> None:
    from nemovideo_mcp.backend.models import SessionInfo, TokenGrant

    assert SessionInfo.model_validate({"session_id": 5529798706024415232, "user_id": 42}).user_id == "42"
    assert TokenGrant.model_validate({"token": "nmv_usr_x", "user_id": 7}).user_id == "7"


async def test_2001_with_credits_left_says_the_creation_needs_more(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        await client.call_tool("state", {})
        cloud.balance = 3
        cloud.fail_next("run_sse", code=2001)
        result = await client.call_tool("generate", {"instruction": "make a video about a cat"})
    assert result.structured_content["error"]["code"] == "no_credits"
    text = text_of(result)
    assert "needs more credits than the 3 left" in text and "used up" not in text and "out of" not in text, text
    assert "register" in text.lower()
