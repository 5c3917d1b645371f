"""Exported files as MCP resources: readable when exported, nothing else reachable through the URI."""

from __future__ import annotations

import pytest

from conftest import inprocess
from nemovideo_mcp.settings import Settings

TRAVERSALS = [
    "../state/identity.json",
    "..%2Fstate%2Fidentity.json",
    "%2e%2e%2fstate%2fidentity.json",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "..\\state\\identity.json",
    ".hidden.mp4",
    "nothing-here.mp4",
]


@pytest.mark.parametrize("name", TRAVERSALS)
async def test_resource_uri_cannot_escape_the_export_folder(settings: Settings, name: str) -> None:
    settings.export_dir.mkdir(parents=True)
    (settings.export_dir / ".hidden.mp4").write_bytes(b"\0\0\0\x18ftypisom")
    async with inprocess(settings) as client:
        await client.call_tool("state", {})  # creates identity.json next to the export folder's parent
        with pytest.raises(Exception) as caught:
            await client.read_resource(f"nemovideo://exports/{name}")
        assert "nmv_" not in str(caught.value)
        assert not (await client.call_tool("credits", {})).is_error  # still serving


async def test_exported_file_is_listed_as_a_template(settings: Settings) -> None:
    async with inprocess(settings) as client:
        templates = await client.list_resource_templates()
    assert [t.uri_template for t in templates.resource_templates] == ["nemovideo://exports/{name}"]
