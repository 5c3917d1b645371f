"""The command line for people: the five tool commands against the real studio, behaving like the
cloud where a test asks (`support.cloud`), exit codes, `doctor` on a good and a bad setup, and
`install` merging client configs safely."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest

from conftest import OUTPUTS, make_settings, stdio_env
from nemovideo_mcp.cli import commands as cli
from nemovideo_mcp.cli.install import config_path, merge, server_entry
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks

ANONYMOUS_CREDITS = 100  # what the cloud gives a new anonymous account


@pytest.fixture(autouse=True)
def _like_the_cloud(cloud: CloudQuirks) -> None:
    cloud.balance = ANONYMOUS_CREDITS
    cloud.token_lifetime_s = 7 * 24 * 3600
    cloud.render_size = (160, 90)


@pytest.fixture
def settings(cloud_server: LoopbackServer, home: Path) -> Settings:
    return make_settings(cloud_server, home)


@pytest.fixture
def cli_env(cloud_server: LoopbackServer, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment a person would have: settings pointing at the studio, HOME in a temp folder."""
    for key, value in stdio_env(cloud_server, home, NEMO_LOG_LEVEL="WARNING", NEMO_READ_TIMEOUT="5").items():
        if key != "PATH":
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(home)  # no stray .env from the checkout
    return home


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    OUTPUTS.extend([out, err])
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *argv, "--json")
    try:
        return code, json.loads(out)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON on stdout: {out!r}; stderr: {err!r}") from None


# -- the five tools as commands ----------------------------------------------------------


def test_make_a_video_from_the_terminal(cli_env: Path, photos: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, credits = run_json(capsys, "credits")
    assert code == cli.EXIT_OK
    assert credits["available"] == 100 and credits["anonymous"] is True

    code, uploaded = run_json(capsys, "upload", *photos)
    assert code == cli.EXIT_OK, uploaded
    assert [f["type"] for f in uploaded["files"]] == ["image", "image"]

    code, generated = run_json(capsys, "generate", "Make a 2-second video from my photos with lo-fi music")
    assert code == cli.EXIT_OK, generated
    assert generated["status"] == "succeeded" and generated["changes"]

    code, state = run_json(capsys, "state")
    assert code == cli.EXIT_OK
    assert state["timeline"]["tracks"]

    code, exported = run_json(capsys, "export", "--filename", "from-cli.mp4")
    assert code == cli.EXIT_OK, exported
    assert exported["status"] == "succeeded"
    assert Path(exported["path"]).is_file() and Path(exported["path"]).name == "from-cli.mp4"


def test_readable_output_and_progress(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "credits")
    assert code == cli.EXIT_OK
    assert out.startswith("Credits: 100 available")
    assert "{" not in out
    assert "Connected to NemoVideo" in err  # progress goes to stderr, one line per step off a terminal
    code, out, err = run(capsys, "credits", "--quiet")
    assert code == cli.EXIT_OK and err == ""


def test_exit_code_for_a_bad_setting(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEMO_LANGUAGE", "not a language")
    code, out, err = run(capsys, "credits")
    assert code == cli.EXIT_SETTINGS
    assert "NEMO_LANGUAGE" in err and out == ""
    code, data = run_json(capsys, "credits")
    assert code == cli.EXIT_SETTINGS and data["error"]["code"] == "invalid_setting"


def test_exit_code_for_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["generate"])
    assert exc.value.code == cli.EXIT_USAGE
    capsys.readouterr()


def test_exit_code_when_the_api_is_unreachable(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEMO_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NEMO_GET_RETRIES", "0")
    code, data = run_json(capsys, "credits")
    assert code == cli.EXIT_NETWORK, data
    assert data["status"] == "failed" and data["error"]["code"] == "network_error"


def test_exit_code_for_a_plan_limit(cli_env: Path, cloud: CloudQuirks, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.fail_next("render_start", status=402)  # the cloud's free plan cannot export
    assert run_json(capsys, "generate", "make a 2 second video about tea")[0] == cli.EXIT_OK
    code, data = run_json(capsys, "export")
    assert code == cli.EXIT_ACCOUNT, data
    assert data["error"]["code"] == "plan_limit"


def test_exit_code_while_still_running(cli_env: Path, cloud: CloudQuirks, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(capsys, "generate", "make a 2 second video about tea")[0] == cli.EXIT_OK
    cloud.render_never_finishes = True
    code, _out, err = run(capsys, "export", "--wait", "0.3")
    assert code == cli.EXIT_RUNNING
    assert "nemovideo-mcp export --job-id" in err


def test_exit_code_mapping() -> None:
    assert cli.exit_code_for("succeeded", None) == cli.EXIT_OK
    assert cli.exit_code_for("cancelled", None) == cli.EXIT_OK
    assert cli.exit_code_for("running", None) == cli.EXIT_RUNNING
    assert cli.exit_code_for("interrupted", None) == cli.EXIT_FAILED
    assert cli.exit_code_for("failed", "render_failed") == cli.EXIT_FAILED
    assert cli.exit_code_for("failed", "no_credits") == cli.EXIT_ACCOUNT
    assert cli.exit_code_for("failed", "token_rejected") == cli.EXIT_ACCOUNT
    assert cli.exit_code_for("failed", "timeout") == cli.EXIT_NETWORK
    assert cli.exit_code_for("failed", "invalid_setting") == cli.EXIT_SETTINGS
    documented = {code for code, _ in cli.EXIT_CODES}
    assert {
        cli.EXIT_OK,
        cli.EXIT_FAILED,
        cli.EXIT_USAGE,
        cli.EXIT_SETTINGS,
        cli.EXIT_RUNNING,
        cli.EXIT_ACCOUNT,
        cli.EXIT_NETWORK,
        cli.EXIT_INTERRUPTED,
    } == documented


def test_console_script_exit_code_and_json(cloud_server: LoopbackServer, home: Path) -> None:
    script = Path(sys.executable).with_name("nemovideo-mcp")
    assert script.exists(), "the nemovideo-mcp console script is not installed next to the interpreter"
    env = stdio_env(cloud_server, home, NEMO_LOG_LEVEL="WARNING")
    proc = subprocess.run(
        [str(script), "credits", "--json"], env=env, capture_output=True, text=True, timeout=60, cwd=home
    )
    OUTPUTS.extend([proc.stdout, proc.stderr])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["available"] == 100
    proc = subprocess.run([str(script), "nonsense"], env=env, capture_output=True, text=True, timeout=60, cwd=home)
    assert proc.returncode == cli.EXIT_USAGE


# -- doctor -----------------------------------------------------------------------------


def checks_by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in data["checks"]}


def test_doctor_on_a_good_setup(
    cli_env: Path, cloud: CloudQuirks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.balances["good-token-123"] = 42  # on loopback the studio takes any token as a registered user's
    monkeypatch.setenv("NEMO_TOKEN", "good-token-123")
    code, data = run_json(capsys, "doctor")
    assert code == 0, data
    checks = checks_by_name(data)
    assert data["ok"] is True
    for name in ("settings", "state folder", "export folder", "API", "token", "ffmpeg"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "42 credits" in checks["token"]["detail"]
    assert "ffmpeg" in checks["ffmpeg"]["detail"]
    code, out, _ = run(capsys, "doctor")
    assert code == 0 and "All checks passed" in out
    assert "good-token-123" not in out


def test_doctor_after_first_use_reports_the_anonymous_token(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(capsys, "credits")[0] == 0  # creates the anonymous account and the state folder
    code, data = run_json(capsys, "doctor")
    checks = checks_by_name(data)
    assert code == 0
    assert checks["state folder"]["status"] == "ok" and "private" in checks["state folder"]["detail"]
    assert "anonymous account: 100 credits" in checks["token"]["detail"]
    assert "expires" in checks["token"]["detail"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_doctor_on_a_bad_setup(
    cli_env: Path, cloud: CloudQuirks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.revoked.add("rejected-token-456")  # a token the cloud does not know (the studio takes any)
    state = cli_env / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o777)
    (state / "identity.json").write_text("{}")
    os.chmod(state / "identity.json", 0o644)
    monkeypatch.setenv("NEMO_TOKEN", "rejected-token-456")
    code, out, _ = run(capsys, "doctor")
    assert code == 1
    assert "FAIL  token: NemoVideo rejected NEMO_TOKEN" in out
    assert "fix: Copy a fresh token" in out
    assert "WARN  state folder" in out and "chmod 700" in out
    assert "rejected-token-456" not in out
    assert "problem(s) found" in out

    monkeypatch.setenv("NEMO_API_URL", "http://127.0.0.1:9")
    code, data = run_json(capsys, "doctor")
    checks = checks_by_name(data)
    assert code == 1
    assert checks["API"]["status"] == "fail" and "NEMO_API_URL" in checks["API"]["fix"]

    monkeypatch.setenv("NEMO_READ_TIMEOUT", "-1")
    code, data = run_json(capsys, "doctor")
    checks = checks_by_name(data)
    assert code == 1
    assert checks["settings"]["status"] == "fail" and "NEMO_READ_TIMEOUT" in checks["settings"]["detail"]


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for ffmpeg")
def test_doctor_refuses_an_ffmpeg_too_old_for_the_studio(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = cli_env / "old-ffmpeg"
    old.write_text("#!/bin/sh\necho 'ffmpeg version 6.1.1-3ubuntu5 Copyright (c) 2000-2023 the FFmpeg developers'\n")
    old.chmod(0o755)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(old))
    monkeypatch.setenv("NEMO_API_URL", "local")
    code, data = run_json(capsys, "doctor")
    check = checks_by_name(data)["ffmpeg"]
    assert code == 1 and check["status"] == "fail", check
    assert "6.1.1" in check["detail"] and "ffmpeg 7 or newer" in check["detail"]
    assert "IMAGEIO_FFMPEG_EXE" in check["fix"]


def test_doctor_on_an_unusable_state_folder(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A regular file where the folder should be: unusable for every user, root included.
    (cli_env / "state").write_text("not a folder")
    code, data = run_json(capsys, "doctor")
    assert code == 1
    assert checks_by_name(data)["state folder"]["status"] == "fail"


# -- install ------------------------------------------------------------------------------


OTHER = {"command": "npx", "args": ["-y", "@someone/other-server"], "env": {"OTHER_KEY": "x"}}


def write_config(path: Path, data: dict[str, Any]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=4) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".bak-*"))


@pytest.mark.parametrize("client", ["claude-desktop", "cursor", "claude-code"])
def test_install_merges_keeps_others_and_is_idempotent(
    client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.json"
    original = write_config(path, {"globalShortcut": "Ctrl+Space", "mcpServers": {"other": OTHER}})
    code, out, err = run(capsys, "install", client, "--config", str(path))
    assert code == 0, err
    data = json.loads(path.read_text())
    assert data["globalShortcut"] == "Ctrl+Space"
    assert data["mcpServers"]["other"] == OTHER
    entry = data["mcpServers"]["nemovideo"]
    assert Path(entry["command"]).is_absolute()
    assert entry == server_entry(client, [entry["command"], *entry["args"]])
    # This venv has the console script: that is what the client must launch, with no arguments.
    assert Path(entry["command"]).name == "nemovideo-mcp" and entry["args"] == []
    (backup,) = backups(path)
    assert backup.read_text() == original
    assert "Backup" in out

    first = path.read_text()
    code, out, _ = run(capsys, "install", client, "--config", str(path))
    assert code == 0 and "nothing changed" in out
    assert path.read_text() == first
    assert len(backups(path)) == 1


def test_install_dry_run_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "claude_desktop_config.json"
    original = write_config(path, {"mcpServers": {"other": OTHER}})
    code, out, err = run(capsys, "install", "claude-desktop", "--config", str(path), "--dry-run")
    assert code == 0
    assert path.read_text() == original and not backups(path)
    assert '+    "nemovideo": {' in out and "Dry run" in err

    missing = tmp_path / "new" / "mcp.json"
    code, out, _ = run(capsys, "install", "cursor", "--config", str(missing), "--dry-run")
    assert code == 0 and not missing.exists() and '"nemovideo"' in out


def test_install_creates_a_missing_file_and_keeps_user_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "fresh" / "mcp.json"
    assert run(capsys, "install", "cursor", "--config", str(path))[0] == 0
    assert not backups(path)
    data = json.loads(path.read_text())
    data["mcpServers"]["nemovideo"]["env"]["NEMO_TOKEN"] = "my-own-token"
    data["mcpServers"]["nemovideo"]["env"]["NEMO_EXPORT_DIR"] = "/videos"
    data["mcpServers"]["nemovideo"]["command"] = "/old/path/uvx"
    write_config(path, data)
    assert run(capsys, "install", "cursor", "--config", str(path))[0] == 0
    entry = json.loads(path.read_text())["mcpServers"]["nemovideo"]
    assert entry["env"] == {"NEMO_TOKEN": "my-own-token", "NEMO_EXPORT_DIR": "/videos"}
    assert entry["command"] != "/old/path/uvx"


def test_install_refuses_a_broken_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"other": ', encoding="utf-8")
    code, _, err = run(capsys, "install", "cursor", "--config", str(path))
    assert code == 1 and "not valid JSON" in err
    assert path.read_text() == '{"mcpServers": {"other": ' and not backups(path)


def test_install_with_token_copies_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "claude_desktop_config.json"
    code, _, err = run(capsys, "install", "claude-desktop", "--config", str(path), "--with-token")
    assert code == 1 and "NEMO_TOKEN is not set" in err
    monkeypatch.setenv("NEMO_TOKEN", "tok-789")
    assert run(capsys, "install", "claude-desktop", "--config", str(path), "--with-token")[0] == 0
    assert json.loads(path.read_text())["mcpServers"]["nemovideo"]["env"] == {"NEMO_TOKEN": "tok-789"}


def test_install_command_choices_and_default_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nemovideo_mcp.cli.install import resolve_command

    python = resolve_command("python")
    assert python[1:] == ["-m", "nemovideo_mcp"] and Path(python[0]).is_absolute()
    assert Path(resolve_command("script")[0]).name.startswith("nemovideo-mcp")
    assert Path(resolve_command("auto")[0]).is_absolute()
    assert config_path("cursor", home=tmp_path) == tmp_path / ".cursor" / "mcp.json"
    assert config_path("claude-code", cwd=tmp_path) == tmp_path / ".mcp.json"
    desktop = config_path("claude-desktop", home=tmp_path)
    assert desktop.name == "claude_desktop_config.json" and "Claude" in desktop.parts


def test_merge_replaces_an_old_http_entry() -> None:
    old = {"mcpServers": {"nemovideo": {"type": "http", "url": "http://x/mcp", "headers": {"a": "b"}}}}
    merged = merge(old, "nemovideo", {"command": "/bin/nemovideo-mcp", "args": []})
    assert merged["mcpServers"]["nemovideo"] == {"command": "/bin/nemovideo-mcp", "args": []}
    assert old["mcpServers"]["nemovideo"]["type"] == "http"  # the input is not modified


# -- usage errors, partial uploads, sizes (issue 12 #16) ---------------------------------------------------


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    assert exc.value.code == cli.EXIT_USAGE, argv
    return capsys.readouterr().err


def test_usage_errors_name_the_option_and_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "export", "--wait", "abc")
    assert "--wait" in err and "'abc' is not a number of seconds" in err
    assert "_seconds" not in err
    assert "--port" in usage_error(capsys, "serve", "--port", "http") and "_port" not in capsys.readouterr().err
    err = usage_error(capsys, "state", "--bogus")
    assert err.startswith("usage: nemovideo-mcp state ") and "--bogus" in err
    err = usage_error(capsys, "generate", "")
    assert err.startswith("usage: nemovideo-mcp generate ") and "instruction is empty" in err
    usage_error(capsys, "generate", "  ", " ")


def test_a_partial_upload_fails_and_sizes_read_well(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from support.images import png

    small = cli_env / "media" / "small.png"
    small.write_bytes(png(64, 48, (10, 200, 30)))
    small.write_bytes(small.read_bytes() + b"\0" * (50 * 1024 - small.stat().st_size))  # 50 KB, still a PNG
    missing = str(cli_env / "media" / "missing.png")
    code, out, err = run(capsys, "upload", str(small), missing, str(cli_env / "notes.txt"))
    assert code == cli.EXIT_FAILED, (out, err)
    assert "small.png: image, 64x48, 50 KB" in out and "0.0 MB" not in out
    assert "Not uploaded:" in out and "missing.png" in out
    code, data = run_json(capsys, "upload", str(small), missing)
    assert code == cli.EXIT_FAILED and len(data["files"]) == 1 and len(data["refused"]) == 1
    assert run(capsys, "upload", str(small))[0] == cli.EXIT_OK


def test_human_sizes() -> None:
    from nemovideo_mcp.text.sizes import human_size

    assert human_size(512) == "512 bytes"
    assert human_size(50 * 1024) == "50 KB"
    assert human_size(int(3.4 * 1024**2)) == "3.4 MB"
    assert human_size(2 * 1024**3) == "2.0 GB"


# -- relative upload paths (issue 12 #4) ---------------------------------------------------------


def test_cli_upload_reads_relative_paths_from_the_current_folder(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from support.images import png

    shoot = cli_env / "shoot"
    shoot.mkdir()
    (shoot / "beach.png").write_bytes(png(32, 32, (200, 180, 40)))
    monkeypatch.chdir(shoot)
    for given in ("beach.png", "./beach.png"):
        code, data = run_json(capsys, "upload", given)
        assert code == cli.EXIT_OK, data
        assert [f["filename"] for f in data["files"]] == ["beach.png"]
    code, _out, err = run(capsys, "upload", "nothing-here.png")
    assert code == cli.EXIT_FAILED
    assert f"relative paths start at {shoot}" in err
    code, _out, err = run(capsys, "upload", str(shoot / "nothing-here.png"))
    assert code == cli.EXIT_FAILED and "relative paths" not in err


async def test_mcp_upload_keeps_home_as_the_base_and_says_so(
    settings: Any, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import inprocess, text_of
    from support.images import png

    (home / "media" / "cafe.png").write_bytes(png(32, 32, (90, 60, 30)))
    elsewhere = home / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the client's working folder does not matter
    monkeypatch.setenv("HOME", str(home))
    async with inprocess(settings) as client:
        ok = await client.call_tool("upload", {"sources": ["media/cafe.png"]})
        assert ok.is_error is False, text_of(ok)
        missing = await client.call_tool("upload", {"sources": ["media/none.png"]})
        assert missing.is_error and f"relative paths start at {home}" in text_of(missing)
        absolute = await client.call_tool("upload", {"sources": [str(home / "media" / "none.png")]})
        assert absolute.is_error and "relative paths" not in text_of(absolute)


# -- processes at a terminal: Ctrl-C and what is printed (issue 12 #2, #6) -------------------------------


class Spawned:
    """A CLI process with its stdout and stderr collected by threads, so waiting on them has a timeout."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, stdin: int | IO[bytes] | None) -> None:
        if "PYTHONPATH" in os.environ:  # the code under test, when it is not the installed one
            env = {**env, "PYTHONPATH": os.environ["PYTHONPATH"]}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nemovideo_mcp", *argv],
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        self.out: list[bytes] = []
        self.err: list[bytes] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._drain, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _drain(stream: IO[bytes] | None, sink: list[bytes]) -> None:
        assert stream is not None
        for chunk in iter(lambda: stream.read1(4096), b""):  # type: ignore[attr-defined]
            sink.append(chunk)

    @property
    def stdout(self) -> str:
        return b"".join(self.out).decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return b"".join(self.err).decode("utf-8", "replace")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                pytest.fail(f"the process ended ({self.proc.returncode}) before {what}: {self.stderr}")
            if time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"no {what} within {timeout} s; stderr: {self.stderr}")
            time.sleep(0.05)

    def interrupt(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            pytest.fail(f"still running {timeout} s after Ctrl-C; stderr: {self.stderr}")
        time.sleep(0.2)  # let the reader threads take the last bytes
        OUTPUTS.extend([self.stdout, self.stderr])
        return code


posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pseudo-terminals")


@posix_only
def test_ctrl_c_quits_the_stdio_server_at_a_terminal(cloud_server: LoopbackServer, home: Path) -> None:
    import pty

    master, terminal = os.openpty() if hasattr(os, "openpty") else pty.openpty()
    try:
        spawned = Spawned([], stdio_env(cloud_server, home, NEMO_LOG_LEVEL="WARNING"), home, stdin=terminal)
        spawned.wait_for(lambda: "Ctrl-C quits" in spawned.stderr, "banner")
        code = spawned.interrupt()  # no Enter is ever typed
    finally:
        os.close(master)
        os.close(terminal)
    assert code == cli.EXIT_INTERRUPTED, spawned.stderr
    assert spawned.stdout == ""  # stdout is the protocol's alone
    assert "Interrupted." in spawned.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@posix_only
def test_serve_http_prints_its_url_and_ctrl_c_exits_130(cloud_server: LoopbackServer, home: Path) -> None:
    port = _free_port()
    env = stdio_env(cloud_server, home, NEMO_LOG_LEVEL="WARNING")
    spawned = Spawned(["serve", "--http", "--port", str(port)], env, home, stdin=None)
    spawned.wait_for(lambda: f"http://127.0.0.1:{port}/mcp" in spawned.stderr, "URL on stderr")
    spawned.wait_for(lambda: _listening(port), "listening socket")
    code = spawned.interrupt()
    assert code == cli.EXIT_INTERRUPTED, spawned.stderr
    assert "Ctrl-C stops it" in spawned.stderr and spawned.stdout == ""


@posix_only
def test_ctrl_c_during_generate_says_the_job_goes_on(
    cloud_server: LoopbackServer, cloud: CloudQuirks, home: Path
) -> None:
    cloud.hang_seconds = 20.0
    cloud.fail_next("run_sse", kind="hang")  # NemoVideo has the instruction and is still working on it
    env = stdio_env(cloud_server, home, NEMO_LOG_LEVEL="WARNING")
    spawned = Spawned(["generate", "make a 2 second video about tea"], env, home, stdin=None)
    spawned.wait_for(lambda: any(r.path.endswith("/run_sse") for r in cloud.requests), "run_sse request")
    code = spawned.interrupt()
    assert code == cli.EXIT_INTERRUPTED, spawned.stderr
    err = " ".join(spawned.stderr.split())
    match = re.search(r"job ([\w-]+)\)", err)
    assert match, err
    assert "keeps working on it and charges its credits" in err
    assert f"nemovideo-mcp state {match.group(1)}" in err
    assert "Do not send it again" in err


# -- install: what it writes starts this installation; tokens stay private (issue 12 #1, #16; 11 #12) -----


def test_install_under_uvx_points_uvx_at_this_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nemovideo_mcp.cli import install

    uvx = tmp_path / "bin" / "uvx"
    uvx.parent.mkdir()
    uvx.write_text("#!/bin/sh\n")
    uvx.chmod(0o755)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.setattr(install.shutil, "which", lambda name: str(uvx) if name == "uvx" else None)
    monkeypatch.setattr(install.sys, "prefix", str(tmp_path / ".cache" / "uv" / "archive-v0" / "Ab12"))
    monkeypatch.setattr(install, "_direct_url", lambda: {"url": checkout.as_uri(), "dir_info": {}})
    assert install.resolve_command() == [str(uvx), "--from", str(checkout), "nemovideo-mcp"]
    assert install.resolve_command("uvx") == [str(uvx), "--from", str(checkout), "nemovideo-mcp"]
    git = {"url": "https://github.com/nemovideo/nemovideo-mcp", "vcs_info": {"vcs": "git", "commit_id": "abc123"}}
    monkeypatch.setattr(install, "_direct_url", lambda: git)
    assert install.resolve_command()[1:3] == ["--from", "git+https://github.com/nemovideo/nemovideo-mcp@abc123"]
    monkeypatch.setattr(install, "_direct_url", lambda: None)  # from the package index
    assert install.resolve_command() == [str(uvx), "nemovideo-mcp"]
    monkeypatch.setattr(install, "_direct_url", lambda: {"url": (tmp_path / "gone").as_uri(), "dir_info": {}})
    with pytest.raises(install.InstallError, match="no longer exists"):
        install.resolve_command()


def test_install_claude_code_says_where_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "install", "claude-code")
    assert code == 0
    text = " ".join(out.split())
    assert str(tmp_path / ".mcp.json") in text
    assert "Claude Code reads a project's servers from .mcp.json in the folder it is started in" in text
    assert "claude mcp add --scope user nemovideo --" in text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_install_with_token_makes_the_config_and_backup_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "claude_desktop_config.json"
    write_config(path, {"mcpServers": {"other": OTHER}})
    os.chmod(path, 0o644)
    monkeypatch.setenv("NEMO_TOKEN", "tok-private-1")
    code, out, _ = run(capsys, "install", "claude-desktop", "--config", str(path), "--with-token")
    assert code == 0 and "0600" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (backup,) = backups(path)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    # A second token: the old one is now in a backup, which must be private too.
    monkeypatch.setenv("NEMO_TOKEN", "tok-private-2")
    assert run(capsys, "install", "claude-desktop", "--config", str(path), "--with-token")[0] == 0
    assert len(backups(path)) == 2
    assert all(stat.S_IMODE(b.stat().st_mode) == 0o600 for b in backups(path))
    assert "tok-private-1" in backups(path)[-1].read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Without a token the file keeps its mode; the backup is private all the same.
    plain = tmp_path / "mcp.json"
    write_config(plain, {"mcpServers": {}})
    os.chmod(plain, 0o644)
    assert run(capsys, "install", "cursor", "--config", str(plain))[0] == 0
    assert stat.S_IMODE(plain.stat().st_mode) == 0o644
    assert stat.S_IMODE(backups(plain)[0].stat().st_mode) == 0o600
