"""`nemovideo-mcp demo`: one scripted session, end to end, with no account and no network.

It launches this package's real MCP server over stdio on the local studio (NEMO_API_URL=local)
and drives it the way an agent would: upload three generated photos and a generated music
track, create a video with a title, add captions, look at the timeline, export. The MP4 it
leaves behind is a real video: the photos with motion and crossfades, the title, the captions
and the music; it prints what the file contains.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from rich.console import Console

# soft_wrap: let the terminal wrap lines, so piped output keeps whole sentences.
console = Console(stderr=False, highlight=False, soft_wrap=True)

TITLE = "A Day by the Sea"
STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("Check credits", "credits", {}),
    ("Upload three photos and a music track", "upload", {}),
    (
        "Create the video",
        "generate",
        {"instruction": f'Make a 15-second video from my photos with the title "{TITLE}" and my music at 35%'},
    ),
    ("Add a caption", "generate", {"instruction": 'add the caption "Morning light on the hills" to scene 1'}),
    ("Add another caption", "generate", {"instruction": 'add the caption "Waves all afternoon" to scene 2'}),
    ("Add a last caption", "generate", {"instruction": 'add a caption "And the city at night" at the end'}),
    ("Show the timeline", "state", {}),
    ("Export the MP4", "export", {"filename": "a-day-by-the-sea.mp4", "wait_seconds": 600}),
]


def sample_photos(folder: Path) -> list[Path]:
    """Three landscape "photos" drawn with Pillow: hills at sunrise, the sea, a city at night."""
    from PIL import Image, ImageDraw, ImageFilter

    def sky(top: tuple[int, int, int], bottom: tuple[int, int, int], size: tuple[int, int]) -> Image.Image:
        gradient = Image.linear_gradient("L").resize(size)
        return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), gradient)

    size = (1600, 1000)
    photos = []
    hills = sky((255, 170, 90), (255, 236, 190), size)
    draw = ImageDraw.Draw(hills)
    draw.ellipse((1040, 220, 1240, 420), fill=(255, 250, 220))
    for i, colour in enumerate([(120, 150, 90), (80, 120, 70), (50, 90, 55)]):
        base = 560 + i * 150
        points = [(x, base - 90 * math.sin(x / (260 + 60 * i) + i)) for x in range(0, size[0] + 40, 40)]
        draw.polygon([(0, size[1]), *points, (size[0], size[1])], fill=colour)
    photos.append(("hills.jpg", hills))
    sea = sky((70, 150, 220), (200, 230, 250), (size[0], size[1]))
    draw = ImageDraw.Draw(sea)
    draw.rectangle((0, 520, size[0], size[1]), fill=(20, 90, 160))
    for row in range(12):
        y = 540 + row * 38
        for x in range(-40, size[0], 90):
            draw.arc((x + (row % 2) * 45, y, x + 90 + (row % 2) * 45, y + 30), 200, 340, fill=(230, 245, 255), width=4)
    draw.ellipse((200, 140, 330, 270), fill=(255, 255, 235))
    photos.append(("sea.jpg", sea))
    city = sky((10, 15, 45), (60, 40, 90), size)
    draw = ImageDraw.Draw(city)
    for i in range(16):
        left, width = i * 100 + (i % 3) * 8, 84 + (i % 4) * 6
        top = 380 + (i * 137) % 330
        draw.rectangle((left, top, left + width, size[1]), fill=(25 + i % 5 * 6, 25, 45))
        for wy in range(top + 20, size[1] - 20, 44):
            for wx in range(left + 12, left + width - 12, 24):
                if (wx * 7 + wy * 13 + i) % 5 < 3:
                    draw.rectangle((wx, wy, wx + 10, wy + 18), fill=(255, 214, 120))
    city = city.filter(ImageFilter.GaussianBlur(0.6))
    photos.append(("city.jpg", city))
    paths = []
    for name, image in photos:
        path = folder / name
        image.save(path, quality=90)
        paths.append(path)
    return paths


def sample_music(folder: Path) -> Path:
    """A 12-second generated music track (a soft four-chord progression), made with ffmpeg."""
    from nemovideo_mcp.media.probe import ffmpeg_exe

    chords = [(220.0, 277.18, 329.63), (196.0, 246.94, 293.66), (174.61, 220.0, 261.63), (196.0, 246.94, 329.63)]
    pieces = []
    for i, chord in enumerate(chords):
        tones = "+".join(f"sin(2*PI*{f}*t)" for f in chord)
        # each chord for 3 s, with a gentle swell so the changes are audible but soft
        pieces.append(f"between(t,{3 * i},{3 * i + 3})*({tones})*(0.6+0.4*sin(PI*(t-{3 * i})/3))")
    expression = "0.12*(" + "+".join(pieces) + ")"
    path = folder / "demo-music.wav"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
         "-i", f"aevalsrc='{expression}|{expression}':s=48000:d=12", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def describe_video(path: Path) -> str:
    """What ffmpeg reads in the file (duration, streams, size): proof that it is a real video."""
    from nemovideo_mcp.media.probe import probe

    info = probe(path)
    video = f"{info.video_codec} {info.width}x{info.height}" if info.has_video else "no video stream"
    audio = f"{info.audio_codec} audio" if info.has_audio else "no audio"
    seconds = f"{info.duration_s:.1f} s" if info.duration_s else "unknown length"
    return f"{seconds}, {video}, {audio}, {path.stat().st_size / 2**20:.1f} MB"


async def _demo(out_dir: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="nemovideo-demo-") as tmp:
        home = Path(tmp)
        media = [str(p) for p in [*sample_photos(home), sample_music(home)]]
        env = {
            "HOME": str(home),
            "NEMO_API_URL": "local",
            "NEMO_STATE_DIR": str(home / "state"),
            "NEMO_EXPORT_DIR": str(out_dir),
            "NEMO_UPLOAD_DIRS": str(home),
            "NEMO_LOG_LEVEL": "WARNING",
            "PATH": os.environ.get("PATH", ""),
        }
        params = StdioServerParameters(command=sys.executable, args=["-m", "nemovideo_mcp"], env=env)
        console.print("[bold]NemoVideo MCP demo[/] on the local studio (free, no account, no network)\n")
        async with Client(params) as client:
            tools = await client.list_tools()
            console.print("Tools: " + ", ".join(t.name for t in tools.tools) + "\n")
            for title, tool, args in STEPS:
                if tool == "upload":
                    args = {"sources": media}
                console.print(
                    f"[bold cyan]> {title}[/]  ({tool}{': ' + args['instruction'] if 'instruction' in args else ''})"
                )
                result = await client.call_tool(tool, args)
                text = "\n".join(getattr(block, "text", "") for block in result.content).strip()
                console.print(text + "\n")
                if result.is_error:
                    console.print("[red]The demo stopped at this step.[/]")
                    return 1
                if tool == "export":
                    saved = Path(str((result.structured_content or {}).get("path")))
                    console.print(f"[bold green]Done:[/] {saved}  ({describe_video(saved)})")
                    console.print("(The download link above pointed at the local studio, which stops with the demo.)")
    return 0


def run_demo(out: str) -> int:
    out_dir = Path(out).expanduser().resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        sys.stderr.write(f"Cannot create {out_dir}: {exc.strerror or exc}. Choose another folder with --out." + "\n")
        return 1
    return anyio.run(_demo, out_dir)
