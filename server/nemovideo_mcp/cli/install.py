"""`nemovideo-mcp install <client>`: add our server to an MCP client's config file.

The merge only touches our own entry under `mcpServers`: other servers and
other keys are kept as they are, a value the user set in our entry's `env`
(a token, an export folder) is kept, and running it twice changes nothing.
Before a file is changed a timestamped backup is written next to it;
`--dry-run` prints the diff and writes nothing. The command is an absolute
path, because desktop clients do not see the shell's PATH ("spawn uvx ENOENT").
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIENTS = ("claude-desktop", "cursor", "claude-code")
PACKAGE = "nemovideo-mcp"
# Where uvx gets the package until it is published on PyPI (what the snippets in manifests/clients/ use).
GIT_SOURCE = "git+https://github.com/nemovideo/nemovideo-mcp"

# What each client's snippet puts in `env` (see manifests/clients/): Cursor and Claude Code expand variables.
CLIENT_ENV: dict[str, dict[str, str]] = {
    "claude-desktop": {},
    "cursor": {"NEMO_TOKEN": "${env:NEMO_TOKEN}"},
    "claude-code": {"NEMO_TOKEN": "${NEMO_TOKEN:-}"},
}


class InstallError(Exception):
    """The config file cannot be merged safely; the message says why and what to do."""


@dataclass
class Plan:
    path: Path
    old_text: str | None
    new_text: str
    # The new file holds a secret (--with-token): it and its backup are made readable by the owner only.
    private: bool = False

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    def diff(self) -> str:
        old = (self.old_text or "").splitlines(keepends=True)
        new = self.new_text.splitlines(keepends=True)
        label = str(self.path)
        return "".join(difflib.unified_diff(old, new, fromfile=label, tofile=label + " (new)"))


def config_path(client: str, *, home: Path | None = None, cwd: Path | None = None) -> Path:
    """The client's default config file on this OS."""
    home = home or Path.home()
    if client == "claude-desktop":
        if sys.platform == "darwin":
            return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
        if sys.platform == "win32":
            appdata = os.environ.get("APPDATA")
            base = Path(appdata) if appdata else home / "AppData" / "Roaming"
            return base / "Claude" / "claude_desktop_config.json"
        return home / ".config" / "Claude" / "claude_desktop_config.json"
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    if client == "claude-code":
        # Project scope: the .mcp.json Claude Code reads in the folder it is started from.
        return (cwd or Path.cwd()) / ".mcp.json"
    raise InstallError(f"Unknown client {client!r}; choose one of {', '.join(CLIENTS)}.")


def _is_ephemeral(prefix: str) -> bool:
    """True inside a throwaway environment (uvx's cache), whose paths must not go into a config."""
    lowered = prefix.replace("\\", "/").lower()
    return any(part in lowered for part in ("/uv/archive-v", "/.cache/uv/", "/uv/cache/", "/pipx/.cache/"))


def _venv_script() -> Path | None:
    folder = Path(sys.executable).parent
    for name in (PACKAGE, PACKAGE + ".exe"):
        candidate = folder / name
        if candidate.is_file():
            return candidate.absolute()
    return None


def _direct_url() -> dict[str, Any] | None:
    """This installation's PEP 610 record (where pip, pipx or uv installed it from), if it has one."""
    from importlib import metadata

    try:
        text = metadata.distribution(PACKAGE).read_text("direct_url.json")
    except (metadata.PackageNotFoundError, OSError):
        return None
    try:
        data = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("url"), str) else None


def install_source(record: dict[str, Any] | None = None) -> str | None:
    """What `uvx --from` needs to start this installation again; None when it came from a package index.

    A checkout (`uvx --from .`, `pip install .`) gives its absolute folder, a git URL gives
    `git+URL@commit`, an archive its path or URL.
    """
    record = record if record is not None else _direct_url()
    if not record:
        return None
    url = str(record["url"])
    vcs = record.get("vcs_info")
    if isinstance(vcs, dict):
        revision = vcs.get("commit_id") or vcs.get("requested_revision")
        spec = f"{vcs.get('vcs', 'git')}+{url}"
        return f"{spec}@{revision}" if revision else spec
    if url.startswith("file:"):
        from urllib.parse import urlsplit
        from urllib.request import url2pathname

        return str(Path(url2pathname(urlsplit(url).path)))
    return url


def _uvx_command(uvx: str) -> list[str]:
    source = install_source()
    if source is None:  # installed from the package index: uvx fetches the same package
        return [str(Path(uvx).absolute()), PACKAGE]
    if "://" not in source and "+" not in source.split("/", 1)[0] and not Path(source).exists():
        raise InstallError(
            f"This {PACKAGE} was installed from {source}, which no longer exists, so a client could not start it. "
            f"Install it to stay (`pipx install <checkout>` or `python -m pip install <checkout>` in a virtual "
            "environment) and run install from there."
        )
    return [str(Path(uvx).absolute()), "--from", source, PACKAGE]


def resolve_command(use: str = "auto") -> list[str]:
    """The absolute command (and arguments) a client should launch: one that starts this installation.

    Inside uvx's throwaway environment that is uvx again, with `--from` the checkout or URL this
    run came from (`uvx nemovideo-mcp` alone would fetch the package from the index instead).
    """
    uvx = shutil.which("uvx")
    script = _venv_script()
    python = [str(Path(sys.executable).absolute()), "-m", "nemovideo_mcp"]
    if use == "uvx":
        if not uvx:
            raise InstallError("uvx is not on PATH. Install uv (https://docs.astral.sh/uv/) or use --use script.")
        return _uvx_command(uvx)
    if use == "script":
        if script is None:
            raise InstallError(f"The {PACKAGE} console script was not found next to {sys.executable}.")
        return [str(script)]
    if use == "python":
        return python
    if _is_ephemeral(sys.prefix):
        if not uvx:
            raise InstallError(
                f"This {PACKAGE} runs from a temporary environment and uvx is not on PATH, so a client could not "
                "start it again. Put uvx on PATH, or install the package to stay (pipx or pip) and run install "
                "from there."
            )
        return _uvx_command(uvx)
    if script is not None:
        return [str(script)]
    if uvx:
        return _uvx_command(uvx)
    return python


def server_entry(client: str, command: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if client == "claude-code":
        entry["type"] = "stdio"
    entry["command"] = command[0]
    entry["args"] = list(command[1:])
    if CLIENT_ENV[client]:
        entry["env"] = dict(CLIENT_ENV[client])
    return entry


def merge(
    config: dict[str, Any], name: str, entry: dict[str, Any], *, forced_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """`config` with our entry set; everything else, and env values the user set in our entry, kept.

    `forced_env` (a token given with --with-token) overrides what the entry had.
    """
    merged = copy.deepcopy(config)
    servers = merged.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise InstallError('"mcpServers" in the config is not an object; fix the file by hand first.')
    current = servers.get(name)
    new_entry: dict[str, Any] = copy.deepcopy(current) if isinstance(current, dict) else {}
    for stale in ("url", "headers", "transport"):  # left by an earlier HTTP entry of the same name
        new_entry.pop(stale, None)
    if new_entry.get("type") not in (None, "stdio"):
        new_entry.pop("type")
    new_entry.update({key: copy.deepcopy(value) for key, value in entry.items() if key != "env"})
    old_env = new_entry.get("env") if isinstance(new_entry.get("env"), dict) else {}
    env = {**entry.get("env", {}), **(old_env or {}), **(forced_env or {})}
    if env:
        new_entry["env"] = env
    servers[name] = new_entry
    return merged


def _dump(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def plan_install(path: Path, name: str, entry: dict[str, Any], *, forced_env: dict[str, str] | None = None) -> Plan:
    old_text: str | None = None
    config: dict[str, Any] = {}
    if path.exists():
        try:
            old_text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InstallError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        if old_text.strip():
            try:
                loaded = json.loads(old_text)
            except json.JSONDecodeError as exc:
                raise InstallError(
                    f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}); fix it or move it away, then run "
                    "install again. Nothing was changed."
                ) from None
            if not isinstance(loaded, dict):
                raise InstallError(f"{path} does not hold a JSON object; nothing was changed.")
            config = loaded
    new_text = _dump(merge(config, name, entry, forced_env=forced_env))
    if old_text is not None and old_text.strip() and _dump(json.loads(old_text)) == new_text:
        new_text = old_text  # same content, different formatting: leave the file alone
    return Plan(path=path, old_text=old_text, new_text=new_text, private=bool(forced_env))


def _write_backup(path: Path) -> Path:
    """A copy of *path* next to it, readable by the owner only: it may hold a token."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    counter = 1
    while True:
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
            break
        except FileExistsError:
            backup = path.with_name(f"{path.name}.bak-{stamp}-{counter}")
            counter += 1
    try:
        with os.fdopen(fd, "wb") as handle, path.open("rb") as source:
            shutil.copyfileobj(source, handle)
        shutil.copystat(path, backup, follow_symlinks=True)
        os.chmod(backup, 0o600)  # copystat copied the original's mode
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(backup)
        raise
    return backup


def apply(plan: Plan) -> Path | None:
    """Write the plan; returns the backup's path (None when the file did not exist or did not change).

    The backup is private (0600). The new file keeps the old one's mode, except that a file holding a
    token (`plan.private`) is made private too.
    """
    if not plan.changed:
        return None
    path = plan.path
    path.parent.mkdir(parents=True, exist_ok=True)
    backup: Path | None = None
    mode: int | None = None
    if path.exists():
        backup = _write_backup(path)
        mode = path.stat().st_mode & 0o777
    if plan.private:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(plan.new_text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return backup


def run_install(
    client: str,
    *,
    config: str | None = None,
    name: str = "nemovideo",
    use: str = "auto",
    with_token: bool = False,
    dry_run: bool = False,
) -> int:
    from rich.console import Console
    from rich.text import Text

    out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    err = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    try:
        path = Path(config).expanduser().absolute() if config else config_path(client)
        token = os.environ.get("NEMO_TOKEN", "").strip() if with_token and client != "claude-code" else None
        if with_token and client != "claude-code" and not token:
            raise InstallError("--with-token was given but NEMO_TOKEN is not set in this shell.")
        command = resolve_command(use)
        entry = server_entry(client, command)
        plan = plan_install(path, name, entry, forced_env={"NEMO_TOKEN": token} if token else None)
        if dry_run:
            if plan.changed:
                out.print(Text(plan.diff()))
                err.print(f"Dry run: {path} was not changed.")
            else:
                err.print(f"{path} already has this entry; nothing to change.")
            return 0
        backup = apply(plan)
    except InstallError as exc:
        err.print(Text("Error: ", style="bold red") + Text(str(exc)))
        return 1
    except OSError as exc:
        err.print(Text("Error: ", style="bold red") + Text(f"cannot write the config: {exc}"))
        return 1
    if not plan.changed:
        out.print(f"{path} already has the {name!r} server; nothing changed.")
    else:
        out.print(f"Added the {name!r} server to {path}.")
        if backup is not None:
            out.print(f"Backup of the previous file: {backup}")
        if plan.private:
            out.print(Text("The file holds your token in plain text: it and its backup are private to you (0600)."))
        out.print(f"Restart {client.replace('-', ' ').title()} to load it.")
    if client == "claude-code" and not config:
        out.print(
            Text(
                f"Why there: Claude Code reads a project's servers from .mcp.json in the folder it is started in, and "
                f"this is the current folder ({path.parent}). Run install from your project's folder, or pass "
                f"--config PATH; for all your projects: `claude mcp add --scope user {name} -- {shlex.join(command)}`."
            )
        )
    return 0
