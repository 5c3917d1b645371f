"""Start an installed server command over stdio and complete MCP initialize + tools/list.

Used by CI to prove each install door (pip, pipx, uvx) opens:
    python scripts/initialize_check.py uvx --from . nemovideo-mcp
"""

from __future__ import annotations

import os
import sys
import tempfile

import anyio
from mcp import Client, StdioServerParameters

EXPECTED = {"generate", "upload", "state", "credits", "export"}


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


if __name__ == "__main__":
    raise SystemExit(anyio.run(main, sys.argv[1:]))
