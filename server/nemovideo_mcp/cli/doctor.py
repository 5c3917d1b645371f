"""`nemovideo-mcp doctor`: check the setup and say what to fix.

Checks, in order: the settings, the state folder (exists or can be created,
private, writable), the export folder, whether the API answers, whether the
token is accepted and when it expires, the ffmpeg used for local rendering,
and whether `uvx` is on PATH for client configs. It never creates an
anonymous account (there is one per computer per week) and never prints a
token.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import anyio

from nemovideo_mcp.backend.auth import IDENTITY_FILE, token_expired
from nemovideo_mcp.settings import Settings, env_name, load_settings

Status = Literal["ok", "warn", "fail"]
_IS_WINDOWS = sys.platform == "win32"


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _writable(folder: Path) -> str | None:
    """None when a file can be created in `folder`, else the reason."""
    try:
        fd, name = tempfile.mkstemp(prefix=".doctor-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def check_settings() -> tuple[Settings, Check]:
    settings, error = load_settings()
    if error is not None:
        return settings, Check("settings", "fail", error.message, "Fix or unset the variable named above.")
    token = "set (NEMO_TOKEN)" if settings.token else "not set: a free anonymous account is used"
    api = "the local studio" if settings.uses_local_backend else settings.api_url
    return settings, Check("settings", "ok", f"API {api}; token {token}; language {settings.language}")


def check_state_dir(settings: Settings) -> Check:
    folder = settings.state_dir
    var = env_name("state_dir")
    if not folder.exists():
        base = _nearest_existing(folder.parent)
        reason = _writable(base) if base.is_dir() else "not a folder"
        if reason:
            return Check(
                "state folder",
                "fail",
                f"{folder} does not exist and cannot be created in {base}: {reason}",
                f"Set {var} to a folder you can write, or fix the permissions of {base}.",
            )
        return Check("state folder", "ok", f"{folder} will be created (mode 0700) on first use")
    if not folder.is_dir():
        return Check("state folder", "fail", f"{folder} is not a folder", f"Move it away or set {var} elsewhere.")
    reason = _writable(folder)
    if reason:
        return Check(
            "state folder",
            "fail",
            f"{folder} is not writable: {reason}",
            f"Fix its permissions (chmod 700 {folder}) or set {var} to a folder you own.",
        )
    if _IS_WINDOWS or not hasattr(os, "getuid"):
        return Check("state folder", "ok", f"{folder} is writable")
    info = folder.stat()
    if info.st_uid != os.getuid():
        return Check(
            "state folder",
            "fail",
            f"{folder} belongs to another user (uid {info.st_uid})",
            f"Set {var} to a folder you own; the token stored there must be private.",
        )
    problems = []
    if stat.S_IMODE(info.st_mode) & 0o077:
        problems.append(f"the folder is mode {stat.S_IMODE(info.st_mode):04o}")
    loose = [p.name for p in folder.iterdir() if p.is_file() and stat.S_IMODE(p.stat().st_mode) & 0o077]
    if loose:
        problems.append("readable by others: " + ", ".join(sorted(loose)[:5]))
    if problems:
        return Check(
            "state folder",
            "warn",
            f"{folder}: {'; '.join(problems)} (it holds your token)",
            f"chmod 700 {folder} && chmod 600 {folder}/* (the server also tightens it on start)",
        )
    return Check("state folder", "ok", f"{folder} is private (0700) and writable")


def check_export_dir(settings: Settings) -> Check:
    folder = settings.export_dir
    var = env_name("export_dir")
    target = folder if folder.exists() else _nearest_existing(folder.parent)
    if not target.is_dir():
        return Check("export folder", "fail", f"{target} is not a folder", f"Set {var} to a folder.")
    reason = _writable(target)
    if reason:
        return Check(
            "export folder",
            "fail",
            f"cannot save MP4s in {folder}: {reason}",
            f"Set {var} to a folder you can write (relative paths start at your home folder).",
        )
    note = "" if folder.exists() else " (will be created)"
    return Check("export folder", "ok", f"MP4s are saved in {folder}{note}")


async def _probe_api(settings: Settings) -> Check:
    import httpx

    url = settings.api_url
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(settings.connect_timeout)) as client:
            response = await client.get(url + "/")
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        return Check(
            "API",
            "fail",
            f"cannot reach {url}: {reason}",
            f"Check the network, a proxy (HTTPS_PROXY) or firewall, and {env_name('api_url')}. "
            "NEMO_API_URL=local runs the built-in backend with no network.",
        )
    elapsed = time.monotonic() - started
    return Check("API", "ok", f"{url} answers (HTTP {response.status_code} in {elapsed:.2f} s)")


def _jwt_expiry(token: str) -> str | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return datetime.fromtimestamp(float(payload["exp"]), UTC).isoformat()
    except (ValueError, KeyError, TypeError):
        return None


async def _credits_with(settings: Settings, token: str) -> tuple[int | None, str | None]:
    """(available credits, None) when the token is accepted, else (None, error code)."""
    from nemovideo_mcp.attribution import attribution_headers, detect_platform
    from nemovideo_mcp.backend.client import NemoApi
    from nemovideo_mcp.backend.transport import BearerToken
    from nemovideo_mcp.errors import NemoError
    from nemovideo_mcp.text.redact import register_secret

    register_secret(token)
    api = NemoApi(
        settings.api_url,
        headers=attribution_headers(detect_platform(settings.platform)),
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        get_retries=0,
    )
    api.authorize(BearerToken(token))
    try:
        balance = await api.credits()
    except NemoError as exc:
        return None, exc.code
    finally:
        await api.aclose()
    return balance.available, None


async def check_token(settings: Settings, api_ok: bool) -> Check:
    if settings.token is not None:
        token = settings.token.get_secret_value()
        expiry = _jwt_expiry(token)
        if expiry and token_expired(expiry):
            return Check(
                "token",
                "fail",
                f"NEMO_TOKEN expired on {expiry}",
                "Copy a fresh token from your NemoVideo account into NEMO_TOKEN, or unset it to use a free "
                "anonymous account.",
            )
        if not api_ok:
            return Check("token", "warn", "NEMO_TOKEN is set but could not be checked (API unreachable)")
        available, code = await _credits_with(settings, token)
        if code in ("auth_failed", "token_rejected"):
            return Check(
                "token",
                "fail",
                "NemoVideo rejected NEMO_TOKEN (invalid or expired)",
                "Copy a fresh token from your NemoVideo account into NEMO_TOKEN, or unset it to use a free "
                "anonymous account.",
            )
        if code is not None:
            return Check("token", "warn", f"NEMO_TOKEN could not be checked ({code})")
        until = f", expires {expiry}" if expiry else ""
        return Check("token", "ok", f"NEMO_TOKEN accepted: {available} credits available{until}")

    stored_path = settings.state_dir / IDENTITY_FILE
    try:
        stored = json.loads(stored_path.read_text(encoding="utf-8")) if stored_path.is_file() else None
    except (OSError, ValueError):
        return Check(
            "token",
            "warn",
            f"{stored_path} is unreadable; a new anonymous account is made on first use",
            f"Remove {stored_path} if this repeats.",
        )
    if not isinstance(stored, dict) or stored.get("api_url") != settings.api_url or not stored.get("token"):
        return Check("token", "ok", "no token yet: a free anonymous account is created on first use")
    expires_at = str(stored.get("expires_at") or "")
    if expires_at and token_expired(expires_at):
        return Check(
            "token",
            "ok",
            f"the stored anonymous token expired on {expires_at}; a new one is obtained "
            "automatically (one per computer per week); set NEMO_TOKEN to keep your projects",
        )
    if not api_ok:
        return Check("token", "warn", "a stored anonymous token exists but could not be checked (API unreachable)")
    available, code = await _credits_with(settings, str(stored["token"]))
    if code is not None:
        return Check(
            "token",
            "warn",
            f"the stored anonymous token was not accepted ({code}); it is renewed automatically",
        )
    until = f", expires {expires_at}" if expires_at else ""
    return Check("token", "ok", f"anonymous account: {available} credits available{until}")


def check_ffmpeg(settings: Settings) -> Check:
    status: Status = "fail" if settings.uses_local_backend else "warn"
    fix = (
        "Reinstall it (python -m pip install --force-reinstall imageio-ffmpeg) or set IMAGEIO_FFMPEG_EXE to an "
        "ffmpeg binary. Only the local studio (NEMO_API_URL=local, the demo) renders on this computer."
    )
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        proc = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except Exception as exc:  # any failure here means "no usable ffmpeg"
        return Check("ffmpeg", status, f"no usable ffmpeg for local rendering: {exc}", fix)
    first = (proc.stdout or "").splitlines()[0] if proc.stdout else ""
    if proc.returncode != 0 or not first:
        return Check("ffmpeg", status, f"{exe} does not run (exit {proc.returncode})", fix)
    version = first.split(" Copyright")[0]
    from nemovideo_mcp.studio.render.model import MIN_FFMPEG_MAJOR

    # Release builds say "ffmpeg version 6.1.1-..." or "n9.0.2-..."; git snapshots ("N-112345-g...") are new.
    release = re.match(r"ffmpeg version n?(\d+)\.", first)
    if release and int(release.group(1)) < MIN_FFMPEG_MAJOR:
        return Check(
            "ffmpeg",
            status,
            f"{version} ({exe}) is too old for the local studio, which needs ffmpeg {MIN_FFMPEG_MAJOR} or newer "
            "(it reads its filter graph with -/filter_complex)",
            "Unset IMAGEIO_FFMPEG_EXE to use the ffmpeg of the imageio-ffmpeg wheel, or point it at ffmpeg "
            f"{MIN_FFMPEG_MAJOR} or newer.",
        )
    return Check("ffmpeg", "ok", f"{version} ({exe})")


def check_studio(settings: Settings) -> Check:
    """The local studio's storage and the font it draws titles with (Latin and CJK)."""
    from nemovideo_mcp.app.service import STUDIO_FOLDER
    from nemovideo_mcp.studio.projects import DEFAULT_MAX_RENDER_BYTES, KEEP_RENDERS_PER_PROJECT, ProjectStore
    from nemovideo_mcp.studio.render import font_report

    root = settings.state_dir / STUDIO_FOLDER
    try:
        font = font_report()
    except Exception as exc:  # a missing font package must be reported, not crash the doctor
        return Check(
            "studio",
            "warn",
            f"no font for titles and captions: {exc}",
            "Reinstall the server (python -m pip install --force-reinstall noto-cjk-sans-otc).",
        )
    if not root.is_dir():
        return Check("studio", "ok", f"no local projects yet (they will be kept in {root}); font: {font}")
    size = ProjectStore(root).size_bytes()
    return Check(
        "studio",
        "ok",
        f"local projects in {root}: {size / 2**20:.1f} MB (the newest {KEEP_RENDERS_PER_PROJECT} renders per "
        f"project are kept, at most {DEFAULT_MAX_RENDER_BYTES / 2**30:.0f} GB of renders in all); font: {font}",
    )


def check_uvx() -> Check:
    found = shutil.which("uvx")
    if found:
        return Check("uvx", "ok", f"{found} (client configs may launch `uvx nemovideo-mcp`)")
    return Check(
        "uvx",
        "warn",
        'uvx is not on PATH: a client config that launches `uvx` fails with "spawn uvx ENOENT"',
        "Install uv (https://docs.astral.sh/uv/), or run `nemovideo-mcp install <client>`, which writes the "
        "absolute path of this install.",
    )


async def _all_checks() -> list[Check]:
    settings, first = check_settings()
    checks = [first, check_state_dir(settings), check_export_dir(settings)]
    if settings.uses_local_backend:
        checks.append(Check("API", "ok", "local studio (NEMO_API_URL=local): free, no network needed"))
        checks.append(Check("token", "ok", "local studio: a local account is used, no token needed"))
    else:
        api = await _probe_api(settings)
        checks.append(api)
        checks.append(await check_token(settings, api.status == "ok"))
    checks.append(await anyio.to_thread.run_sync(check_ffmpeg, settings))
    checks.append(await anyio.to_thread.run_sync(check_studio, settings))
    checks.append(check_uvx())
    return checks


def collect() -> list[Check]:
    return anyio.run(_all_checks)


def run_doctor(*, as_json: bool = False) -> int:
    from rich.console import Console
    from rich.text import Text

    from nemovideo_mcp import __version__
    from nemovideo_mcp.text.redact import redact

    checks = collect()
    failed = any(c.status == "fail" for c in checks)
    out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    if as_json:
        data = {"ok": not failed, "version": __version__, "checks": [asdict(c) for c in checks]}
        out.print_json(redact(json.dumps(data, ensure_ascii=False)), highlight=False)
        return 1 if failed else 0
    out.print(Text(f"nemovideo-mcp {__version__} doctor", style="bold"))
    marks = {"ok": ("OK  ", "green"), "warn": ("WARN", "yellow"), "fail": ("FAIL", "bold red")}
    for check in checks:
        mark, style = marks[check.status]
        line = Text(mark, style=style) + Text(f"  {check.name}: ") + Text(redact(check.detail))
        out.print(line)
        if check.fix:
            out.print(Text("      fix: ", style="dim") + Text(redact(check.fix)))
    problems = sum(c.status == "fail" for c in checks)
    if failed:
        out.print(Text(f"{problems} problem(s) found.", style="bold red"))
    else:
        out.print(Text("All checks passed.", style="bold green"))
    return 1 if failed else 0
