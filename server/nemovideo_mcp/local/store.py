"""The state folder: small JSON/text files that must survive restarts and crashes.

The folder (by default ``~/.config/nemovideo/``; the caller passes the path)
holds the client id and the anonymous identity, which includes a token. So:

* the folder is ``0700`` and every file ``0600`` (best effort on Windows, where
  the user profile's ACLs already keep other users out);
* writes are atomic: a temp file in the same folder, fsync, ``os.replace``, then
  fsync of the folder, so a crash leaves either the old or the new content;
* a corrupted file is moved aside (``name.corrupt-<timestamp>``), never silently
  overwritten, and its contents are never logged;
* a cross-process lock (``<name>.lock``) lets two server processes (two MCP
  clients open at once) agree on one identity instead of each minting a token.

Writes raise ``OSError`` when the disk refuses (read-only, full, no permission);
the caller turns that into a user-facing message.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
import sys
import time
from pathlib import Path
from typing import Any

import filelock
import structlog

__all__ = ["StateStore"]

log = structlog.get_logger(__name__)

_MAX_STATE_BYTES = 4 * 1024 * 1024  # state files are tiny; anything bigger is not ours
_IS_WINDOWS = sys.platform == "win32"
_FORBIDDEN_IN_NAME = frozenset('/\\:\0<>"|?*')


def _validate_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("state file name must be a non-empty string")
    if name in (".", "..") or name.startswith("."):
        raise ValueError(f"state file name must not start with a dot: {name!r}")
    if any(ch in _FORBIDDEN_IN_NAME or ord(ch) < 32 for ch in name):
        raise ValueError(f"state file name must be a plain file name: {name!r}")
    if name != name.strip() or name.endswith(".") or len(name) > 120:
        raise ValueError(f"state file name is not portable: {name!r}")
    return name


def _fsync_dir(folder: Path) -> None:
    """Persist a rename: fsync the folder where the platform allows it (not Windows)."""
    if _IS_WINDOWS:
        return
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (network, FUSE) do not support it
    finally:
        os.close(fd)


class StateStore:
    """Files in one private folder. Names are plain file names (no folders)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()
        self._ensured = False

    # -- folder -----------------------------------------------------------------

    def ensure(self) -> None:
        """Create the folder with mode 0700, or tighten an existing one that we own."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = self.root.stat()
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "state path is not a folder", str(self.root))
        owned = not _IS_WINDOWS and hasattr(os, "getuid") and st.st_uid == os.getuid()
        if owned and stat.S_IMODE(st.st_mode) != 0o700:
            os.chmod(self.root, 0o700)
        self._ensured = True

    def _ensure_once(self) -> None:
        if not self._ensured or not self.root.is_dir():
            self.ensure()

    def path(self, name: str) -> Path:
        """Path of the state file *name*; ``ValueError`` for anything but a plain file name."""
        return self.root / _validate_name(name)

    # -- reading ----------------------------------------------------------------

    def _read_bytes(self, name: str) -> bytes | None:
        target = self.path(name)
        try:
            with open(target, "rb") as f:
                data = f.read(_MAX_STATE_BYTES + 1)
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            self._move_aside(name, "not a file")
            return None
        except OSError as exc:
            # Unreadable is not corrupted: leave it where it is.
            log.warning("state_file_unreadable", file=name, error=exc.strerror or type(exc).__name__)
            return None
        if len(data) > _MAX_STATE_BYTES:
            self._move_aside(name, "too large")
            return None
        return data

    def _move_aside(self, name: str, reason: str) -> None:
        source = self.path(name)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        for n in range(100):
            aside = self.root / (f"{name}.corrupt-{stamp}" + (f"-{n}" if n else ""))
            if os.path.lexists(aside):
                continue
            try:
                os.replace(source, aside)
            except FileNotFoundError:
                return  # another process already moved it
            except OSError as exc:
                log.warning(
                    "state_file_corrupted",
                    file=name,
                    reason=reason,
                    moved_to=None,
                    error=exc.strerror or type(exc).__name__,
                )
                return
            log.warning("state_file_corrupted", file=name, reason=reason, moved_to=aside.name)
            return

    def read_json(self, name: str) -> dict[str, Any] | None:
        """The JSON object in *name*, or ``None`` if it is missing, unreadable or corrupted.

        A file that is not a valid JSON object is renamed to
        ``<name>.corrupt-<UTC timestamp>`` (kept for the user; never logged).
        """
        data = self._read_bytes(name)
        if data is None:
            return None
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            self._move_aside(name, "invalid JSON")
            return None
        if not isinstance(value, dict):
            self._move_aside(name, "not a JSON object")
            return None
        return value

    def read_text(self, name: str) -> str | None:
        """The UTF-8 text in *name*, or ``None`` if missing, unreadable or not UTF-8 (moved aside)."""
        data = self._read_bytes(name)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self._move_aside(name, "not UTF-8 text")
            return None

    # -- writing ----------------------------------------------------------------

    def _atomic_write(self, name: str, data: bytes) -> None:
        target = self.path(name)
        self._ensure_once()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
        while True:
            tmp = self.root / f".{name}.{secrets.token_hex(6)}.tmp"
            try:
                fd = os.open(tmp, flags, 0o600)
                break
            except FileExistsError:
                continue
        try:
            with os.fdopen(fd, "wb") as f:
                if not _IS_WINDOWS:
                    os.fchmod(f.fileno(), 0o600)  # the umask may have removed bits we need
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self._replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.root)

    @staticmethod
    def _replace(tmp: Path, target: Path) -> None:
        # On Windows a reader holding the target open makes os.replace fail briefly: retry a little.
        attempts = 20 if _IS_WINDOWS else 1
        for attempt in range(attempts):
            try:
                os.replace(tmp, target)
                return
            except PermissionError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05)

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        """Atomically replace *name* with *data* as JSON (file mode 0600)."""
        payload = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        self._atomic_write(name, payload.encode("utf-8"))

    def write_text(self, name: str, text: str) -> None:
        """Atomically replace *name* with *text* in UTF-8 (file mode 0600)."""
        self._atomic_write(name, text.encode("utf-8"))

    # -- locking ----------------------------------------------------------------

    def _lock_path(self, name: str) -> Path:
        lock_path = self.path(f"{_validate_name(name)}.lock")
        self._ensure_once()
        return lock_path

    def lock(self, name: str = "identity", timeout: float = 30) -> filelock.FileLock:
        """A cross-process lock on ``<name>.lock`` in the folder (mode 0600).

        Use as ``with store.lock(): ...``. Raises ``filelock.Timeout`` after
        *timeout* seconds. Blocking: do not use it from a coroutine, use
        :meth:`async_lock` there.
        """
        return filelock.FileLock(self._lock_path(name), timeout=timeout, mode=0o600)

    def async_lock(self, name: str = "identity", timeout: float = 30) -> filelock.AsyncFileLock:
        """The same lock for coroutines: ``async with store.async_lock(): ...``.

        Waiting happens in a worker thread, so the event loop keeps running.
        Raises ``filelock.Timeout`` after *timeout* seconds. asyncio only.
        """
        return filelock.AsyncFileLock(self._lock_path(name), timeout=timeout, mode=0o600)
