"""The SDK floor: the smallest useful server on the same SDK, one tool over stdio.

`bench/startup.py` spawns it with the same Python as ours; its cold start is
what any server on this SDK pays before it can answer.
"""

from __future__ import annotations

from mcp.server import MCPServer

server: MCPServer = MCPServer("floor", instructions="The smallest server on this SDK, for start-up timing.")


@server.tool(name="echo", description="Return the text it was given.")
def echo(text: str) -> str:
    return text


if __name__ == "__main__":
    server.run("stdio")
