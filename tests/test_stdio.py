"""Over real stdio: stdout carries only protocol messages, logs go to stderr without secrets,
and both entry points (`python -m` and the console script) start the server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import OUTPUTS, stdio_env
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks


def _rpc(id_: int, method: str, params: dict[str, object] | None = None) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params or {}}) + "\n"


def _converse(command: list[str], env: dict[str, str]) -> tuple[list[str], str]:
    messages = [
        _rpc(
            1,
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw-test", "version": "1"}},
        ),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n",
        _rpc(2, "tools/list"),
        _rpc(3, "tools/call", {"name": "credits", "arguments": {}}),
        _rpc(4, "tools/call", {"name": "upload", "arguments": {"sources": ["/etc/passwd"]}}),
    ]
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    assert proc.stdin and proc.stdout
    lines: list[str] = []
    try:
        for message in messages:
            proc.stdin.write(message)
            proc.stdin.flush()
            wanted = json.loads(message).get("id")
            # Read up to this request's reply; notifications (progress, log) may come first.
            while wanted is not None:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if json.loads(line).get("id") == wanted:
                    break
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    rest = proc.stdout.read()
    stderr = proc.stderr.read() if proc.stderr else ""
    return lines + rest.splitlines(), stderr


@pytest.mark.parametrize("entry", ["module", "console-script"])
def test_stdout_is_protocol_only_and_logs_have_no_token(
    cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks, entry: str
) -> None:
    if entry == "module":
        command = [sys.executable, "-m", "nemovideo_mcp"]
    else:
        script = shutil.which("nemovideo-mcp", path=os.path.dirname(sys.executable)) or shutil.which("nemovideo-mcp")
        assert script, "console script nemovideo-mcp is not installed"
        command = [script]
    lines, stderr = _converse(command, stdio_env(cloud_server, home))
    OUTPUTS.append(stderr)
    OUTPUTS.extend(lines)
    assert lines, stderr
    for line in lines:
        if not line.strip():
            continue
        message = json.loads(line)  # anything that is not JSON-RPC would fail here
        assert message["jsonrpc"] == "2.0"
    replies = {m["id"]: m for m in map(json.loads, filter(str.strip, lines)) if "id" in m}
    assert len(replies[2]["result"]["tools"]) == 5
    assert replies[3]["result"]["isError"] is False
    assert replies[4]["result"]["isError"] is True  # refused: a system file
    assert stderr.strip(), "DEBUG logging should have written something to stderr"
    assert cloud.issued_tokens  # the anonymous token the server obtained, looked for below
    for token in cloud.issued_tokens:
        assert token not in stderr
        assert all(token not in line for line in lines)
