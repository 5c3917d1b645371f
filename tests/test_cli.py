"""The command line for people: the five tool commands against the emulator, exit codes,
`doctor` on a good and a bad setup, and `install` merging client configs safely."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import OUTPUTS, stdio_env
from nemovideo_mcp.cli import commands as cli
from nemovideo_mcp.cli.install import config_path, merge, server_entry
from support.emulator import Emulator, EmulatorServer


@pytest.fixture
def cli_env(backend: EmulatorServer, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment a person would have: settings pointing at the emulator, HOME in a temp folder."""
    for key, value in stdio_env(backend, home, NEMO_LOG_LEVEL="WARNING", NEMO_READ_TIMEOUT="5").items():
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


def test_make_a_video_from_the_terminal(
    cli_env: Path, photos: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, credits = run_json(capsys, "credits")
    assert code == cli.EXIT_OK
    assert credits["available"] == 100 and credits["anonymous"] is True

    code, uploaded = run_json(capsys, "upload", *photos)
    assert code == cli.EXIT_OK, uploaded
    assert [f["type"] for f in uploaded["files"]] == ["image", "image"]

    code, generated = run_json(capsys, "generate", "Make a 10-second video from my photos with lo-fi music")
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


def test_exit_code_for_a_bad_setting(cli_env: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
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


def test_exit_code_when_the_api_is_unreachable(cli_env: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NEMO_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NEMO_GET_RETRIES", "0")
    code, data = run_json(capsys, "credits")
    assert code == cli.EXIT_NETWORK, data
    assert data["status"] == "failed" and data["error"]["code"] == "network_error"


def test_exit_code_for_a_plan_limit(cli_env: Path, emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    emu.anonymous_export_allowed = False
    assert run_json(capsys, "generate", "make a 10 second video about tea")[0] == cli.EXIT_OK
    code, data = run_json(capsys, "export")
    assert code == cli.EXIT_ACCOUNT, data
    assert data["error"]["code"] == "plan_limit"


def test_exit_code_while_still_running(cli_env: Path, emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(capsys, "generate", "make a 10 second video about tea")[0] == cli.EXIT_OK
    emu.render_never_finishes = True
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
    assert {cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_USAGE, cli.EXIT_SETTINGS, cli.EXIT_RUNNING, cli.EXIT_ACCOUNT,
            cli.EXIT_NETWORK, cli.EXIT_INTERRUPTED} == documented


def test_console_script_exit_code_and_json(backend: EmulatorServer, home: Path) -> None:
    script = Path(sys.executable).with_name("nemovideo-mcp")
    assert script.exists(), "the nemovideo-mcp console script is not installed next to the interpreter"
    env = stdio_env(backend, home, NEMO_LOG_LEVEL="WARNING")
    proc = subprocess.run([str(script), "credits", "--json"], env=env, capture_output=True, text=True, timeout=60,
                          cwd=home)
    OUTPUTS.extend([proc.stdout, proc.stderr])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["available"] == 100
    proc = subprocess.run([str(script), "nonsense"], env=env, capture_output=True, text=True, timeout=60, cwd=home)
    assert proc.returncode == cli.EXIT_USAGE


# -- doctor -----------------------------------------------------------------------------


def checks_by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in data["checks"]}


def test_doctor_on_a_good_setup(cli_env: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    emu.add_user("good-token-123", credits=42)
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


def test_doctor_after_first_use_reports_the_anonymous_token(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_json(capsys, "credits")[0] == 0  # creates the anonymous account and the state folder
    code, data = run_json(capsys, "doctor")
    checks = checks_by_name(data)
    assert code == 0
    assert checks["state folder"]["status"] == "ok" and "private" in checks["state folder"]["detail"]
    assert "anonymous account: 100 credits" in checks["token"]["detail"]
    assert "expires" in checks["token"]["detail"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_doctor_on_a_bad_setup(cli_env: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
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


def test_install_creates_a_missing_file_and_keeps_user_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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


def test_install_with_token_copies_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
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
