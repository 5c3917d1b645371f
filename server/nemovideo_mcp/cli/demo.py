"""`nemovideo-mcp demo`: one scripted session, end to end, with no account.

It launches this package's real MCP server over stdio on the built-in local
backend (NEMO_API_URL=local) and drives it the way an agent would: upload
two photos, generate, look at the timeline, export. The MP4 it leaves behind
is a real H.264 file.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from rich.console import Console

# soft_wrap: let the terminal wrap lines, so piped output keeps whole sentences.
console = Console(stderr=False, highlight=False, soft_wrap=True)

STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("Check credits", "credits", {}),
    ("Upload two photos", "upload", {}),
    (
        "Generate a video",
        "generate",
        {"instruction": 'Make a 10-second video from my photos with the title "Hello NemoVideo" and lo-fi BGM at 35%'},
    ),
    ("Show the timeline", "state", {}),
    ("Export the MP4", "export", {"filename": "hello-nemovideo.mp4"}),
]


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, written by hand so the demo needs no image library."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def describe_video(path: Path) -> str:
    """What ffmpeg (from the imageio-ffmpeg wheel) reads in the file: proof that it is a real video."""
    import imageio_ffmpeg

    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, timeout=30
    )
    stream = next((line.split("Video:", 1)[1] for line in probe.stderr.splitlines() if "Video:" in line), "")
    parts = [p.strip() for p in stream.split(",")]
    size = next((p.split()[0] for p in parts if re.fullmatch(r"\d+x\d+.*", p)), "?")
    codec = parts[0].split()[0] if parts and parts[0] else "unknown codec"
    return f"{codec}, {size}, {path.stat().st_size / 2**20:.1f} MB"


async def _demo(out_dir: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="nemovideo-demo-") as tmp:
        home = Path(tmp)
        photos = []
        for name, colour in (("sunrise.png", (250, 170, 60)), ("ocean.png", (40, 110, 200))):
            path = home / name
            path.write_bytes(png(320, 240, colour))
            photos.append(str(path))
        env = {
            "HOME": str(home),
            "NEMO_API_URL": "local",
            "NEMO_STATE_DIR": str(home / "state"),
            "NEMO_EXPORT_DIR": str(out_dir),
            "NEMO_UPLOAD_DIRS": str(home),
            "NEMO_POLL_INITIAL": "0.2",
            "NEMO_LOG_LEVEL": "WARNING",
            "PATH": os.environ.get("PATH", ""),
        }
        params = StdioServerParameters(command=sys.executable, args=["-m", "nemovideo_mcp"], env=env)
        console.print("[bold]NemoVideo MCP demo[/] on the built-in local backend (no account, no network)\n")
        async with Client(params) as client:
            tools = await client.list_tools()
            console.print("Tools: " + ", ".join(t.name for t in tools.tools) + "\n")
            for title, tool, args in STEPS:
                if tool == "upload":
                    args = {"sources": photos}
                console.print(f"[bold cyan]> {title}[/]  ({tool})")
                result = await client.call_tool(tool, args)
                text = "\n".join(getattr(block, "text", "") for block in result.content).strip()
                console.print(text + "\n")
                if result.is_error:
                    console.print("[red]The demo stopped at this step.[/]")
                    return 1
                if tool == "export":
                    saved = Path(str((result.structured_content or {}).get("path")))
                    console.print(f"[bold green]Done:[/] {saved}  ({describe_video(saved)})")
                    console.print("(The download link above pointed at the local backend, which stops with the demo.)")
    return 0


def run_demo(out: str) -> int:
    out_dir = Path(out).expanduser().resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        sys.stderr.write(f"Cannot create {out_dir}: {exc.strerror or exc}. Choose another folder with --out." + "\n")
        return 1
    return anyio.run(_demo, out_dir)
