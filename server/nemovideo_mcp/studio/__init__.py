"""The local studio: the NemoVideo HTTP contract served on this machine, with a planner and an ffmpeg renderer.

    with local_studio(Path("~/.config/nemovideo/studio").expanduser()) as server:
        ...  # point a client at server.url

The studio knows nothing of the MCP client: both share only the contract and `nemovideo_mcp.media`.
"""

from __future__ import annotations

from pathlib import Path

from nemovideo_mcp.studio.server import LoopbackServer


def local_studio(root: Path, *, host: str = "127.0.0.1", port: int = 0, time_limit_s: float = 900.0) -> LoopbackServer:
    """An unstarted loopback server for the studio keeping its projects under *root*."""
    from nemovideo_mcp.studio.app import Studio, create_app  # deferred: the cloud path never loads the studio

    return LoopbackServer(create_app(Studio(root, time_limit_s=time_limit_s)), host=host, port=port)


__all__ = ["LoopbackServer", "local_studio"]
