"""How soon a finished render is noticed, at what cost in status requests; and what one tool call costs us.

Part 1, `curves`: the poll schedule (`nemovideo_mcp.app.polling.PollSchedule`)
against renders whose progress follows different curves, side by side with
the schedule as it was before (copied below as `OldSchedule`) and the vendor's
fixed 30 s poll. A simulated clock: this is about the schedule, not wall time.

Part 2, `calls`: the median and p90 of one `credits` tool call over stdio
against a backend in its own process (the studio behaving like the cloud, `support.cloud`), the same
HTTP request sent straight to that backend, and the SDK's own stdio round trip (a server with one tool that
returns a constant). Minimal servers on the same SDK split what is left: our answer as the constant (its size
and schema), a tool that only sends the GET, and one that sends the GET and returns our answer (what is left
between it and ours is our own code). The kinds take turns call by call, each server in a process of its own,
and a second copy of one minimal server shows how far two alike measures differ.

    python bench/render_polling.py [curves|calls|both] [--runs 50] [--calls 300]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import anyio
import httpx
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from nemovideo_mcp.app.polling import PollSchedule
from nemovideo_mcp.attribution import attribution_headers

TESTS = Path(__file__).resolve().parents[1] / "tests"  # the cloud's quirks live with the tests

# --- part 1: the schedule against progress curves ----------------------------------------------------------------

# Fraction done against fraction of the render's time.
CURVES: dict[str, Callable[[float], float]] = {
    "even": lambda x: x,
    "slow start": lambda x: x * x,
    "fast start": math.sqrt,
    "stall at 90 %": lambda x: min(0.9, x / 0.8),  # even, at 90 % by 72 % of the time, held there to the end
}
RENDERS = (20.0, 45.0, 90.0, 300.0)
TARGET_RENDER, TARGET_LATE, TARGET_POLLS = 45.0, 5.0, 6
QUEUED = (0.0, 2.0)  # the render starts this long after the submit answer
LEG = (0.01, 0.15)  # one way of one status request


class Schedule(Protocol):
    def record(self, elapsed: float, progress: float | None) -> None: ...

    def next_delay(self, elapsed: float) -> float: ...


@dataclass
class OldSchedule:
    """`PollSchedule` as it was on main before the curves (508497f), parameters and all: the baseline."""

    initial: float = 15.0
    ceiling: float = 30.0
    factor: float = 1.5
    margin: float = 0.25
    narrow: float = 6.0
    longest_aim: float = 120.0
    samples: list[tuple[float, float]] = field(default_factory=list)
    _blind_delay: float | None = None

    def record(self, elapsed: float, progress: float | None) -> None:
        if progress is not None and 0 <= progress <= 100:
            self.samples.append((elapsed, float(progress)))

    def next_delay(self, elapsed: float) -> float:
        window = self._finish_window()
        if window is None:
            self._blind_delay = (
                self.initial if self._blind_delay is None else min(self.ceiling, self._blind_delay * self.factor)
            )
            return self._blind_delay
        earliest, latest = window
        target = latest + self.margin if latest - earliest <= self.narrow else earliest
        return min(self.longest_aim, max(min(self.initial, 0.1), target - elapsed))

    def _finish_window(self) -> tuple[float, float] | None:
        if len(self.samples) < 2:
            return None
        t0, p0 = self.samples[0]
        t1, p1 = self.samples[-1]
        span = t1 - t0
        if span <= 0 or p1 - p0 < 1 or p1 >= 100:
            return None
        fast = (p1 - p0 + 1) / span
        slow = (p1 - p0 - 1) / span
        remaining = 100 - p1
        earliest = t1 + max(0.0, remaining - 1) / fast
        if slow <= 0:
            return earliest, earliest + self.ceiling * 10
        latest = t1 + (remaining + 1) / slow
        return earliest, latest


class FixedPoll:
    """The vendor docs' loop: every 30 s, whatever the progress says."""

    def record(self, elapsed: float, progress: float | None) -> None:
        pass

    def next_delay(self, elapsed: float) -> float:
        return 30.0


STRATEGIES: dict[str, Callable[[], Schedule]] = {
    "aimed (ours)": PollSchedule,
    "old aimed": OldSchedule,
    "fixed 30 s": FixedPoll,
}


def reading(curve: Callable[[float], float], render_s: float, queued: float, at: float) -> int | None:
    """The backend's progress at `at` seconds after submit, None once completed, reported like this:
    5 % in the start answer, whole numbers, at most 99 % until the render is complete."""
    x = (at - queued) / render_s
    if x >= 1:
        return None
    return 5 if x <= 0 else min(99, 5 + math.floor(95 * curve(x)))


def one_render(
    make: Callable[[], Schedule], curve: Callable[[float], float], render_s: float, rng: random.Random
) -> tuple[float, int, float]:
    """(seconds from completion to the answer saying so, status requests, longest wait): export's loop."""
    queued = rng.uniform(*QUEUED)
    schedule = make()
    schedule.record(0.0, 5)
    now, polls, longest = 0.0, 0, 0.0
    while True:
        wait = schedule.next_delay(now)
        longest = max(longest, wait)
        there, back = rng.uniform(*LEG), rng.uniform(*LEG)
        now += wait + there
        progress = reading(curve, render_s, queued, now)
        now += back
        polls += 1
        if progress is None:
            return now - (queued + render_s), polls, longest
        schedule.record(now, progress)


def curves_table(runs: int) -> bool:
    print(
        f"Part 1: a finished render noticed, simulated clock ({runs} renders per row: each starts "
        f"{QUEUED[0]:g}-{QUEUED[1]:g} s after the submit answer,\neach status request takes "
        f"{LEG[0] * 1000:g}-{LEG[1] * 1000:g} ms each way; progress is reported as a backend does: "
        "5 % at submit, whole numbers, at most 99 % until complete)"
    )
    print(
        f"{'curve':<14} {'render':>6} {'strategy':<13} {'late mean':>9} {'worst':>6} {'polls':>5} "
        f"{'max':>4} {'longest wait':>12}"
    )
    met = True
    for curve_name, curve in CURVES.items():
        for render_s in RENDERS:
            for name, make in STRATEGIES.items():
                rng = random.Random(f"{curve_name}/{render_s}")  # every strategy meets the same renders
                results = [one_render(make, curve, render_s, rng) for _ in range(runs)]
                late = [r[0] for r in results]
                polls = [r[1] for r in results]
                mark = ""
                if render_s == TARGET_RENDER and name == "aimed (ours)":
                    ok = max(late) <= TARGET_LATE and max(polls) <= TARGET_POLLS
                    met = met and ok
                    mark = "  target met" if ok else "  TARGET MISSED"
                print(
                    f"{curve_name:<14} {render_s:>5g}s {name:<13} {statistics.mean(late):>8.2f}s "
                    f"{max(late):>5.2f}s {statistics.mean(polls):>5.1f} {max(polls):>4} "
                    f"{max(r[2] for r in results):>11.1f}s{mark}"
                )
        print()
    print(
        f"Target for a {TARGET_RENDER:g} s render on every curve: noticed within {TARGET_LATE:g} s, "
        f"at most {TARGET_POLLS} status requests: {'met' if met else 'MISSED'}."
    )
    print("(The fixed poll's lateness depends on where its 30 s grid falls: 15 s on average over all phases.)")
    return met


# --- part 2: what one tool call costs ----------------------------------------------------------------------------

# The SDK's floor: the smallest server the SDK allows, one tool returning a constant.
FLOOR_SERVER = """
from typing import Annotated
from mcp.server import MCPServer
from mcp.types import CallToolResult
from nemovideo_mcp.app.results import CreditsResult
from nemovideo_mcp.mcp.tools import _to_result
server = MCPServer("floor")
@server.tool(name="constant")
async def constant() -> str:
    return "ok"
# The same answer as ours, built once: what the SDK and the client spend on its size and its schema.
SAME = CreditsResult(message="Credits: 100 available (100 total). (free anonymous account)", available=100,
                     frozen=0, total=100, anonymous=True)
@server.tool(name="shaped")
async def shaped() -> Annotated[CallToolResult, CreditsResult]:
    return _to_result(SAME, is_error=False)
# The same GET as ours, from a tool with nothing else in it: the floor for a tool that asks a backend.
import logging, os, httpx
from nemovideo_mcp.attribution import attribution_headers
# The SDK's logging setup shows httpx's INFO line for every request, rendered by rich; ours logs at warning. Without
# this the floor would pay a few milliseconds per call that no real server pays.
logging.getLogger("httpx").setLevel(logging.WARNING)
http = httpx.AsyncClient(base_url=os.environ["BACKEND"], headers=attribution_headers("unknown"), timeout=10)
@server.tool(name="get")
async def get() -> int:
    answer = await http.get("/api/credits/balance/simple", headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
    return answer.json()["data"]["available"]
# The same GET and the same answer as ours: what is left between it and ours is our own code.
@server.tool(name="get_shaped")
async def get_shaped() -> Annotated[CallToolResult, CreditsResult]:
    answer = await http.get("/api/credits/balance/simple", headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
    data = answer.json()["data"]
    return _to_result(SAME.model_copy(update={"available": data["available"]}), is_error=False)
# Our answers' schema as ours publishes it (`nemovideo_mcp.mcp.schemas`): what a client validates is the same.
from nemovideo_mcp.mcp.schemas import fast_schema
for name in ("shaped", "get_shaped"):
    tool = server._tool_manager.get_tool(name)
    tool.fn_metadata.output_schema = fast_schema(tool.fn_metadata.output_schema)
server.run()
"""
CLIENT_ID = "0b8a3f9e-2d54-4c9f-9a49-6a1f1d1e2b3c"
# The backend: the studio behaving like the cloud, a new account's balance as the floor's constant says it.
BACKEND_SERVER = """
import sys, time
from pathlib import Path
from nemovideo_mcp.studio.app import Studio, create_app
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks
studio = Studio(Path(sys.argv[1]))
cloud = CloudQuirks(create_app(studio), studio)
cloud.balance = 100
with LoopbackServer(cloud, port=int(sys.argv[2])):
    while True:
        time.sleep(3600)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_backend(root: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The backend in a process of its own, so its work never shares a core's time slice with the client."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-c", BACKEND_SERVER, str(root), str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/api/credits/balance/simple", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the backend did not start: {log.read_text(errors='replace')}")


def server_env(url: str, home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "NEMO_API_URL": url,
        "NEMO_STATE_DIR": str(home / "state"),
        "NEMO_EXPORT_DIR": str(home / "exports"),
    }


ROLES = ("client", "server", "backend")


@dataclass
class Timings:
    name: str
    server: int | None = None  # the pid of the stdio server this measure calls, alone in it
    seconds: list[float] = field(default_factory=list)  # wall clock, one per call
    cpu_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROLES, 0))  # all calls, by process

    def quantile(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def cpu_per_call(self, role: str | None = None) -> float:
        spent = self.cpu_ns[role] if role else sum(self.cpu_ns.values())
        return spent / 1e9 / len(self.seconds)


def children() -> set[int]:
    """This process's child processes (Linux /proc): the stdio servers and the backend."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The parent pid is the second field after the parenthesised command name.
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                pids.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def thread_cpu_ns(pid: int) -> int:
    """Nanoseconds on a CPU so far, over the process's threads (their schedstat: finer than clock ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(task.read_text().split()[0])
        except (OSError, ValueError):
            continue
    return total


Measure = tuple[Timings, Callable[[], Awaitable[object]]]


async def interleaved(measures: list[Measure], calls: int, backend: int) -> None:
    """One call of each measure in turn, `calls` times over.

    Each call then runs after calls of the other kinds, never after a hundred of its own: a call in a tight loop
    finds its code and data in the CPU's caches, which no call inside a real session does (the same GET costs about
    a third more CPU sent between tool calls than sent back to back). The client's and the backend's CPU is read
    around each call; each stdio server's is its total over the run, so work it does after answering still counts.
    """
    server_before = {into.name: thread_cpu_ns(into.server) for into, _ in measures if into.server}
    for _ in range(calls):
        for into, call in measures:
            backend_before = thread_cpu_ns(backend)
            client_before = time.process_time_ns()
            began = time.perf_counter()
            await call()
            into.seconds.append(time.perf_counter() - began)
            into.cpu_ns["client"] += time.process_time_ns() - client_before
            into.cpu_ns["backend"] += thread_cpu_ns(backend) - backend_before
    for into, _ in measures:
        if into.server:
            into.cpu_ns["server"] = thread_cpu_ns(into.server) - server_before[into.name]


async def calls_table(calls: int, mode: str) -> None:
    warmup = 30
    with tempfile.TemporaryDirectory() as tmp:
        backend, url = start_backend(Path(tmp) / "studio", Path(tmp) / "backend.log")
        try:
            # The server's own headers, so the direct GET is the same request as the server's.
            async with httpx.AsyncClient(base_url=url, timeout=10, headers=attribution_headers("unknown")) as http:
                grant = await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": CLIENT_ID})
            token = grant.json()["data"]["token"]
            ours = StdioServerParameters(
                command=sys.executable, args=["-m", "nemovideo_mcp"], env=server_env(url, Path(tmp) / "home")
            )
            floor = StdioServerParameters(
                command=sys.executable,
                args=["-c", FLOOR_SERVER],
                env={"PATH": os.environ.get("PATH", ""), "BACKEND": url, "TOKEN": token},
            )
            with (Path(tmp) / "server.log").open("w") as errlog:
                async with (
                    AsyncExitStack() as stack,
                    httpx.AsyncClient(base_url=url, timeout=10, headers=attribution_headers("unknown")) as http,
                ):

                    async def connect(server: StdioServerParameters) -> tuple[Client, int]:
                        """A client of a server process of its own, and that process's pid."""
                        known = children()
                        client = await stack.enter_async_context(
                            Client(stdio_client(server, errlog=errlog), mode=mode, read_timeout_seconds=30)
                        )
                        (pid,) = children() - known
                        return client, pid

                    def tool(client: Client, name: str) -> Callable[[], Awaitable[None]]:
                        async def call() -> None:
                            result = await client.call_tool(name, {})
                            assert not result.is_error, result

                        return call

                    async def get() -> None:
                        response = await http.get(
                            "/api/credits/balance/simple", headers={"Authorization": f"Bearer {token}"}
                        )
                        assert response.json()["code"] == 0, response.text

                    measures: dict[str, Measure] = {}
                    for key, name, server, tool_name in (
                        ("floor", "SDK floor: constant tool over stdio", floor, "constant"),
                        # The same server as "same" below, in a second process: how far two alike measures differ.
                        ("twin", "the same, a second process", floor, "get_shaped"),
                        ("shaped", "SDK floor with our answer, as a constant", floor, "shaped"),
                        ("tool", "credits tool over stdio", ours, "credits"),
                        ("plain", "minimal server whose tool sends the GET", floor, "get"),
                        ("same", "minimal server: the GET, then our answer", floor, "get_shaped"),
                    ):
                        client, pid = await connect(server)
                        measures[key] = (Timings(name, server=pid), tool(client, tool_name))
                        if key == "tool":
                            protocol = client.protocol_version
                            # Straight after ours: the backend's own work after answering falls on a GET of ours.
                            measures["get"] = (Timings("same GET straight to the backend"), get)
                    # The server's token and session, imports, connection pools: outside the timing.
                    await interleaved(
                        [(Timings("warm-up"), call) for _, call in measures.values()], warmup, backend.pid
                    )
                    await interleaved(list(measures.values()), calls, backend.pid)
        finally:
            backend.terminate()
            backend.wait(timeout=10)
    m = {key: timings for key, (timings, _) in measures.items()}
    print(
        f"Part 2: one call, {calls} calls of each kind after {warmup} warm-up, the kinds taking turns call by call; "
        f"protocol {protocol} (Client mode {mode!r});\nthe studio in its own process on 127.0.0.1, each stdio server "
        "in its own process. CPU: per call, of the client (this process), the stdio server and the backend;\non a busy "
        "machine the steadier measure."
    )
    print(f"{'measure':<42} {'median ms':>9} {'p90 ms':>7} {'CPU ms':>7} {'client':>7} {'server':>7} {'backend':>7}")
    for row in m.values():
        print(
            f"{row.name:<42} {row.quantile(0.5) * 1000:>9.3f} {row.quantile(0.9) * 1000:>7.3f} "
            f"{row.cpu_per_call() * 1000:>7.3f} " + " ".join(f"{row.cpu_per_call(role) * 1000:>7.3f}" for role in ROLES)
        )

    def difference(label: str, plus: str, *minus: str) -> None:
        wall = m[plus].quantile(0.5) - sum(m[key].quantile(0.5) for key in minus)
        cpu = m[plus].cpu_per_call() - sum(m[key].cpu_per_call() for key in minus)
        print(f"{label:<42} {wall * 1000:>9.3f} {'':>7} {cpu * 1000:>7.3f}")

    difference("tool - GET - SDK floor (<= 0.300)", "tool", "get", "floor")
    difference("  of which our answer's size and schema", "shaped", "floor")
    difference("  of which the rest", "tool", "get", "shaped")
    difference("minimal server's GET - GET - SDK floor", "plain", "get", "floor")
    difference("tool - minimal server's GET and answer", "tool", "same")
    difference("  two alike servers differ by (resolution)", "twin", "same")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("part", nargs="?", choices=("curves", "calls", "both"), default="both")
    parser.add_argument("--runs", type=int, default=50, help="simulated renders per row of part 1")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per measure in part 2")
    parser.add_argument("--mode", default="auto", help="the SDK Client's protocol mode in part 2")
    args = parser.parse_args()
    if args.part in ("curves", "both"):
        curves_table(args.runs)
    if args.part in ("calls", "both"):
        if args.part == "both":
            print()
        await calls_table(args.calls, args.mode)


if __name__ == "__main__":
    anyio.run(main)
