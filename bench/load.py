"""Load benchmark (not a test): one stdio server, many tool calls, against the studio behaving like the cloud.

    python bench/load.py [--concurrent 50] [--sequential 2000] [--time-scale 0.001]

Phase 1 sends `--concurrent` tool calls of mixed kinds at once over one stdio
connection; phase 2 sends `--sequential` calls one after another. For each
phase it prints throughput, p50/p99 latency and errors (which must be 0), and
the server process's open file descriptors and resident memory before and
after, which must stay flat. Exits 1 if any call failed or a resource grew.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import struct
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from nemovideo_mcp.studio.app import Studio, create_app
from nemovideo_mcp.studio.server import LoopbackServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test backends live with the tests
from support.cloud import CloudQuirks

TOKEN = "nmv_usr_benchmark_user_token_000000000001"
FD_SLACK = 8  # sockets in the keep-alive pool come and go
RSS_SLACK_MB = 40.0  # allocator noise and caches warming up; a leak of 2,000 calls shows far above this


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    before: tuple[int, float] = (0, 0.0)
    after: tuple[int, float] = (0, 0.0)


def png(path: Path) -> None:
    raw = b"".join(b"\x00" + bytes((90, 160, 220)) * 32 for _ in range(24))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 32, 24, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def server_pid() -> int:
    """The `python -m nemovideo_mcp` child of this process."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"nemovideo_mcp" in cmdline:
            return int(entry)
    raise RuntimeError("server process not found")


def resources(pid: int) -> tuple[int, float]:
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss_kb = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return fds, rss_kb / 1024


def mixed(i: int, photo: str) -> tuple[str, dict[str, Any]]:
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("credits", {}),
        ("state", {}),
        ("generate", {"instruction": f"what could make scene {i} more lively?"}),
        ("upload", {"sources": [photo]}),
        ("state", {}),
        ("credits", {}),
        ("generate", {"instruction": "show status"}),  # routed to state: no stream
        ("upload", {"sources": [f"https://example.com/clip{i}.mp4"]}),
    ]
    return kinds[i % len(kinds)]


async def timed(client: Client, phase: Phase, name: str, args: dict[str, Any]) -> None:
    start = time.perf_counter()
    try:
        result = await client.call_tool(name, args)
    except Exception as exc:  # a protocol failure counts as an error, it must not stop the run
        phase.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        return
    finally:
        phase.latencies.append(time.perf_counter() - start)
    if result.is_error:
        text = " ".join(getattr(b, "text", "") for b in result.content)
        phase.errors.append(f"{name}: {text[:200]}")


async def run(concurrent: int, sequential: int, time_scale: float) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        studio = Studio(Path(tmp) / "studio")
        cloud = CloudQuirks(create_app(studio), studio)  # any token is a user of the studio
        cloud.time_scale, cloud.balance, cloud.fetches_links = time_scale, 10**9, True
        cloud.render_size = (160, 90)  # real renders, small: the bench measures the server, not ffmpeg
        with LoopbackServer(cloud) as backend:
            return await _run(Path(tmp), backend.url, concurrent, sequential)


async def _run(home: Path, api_url: str, concurrent: int, sequential: int) -> int:
    (home / "media").mkdir()
    photo = home / "media" / "photo.png"
    png(photo)
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "NEMO_API_URL": api_url,
        "NEMO_TOKEN": TOKEN,
        "NEMO_STATE_DIR": str(home / "state"),
        "NEMO_EXPORT_DIR": str(home / "exports"),
        "NEMO_UPLOAD_DIRS": str(home),
        "NEMO_POLL_INITIAL": "0.005",
        "NEMO_POLL_MAX": "0.05",
        "NEMO_LOG_LEVEL": "WARNING",
    }
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    params = StdioServerParameters(command=sys.executable, args=["-m", "nemovideo_mcp"], env=env)
    with (home / "server-stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            pid = server_pid()
            warm = Phase("warm-up")
            made = await client.call_tool("generate", {"instruction": "make a 5-second video about the sea"})
            assert not made.is_error, made
            for i in range(16):
                await timed(client, warm, *mixed(i, str(photo)))
            exported = await client.call_tool("export", {})
            assert not exported.is_error, exported

            burst = Phase(f"{concurrent} concurrent")
            burst.before = resources(pid)
            start = time.perf_counter()
            calls = [mixed(i, str(photo)) for i in range(concurrent - 2)] + [("export", {}), ("export", {})]
            await asyncio.gather(*(timed(client, burst, name, args) for name, args in calls))
            burst.wall = time.perf_counter() - start
            burst.after = resources(pid)

            serial = Phase(f"{sequential} sequential")
            serial.before = resources(pid)
            start = time.perf_counter()
            for i in range(sequential):
                await timed(client, serial, *mixed(i, str(photo)))
            serial.wall = time.perf_counter() - start
            serial.after = resources(pid)
            final = resources(pid)
    return report([warm, burst, serial], final)


def report(phases: list[Phase], final: tuple[int, float]) -> int:
    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    print(
        f"{'phase':<16} {'calls':>6} {'errors':>6} {'calls/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'fds before/after':>17} {'RSS MB before/after':>20}"
    )
    failed = False
    for p in phases[1:]:
        rate = len(p.latencies) / p.wall if p.wall else 0.0
        fd_grew = p.after[0] - p.before[0] > FD_SLACK
        rss_grew = p.after[1] - p.before[1] > RSS_SLACK_MB
        failed |= bool(p.errors) or fd_grew or rss_grew
        print(
            f"{p.name:<16} {len(p.latencies):>6} {len(p.errors):>6} {rate:>8.1f} {pct(p.latencies, 0.5):>8.1f} "
            f"{pct(p.latencies, 0.99):>8.1f} {max(p.latencies) * 1000:>8.1f} "
            f"{p.before[0]:>8}/{p.after[0]:<8} {p.before[1]:>9.1f}/{p.after[1]:<10.1f}"
        )
        for error in p.errors[:5]:
            print(f"  error: {error}")
    stats = phases[1].latencies + phases[2].latencies
    print(
        f"all: {len(stats)} calls, mean {statistics.mean(stats) * 1000:.1f} ms; server at the end: "
        f"{final[0]} fds, {final[1]:.1f} MB RSS; warm-up errors: {len(phases[0].errors)}"
    )
    print("RESULT:", "FAIL" if failed else "OK (0 errors, fds and RSS flat)")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--sequential", type=int, default=2000)
    parser.add_argument("--time-scale", type=float, default=0.001, help="cloud seconds -> real seconds")
    args = parser.parse_args()
    return asyncio.run(run(args.concurrent, args.sequential, args.time_scale))


if __name__ == "__main__":
    raise SystemExit(main())
