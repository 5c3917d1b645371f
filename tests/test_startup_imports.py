"""A server that is only listed loads no more than it needs to answer: heavy modules wait for the first call.

The server runs over real stdio, started as users start it, under a wrapper that only adds an exit hook
writing `sys.modules` to a file: a session that ends after `tools/list` shows what starting loaded, one
that also makes a call shows what the call brought in. Speed itself is measured in bench/startup.py.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import OUTPUTS, stdio_env
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks

# Runs the server's entry point as `python -m` or the console script would, and lists sys.modules at exit.
WRAPPER = """
import atexit, runpy, sys
report, entry = sys.argv[1], sys.argv[2]
atexit.register(lambda: open(report, "w", encoding="utf-8").write("\\n".join(sorted(sys.modules))))
sys.argv = [entry]
if entry == "-m":
    runpy.run_module("nemovideo_mcp", run_name="__main__", alter_sys=True)
else:
    runpy.run_path(entry, run_name="__main__")
"""

# Needed by the first call at the earliest, each heavy enough to show in the start time.
NOT_AT_START = [
    "httpx",
    "httpcore",
    "httpx_sse",
    "rich",
    "pygments",
    "attr",
    "yaml",
    "filelock",
    "PIL",
    "numpy",
    "imageio_ffmpeg",
    "nemovideo_mcp.app.service",
    "nemovideo_mcp.app.jobs",
    "nemovideo_mcp.backend.client",
    "nemovideo_mcp.text.gui",
    "nemovideo_mcp.text.intent",
    "nemovideo_mcp.studio",
    "nemovideo_mcp.media.preview",
]
# What a first `credits` call brings in: the service, its HTTP client, its journal's lock, the attribution.
AFTER_A_CALL = ["httpx", "filelock", "yaml", "nemovideo_mcp.app.service", "nemovideo_mcp.backend.client"]


def loaded(modules: list[str], module: str) -> bool:
    return any(name == module or name.startswith(module + ".") for name in modules)


def entry_of(entry: str) -> str:
    if entry == "module":
        return "-m"
    script = shutil.which("nemovideo-mcp", path=os.path.dirname(sys.executable))
    assert script, "console script nemovideo-mcp is not installed"
    return script


async def modules_after(
    entry: str, mode: str, env: dict[str, str], home: Path, *, call: str | None = None
) -> tuple[list[str], int, bool | None]:
    """The modules the server had loaded when it exited after a session of `tools/list` (and a call)."""
    report = home / f"modules-{mode}-{call}.txt"
    params = StdioServerParameters(command=sys.executable, args=["-c", WRAPPER, str(report), entry], env=env)
    stderr = home / "server-stderr.log"
    with stderr.open("a+", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            tools = await client.list_tools()
            result = await client.call_tool(call, {}) if call else None
    OUTPUTS.append(stderr.read_text(encoding="utf-8", errors="replace"))
    assert report.is_file(), f"the server did not exit cleanly: {stderr.read_text(encoding='utf-8')[-2000:]}"
    return report.read_text(encoding="utf-8").split(), len(tools.tools), result.is_error if result else None


@pytest.mark.parametrize(("entry", "mode"), [("module", "auto"), ("console-script", "legacy")])
async def test_listing_the_tools_loads_no_backend_client_and_a_call_does(
    cloud_server: LoopbackServer, cloud: CloudQuirks, home: Path, entry: str, mode: str
) -> None:
    env = stdio_env(cloud_server, home)
    listed, count, _ = await modules_after(entry_of(entry), mode, env, home)
    assert count == 5
    assert loaded(listed, "nemovideo_mcp.mcp.tools")
    assert cloud.requests == [], "starting and listing the tools must not contact the backend"
    assert [module for module in NOT_AT_START if loaded(listed, module)] == []

    called, _, is_error = await modules_after(entry_of(entry), mode, env, home, call="credits")
    assert is_error is False
    assert [module for module in AFTER_A_CALL if not loaded(called, module)] == []
