"""Cold start side by side: ours, the SDK floor and peer MCP servers, interleaved in one run.

A cold start is the time from spawning the process to a completed handshake (the SDK client's
default protocol mode unless --mode says otherwise) plus `tools/list`, each spawn with a fresh
HOME and state folder. Every round starts each server once, in an order rotated per round, and
divides by the floor's time in that same round, so load that drifts during the run cancels out.

- floor: `bench/floor_server.py`, one tool on the same SDK and the same Python as ours.
- ours: the console script `nemovideo-mcp` and `python -m nemovideo_mcp`, the two ways users run it.
  NEMO_API_URL points at a loopback socket that counts connections: starting must contact nobody.
- peers: installed from PyPI into one cache venv each (--peers-dir), started with dummy API keys;
  a peer that cannot be installed or started is skipped with the reason.

With --instructions, each server also runs once under valgrind, which counts the instructions it
executes to answer: a measure that other processes on the machine cannot disturb. Then the median
round trip of `credits` over one stdio connection to the studio (behaving like the cloud, `support.cloud`).

    python bench/startup.py [--rounds 9] [--mode auto|legacy] [--no-peers] [--instructions] [--calls 100]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from nemovideo_mcp.studio.app import Studio, create_app
from nemovideo_mcp.studio.server import LoopbackServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test backends live with the tests
from support.cloud import CloudQuirks

BENCH = Path(__file__).resolve().parent
START_TIMEOUT = 60.0
INSTALL_TIMEOUT = 900.0


@dataclass
class Spec:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Peer:
    name: str
    package: str
    script: str
    env: dict[str, str]


# Dummy keys: these servers refuse to start without one, and never get to use it here.
PEERS = [
    Peer("fetch", "mcp-server-fetch", "mcp-server-fetch", {}),
    Peer(
        "minimax",
        "minimax-mcp",
        "minimax-mcp",
        {"MINIMAX_API_KEY": "bench-dummy-key", "MINIMAX_API_HOST": "http://127.0.0.1:9"},
    ),
    Peer("elevenlabs", "elevenlabs-mcp", "elevenlabs-mcp", {"ELEVENLABS_API_KEY": "bench-dummy-key"}),
]


class ConnectionCounter:
    """A listening loopback socket standing in for the NemoVideo API: it counts who connects, and says nothing."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.connections = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def __enter__(self) -> ConnectionCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        self._sock.close()


def children_cpu() -> dict[int, float]:
    """CPU seconds (user + system) used so far by each live child of this process, from /proc (Linux only)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():  # fields after the name: state, ppid, ... utime (12), stime (13)
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def fresh_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }
    env.update(extra)
    return env


def our_specs(api_url: str) -> list[Spec]:
    ours = {"NEMO_API_URL": api_url}  # everything else as a user has it: defaults, log level included
    specs = []
    script = Path(sys.executable).parent / "nemovideo-mcp"
    if script.is_file():
        specs.append(Spec("ours (script)", [str(script)], ours, "nemovideo-mcp console script"))
    else:
        print(f"ours (script): skipped, no console script at {script} (run the bench with the venv's python)")
    specs.append(Spec("ours (-m)", [sys.executable, "-m", "nemovideo_mcp"], ours, "python -m nemovideo_mcp"))
    return specs


def install_peer(peer: Peer, root: Path) -> tuple[Path | None, str]:
    """The peer's console script in its own cache venv, installed on first use; or why not."""
    venv = root / peer.package
    script = venv / "bin" / peer.script
    marker = venv / ".installed"
    if marker.is_file() and script.is_file():
        return script, marker.read_text().strip()
    shutil.rmtree(venv, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)  # the same Python as ours, outside our venv
    print(f"installing {peer.package} into {venv} ...", flush=True)
    try:
        subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, peer.package], check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        shown = subprocess.run(
            [str(venv / "bin" / "python"), "-c", _VERSIONS, peer.package],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or "").strip().splitlines()[-1:] if isinstance(exc.stderr, str) else []
        return None, f"install failed: {tail[0] if tail else exc}"
    except (subprocess.TimeoutExpired, OSError) as exc:
        return None, f"install failed: {exc}"
    if not script.is_file():
        return None, f"installed, but it has no {peer.script} script"
    marker.write_text(shown + "\n")
    return script, shown


_VERSIONS = (
    "import sys, importlib.metadata as m\n"
    "def v(n):\n"
    "    try: return m.version(n)\n"
    "    except m.PackageNotFoundError: return '-'\n"
    "print(f'{sys.argv[1]} {v(sys.argv[1])}, mcp {v(\"mcp\")}')"
)


def peer_specs(root: Path) -> list[Spec]:
    specs = []
    for peer in PEERS:
        script, said = install_peer(peer, root)
        if script is None:
            print(f"{peer.name}: skipped, {said}")
            continue
        specs.append(Spec(peer.name, [str(script)], dict(peer.env), said))
    return specs


async def cold_start(spec: Spec, mode: str, logs: Path) -> tuple[float, float, int, str]:
    """Seconds from spawn to the tool list, the CPU seconds the server used by then, its number of tools, and
    the protocol version spoken. CPU time hardly moves with the load of other processes; wall time does."""
    with tempfile.TemporaryDirectory(prefix="startup-home-") as tmp:
        home = Path(tmp)
        params = StdioServerParameters(command=spec.command[0], args=spec.command[1:], env=fresh_env(home, spec.env))
        with (logs / f"{spec.name.split()[0]}-stderr.log").open("a", encoding="utf-8") as errlog:
            with anyio.fail_after(START_TIMEOUT):
                before = set(children_cpu())
                began = time.perf_counter()
                async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:  # type: ignore[arg-type]
                    tools = await client.list_tools()
                    elapsed = time.perf_counter() - began
                    cpu = sum(t for pid, t in children_cpu().items() if pid not in before)
                    return elapsed, cpu, len(tools.tools), client.protocol_version


async def usable(specs: list[Spec], mode: str, logs: Path) -> list[Spec]:
    """One start each, not timed: compiles bytecode, fills the page cache, and drops what cannot start."""
    kept = []
    for spec in specs:
        try:
            _, _, count, version = await cold_start(spec, mode, logs)
        except Exception as exc:  # a peer that cannot start here (no network, a key it really checks)
            if spec.name.startswith(("floor", "ours")):
                raise
            print(f"{spec.name}: skipped, it did not start ({type(exc).__name__}: {exc}); see {logs}")
            continue
        spec.note += f"; {count} tools, protocol {version}"
        kept.append(spec)
    return kept


async def starts(args: argparse.Namespace) -> bool:
    logs = Path(tempfile.mkdtemp(prefix="startup-logs-"))
    with ConnectionCounter() as api:
        floor = Spec("floor", [sys.executable, str(BENCH / "floor_server.py")], note="bench/floor_server.py")
        specs = [floor, *our_specs(api.url)]
        if not args.no_peers:
            specs += peer_specs(Path(args.peers_dir))
        specs = await usable(specs, args.mode, logs)
        print(
            f"\nPython {platform.python_version()}, mcp {importlib.metadata.version('mcp')} (floor and ours); "
            f"client mode {args.mode!r}" + (" (the SDK Client's default)" if args.mode == "auto" else "")
        )
        for spec in specs:
            print(f"  {spec.name:<14} {spec.note}")
        names = [spec.name for spec in specs]
        walls: dict[str, list[float]] = {name: [] for name in names}
        cpus: dict[str, list[float]] = {name: [] for name in names}
        print(
            f"\n{'round':<6}{'floor s':>9}" + "".join(f"{name:>15}" for name in names[1:]) + "   (wall time, x floor)"
        )
        for index in range(args.rounds):
            shift = index % len(specs)
            for spec in specs[shift:] + specs[:shift]:
                wall, cpu, _, _ = await cold_start(spec, args.mode, logs)
                walls[spec.name].append(wall)
                cpus[spec.name].append(cpu)
            base = walls["floor"][-1]
            print(f"{index + 1:<6}{base:>9.3f}" + "".join(f"{walls[name][-1] / base:>14.2f}x" for name in names[1:]))
        if args.instructions:
            count_instructions(specs, logs)
        contacted = api.connections
    ratios = {name: [w / f for w, f in zip(walls[name], walls["floor"], strict=True)] for name in names}
    cpu_ratios = {name: [c / f for c, f in zip(cpus[name], cpus["floor"], strict=True)] for name in names}
    print(
        f"\n{'server':<16}{'wall s':>8}{'wall x':>9}{'min x':>8}{'max x':>8}{'best x':>8}{'cpu s':>8}{'cpu x':>8}"
        "   (medians; best = fastest start / floor's fastest)"
    )
    for name in names:
        print(
            f"{name:<16}{statistics.median(walls[name]):>8.3f}{statistics.median(ratios[name]):>8.2f}x"
            f"{min(ratios[name]):>7.2f}x{max(ratios[name]):>7.2f}x{min(walls[name]) / min(walls['floor']):>7.2f}x"
            f"{statistics.median(cpus[name]):>8.2f}{statistics.median(cpu_ratios[name]):>7.2f}x"
        )
    ours = [name for name in names if name.startswith("ours")]
    peers = [name for name in names if name != "floor" and name not in ours]
    worst = max(statistics.median(ratios[name]) for name in ours)
    print(
        f"\n{args.rounds} rounds, order rotated each round; cpu = user + system seconds of the server until it "
        f"answered tools/list; load average {os.getloadavg()[0]:.1f} at the end; servers' stderr in {logs}"
    )
    print(f"ours at most 1.08x the floor (median wall): {'yes' if worst <= 1.08 else 'NO'} ({worst:.2f}x)")
    if peers:
        fastest = min(peers, key=lambda name: statistics.median(ratios[name]))
        best = statistics.median(ratios[fastest])
        print(
            f"ours faster than every peer (median wall): {'yes' if worst < best else 'NO'} "
            f"(fastest peer {fastest}, {best:.2f}x)"
        )
    print(f"connections to NEMO_API_URL during the starts: {contacted}" + ("" if not contacted else "  <- NOT ZERO"))
    return contacted == 0


_HANDSHAKE = (
    b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},'
    b'"clientInfo":{"name":"bench","version":"1"}}}\n{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
    b'{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}\n'
)


def instructions(spec: Spec, logs: Path) -> int:
    """Instructions the server ran to answer initialize + tools/list, then stop at EOF (valgrind: load-proof)."""
    with tempfile.TemporaryDirectory(prefix="startup-home-") as tmp:
        out = Path(tmp) / "cachegrind.log"
        valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
        with (logs / f"{spec.name.split()[0]}-stderr.log").open("a", encoding="utf-8") as errlog:
            proc = subprocess.Popen(
                [*valgrind, f"--log-file={out}", *spec.command],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errlog,
                env=fresh_env(Path(tmp), spec.env),
            )
            assert proc.stdin and proc.stdout
            try:
                proc.stdin.write(_HANDSHAKE)
                proc.stdin.flush()
                while b'"id":2' not in (line := proc.stdout.readline()):
                    if not line:
                        raise RuntimeError(f"{spec.name} closed stdout before answering tools/list")
                proc.stdin.close()
                proc.wait(timeout=600)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=30)
        found = re.search(r"I\s+refs:\s+([\d,]+)", out.read_text())
        if not found:
            raise RuntimeError(f"no instruction count for {spec.name}")
        return int(found[1].replace(",", ""))


def count_instructions(specs: list[Spec], logs: Path) -> None:
    if shutil.which("valgrind") is None:
        print("\n--instructions: skipped, valgrind is not installed")
        return
    print("\ninstructions to answer initialize (legacy handshake) + tools/list, under valgrind (one run each):")
    counts = {spec.name: instructions(spec, logs) for spec in specs}
    for name, count in counts.items():
        print(f"  {name:<16}{count / 1e9:>7.3f} G {count / counts['floor']:>6.3f}x")


async def round_trips(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        studio = Studio(Path(tmp) / "studio")
        with LoopbackServer(CloudQuirks(create_app(studio), studio)) as backend:
            await _credits_trips(
                fresh_env(Path(tmp), {"NEMO_API_URL": backend.url, "NEMO_LOG_LEVEL": "WARNING"}), calls
            )


async def _credits_trips(env: dict[str, str], calls: int) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "nemovideo_mcp"], env=env)
    trips = []
    async with Client(params) as client:
        await client.call_tool("credits", {})  # service start and bootstrap (token + session) outside the timing
        for _ in range(calls):
            began = time.perf_counter()
            result = await client.call_tool("credits", {})
            trips.append(time.perf_counter() - began)
            assert not result.is_error
    print(
        f"\ncredits round trip over stdio: median {statistics.median(trips) * 1000:.2f} ms, "
        f"min {min(trips) * 1000:.2f}, max {max(trips) * 1000:.2f} ({calls} calls, the studio on 127.0.0.1)"
    )


async def main() -> int:
    # minimax prints a banner on stdout; the SDK client logs a traceback for every such line, and skips it.
    logging.getLogger("mcp.client.stdio").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9, at least 7 to judge)")
    parser.add_argument("--mode", default="auto", help="the SDK Client's mode: auto (its default) or legacy")
    parser.add_argument("--no-peers", action="store_true", help="only the floor and ours")
    parser.add_argument(
        "--peers-dir",
        default=str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nemovideo-mcp-bench"),
        help="cache folder for the peers' venvs",
    )
    parser.add_argument(
        "--instructions", action="store_true", help="also count each server's instructions under valgrind (slow)"
    )
    parser.add_argument("--calls", type=int, default=100, help="credits round trips afterwards (0 skips them)")
    args = parser.parse_args()
    ok = await starts(args)
    if args.calls:
        await round_trips(args.calls)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(anyio.run(main))
