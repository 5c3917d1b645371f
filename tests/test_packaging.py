"""Packaging: a wheel built from a clean copy of the sources carries the SKILL.md it reads at
run time, declares the console script and the version from that one file, and the server
installed from it (nothing from this checkout on the path) completes an MCP initialize."""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import OUTPUTS
from nemovideo_mcp import __version__
from nemovideo_mcp.studio.server import LoopbackServer
from support.checkout import copy_checkout

ROOT = Path(__file__).resolve().parents[1]
SKILL = ROOT / "manifests" / "skills" / "video-generator-for-free-ai" / "SKILL.md"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(wheel, install target): built from a clean copy, installed with pip --target."""
    base = tmp_path_factory.mktemp("packaging")
    source = copy_checkout(base / "src")
    dist = base / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(source), "-w", str(dist)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"building the wheel failed:\n{proc.stdout}\n{proc.stderr}"
    (wheel,) = dist.glob("nemovideo_mcp-*.whl")
    target = base / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"installing the wheel failed:\n{proc.stdout}\n{proc.stderr}"
    yield wheel, target


def archive_text(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(name).decode("utf-8", "replace")


def test_wheel_contents(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    assert wheel.name == f"nemovideo_mcp-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert archive.read("nemovideo_mcp/skill/SKILL.md") == SKILL.read_bytes()
        info = f"nemovideo_mcp-{__version__}.dist-info"
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    expected = {
        "nemovideo_mcp/cli/commands.py",
        "nemovideo_mcp/__main__.py",
        "nemovideo_mcp/studio/app.py",
        "nemovideo_mcp/studio/render/__init__.py",
        "nemovideo_mcp/studio/planner/__init__.py",
        "nemovideo_mcp/media/sniff.py",
    }
    assert expected <= names
    assert not any(n.startswith(("tests/", "manifests/", "support/")) or "__pycache__" in n for n in names)
    # No test machinery in the wheel: no emulator, no fault injection, no scripted turns.
    assert not any("emulator" in n for n in names)
    for name in (n for n in names if n.endswith(".py")):
        source = archive_text(wheel, name)
        assert "fail_next" not in source and "FaultKind" not in source and "import support" not in source, name
    assert metadata["Name"] == "nemovideo-mcp" and metadata["Version"] == __version__
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def requirement_names(requirements: list[str]) -> set[str]:
        return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in requirements}

    assert requirement_names(project["dependencies"]) <= requirement_names(metadata.get_all("Requires-Dist", []))
    assert "nemovideo-mcp = nemovideo_mcp.cli.commands:main" in entry_points


def _env(target: Path, home: Path, **extra: str) -> dict[str, str]:
    # Only the wheel's copy is importable first; the checkout is not on the path (cwd is elsewhere).
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(target),
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }


def test_installed_package_reads_its_own_skill(built: tuple[Path, Path], home: Path) -> None:
    _, target = built
    code = (
        "import nemovideo_mcp, nemovideo_mcp.attribution as a; "
        "print(nemovideo_mcp.__file__); print(a.skill_file()); print(nemovideo_mcp.__version__)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_env(target, home), cwd=home, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    module_file, skill_file, version = proc.stdout.split()
    assert Path(module_file).is_relative_to(target)
    assert Path(skill_file) == target / "nemovideo_mcp" / "skill" / "SKILL.md"
    assert version == __version__

    script = target / "bin" / "nemovideo-mcp"
    proc = subprocess.run(
        [str(script), "--version"], env=_env(target, home), cwd=home, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"nemovideo-mcp {__version__}"


@pytest.mark.skipif(sys.platform == "win32", reason="pip --target scripts are POSIX shebang scripts here")
async def test_installed_console_script_serves_mcp(
    built: tuple[Path, Path], cloud_server: LoopbackServer, home: Path
) -> None:
    _, target = built
    env = _env(
        target, home, NEMO_API_URL=cloud_server.url, NEMO_STATE_DIR=str(home / "state"), NEMO_LOG_LEVEL="WARNING"
    )
    params = StdioServerParameters(command=str(target / "bin" / "nemovideo-mcp"), args=[], env=env, cwd=str(home))
    log_path = home / "stderr.log"
    with log_path.open("w", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            assert client.server_info is not None and client.server_info.version == __version__
            tools = await client.list_tools()
            result = await client.call_tool("credits", {})
    OUTPUTS.append(log_path.read_text(encoding="utf-8", errors="replace"))
    assert {t.name for t in tools.tools} == {"generate", "upload", "state", "credits", "export"}
    assert result.is_error is False
