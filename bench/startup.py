"""Cold start and round trip of the stdio server against the emulator.

Prints a table: time from spawning `python -m nemovideo_mcp` to a completed
`initialize` + `tools/list` (several cold starts), and the median round trip
of `credits` over one stdio connection.

    python bench/startup.py [--starts 5] [--calls 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test backends live with the tests
from support.emulator import Emulator, EmulatorServer


def env_for(url: str, home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "NEMO_API_URL": url,
        "NEMO_STATE_DIR": str(home / "state"),
        "NEMO_EXPORT_DIR": str(home / "exports"),
        "NEMO_LOG_LEVEL": "WARNING",
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with EmulatorServer(Emulator(time_scale=0.001)) as backend, tempfile.TemporaryDirectory() as tmp:
        params = StdioServerParameters(command=sys.executable, args=["-m", "nemovideo_mcp"],
                                       env=env_for(backend.url, Path(tmp)))
        starts = []
        for _ in range(args.starts):
            began = time.perf_counter()
            async with Client(params, mode="legacy") as client:
                await client.list_tools()
                starts.append(time.perf_counter() - began)
        trips = []
        async with Client(params) as client:
            await client.call_tool("credits", {})  # bootstrap (token + session) outside the timing
            for _ in range(args.calls):
                began = time.perf_counter()
                result = await client.call_tool("credits", {})
                trips.append(time.perf_counter() - began)
                assert not result.is_error
    print(f"{'measure':<44} {'median':>9} {'min':>9} {'max':>9}")
    print(f"{'cold start -> initialize + tools/list (s)':<44} {statistics.median(starts):>9.3f} "
          f"{min(starts):>9.3f} {max(starts):>9.3f}")
    print(f"{'credits round trip over stdio (ms)':<44} {statistics.median(trips) * 1000:>9.2f} "
          f"{min(trips) * 1000:>9.2f} {max(trips) * 1000:>9.2f}")
    print(f"({args.starts} cold starts, {args.calls} credits calls, emulator on 127.0.0.1)")


if __name__ == "__main__":
    anyio.run(main)
