"""The state folder: private, atomic, crash-safe, shared safely between processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import filelock
import pytest
from structlog.testing import capture_logs

from nemovideo_mcp.local.store import StateStore

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX mode bits")
SERVER_DIR = Path(__file__).resolve().parents[1] / "server"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "config" / "nemovideo")


@POSIX
def test_ensure_creates_private_folder(store: StateStore) -> None:
    old = os.umask(0o022)
    try:
        store.ensure()
    finally:
        os.umask(old)
    assert store.root.is_dir()
    assert _mode(store.root) == 0o700


@POSIX
def test_ensure_tightens_an_existing_folder(store: StateStore) -> None:
    store.root.mkdir(parents=True)
    os.chmod(store.root, 0o755)
    store.ensure()
    assert _mode(store.root) == 0o700


def test_ensure_refuses_a_file_in_the_way(store: StateStore) -> None:
    store.root.parent.mkdir(parents=True)
    store.root.write_text("not a folder")
    with pytest.raises(OSError):
        store.ensure()


@POSIX
def test_written_files_are_0600_even_with_a_loose_umask(store: StateStore) -> None:
    old = os.umask(0)
    try:
        store.write_json("identity.json", {"token": "nmv_x"})
        store.write_text("client_id", "abc")
    finally:
        os.umask(old)
    assert _mode(store.path("identity.json")) == 0o600
    assert _mode(store.path("client_id")) == 0o600
    assert _mode(store.root) == 0o700  # write creates the folder on demand


def test_json_round_trip_and_missing(store: StateStore) -> None:
    assert store.read_json("identity.json") is None
    data = {"token": "nmv_usr_x", "credits": 100, "名前": "ビデオ"}
    store.write_json("identity.json", data)
    assert store.read_json("identity.json") == data
    store.write_json("identity.json", {"v": 2})
    assert store.read_json("identity.json") == {"v": 2}


def test_text_round_trip(store: StateStore) -> None:
    assert store.read_text("client_id") is None
    store.write_text("client_id", "c1d2-e3f4\n")
    assert store.read_text("client_id") == "c1d2-e3f4\n"


def test_atomic_write_leaves_no_temp_file(store: StateStore) -> None:
    for i in range(5):
        store.write_json("session.json", {"i": i})
    assert sorted(p.name for p in store.root.iterdir()) == ["session.json"]


def test_crash_mid_write_keeps_previous_content(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.write_json("identity.json", {"token": "old"})

    def boom(fd: int) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk on fire"):
        store.write_json("identity.json", {"token": "new"})
    monkeypatch.undo()
    assert store.read_json("identity.json") == {"token": "old"}
    assert sorted(p.name for p in store.root.iterdir()) == ["identity.json"]


def test_interrupt_mid_write_keeps_previous_content(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.write_text("client_id", "old")
    real_replace = os.replace

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.write_text("client_id", "new")
    monkeypatch.setattr(os, "replace", real_replace)
    assert store.read_text("client_id") == "old"
    assert [p.name for p in store.root.iterdir()] == ["client_id"]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2, 3]", b"\xff\xfe\x00garbage", b""])
def test_corrupted_json_is_moved_aside_without_logging_contents(store: StateStore, content: bytes) -> None:
    store.ensure()
    secret_content = content + b" nmv_usr_SECRET_TOKEN_1234" if content else content
    store.path("identity.json").write_bytes(secret_content)
    with capture_logs() as logs:
        assert store.read_json("identity.json") is None
    assert not store.path("identity.json").exists()
    aside = [p for p in store.root.iterdir() if p.name.startswith("identity.json.corrupt-")]
    assert len(aside) == 1
    assert aside[0].read_bytes() == secret_content  # kept for the user
    assert [e["event"] for e in logs] == ["state_file_corrupted"]
    assert "SECRET" not in repr(logs)
    # A second corruption in the same second gets its own name.
    store.path("identity.json").write_bytes(b"{")
    assert store.read_json("identity.json") is None
    assert len([p for p in store.root.iterdir() if ".corrupt-" in p.name]) == 2


def test_undecodable_text_is_moved_aside(store: StateStore) -> None:
    store.ensure()
    store.path("client_id").write_bytes(b"\xff\xfe\xfd")
    assert store.read_text("client_id") is None
    assert any(p.name.startswith("client_id.corrupt-") for p in store.root.iterdir())


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../evil", "a/b", "a\\b", ".hidden", "C:evil", "nul\0byte", " pad", "x" * 200]
)
def test_names_must_be_plain_file_names(store: StateStore, name: str) -> None:
    with pytest.raises(ValueError):
        store.path(name)
    with pytest.raises(ValueError):
        store.write_text(name, "x")
    with pytest.raises(ValueError):
        store.read_json(name)
    with pytest.raises(ValueError):
        store.lock(name)
    assert not (store.root.parent / "evil").exists()


def test_path_is_inside_the_root(store: StateStore) -> None:
    assert store.path("identity.json") == store.root / "identity.json"


@POSIX
def test_lock_file_is_private(store: StateStore) -> None:
    with store.lock("identity", timeout=5):
        assert _mode(store.path("identity.lock")) == 0o600


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from nemovideo_mcp.local.store import StateStore

    root, log, tag = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    store = StateStore(root)
    with store.lock("identity", timeout=30):
        with open(log, "a") as f:
            f.write(f"enter {tag}\\n")
        time.sleep(0.4)
        with open(log, "a") as f:
            f.write(f"exit {tag}\\n")
    """
)


def _spawn(store: StateStore, log: Path, tag: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SERVER_DIR), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", _HOLDER, str(store.root), str(log), tag], env=env)


def test_two_processes_taking_the_lock_serialize(store: StateStore, tmp_path: Path) -> None:
    log = tmp_path / "order.log"
    procs = [_spawn(store, log, tag) for tag in ("a", "b", "c")]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    lines = log.read_text().split()
    # Entries and exits alternate: nobody enters while another holds the lock.
    assert lines[0::2] == ["enter", "exit"] * 3
    tags = lines[1::2]
    assert tags[0::2] == tags[1::2]
    assert sorted(tags[0::2]) == ["a", "b", "c"]


def test_lock_times_out_while_another_process_holds_it(store: StateStore, tmp_path: Path) -> None:
    log = tmp_path / "order.log"
    proc = _spawn(store, log, "holder")
    try:
        deadline = time.monotonic() + 30
        while not (log.exists() and "enter" in log.read_text()):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with pytest.raises(filelock.Timeout), store.lock("identity", timeout=0.05):
            pass
    finally:
        assert proc.wait(timeout=60) == 0
    with store.lock("identity", timeout=5):
        pass


@pytest.mark.anyio
async def test_async_lock_waits_without_blocking_the_event_loop(store: StateStore) -> None:
    ticks = 0
    acquired = anyio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not acquired.is_set():
            ticks += 1
            await anyio.sleep(0.01)

    holder = store.lock("identity", timeout=5)
    holder.acquire()

    async def waiter() -> None:
        async with store.async_lock("identity", timeout=10):
            acquired.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        tg.start_soon(waiter)
        await anyio.sleep(0.3)
        assert not acquired.is_set()
        assert ticks >= 10  # the loop kept running while the waiter waited
        holder.release()
    assert acquired.is_set()


@pytest.mark.anyio
async def test_async_lock_times_out(store: StateStore) -> None:
    with store.lock("identity", timeout=5), pytest.raises(filelock.Timeout):
        async with store.async_lock("identity", timeout=0.1):
            pass


def test_json_is_written_with_utf8(store: StateStore) -> None:
    store.write_json("x.json", {"k": "é"})
    assert json.loads(store.path("x.json").read_bytes().decode("utf-8")) == {"k": "é"}
