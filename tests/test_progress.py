"""Progress without a progress token: log messages where the protocol allows them, and no process-wide state."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from conftest import inprocess, make_settings
from nemovideo_mcp.mcp.tools import build_server
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks

VIDEO = "Make a 1-second video: Hello there."


@pytest.fixture
def settings(cloud_server: LoopbackServer, home: Path) -> Settings:
    return make_settings(cloud_server, home)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_progress_notes_leave_the_warning_filters_alone(
    settings: Settings, cloud: CloudQuirks, mode: str
) -> None:
    """Two generations at once, without progress tokens: the notes arrive and nobody touches warnings.filters."""
    cloud.next_turn("one", duration_s=300)
    cloud.next_turn("two", duration_s=300)
    notes: list[str] = []
    changed: list[object] = []

    async def on_log(params: Any) -> None:
        notes.append(str(params.data))

    before = list(warnings.filters)
    server = build_server(settings)
    async with Client(server, mode=mode, logging_callback=on_log, log_level="info") as client:
        done = anyio.Event()

        async def watch() -> None:
            while not done.is_set():
                if warnings.filters != before:
                    changed.append(warnings.filters[0])
                await anyio.sleep(0)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watch)
            async with anyio.create_task_group() as calls:
                for _ in range(2):
                    calls.start_soon(client.call_tool, "generate", {"instruction": VIDEO})
            done.set()
    assert changed == []
    assert notes.count("Sending the instruction...") == 2, notes


async def test_without_opting_in_a_2026_client_gets_no_log_messages(settings: Settings) -> None:
    notes: list[str] = []

    async def on_log(params: Any) -> None:
        notes.append(str(params.data))

    server = build_server(settings)
    async with Client(server, logging_callback=on_log) as client:
        result = await client.call_tool("generate", {"instruction": VIDEO})
    assert not result.is_error
    assert notes == []


async def test_a_missing_export_is_the_sdks_not_found_error(settings: Settings) -> None:
    async with inprocess(settings) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource("nemovideo://exports/never-made.mp4")
    assert caught.value.error.code == -32602  # invalid params: the resource does not exist (SEP-2164)
    assert "No such export" in caught.value.error.message
