"""Media made on the spot for the renderer tests: photos drawn with Pillow, a clip and tones from ffmpeg."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import pytest
from PIL import Image, ImageDraw

from nemovideo_mcp.studio.render import Asset

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
COLORS = {"red": (220, 30, 30), "green": (30, 190, 60), "blue": (30, 60, 220), "yellow": (235, 205, 40)}


def _ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="session")
def render_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Asset]:
    root = tmp_path_factory.mktemp("media")
    assets: dict[str, Asset] = {}
    for name, color in COLORS.items():
        path = root / f"{name}.jpg"
        Image.new("RGB", (640, 360), color).save(path, quality=95)
        assets[name] = Asset(path, "image", 640, 360)

    # Stored landscape, left half red and right half blue, tagged "rotate 90° clockwise to display":
    # shown upright it is a portrait with red on top.
    sideways = Image.new("RGB", (400, 200), COLORS["blue"])
    ImageDraw.Draw(sideways).rectangle((0, 0, 199, 199), fill=COLORS["red"])
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(root / "sideways.jpg", exif=exif, quality=95)
    assets["sideways"] = Asset(root / "sideways.jpg", "image", 200, 400)

    # For motion: a bright vertical bar that pans move sideways, and two bars near the edges that zooms spread.
    bar = Image.new("RGB", (640, 360), (20, 20, 20))
    ImageDraw.Draw(bar).rectangle((300, 0, 340, 359), fill=(250, 250, 250))
    bar.save(root / "bar.png")
    assets["bar"] = Asset(root / "bar.png", "image", 640, 360)
    bars = Image.new("RGB", (640, 360), (20, 20, 20))
    ImageDraw.Draw(bars).rectangle((60, 0, 90, 359), fill=(250, 250, 250))
    ImageDraw.Draw(bars).rectangle((550, 0, 580, 359), fill=(250, 250, 250))
    bars.save(root / "bars.png")
    assets["bars"] = Asset(root / "bars.png", "image", 640, 360)

    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 20)
    assets["broken"] = Asset(root / "broken.jpg", "image", 640, 360)
    (root / "garbage.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40)
    assets["garbage"] = Asset(root / "garbage.mp4", "video", 320, 240, 3000, True)
    assets["gone"] = Asset(root / "deleted.jpg", "image", 640, 360)

    clip = root / "clip.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3",
        "-f", "lavfi", "-i", "sine=f=1000:d=3:sample_rate=44100",
        "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(clip),
    )  # fmt: skip
    assets["clip"] = Asset(clip, "video", 320, 240, 3000, True)

    # -12 dBFS peak: far enough below the limiter that only the volume setting changes its level.
    tone = root / "tone.wav"
    # Stereo, as songs are: ffmpeg spreads a mono file over two speakers at -3 dB each (equal power).
    _ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.25*sin(2*PI*440*t)|0.25*sin(2*PI*440*t):s=48000:d=1.3", str(tone))
    assets["tone"] = Asset(tone, "audio", duration_ms=1300)
    return assets
