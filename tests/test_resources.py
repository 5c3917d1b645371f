"""Exported files as MCP resources: readable when exported, nothing else reachable through the URI."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import inprocess
from nemovideo_mcp.settings import Settings

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
def export_dir(settings: Settings) -> Path:
    settings.export_dir.mkdir(parents=True)
    (settings.export_dir / ".hidden.mp4").write_bytes(b"\0\0\0\x18ftypisom")
    secret = settings.state_dir / "identity.json"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text('{"token": "nmv_usr_never_served"}')
    (settings.export_dir / "link.mp4").symlink_to(secret)  # a link out of the folder
    return settings.export_dir


@pytest.mark.parametrize("name", GUARDED)
async def test_guard_refuses_names_that_leave_the_export_folder(settings: Settings, export_dir: Path,
                                                               name: str) -> None:
    async with inprocess(settings) as client:
        with pytest.raises(Exception) as caught:
            await client.read_resource(f"nemovideo://exports/{name}")
        assert "No such export" in str(caught.value)  # our guard answered, not the SDK's URI matcher
        assert not (await client.call_tool("credits", {})).is_error  # still serving


@pytest.mark.parametrize("name", UNMATCHED)
async def test_traversal_shapes_are_refused_before_any_file_is_read(settings: Settings, export_dir: Path,
                                                             name: str) -> None:
    async with inprocess(settings) as client:
        with pytest.raises(Exception) as caught:
            await client.read_resource(f"nemovideo://exports/{name}")
        assert "nmv_usr_never_served" not in str(caught.value)


async def test_exported_file_is_listed_as_a_template(settings: Settings) -> None:
    async with inprocess(settings) as client:
        templates = await client.list_resource_templates()
    assert [t.uri_template for t in templates.resource_templates] == ["nemovideo://exports/{name}"]
