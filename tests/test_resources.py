"""Exported files as MCP resources: readable when exported, nothing else reachable through the URI.

Exports are real renders of the studio's (`support.cloud`), made small.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import inprocess, make_settings, text_of
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks

# Names that fit the URI template, so they reach the server's own guard (resolve_inside).
GUARDED = [".hidden.mp4", "link.mp4", "nothing-here.mp4", "identity.json"]
# Traversal shapes the SDK's own resource security already refuses before our handler runs;
# resolve_inside refuses them too (tests/test_files.py), so both layers hold.
UNMATCHED = [
    "..",
    "%2e%2e",
    "../state/identity.json",
    "..%2Fstate%2Fidentity.json",
    "%2e%2e%2fstate%2fidentity.json",
    "..%5Cstate%5Cidentity.json",
    "%00.mp4",
    "/etc/passwd",
]


@pytest.fixture
def settings(cloud: CloudQuirks, cloud_server: LoopbackServer, home: Path) -> Settings:
    cloud.render_size = (160, 90)
    return make_settings(cloud_server, home)


@pytest.fixture
def export_dir(settings: Settings) -> Path:
    settings.export_dir.mkdir(parents=True)
    (settings.export_dir / ".hidden.mp4").write_bytes(b"\0\0\0\x18ftypisom")
    secret = settings.state_dir / "identity.json"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text('{"token": "nmv_usr_never_served"}')
    (settings.export_dir / "link.mp4").symlink_to(secret)  # a link out of the folder
    return settings.export_dir


@pytest.mark.parametrize("name", GUARDED)
async def test_guard_refuses_names_that_leave_the_export_folder(
    settings: Settings, export_dir: Path, name: str
) -> None:
    async with inprocess(settings) as client:
        with pytest.raises(Exception) as caught:
            await client.read_resource(f"nemovideo://exports/{name}")
        assert "No such export" in str(caught.value)  # our guard answered, not the SDK's URI matcher
        assert not (await client.call_tool("credits", {})).is_error  # still serving


@pytest.mark.parametrize("name", UNMATCHED)
async def test_traversal_shapes_are_refused_before_any_file_is_read(
    settings: Settings, export_dir: Path, name: str
) -> None:
    async with inprocess(settings) as client:
        with pytest.raises(Exception) as caught:
            await client.read_resource(f"nemovideo://exports/{name}")
        assert "nmv_usr_never_served" not in str(caught.value)


async def test_exported_file_is_listed_as_a_template(settings: Settings) -> None:
    async with inprocess(settings) as client:
        templates = await client.list_resource_templates()
    assert [t.uri_template for t in templates.resource_templates] == ["nemovideo://exports/{name}"]


async def _export_one(client: Any) -> dict[str, Any]:
    made = await client.call_tool("generate", {"instruction": "make a 2-second video about city lights"})
    assert not made.is_error, text_of(made)
    out = await client.call_tool("export", {})
    assert out.structured_content["status"] == "succeeded", text_of(out)
    return dict(out.structured_content)


async def test_only_mp4s_this_server_saved_are_served(settings: Settings) -> None:
    settings.export_dir.mkdir(parents=True)
    # NEMO_EXPORT_DIR=~/Desktop: the folder holds the user's own files too.
    (settings.export_dir / "tax-return.pdf").write_bytes(b"%PDF-1.7 private")
    (settings.export_dir / "holiday.mp4").write_bytes(b"\0\0\0\x18ftypisom" + b"\0" * 2048)
    async with inprocess(settings) as client:
        out = await _export_one(client)
        served = await client.read_resource(out["resource_uri"])
        for name in ("tax-return.pdf", "holiday.mp4"):
            with pytest.raises(Exception) as caught:
                await client.read_resource(f"nemovideo://exports/{name}")
            assert "No such export" in str(caught.value)
            assert "private" not in str(caught.value)
        # A saved export replaced by something else is not served either.
        Path(out["path"]).write_bytes(b"not a video any more" * 100)
        with pytest.raises(Exception, match="No such export"):
            await client.read_resource(out["resource_uri"])
    assert served.contents


async def test_a_stale_partial_download_is_removed_on_start(settings: Settings) -> None:
    settings.export_dir.mkdir(parents=True)
    stale = settings.export_dir / ".video.mp4.0123abcd.part"
    stale.write_bytes(b"half a video")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))  # left by a crash an hour ago
    live = settings.export_dir / ".other.mp4.89abcdef.part"
    live.write_bytes(b"another server is downloading this right now")
    mine = settings.export_dir / ".notes.part"
    mine.write_bytes(b"the user's own file")
    os.utime(mine, (time.time() - 3600, time.time() - 3600))
    async with inprocess(settings) as client:
        await _export_one(client)
    assert not stale.exists()
    assert live.exists() and mine.exists()
