"""GUI replies become actions, end to end through the MCP client, against the real studio (`support.cloud`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import inprocess, make_settings, probe_video, record_output, text_of
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks

FORBIDDEN = ("click", "open the", "drag", "preview", "点击", "打开", "拖拽")


@pytest.fixture
def settings(cloud_server: LoopbackServer, home: Path) -> Settings:
    return make_settings(cloud_server, home)


async def test_export_button_reply_and_send_me_the_video_saves_mp4(settings: Settings, cloud: CloudQuirks) -> None:
    draft = {
        "t": [{"tt": 0, "sg": [{"d": 1000, "m": {"name": "autumn leaves"}}]}],
        "d": 1000,
        "m": {"width": 320, "height": 180},
    }
    cloud.next_turn("Done! Click the Export button to download", draft=draft)
    async with inprocess(settings) as client:
        result = await client.call_tool("generate", {"instruction": "make it and send me the video"})
        record_output(result)
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["export"]["status"] == "succeeded"
    path = Path(data["export"]["path"])
    assert path.is_file() and probe_video(path)["codec"] == "h264"
    text = text_of(result).lower()
    assert not any(word in text for word in FORBIDDEN), text
    assert any(getattr(b, "type", "") == "resource_link" for b in result.content)


async def test_export_button_reply_without_asking_is_a_next_step(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.next_turn("Your video is ready! Click the Export button to download it.")
    async with inprocess(settings) as client:
        result = await client.call_tool("generate", {"instruction": "make a 10-second video about autumn"})
    data = result.structured_content
    assert data["export"] is None and cloud.renders == 0
    assert [s["tool"] for s in data["next_steps"]] == ["export"]
    assert "click" not in text_of(result).lower()


async def test_chinese_gui_reply_and_panel_phrases(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        await client.call_tool("generate", {"instruction": "make a 10-second video about tea"})
        cloud.next_turn("已添加背景音乐。打开音乐面板可以调整音量，然后点击导出按钮下载视频。")
        result = await client.call_tool("generate", {"instruction": "加一段轻松的背景音乐"})
    text = text_of(result)
    assert not any(word in text for word in FORBIDDEN), text
    # The panel is answered inline: the reply's pointer to it becomes a pointer to the summary that follows.
    pointer, summary = text.find("NemoVideo pointed at its"), text.find("Timeline (")
    assert 0 <= pointer < summary, text
    assert "音乐面板" in text[pointer:summary]
    assert any(s["tool"] == "export" for s in result.structured_content["next_steps"])


async def test_a_reply_without_a_panel_points_at_nothing(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        await client.call_tool("generate", {"instruction": "make a 10-second video about tea"})
        cloud.next_turn("已添加背景音乐。")
        result = await client.call_tool("generate", {"instruction": "加一段轻松的背景音乐"})
    assert "Timeline (" in text_of(result) and "pointed at" not in text_of(result)


async def test_intent_routing_spends_no_stream_turn(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.balance = 100
    async with inprocess(settings) as client:
        credits = await client.call_tool("generate", {"instruction": "how many credits do I have?"})
        status = await client.call_tool("generate", {"instruction": "状态"})
        negative = await client.call_tool("generate", {"instruction": "make a status update video for the team"})
    assert credits.structured_content["routed_to"] == "credits"
    assert credits.structured_content["credits"]["available"] == 100
    assert status.structured_content["routed_to"] == "state"
    assert negative.structured_content["routed_to"] is None
    assert cloud.calls["run_sse"] == 1


async def test_files_named_in_a_creation_instruction_are_uploaded_first(
    settings: Settings, cloud: CloudQuirks, photos: list[str]
) -> None:
    async with inprocess(settings) as client:
        result = await client.call_tool("generate", {"instruction": f"make a 10-second video from {photos[0]}"})
    data = result.structured_content
    assert not result.is_error, text_of(result)
    assert data["routed_to"] is None
    assert [f["filename"] for f in data["upload"]["files"]] == ["photo1.png"]
    [project] = cloud.projects
    assert len(project.media) == 1
