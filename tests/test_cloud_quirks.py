"""The real client against the real studio behaving like the cloud: GUI phrases, the other render shape,
keep-alives and recoverable errors, added by `support.cloud.CloudQuirks` around the studio's own app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from conftest import inprocess, make_settings, probe_video, text_of
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.app import Studio, create_app
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks

FORBIDDEN = ("click", "open the", "drag", "点击", "打开", "拖拽")


@pytest.fixture
def quirks(tmp_path: Path) -> CloudQuirks:
    return CloudQuirks(create_app(Studio(tmp_path / "studio")))


@pytest.fixture
def cloudlike(quirks: CloudQuirks) -> Iterator[LoopbackServer]:
    with LoopbackServer(quirks) as server:
        yield server


@pytest.fixture
def settings(cloudlike: LoopbackServer, home: Path) -> Settings:
    return make_settings(cloudlike, home, poll_initial=0.1, poll_max=0.3, default_wait=120.0)  # type: ignore[arg-type]


@pytest.fixture
def photo(home: Path) -> str:
    path = home / "media" / "beach.jpg"
    Image.new("RGB", (640, 400), (30, 120, 200)).save(path)
    return str(path)


async def _make(client: Any, photo: str, instruction: str) -> Any:
    uploaded = await client.call_tool("upload", {"sources": [photo]})
    assert not uploaded.is_error, text_of(uploaded)
    return await client.call_tool("generate", {"instruction": instruction})


async def test_a_gui_phrase_reply_becomes_a_real_export(settings: Settings, quirks: CloudQuirks, photo: str) -> None:
    quirks.gui_phrases = True
    async with inprocess(settings) as client:
        result = await _make(client, photo, "make a 2-second 720p video from my photos")
        assert not result.is_error, text_of(result)
        # "Click the Export button" arrived; the agent gets a real next step instead of the click.
        assert [s["tool"] for s in result.structured_content["next_steps"]] == ["export"], result.structured_content
        assert not any(word in text_of(result).lower() for word in FORBIDDEN), text_of(result)
        exported = await client.call_tool("export", {"wait_seconds": 120})
    assert exported.structured_content["status"] == "succeeded", text_of(exported)
    assert probe_video(Path(exported.structured_content["path"]))["codec"] == "h264"


async def test_the_other_render_status_shape_still_exports(settings: Settings, quirks: CloudQuirks, photo: str) -> None:
    quirks.render_shape = "task"
    async with inprocess(settings) as client:
        await _make(client, photo, "make a 2-second 720p video from my photos")
        result = await client.call_tool("export", {"wait_seconds": 120})
    assert result.structured_content["status"] == "succeeded", text_of(result)
    assert probe_video(Path(result.structured_content["path"]))["width"] == 1280
    assert quirks.shaped >= 1  # the status answers really came in the other shape


@pytest.mark.parametrize("style", ["comment", "empty", "json"])
async def test_keep_alives_in_the_stream_are_not_shown(
    settings: Settings, quirks: CloudQuirks, photo: str, style: Any
) -> None:
    quirks.heartbeats = style
    async with inprocess(settings) as client:
        result = await _make(client, photo, "make a 2-second video from my photos")
    assert not result.is_error, text_of(result)
    assert "heartbeat" not in text_of(result) and "ping" not in text_of(result)
    assert "Timeline (" in text_of(result)


async def test_a_lost_session_is_recovered_and_said(settings: Settings, quirks: CloudQuirks, photo: str) -> None:
    async with inprocess(settings) as client:
        await _make(client, photo, "make a 2-second video from my photos")
        quirks.fail_next("state", code=1002)
        result = await client.call_tool("state", {})
    assert not result.is_error, text_of(result)
    assert any("started fresh" in n for n in result.structured_content["notices"]), result.structured_content
    assert quirks.calls["create_session"] == 2  # a new session, exactly once
