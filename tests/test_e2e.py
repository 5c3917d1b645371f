"""The newcomer's scenario, end to end, the way a client drives it.

First call bootstraps, two images go up, a video is generated, the timeline
shows its tracks, and export leaves an H.264 MP4 of the draft's size on
disk: in-process and over a spawned stdio server, in both protocol modes. The backend is
the real studio, with the cloud's balance for a new account (`support.cloud`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import MODES, inprocess, make_settings, over_stdio, probe_video, record_output, stdio_env, text_of
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks

TOOLS = {"generate", "upload", "state", "credits", "export"}
# In the studio's words (its planner knows "background music", not "lo-fi BGM"); 720p renders fast enough.
INSTRUCTION = 'Make a 2-second 720p video from my photos with the title "Urban Dreams" and background music at 35%'


@pytest.fixture
def settings(cloud_server: LoopbackServer, home: Path) -> Settings:
    return make_settings(cloud_server, home, default_wait=120.0)  # a real 720p render, on a loaded machine


@pytest.fixture(autouse=True)
def _a_new_accounts_balance(cloud: CloudQuirks) -> None:
    cloud.balance = 100


async def _scenario(client: Any, photos: list[str], cloud: CloudQuirks) -> dict[str, Any]:
    tools = await client.list_tools()
    assert {t.name for t in tools.tools} == TOOLS

    credits = await client.call_tool("credits", {})
    record_output(credits)
    assert not credits.is_error, text_of(credits)
    assert credits.structured_content["available"] == 100

    upload = await client.call_tool("upload", {"sources": photos})
    record_output(upload)
    assert not upload.is_error, text_of(upload)
    files = upload.structured_content["files"]
    assert [f["type"] for f in files] == ["image", "image"]
    assert files[0]["width"] == 64 and files[0]["height"] == 48

    generated = await client.call_tool("generate", {"instruction": INSTRUCTION})
    record_output(generated)
    assert not generated.is_error, text_of(generated)
    data = generated.structured_content
    assert data["status"] == "succeeded"
    assert data["routed_to"] is None
    kinds = [t["kind"] for t in data["timeline"]["tracks"]]
    assert kinds.count("video") == 1 and "audio" in kinds and "text" in kinds
    assert "click" not in text_of(generated).lower()

    state = await client.call_tool("state", {})
    record_output(state)
    summary = state.structured_content["timeline"]["summary"]
    assert summary.startswith("Timeline (3 tracks): 1. Video")
    assert '"Urban Dreams"' in summary and "35%" in summary
    assert state.structured_content["draft"]["t"]

    exported = await client.call_tool("export", {"filename": "urban.mp4"})
    record_output(exported)
    assert not exported.is_error, text_of(exported)
    out = exported.structured_content
    assert out["status"] == "succeeded"
    links = [b for b in exported.content if getattr(b, "type", "") == "resource_link"]
    assert links and str(links[0].uri) == out["resource_uri"]
    assert out["url"].startswith("http://127.0.0.1:")
    # Every request carried the attribution headers.
    assert cloud.requests
    for request in cloud.requests:
        assert request.headers.get("x-skill-source") == "video-generator-for-free-ai"
        assert request.headers.get("x-skill-version")
        assert request.headers.get("x-skill-platform")
    return out


def _check_mp4(path: str, cloud: CloudQuirks) -> None:
    file = Path(path)
    assert file.is_file() and file.stat().st_size > 1000
    info = probe_video(file)
    assert info.get("codec") == "h264", info["raw"]
    [project] = cloud.projects
    draft_meta = project.draft.get("m", {})
    assert (info["width"], info["height"]) == (draft_meta.get("width", 1280), draft_meta.get("height", 720))


@pytest.mark.parametrize("mode", MODES)
async def test_scenario_in_process(settings: Settings, photos: list[str], cloud: CloudQuirks, mode: str) -> None:
    async with inprocess(settings, mode) as client:
        out = await _scenario(client, photos, cloud)
        resource = await client.read_resource(out["resource_uri"])
        blob = resource.contents[0]
        assert getattr(blob, "mime_type", None) == "video/mp4"
    _check_mp4(out["path"], cloud)
    assert Path(out["path"]).parent == settings.export_dir
    assert len(cloud.issued_tokens) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_scenario_over_stdio(
    cloud_server: LoopbackServer, home: Path, photos: list[str], cloud: CloudQuirks, mode: str
) -> None:
    async with over_stdio(stdio_env(cloud_server, home), mode) as client:
        out = await _scenario(client, photos, cloud)
    _check_mp4(out["path"], cloud)
