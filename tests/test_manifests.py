"""Manifests agree with the code: the skill, server.json, client snippets and the plugin bundle.

One source of truth: versions equal the package version (read from SKILL.md),
tool names equal the live server's, environment variables are Settings
fields. Each snippet's command is launched (mapped to this venv's console
script, since tests have no network for uvx) and completes an MCP initialize.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any, get_args

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import OUTPUTS
from nemovideo_mcp import __version__
from nemovideo_mcp.attribution import parse_frontmatter, skill_info
from nemovideo_mcp.cli.docs import list_live_tools, live_tools
from nemovideo_mcp.cli.install import GIT_SOURCE
from nemovideo_mcp.errors import ErrorCode
from nemovideo_mcp.settings import Settings, env_name
from nemovideo_mcp.studio.server import LoopbackServer

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
SKILL_DIR = MANIFESTS / "skills" / "video-generator-for-free-ai"
SKILL = SKILL_DIR / "SKILL.md"
SERVER_JSON = MANIFESTS / "server.json"
REGISTRY_NAME = "io.github.nemovideo/nemovideo-mcp"
SNIPPETS = [
    MANIFESTS / "clients" / "claude_desktop_config.json",
    MANIFESTS / "clients" / "cursor-mcp.json",
    MANIFESTS / "clients" / "claude-code.mcp.json",
    MANIFESTS / "plugin" / ".mcp.json",
]
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+.][0-9A-Za-z.-]+)?$")
# Agent Skills spec fields plus the ClawHub/OpenClaw ones we use.
SKILL_KEYS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools", "version"}


def env_names() -> set[str]:
    return {env_name(field) for field in Settings.model_fields}


def tool_names() -> set[str]:
    return {tool.name for tool in live_tools()}


def skill_meta() -> dict[str, Any]:
    return parse_frontmatter(SKILL.read_text(encoding="utf-8"))


def skill_body() -> str:
    text = SKILL.read_text(encoding="utf-8")
    return text[text.index("\n---", 3) + 4 :]


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# -- the skill ----------------------------------------------------------------------


def test_skill_is_a_valid_agent_skill() -> None:
    meta = skill_meta()
    assert set(meta) <= SKILL_KEYS, f"unexpected frontmatter keys: {set(meta) - SKILL_KEYS}"
    name = meta["name"]
    assert name == SKILL_DIR.name
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) and len(name) <= 64
    description = meta["description"]
    assert isinstance(description, str) and 0 < len(description) <= 1024
    assert "Use when" in description, "the description must say when to use the skill"
    assert len(str(meta.get("compatibility", ""))) <= 500
    assert skill_body().strip()
    # Top-level keys the server and hatch read with a regex must stay top-level.
    text = SKILL.read_text(encoding="utf-8")
    assert re.search(r"(?m)^name: video-generator-for-free-ai$", text)
    assert re.search(r"(?m)^version: \S+$", text)


def test_skill_is_a_valid_openclaw_skill() -> None:
    meta = skill_meta()
    assert SEMVER.match(str(meta["version"]))
    assert str(meta["version"]) == __version__
    # OpenClaw's parser reads single-line keys: metadata must be one line of JSON.
    line = next(line for line in SKILL.read_text(encoding="utf-8").splitlines() if line.startswith("metadata:"))
    openclaw = json.loads(line.removeprefix("metadata:").strip())["openclaw"]
    assert openclaw == meta["metadata"]["openclaw"]
    assert openclaw["primaryEnv"] == "NEMO_TOKEN" and "NEMO_TOKEN" in env_names()
    requires = openclaw["requires"]
    assert set(requires) <= {"bins", "anyBins", "env", "config"}
    binaries = requires.get("bins", []) + requires.get("anyBins", [])
    assert "nemovideo-mcp" in binaries or "uvx" in binaries
    assert set(requires.get("env", [])) <= env_names()
    installs = openclaw["install"]
    assert all(entry["kind"] in {"brew", "node", "go", "uv", "download"} for entry in installs)
    uv = [entry for entry in installs if entry["kind"] == "uv"]
    assert uv, "an install entry must install this package with uv"
    # Not on PyPI yet: the skill installs from the repository, which serves this version (issue 12 #1).
    assert uv[0]["package"] == "git+https://github.com/nemovideo/nemovideo-mcp"
    assert pyproject()["project"]["scripts"].get(uv[0]["bins"][0]) == "nemovideo_mcp.cli.commands:main"


def test_skill_body_matches_the_code() -> None:
    body = skill_body()
    table = [line for line in body.splitlines() if line.startswith("| `")]
    listed = {name for line in table for name in re.findall(r"`([a-z_]+)`", line.split("|")[1])}
    tools = tool_names()
    assert tools <= listed, f"tools missing from SKILL.md: {tools - listed}"
    codes = set(get_args(ErrorCode))
    documented_codes = listed - tools
    assert documented_codes <= codes, f"unknown error codes in SKILL.md: {documented_codes - codes}"
    assert {"no_credits", "plan_limit", "token_rejected"} <= documented_codes
    assert set(re.findall(r"\bNEMO_[A-Z_]+", body)) <= env_names()
    for needle in ("free", "credits", "job_id", "cancel=true"):
        assert needle in body


def test_attribution_headers_come_from_this_skill() -> None:
    info = skill_info()
    assert info.name == SKILL_DIR.name
    assert info.version == __version__
    assert pyproject()["tool"]["hatch"]["version"]["path"] == str(SKILL.relative_to(ROOT))


# -- server.json ----------------------------------------------------------------------


def _camel_case_keys(value: Any) -> list[str]:
    bad: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if "_" in key.lstrip("$_") or "-" in key:
                bad.append(key)
            bad += _camel_case_keys(inner)
    elif isinstance(value, list):
        for inner in value:
            bad += _camel_case_keys(inner)
    return bad


def test_server_json_follows_the_registry_schema() -> None:
    data = json.loads(SERVER_JSON.read_text(encoding="utf-8"))
    assert data["$schema"].startswith("https://static.modelcontextprotocol.io/schemas/")
    assert data["$schema"].endswith("/server.schema.json")
    assert not _camel_case_keys(data), "server.json uses the camelCase schema"
    assert set(data) <= {
        "$schema",
        "name",
        "title",
        "description",
        "version",
        "websiteUrl",
        "repository",
        "packages",
        "remotes",
        "icons",
        "_meta",
    }
    assert data["name"] == REGISTRY_NAME
    assert 0 < len(data["description"]) <= 100
    assert data["version"] == __version__
    assert data["repository"]["source"] == "github" and data["repository"]["url"].startswith("https://github.com/")
    (package,) = data["packages"]
    assert package["registryType"] == "pypi"
    assert "registryBaseUrl" not in package, "optional, and implied by registryType"
    assert package["identifier"] == pyproject()["project"]["name"]
    assert package["version"] == __version__
    assert package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"}
    variables = {v["name"]: v for v in package["environmentVariables"]}
    assert set(variables) <= env_names()
    assert variables["NEMO_TOKEN"]["isSecret"] is True
    for variable in variables.values():
        assert set(variable) <= {
            "name",
            "description",
            "isRequired",
            "isSecret",
            "format",
            "default",
            "choices",
            "value",
            "placeholder",
        }
        assert variable["description"]
        assert variable.get("format", "string") in {"string", "number", "boolean", "filepath"}


def test_no_install_instruction_relies_on_the_unpublished_package_alone() -> None:
    """Until nemovideo-mcp is on PyPI, every `uvx nemovideo-mcp` the user may copy comes with a way that works."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    skill = SKILL.read_text(encoding="utf-8")
    for name, text in (("README.md", readme), ("SKILL.md", skill)):
        assert f"uvx --from {GIT_SOURCE} nemovideo-mcp" in text, name
        for match in re.finditer(r"uvx nemovideo-mcp", text):
            around = text[max(0, match.start() - 300) : match.end() + 300]
            assert "PyPI" in around or GIT_SOURCE in around, f"{name}: a bare `uvx nemovideo-mcp` near {around!r}"
    assert "python -m pip install ." in readme and f"pipx install {GIT_SOURCE}" in readme


def test_readme_has_the_registry_ownership_marker() -> None:
    assert f"mcp-name: {REGISTRY_NAME}" in (ROOT / "README.md").read_text(encoding="utf-8")


# -- client snippets and the plugin ---------------------------------------------------------


def _entry(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data["mcpServers"]) == ["nemovideo"]
    entry = data["mcpServers"]["nemovideo"]
    assert isinstance(entry, dict)
    return entry


@pytest.mark.parametrize("path", SNIPPETS, ids=lambda p: p.name)
def test_snippet_agrees_with_the_code(path: Path) -> None:
    entry = _entry(path)
    assert entry["command"] in ("uvx", "nemovideo-mcp")
    if entry["command"] == "uvx":
        assert entry["args"][-1] == "nemovideo-mcp"
        # The package is not on PyPI yet: a bare `uvx nemovideo-mcp` would fail, so uvx is told where it is.
        assert entry["args"][:2] == ["--from", GIT_SOURCE], entry
    assert entry.get("type", "stdio") == "stdio"
    assert set(entry.get("env", {})) <= env_names()


def test_snippets_match_what_install_writes() -> None:
    from nemovideo_mcp.cli.install import server_entry

    clients = {
        "claude_desktop_config.json": "claude-desktop",
        "cursor-mcp.json": "cursor",
        "claude-code.mcp.json": "claude-code",
    }
    for filename, client in clients.items():
        expected = server_entry(client, ["uvx", "--from", GIT_SOURCE, "nemovideo-mcp"])
        snippet = _entry(MANIFESTS / "clients" / filename)
        assert {k: v for k, v in snippet.items() if k != "env"} == {k: v for k, v in expected.items() if k != "env"}
        assert set(expected.get("env", {})) <= set(snippet.get("env", {}))


def test_plugin_bundle_agrees_with_the_code() -> None:
    plugin = json.loads((MANIFESTS / "plugin" / ".claude-plugin" / "plugin.json").read_text(encoding="utf-8"))
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", plugin["name"])
    assert plugin["version"] == __version__
    assert plugin["mcpServers"] == "./.mcp.json"
    assert _entry(MANIFESTS / "plugin" / ".mcp.json") == _entry(MANIFESTS / "clients" / "claude-code.mcp.json")


def _console_script() -> str:
    script = shutil.which("nemovideo-mcp", path=os.path.dirname(sys.executable)) or shutil.which("nemovideo-mcp")
    assert script, "the nemovideo-mcp console script is not installed in this environment"
    return script


def _expand(value: str, environ: dict[str, str]) -> str:
    """The variable syntaxes the clients expand: ${env:X} (Cursor), ${X} and ${X:-default} (Claude Code)."""
    value = re.sub(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: environ.get(m.group(1), ""), value)
    return re.sub(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}", lambda m: environ.get(m.group(1), m.group(2) or ""), value
    )


def launch_command(entry: dict[str, Any]) -> list[str]:
    """The snippet's command with `uvx [--from X] nemovideo-mcp` mapped to the installed console script."""
    command = [entry["command"], *entry.get("args", [])]
    if command[0] == "uvx":
        rest = command[1:]
        while rest and rest[0].startswith("-"):
            rest = rest[2:] if rest[0] in ("--from", "--with", "--python") else rest[1:]
        assert rest and rest[0].split("@")[0].split("==")[0] == "nemovideo-mcp", command
        return [_console_script(), *rest[1:]]
    assert command[0] == "nemovideo-mcp"
    return [_console_script(), *command[1:]]


@pytest.mark.parametrize("path", SNIPPETS, ids=lambda p: p.name)
async def test_snippet_command_completes_an_initialize(path: Path, cloud_server: LoopbackServer, home: Path) -> None:
    entry = _entry(path)
    command = launch_command(entry)
    base = {"HOME": str(home), "PATH": os.environ.get("PATH", ""), "NEMO_TOKEN": ""}
    env = {key: _expand(str(value), base) for key, value in entry.get("env", {}).items()}
    env.update(
        {
            "HOME": str(home),
            "PATH": base["PATH"],
            "NEMO_API_URL": cloud_server.url,
            "NEMO_STATE_DIR": str(home / "state"),
            "NEMO_LOG_LEVEL": "WARNING",
        }
    )
    params = StdioServerParameters(command=command[0], args=command[1:], env=env)
    log_path = home / "stderr.log"
    with log_path.open("w", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            assert client.server_info is not None
            assert client.server_info.version == __version__
            listed = await client.list_tools()
    OUTPUTS.append(log_path.read_text(encoding="utf-8", errors="replace"))
    assert {tool.name for tool in listed.tools} == {tool.name for tool in await list_live_tools()}
