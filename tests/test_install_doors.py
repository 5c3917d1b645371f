"""The install doors: `nemovideo-mcp install <client>` run from an installation writes a command that
starts *that* installation, and the command it wrote, launched as the client launches it, completes
an MCP initialize.

Doors: this virtual environment's console script, and `uvx --from <a copy of the checkout>` (the
package is not on PyPI, so a bare `uvx nemovideo-mcp` would fail). The uvx door needs `uv` (CI
installs it) and uses the machine's uv cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import OUTPUTS
from support.checkout import copy_checkout

ROOT = Path(__file__).resolve().parents[1]
NETWORK_SETTINGS = ("UV_", "PIP_", "SSL_CERT", "REQUESTS_CA", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
EXPECTED_TOOLS = {"generate", "upload", "state", "credits", "export"}


def find_tool(name: str) -> str | None:
    return shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)


def written_entry(config: Path) -> dict[str, Any]:
    entry = json.loads(config.read_text(encoding="utf-8"))["mcpServers"]["nemovideo"]
    assert isinstance(entry, dict)
    return entry


async def initialize(command: list[str], home: Path, extra_env: dict[str, str]) -> set[str]:
    """Launch *command* as a client does (its own environment, another working folder); list the tools."""
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "NEMO_API_URL": "local",
        "NEMO_STATE_DIR": str(home / "state"),
        "NEMO_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(home))
    log_path = home / "stderr.log"
    with log_path.open("w", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            listed = await client.list_tools()
    OUTPUTS.append(log_path.read_text(encoding="utf-8", errors="replace"))
    return {tool.name for tool in listed.tools}


def run_install(command: list[str], config: Path, env: dict[str, str], cwd: Path) -> None:
    proc = subprocess.run(
        [*command, "install", "claude-desktop", "--config", str(config)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    OUTPUTS.extend([proc.stdout, proc.stderr])
    assert proc.returncode == 0, f"install failed:\n{proc.stdout}\n{proc.stderr}"


async def test_install_from_this_environment_writes_a_command_that_starts(tmp_path: Path) -> None:
    script = find_tool("nemovideo-mcp")
    assert script, "the nemovideo-mcp console script is not installed in this environment"
    config = tmp_path / "claude_desktop_config.json"
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    env.pop("PYTHONPATH", None)
    run_install([script], config, env, cwd=home)
    entry = written_entry(config)
    command = [entry["command"], *entry["args"]]
    assert Path(command[0]).is_absolute()
    assert await initialize(command, home, {}) == EXPECTED_TOOLS


@pytest.mark.skipif(find_tool("uvx") is None, reason="uv is not installed (CI installs it)")
async def test_install_through_uvx_from_a_checkout_writes_a_command_that_starts(tmp_path: Path) -> None:
    uvx, uv = find_tool("uvx"), find_tool("uv")
    assert uvx and uv
    checkout = copy_checkout(tmp_path / "checkout")
    # The machine's uv cache (warm in CI after the install doors), wherever HOME points.
    cache = (
        os.environ.get("UV_CACHE_DIR")
        or subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "UV_CACHE_DIR": cache}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    config = tmp_path / "claude_desktop_config.json"
    run_install([uvx, "--from", str(checkout), "nemovideo-mcp"], config, env, cwd=home)
    entry = written_entry(config)
    command = [entry["command"], *entry["args"]]
    # Not `uvx nemovideo-mcp`: that fetches the package from the index, where it is not published.
    assert command[1:] == ["--from", str(checkout), "nemovideo-mcp"], command
    assert Path(command[0]).is_absolute() and Path(command[0]).name.startswith("uvx")
    # A client passes little of the shell's environment; uv still needs the machine's index settings.
    index = {k: v for k, v in os.environ.items() if k.upper().startswith(NETWORK_SETTINGS)}
    tools = await initialize(command, home, {**index, "UV_CACHE_DIR": cache})
    assert tools == EXPECTED_TOOLS
