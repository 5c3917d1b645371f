"""Peak memory of the stdio server while uploading files of growing size.

Uploads stream from disk, so the server's peak resident memory (VmHWM, Linux)
must not grow with the file: the table shows it after a 1 MB, a 50 MB and a
190 MB upload (the backend's limit is 200 MB), each to a fresh server. The backend is the real studio
(behaving like the cloud, `support.cloud`), which keeps only media ffmpeg can read: each file is a real
one-second MP4 grown to its size with a `free` box, which players skip.

    python bench/upload_memory.py
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from nemovideo_mcp.media.probe import ffmpeg_exe
from nemovideo_mcp.studio.app import Studio, create_app
from nemovideo_mcp.studio.server import LoopbackServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test backends live with the tests
from support.cloud import CloudQuirks

SIZES_MB = (1, 50, 190)


def make_file(folder: Path, megabytes: int) -> Path:
    """A real MP4 of `megabytes`: one second of video, then a `free` box of zeros."""
    path = folder / f"clip-{megabytes}mb.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
         "-i", "color=c=blue:s=64x64:d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
         str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    padding = (megabytes << 20) - path.stat().st_size
    with path.open("ab") as out:
        out.write(struct.pack(">I", padding) + b"free")
        chunk = b"\x00" * (1 << 20)
        left = padding - 8
        while left > 0:
            out.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
    return path


def peak_rss_mb(state_dir: str) -> float:
    """VmHWM of the server process started with this state folder."""
    marker = f"NEMO_STATE_DIR={state_dir}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            continue
    raise RuntimeError("server process not found")


async def one(url: str, folder: Path, megabytes: int) -> tuple[float, float, float]:
    state = str(folder / f"state-{megabytes}")
    env = {
        "HOME": str(folder),
        "PATH": os.environ.get("PATH", ""),
        "NEMO_API_URL": url,
        "NEMO_STATE_DIR": state,
        "NEMO_UPLOAD_DIRS": str(folder),
        "NEMO_LOG_LEVEL": "WARNING",
    }
    path = make_file(folder, megabytes)
    params = StdioServerParameters(command=sys.executable, args=["-m", "nemovideo_mcp"], env=env)
    async with Client(params) as client:
        await client.call_tool("credits", {})
        before = peak_rss_mb(state)
        began = time.perf_counter()
        result = await client.call_tool("upload", {"sources": [str(path)]})
        took = time.perf_counter() - began
        assert not result.is_error, result
        after = peak_rss_mb(state)
    path.unlink()
    return before, after, took


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        studio = Studio(Path(tmp) / "studio")
        with LoopbackServer(CloudQuirks(create_app(studio), studio)) as backend:
            rows = [(mb, *await one(backend.url, Path(tmp), mb)) for mb in SIZES_MB]
    print(f"{'file MB':>8} {'peak RSS before MB':>19} {'peak RSS after MB':>18} {'upload s':>9}")
    for mb, before, after, took in rows:
        print(f"{mb:>8} {before:>19.1f} {after:>18.1f} {took:>9.2f}")


if __name__ == "__main__":
    anyio.run(main)
