"""How fast a finished render lands on disk, and what it costs in status requests.

Runs many renders of random duration (30-90 emulated seconds, like the real
service) against the emulator with its clock scaled, once with our aimed
polling (`nemovideo_mcp.app.polling.PollSchedule`) and once with the vendor's
fixed 30 s poll, and prints, in emulated seconds: the delay from the
emulator marking the render complete to the MP4 being on disk (median,
p95) and the status requests per render.

    python bench/render_polling.py [--renders 60] [--scale 0.1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx

from nemovideo_mcp.app.polling import PollSchedule
from nemovideo_mcp.attribution import attribution_headers
from nemovideo_mcp.backend.client import NemoApi

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test backends live with the tests
from support.emulator import Emulator, EmulatorServer

DRAFT = {"t": [{"tt": 0, "sg": [{"d": 5000, "m": {"name": "clip"}}]}], "d": 5000, "m": {"width": 320, "height": 240}}


def aimed(scale: float) -> Callable[[], PollSchedule]:
    defaults = PollSchedule()
    return lambda: PollSchedule(initial=15.0 * scale, ceiling=30.0 * scale, factor=defaults.factor,
                                margin=defaults.margin * scale, narrow=defaults.narrow * scale,
                                longest_aim=defaults.longest_aim * scale)


class FixedPoll(PollSchedule):
    """The vendor docs' loop: every 30 s, whatever the progress says."""

    def next_delay(self, elapsed: float) -> float:
        return self.ceiling


def fixed(scale: float) -> Callable[[], PollSchedule]:
    return lambda: FixedPoll(initial=30.0 * scale, ceiling=30.0 * scale)


async def one_render(api: NemoApi, emu: Emulator, session_id: str, index: int, schedule: PollSchedule,
                     folder: Path, scale: float, out: list[tuple[float, int]]) -> None:
    render_id = f"render_bench_{index}_{random.getrandbits(32):x}"
    started = time.monotonic()
    status = await api.render_start(render_id, session_id, DRAFT)
    schedule.record(0.0, status.progress)
    while status.status != "completed":
        await anyio.sleep(schedule.next_delay(time.monotonic() - started))
        status = await api.render_status(render_id)
        schedule.record(time.monotonic() - started, status.progress)
    await api.download(status.url or api.render_download_path(render_id), folder / f"{render_id}.mp4",
                       max_bytes=1 << 30)
    on_disk = time.time()
    job = emu.renders[render_id]
    assert job.completed_at is not None
    out.append(((on_disk - job.completed_at) / scale, job.status_requests))


async def run(strategy: str, make: Callable[[], PollSchedule], renders: int, scale: float) -> list[tuple[float, int]]:
    emu = Emulator(time_scale=scale, seed=7)
    emu.render_seconds_range = (30.0, 90.0)
    results: list[tuple[float, int]] = []
    with EmulatorServer(emu) as server, tempfile.TemporaryDirectory() as tmp:
        api = NemoApi(server.url, headers=attribution_headers("unknown"))
        try:
            async with httpx.AsyncClient(base_url=server.url) as raw:
                grant = (await raw.post("/api/auth/anonymous-token",
                                        headers={"X-Client-Id": "0b8a3f9e-2d54-4c9f-9a49-6a1f1d1e2b3c"})).json()
            api.token = grant["data"]["token"]
            session = await api.create_session("en")
            async with anyio.create_task_group() as tg:
                for index in range(renders):
                    tg.start_soon(one_render, api, emu, session.session_id, index, make(), Path(tmp), scale, results)
                    await anyio.sleep(0.01)
        finally:
            await api.aclose()
    return results


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=60)
    parser.add_argument("--scale", type=float, default=0.1, help="real seconds per emulated second")
    args = parser.parse_args()
    rows = []
    for name, make in (("aimed (ours)", aimed(args.scale)), ("fixed 30 s", fixed(args.scale))):
        results = await run(name, make, args.renders, args.scale)
        delays = [d for d, _ in results]
        requests = [r for _, r in results]
        rows.append((name, len(results), statistics.median(delays), pct(delays, 0.95), statistics.mean(requests),
                     max(requests)))
    print(f"Render completion -> MP4 on disk, {args.renders} renders of 30-90 s (emulated seconds)")
    print(f"{'strategy':<14} {'renders':>7} {'median s':>9} {'p95 s':>7} {'req/render':>11} {'max req':>8}")
    for name, count, median, p95, mean_req, max_req in rows:
        print(f"{name:<14} {count:>7} {median:>9.2f} {p95:>7.2f} {mean_req:>11.2f} {max_req:>8}")


if __name__ == "__main__":
    anyio.run(main)
