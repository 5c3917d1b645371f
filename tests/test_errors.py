"""Each documented error code reaches the agent as the documented words and a machine code."""

from __future__ import annotations

from pathlib import Path

from conftest import inprocess, make_settings, record_output, text_of
from nemovideo_mcp.settings import Settings
from support.emulator import Emulator, EmulatorServer


async def test_2001_anonymous_gets_registration_link_with_bind(settings: Settings, emu: Emulator) -> None:
    async with inprocess(settings) as client:
        await client.call_tool("state", {})
        user_id = next(iter(emu.sessions.values())).user_id
        emu.set_credits(user_id, available=0)
        result = await client.call_tool("generate", {"instruction": "make a video about a cat"})
        record_output(result)
        credits = await client.call_tool("credits", {})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "no_credits"
    assert result.structured_content["error"]["backend_code"] == 2001
    assert f"https://nemovideo.com/register?bind={user_id}" in text_of(result)
    assert credits.structured_content["register_url"].endswith(f"?bind={user_id}")


async def test_2001_registered_user_is_told_to_top_up(backend: EmulatorServer, home: Path, emu: Emulator) -> None:
    token = "nmv_usr_registered_without_credits_03"
    emu.add_user(token, registered=True, credits=0)
    async with inprocess(make_settings(backend, home, token=token)) as client:
        result = await client.call_tool("generate", {"instruction": "make a video about a dog"})
    assert result.is_error
    assert "Top up credits in your account" in text_of(result)
    assert "register" not in text_of(result).lower()


async def test_402_on_export_is_the_plan_not_credits(settings: Settings, emu: Emulator, photos: list[str]) -> None:
    emu.anonymous_export_allowed = False
    async with inprocess(settings) as client:
        await client.call_tool("generate", {"instruction": "make a 5-second video about the sea"})
        result = await client.call_tool("export", {})
        record_output(result)
    assert result.is_error
    error = result.structured_content["error"]
    assert error["code"] == "plan_limit"
    assert "plan limit, not a lack of credits" in error["message"]
    assert "register" in error["message"].lower()
    # The free way out is named, with the exact switch.
    assert "local studio" in error["message"] and "NEMO_API_URL=local" in error["message"]


async def test_4001_lists_supported_formats(settings: Settings, emu: Emulator, photos: list[str]) -> None:
    emu.fail_next("upload", code=4001)
    async with inprocess(settings) as client:
        result = await client.call_tool("upload", {"sources": photos[:1]})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "unsupported_file"
    assert "mp4" in text_of(result) and "webp" in text_of(result) and "aac" in text_of(result)


async def test_4002_suggests_compressing_with_the_limit(settings: Settings, emu: Emulator, photos: list[str]) -> None:
    emu.fail_next("upload", code=4002)
    async with inprocess(settings) as client:
        result = await client.call_tool("upload", {"sources": photos[:1]})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "file_too_large"
    assert "200 MB" in text_of(result) and "ompress" in text_of(result)


async def test_export_refused_early_when_timeline_is_empty(settings: Settings, emu: Emulator) -> None:
    async with inprocess(settings) as client:
        result = await client.call_tool("export", {})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "not_export_ready"
    assert emu.renders == {}


async def test_invalid_arguments_get_a_validation_error(settings: Settings) -> None:
    async with inprocess(settings) as client:
        result = await client.call_tool("generate", {"instruction": "", "wait_seconds": -1})
        assert result.is_error
        assert "instruction" in text_of(result) and "wait_seconds" in text_of(result)
        result = await client.call_tool("upload", {"sources": "not-a-list"})
        assert result.is_error
        # The server still answers afterwards.
        assert not (await client.call_tool("credits", {})).is_error


async def test_unusable_state_folder_is_a_clear_error(backend: EmulatorServer, home: Path) -> None:
    (home / "state-file").write_text("not a folder")
    settings = make_settings(backend, home, state_dir=home / "state-file")
    async with inprocess(settings) as client:
        result = await client.call_tool("credits", {})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "local_storage"
    assert "NEMO_STATE_DIR" in text_of(result) and "Error executing tool" not in text_of(result)


async def test_numeric_ids_from_the_backend_are_read_as_text(settings: Settings, emu: Emulator) -> None:
    from nemovideo_mcp.backend.models import SessionInfo, TokenGrant

    assert SessionInfo.model_validate({"session_id": 5529798706024415232, "user_id": 42}).user_id == "42"
    assert TokenGrant.model_validate({"token": "nmv_usr_x", "user_id": 7}).user_id == "7"


async def test_2001_with_credits_left_says_the_creation_needs_more(settings: Settings, emu: Emulator) -> None:
    async with inprocess(settings) as client:
        await client.call_tool("state", {})
        emu.set_credits(next(iter(emu.sessions.values())).user_id, available=3)
        result = await client.call_tool("generate", {"instruction": "make a video about a cat"})
    assert result.structured_content["error"]["code"] == "no_credits"
    text = text_of(result)
    assert "needs more credits than the 3 left" in text and "used up" not in text and "out of" not in text, text
    assert "register" in text.lower()
