"""Shared fixtures: a real backend on loopback (the studio behaving like the cloud), settings pointing
at it, and MCP clients.

Every test that talks to the server goes through the MCP SDK's `Client`,
either in-process or over a spawned stdio process, against the backend
over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from nemovideo_mcp.mcp.tools import build_server
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.app import Studio, create_app
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks
from support.images import png

# Every token any studio handed out during the run: the leak scan looks for these.
ISSUED_TOKENS: set[str] = set()
# Everything the server under test wrote (stderr of stdio servers, tool results): scanned for tokens.
OUTPUTS: list[str] = []
MODES = ["auto", "legacy"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_token_in_this_tests_outputs() -> Iterator[None]:
    """After each test (its studios closed, its logs collected): none of its outputs holds an issued token.

    Outermost of the fixtures, so it sees what the others add at teardown. Tokens only ever accumulate, so
    checking each test's own outputs catches every leak whatever the order, `-k` or worker a test runs in.
    """
    first = len(OUTPUTS)
    yield
    leaks = sorted({t[:12] + "..." for t in ISSUED_TOKENS if any(t in out for out in OUTPUTS[first:])})
    if leaks:
        pytest.fail(f"SECRET LEAK: issued token(s) {leaks} appeared in this test's server output", pytrace=False)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own NEMO_* settings must not leak into tests.
    for key in list(os.environ):
        if key.startswith("NEMO_") or key == "SKILL_SOURCE":
            monkeypatch.delenv(key, raising=False)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudQuirks]:
    """The real studio, behaving like the cloud where a test asks it to (`support.cloud`)."""
    studio = Studio(tmp_path / "studio")
    quirks = CloudQuirks(create_app(studio), studio)
    yield quirks
    ISSUED_TOKENS.update(quirks.issued_tokens)


@pytest.fixture
def cloud_server(cloud: CloudQuirks) -> Iterator[LoopbackServer]:
    with LoopbackServer(cloud) as server:
        yield server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    (path / "media").mkdir(parents=True)
    return path


def make_settings(backend: LoopbackServer, home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_url": backend.url,
        "state_dir": home / "state",
        "export_dir": home / "exports",
        "upload_dirs": str(home),
        "poll_initial": 0.005,
        "poll_max": 0.05,
        "rate_limit_delay": 0.01,
        "default_wait": 20.0,
        "read_timeout": 5.0,
        "get_retries": 1,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(cloud_server: LoopbackServer, home: Path) -> Settings:
    return make_settings(cloud_server, home)


@asynccontextmanager
async def inprocess(settings: Settings, mode: str = "auto") -> AsyncIterator[Client]:
    server = build_server(settings)
    async with Client(server, mode=mode) as client:
        yield recording(client)


def stdio_env(backend: LoopbackServer, home: Path, **extra: str) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "NEMO_API_URL": backend.url,
        "NEMO_STATE_DIR": str(home / "state"),
        "NEMO_EXPORT_DIR": str(home / "exports"),
        "NEMO_UPLOAD_DIRS": str(home),
        "NEMO_POLL_INITIAL": "0.005",
        "NEMO_POLL_MAX": "0.05",
        "NEMO_RATE_LIMIT_DELAY": "0.01",
        "NEMO_LOG_LEVEL": "DEBUG",
    }
    env.update(extra)
    return env


@asynccontextmanager
async def over_stdio(env: dict[str, str], mode: str = "auto", stderr_path: Path | None = None) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "nemovideo_mcp"], env=env)
    log_path = stderr_path or Path(env["HOME"]) / "server-stderr.log"
    with log_path.open("a+", encoding="utf-8") as errlog:
        try:
            async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
                yield recording(client)
        finally:
            errlog.flush()
            OUTPUTS.append(log_path.read_text(encoding="utf-8", errors="replace"))


def recording(client: Client) -> Client:
    """Every tool result this client receives goes to the whole-run secret scan."""
    call_tool = client.call_tool

    async def recorded(*args: Any, **kwargs: Any) -> Any:
        result = await call_tool(*args, **kwargs)
        record_output(result)
        return result

    client.call_tool = recorded  # type: ignore[method-assign]
    return client


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def record_output(result: Any) -> None:
    OUTPUTS.append(text_of(result))
    OUTPUTS.append(repr(result.structured_content))


def png_bytes(width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    return png(width, height, rgb)


@pytest.fixture
def photos(home: Path) -> list[str]:
    paths = []
    for index, colour in enumerate([(250, 170, 60), (40, 110, 200)]):
        path = home / "media" / f"photo{index + 1}.png"
        path.write_bytes(png_bytes(rgb=colour))
        paths.append(str(path))
    return paths


def probe_video(path: Path) -> dict[str, Any]:
    """Codec and frame size as ffmpeg reads them (ffmpeg from the imageio-ffmpeg wheel)."""
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, timeout=30
    )
    info: dict[str, Any] = {"raw": proc.stderr}
    for line in proc.stderr.splitlines():
        if "Video:" in line:
            info["codec"] = line.split("Video:")[1].strip().split()[0]
            for token in line.replace(",", " ").split():
                if "x" in token and token.split("x")[0].isdigit() and token.split("x")[1].isdigit():
                    info["width"], info["height"] = map(int, token.split("x"))
                    break
    return info


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The whole run's leak scan: no token the studios issued may appear in any captured output."""
    leaks = [t for t in ISSUED_TOKENS if any(t in out for out in OUTPUTS)]
    if leaks:
        sys.stderr.write(f"\nSECRET LEAK: {len(leaks)} issued token(s) appeared in server output\n")
        session.exitstatus = 1
