"""Start an installed server command over stdio and complete MCP initialize + tools/list.

Used by CI to prove each install door (pip, pipx, uvx) opens:
    python scripts/initialize_check.py uvx --from . nemovideo-mcp
and that what `nemovideo-mcp install` wrote into a client's config starts the server:
    python scripts/initialize_check.py --config claude_desktop_config.json [--name nemovideo]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

EXPECTED = {"generate", "upload", "state", "credits", "export"}


def configured_command(config: Path, name: str = "nemovideo") -> list[str]:
    """The command and arguments the client would launch for server *name* in *config*."""
    entry = json.loads(config.read_text(encoding="utf-8"))["mcpServers"][name]
    return [str(entry["command"]), *(str(arg) for arg in entry.get("args", []))]


async def main(command: list[str]) -> int:
    with tempfile.TemporaryDirectory() as home:
        # The whole environment goes along: uvx needs the machine's index and certificate settings.
        env = {**os.environ, "HOME": home, "NEMO_API_URL": "local", "NEMO_STATE_DIR": os.path.join(home, "state")}
        params = StdioServerParameters(command=command[0], args=command[1:], env=env)
        for mode in ("auto", "legacy"):
            async with Client(params, mode=mode) as client:  # type: ignore[arg-type]
                names = {tool.name for tool in (await client.list_tools()).tools}
            if names != EXPECTED:
                print(f"{' '.join(command)} ({mode}): unexpected tools {sorted(names)}", file=sys.stderr)
                return 1
        print(f"{' '.join(command)}: initialize + tools/list OK in both protocol modes ({len(names)} tools)")
    return 0


def _command(argv: list[str]) -> list[str]:
    if argv[:1] != ["--config"]:
        return argv
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--name"):
        raise SystemExit("usage: initialize_check.py --config PATH [--name NAME] | COMMAND [ARG...]")
    return configured_command(Path(argv[1]), argv[3] if len(argv) == 4 else "nemovideo")


if __name__ == "__main__":
    raise SystemExit(anyio.run(main, _command(sys.argv[1:])))
