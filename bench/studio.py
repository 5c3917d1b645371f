"""Render speed and memory of the local studio against a hand-written ffmpeg command and MoviePy 2.

The scenario: a 30 s video from three generated 4000x3000 photos (each with a slow zoom), a title for
the first 3 s, three captions, 0.5 s crossfades and a music bed at 35 % with fades. Rows, in one run:
our renderer (``nemovideo_mcp.studio.render``) at 16:9 1080p, one hand-written ffmpeg command making
the same video (the baseline), MoviePy 2 making it, and our renderer at 9:16 1080p and 16:9 720p.
Columns: wall time of the work (imports and fixtures excluded), CPU time, peak memory of the case's
process tree (its Python process and every ffmpeg it starts, sampled from /proc; getrusage elsewhere),
real-time factor (video seconds per wall second) and time relative to the baseline; then whether the
targets hold: ours within 1.3x of the baseline, and at least 5x faster than MoviePy. Each output is
checked (length, H.264 High yuv420p of the right size, 48 kHz AAC, not silent, not flat, +faststart)
before its timing is reported, and the x264 settings of the other cases are compared with ours.

    python bench/studio.py [--quick] [--skip-moviepy]

``--quick`` makes a 10 s video from smaller photos, as a smoke check. The MoviePy row needs
``pip install 'moviepy>=2,<3'`` (a benchmark-only tool, not a project dependency) and is skipped
when it is missing. Each case runs in its own Python process, so memory is per case; every file the
benchmark writes lives in one temporary folder, removed at the end. Nothing touches the network.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import json
import math
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FPS = 30
XFADE_S = 0.5
TITLE_S = 3.0
MUSIC_VOLUME = 0.35
TEXT_FADE_S = 0.3
# Fades and the largest zoom of a Ken Burns move as the renderer makes them for these 10 s scenes, so the
# baseline and MoviePy make the same video (the cost of the zoom does not depend on how far it goes).
MUSIC_FADE_IN_S = 0.8
MUSIC_FADE_OUT_S = 1.5
ZOOM = 1.15
# Encoder settings shared by every case; they follow the renderer's, so the baseline and MoviePy pay
# the same encoding cost. The x264 options written into each output are compared to check this.
X264_PRESET = "veryfast"
CRF = 20
GOP = FPS * 2
AUDIO_BITRATE = "192k"
MOTIONS = ("zoom_in", "zoom_out", "zoom_in")
CAPTIONS = (  # (text, start, length) as fractions of the time after the title
    ("Morning light over the bay", 0.05, 0.25),
    ("The old town at noon", 0.35, 0.28),
    ("Home before the storm", 0.68, 0.28),
)
TITLE = "A Weekend by the Sea"
TARGET_VS_BASELINE = 1.3
TARGET_VS_MOVIEPY = 5.0
# Wall-clock limits per case: a stuck encoder must not hang the benchmark.
TIMEOUT_S = {"ours": 900.0, "ffmpeg": 900.0, "moviepy": 2400.0}
CHECK_TIMEOUT_S = 120.0


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


# --- the scenario, written once by the parent and read by every case ---


@dataclass
class Overlay:
    """A text image drawn by the bench, for the cases that take pictures of text (baseline, MoviePy)."""

    text: str
    kind: str
    start_s: float
    length_s: float
    png: str = ""
    x: int = 0
    y: int = 0


@dataclass
class Scenario:
    duration_s: float
    width: int
    height: int
    photos: list[str]
    photo_sizes: list[list[int]]
    scene_s: list[float]
    music: str
    music_s: float
    texts: list[Overlay] = field(default_factory=list)

    @classmethod
    def load(cls, work: Path) -> Scenario:
        raw = json.loads((work / "scenario.json").read_text())
        raw["texts"] = [Overlay(**t) for t in raw["texts"]]
        return cls(**raw)


def make_photo(path: Path, size: tuple[int, int], seed: int, grain: float) -> None:
    """A detailed still: colour gradients, shapes with hard edges and grain, so scaling and JPEG decoding cost
    what a real photo does (a flat image would scale and encode unrealistically fast). The grain is tuned so
    the 4000x3000 JPEG is about 5 MB, like a phone's, and the 1080p video about 5 Mbit/s at CRF 20."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rng = random.Random(seed)
    width, height = size
    red = Image.linear_gradient("L").rotate(rng.randrange(360)).resize(size, Image.Resampling.BILINEAR)
    green = Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR)
    blue = ImageChops.invert(red).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    for _ in range(120):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(width // 60, width // 8)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            draw.line((x, y, x + rng.randrange(-r, r) * 3, y + rng.randrange(-r, r)), fill=colour, width=r // 6 + 2)
    image = image.filter(ImageFilter.GaussianBlur(2))
    noise = Image.effect_noise(size, grain).convert("RGB")
    image = ImageChops.add(ImageChops.multiply(image, Image.new("RGB", size, (225, 225, 225))), noise, 1.0, -100)
    image.save(path, quality=90)


def font(size: int) -> Any:
    from PIL import ImageFont

    try:  # the font the studio ships, so text costs the same to draw and overlay
        from noto_cjk_sans_otc import FONT_PATH

        return ImageFont.truetype(str(FONT_PATH), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size)


def draw_text(overlay: Overlay, canvas: tuple[int, int], path: Path) -> None:
    """Title: large, centred, with a stroke. Caption: lower third on a translucent box. Tight PNGs placed at
    an offset, as a person writing the command would do (full-frame overlays blend 2 Mpx per frame)."""
    from PIL import Image, ImageDraw

    width, height = canvas
    title = overlay.kind == "title"
    size = round(min(width, height) * (0.12 if title else 0.045))
    face = font(size)
    stroke = max(2, size // 14) if title else 0
    left, top, right, bottom = face.getbbox(overlay.text, stroke_width=stroke)
    pad = size // 2
    box = (right - left + 2 * pad, bottom - top + 2 * pad)
    image = Image.new("RGBA", box, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if not title:
        draw.rounded_rectangle((0, 0, box[0] - 1, box[1] - 1), radius=pad // 2, fill=(0, 0, 0, 140))
    ink = {"fill": (255, 255, 255, 255), "stroke_width": stroke, "stroke_fill": (0, 0, 0, 220)}
    draw.text((pad - left, pad - top), overlay.text, font=face, **ink)
    image.save(path)
    # Even offsets, so the yuv420p chroma lines up and the overlay needs no extra shift.
    overlay.x = (width - box[0]) // 2 // 2 * 2
    overlay.y = ((height - box[1]) // 2 if title else round(height * 0.82 - box[1] / 2)) // 2 * 2
    overlay.png = str(path)


def make_fixtures(work: Path, quick: bool) -> Scenario:
    from PIL import Image

    duration = 10.0 if quick else 30.0
    size = (1600, 1200) if quick else (4000, 3000)
    photos = []
    for index in range(3):
        path = work / f"photo{index + 1}.jpg"
        # Less grain on the small photos, which the video scales up (enlarging the grain too).
        make_photo(path, size, seed=index, grain=6 if quick else 14)
        photos.append(path)
    # A stereo chord, longer than the video so every case trims it, at 44.1 kHz so every case resamples.
    music_s = duration + 10.0
    music = work / "music.wav"
    left = "0.25*sin(2*PI*220*t)+0.18*sin(2*PI*277.18*t)+0.15*sin(2*PI*329.63*t)"
    right = "0.25*sin(2*PI*164.81*t)+0.18*sin(2*PI*329.63*t)+0.15*sin(2*PI*440*t)"
    generate = f"-hide_banner -loglevel error -nostdin -f lavfi -i aevalsrc={left}|{right}:s=44100:d={music_s}"
    run_checked([ffmpeg_exe(), *generate.split(), "-c:a", "pcm_s16le", str(music)])
    # Three equal scenes that add up to the video, as the studio's planner makes them.
    total_ms = round(duration * 1000)
    scene_ms = [total_ms // 3, total_ms // 3, total_ms - 2 * (total_ms // 3)]
    texts = [Overlay(TITLE, "title", 0.0, TITLE_S)]
    after = duration - TITLE_S
    texts += [Overlay(text, "caption", round(TITLE_S + after * a, 1), round(after * b, 1)) for text, a, b in CAPTIONS]
    scenario = Scenario(
        duration_s=duration,
        width=1920,
        height=1080,
        photos=[str(p) for p in photos],
        photo_sizes=[list(Image.open(p).size) for p in photos],
        scene_s=[ms / 1000 for ms in scene_ms],
        music=str(music),
        music_s=music_s,
        texts=texts,
    )
    for index, overlay in enumerate(scenario.texts):
        draw_text(overlay, (scenario.width, scenario.height), work / f"text{index}.png")
    (work / "scenario.json").write_text(json.dumps(asdict(scenario), indent=1))
    return scenario


def run_checked(cmd: list[str], timeout: float = CHECK_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done


# --- the cases, each run in a child process ---


def scene_spans(sc: Scenario) -> tuple[list[int], list[int]]:
    """Each still's length and each scene's first frame. Scenes start back to back, as the studio's draft
    places them; a crossfade begins at the cut, the earlier still running on under it, so the file lasts the
    sum of the scenes (the renderer does the same)."""
    starts, cut = [], 0.0
    for d in sc.scene_s:
        starts.append(round(cut * FPS))
        cut += d
    ends = [*starts[1:], round(cut * FPS)]
    fade = round(XFADE_S * FPS)
    lengths = [end - begin + fade for begin, end in zip(starts, ends, strict=True)]
    lengths[-1] -= fade
    return lengths, starts


def baseline_command(sc: Scenario, out: Path) -> list[str]:
    """One ffmpeg process for the whole video, as a careful person would write it by hand: each still
    decoded and cover-scaled once then looped, a sub-pixel zoom with `perspective` (the renderer's technique),
    `xfade` between stills, the text PNGs faded in and out over their time windows, the music trimmed, at
    35 % with fades, then limited."""
    w, h = sc.width, sc.height
    lengths, starts = scene_spans(sc)
    args: list[str] = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    # Each image is one decoded frame stamped at the output rate (xfade wants equal time bases); the
    # `loop` filter repeats it after scaling, so it is decoded and scaled once.
    for photo in sc.photos:
        args += ["-framerate", str(FPS), "-i", photo]
    for overlay in sc.texts:
        args += ["-framerate", str(FPS), "-i", overlay.png]
    args += ["-i", sc.music]
    graph: list[str] = []
    for i, (length, motion) in enumerate(zip(lengths, MOTIONS, strict=False)):
        # z runs exponentially from 1 to ZOOM (or back), which looks even; the corners are sub-pixel.
        progress = f"on/{length - 1}" if motion == "zoom_in" else f"(1-on/{length - 1})"
        inset_x, inset_y = f"W*(1-1/pow({ZOOM},{progress}))/2", f"H*(1-1/pow({ZOOM},{progress}))/2"
        corners = (
            f"x0='{inset_x}':y0='{inset_y}':x1='W-{inset_x}':y1='{inset_y}':"
            f"x2='{inset_x}':y2='H-{inset_y}':x3='W-{inset_x}':y3='H-{inset_y}'"
        )
        graph.append(
            f"[{i}:v]scale={w}:{h}:force_original_aspect_ratio=increase:flags=lanczos:out_range=limited:"
            f"out_color_matrix=bt709,crop={w}:{h},setsar=1,format=yuv420p,"
            f"loop=loop={length - 1}:size=1:start=0,setpts=N,perspective={corners}:eval=frame[s{i}]"
        )
    last = "s0"
    for i in range(1, len(lengths)):
        graph.append(f"[{last}][s{i}]xfade=transition=fade:duration={XFADE_S}:offset={starts[i] / FPS:.6f}[x{i}]")
        last = f"x{i}"
    first_text = len(sc.photos)
    for i, overlay in enumerate(sc.texts):
        first, frames = round(overlay.start_s * FPS), round(overlay.length_s * FPS)
        fade_out_at = overlay.start_s + overlay.length_s - TEXT_FADE_S
        graph.append(
            f"[{first_text + i}:v]format=yuva420p,loop=loop={frames - 1}:size=1:start=0,setpts=N+{first},"
            f"fade=t=in:st={overlay.start_s}:d={TEXT_FADE_S}:alpha=1,"
            f"fade=t=out:st={fade_out_at:.3f}:d={TEXT_FADE_S}:alpha=1[c{i}]"
        )
        graph.append(f"[{last}][c{i}]overlay=x={overlay.x}:y={overlay.y}:eof_action=pass[t{i}]")
        last = f"t{i}"
    graph.append(f"[{last}]format=yuv420p[v]")
    music_input = first_text + len(sc.texts)
    fade_out_at = sc.duration_s - MUSIC_FADE_OUT_S
    graph.append(
        f"[{music_input}:a]atrim=0:{sc.duration_s},asetpts=PTS-STARTPTS,aresample=48000,volume={MUSIC_VOLUME},"
        f"afade=t=in:st=0:d={MUSIC_FADE_IN_S},afade=t=out:st={fade_out_at}:d={MUSIC_FADE_OUT_S},"
        f"alimiter=limit=0.891:level=0[a]"
    )
    args += ["-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]"]
    args += encoder_args()
    args += ["-t", str(sc.duration_s), str(out)]
    return args


def encoder_args() -> list[str]:
    # A closed GOP of 2 s with no scene-cut keyframes, like the renderer's delivery settings.
    return (
        f"-c:v libx264 -preset {X264_PRESET} -profile:v high -pix_fmt yuv420p -crf {CRF} -g {GOP} -keyint_min {GOP} "
        f"-sc_threshold 0 -flags +cgop -fps_mode cfr -r {FPS} -c:a aac -b:a {AUDIO_BITRATE} -ac 2 -ar 48000 "
        "-colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv -movflags +faststart"
    ).split()


def run_baseline(sc: Scenario, out: Path, work: Path) -> None:
    run_checked(baseline_command(sc, out), timeout=TIMEOUT_S["ffmpeg"])


def build_draft(sc: Scenario, aspect: str, quality: str) -> dict[str, Any]:
    """The draft the studio's planner would write for this scenario, through the draft helpers."""
    from nemovideo_mcp.studio import draft as d

    draft = d.empty_draft(title=TITLE, aspect=aspect)  # type: ignore[arg-type]
    width, height = d.canvas(aspect, quality)  # type: ignore[arg-type]
    draft["m"].update(width=width, height=height, transition="crossfade", transition_ms=round(XFADE_S * 1000))
    scenes = [
        d.scene(round(length * 1000), "image", Path(photo).name, asset=f"photo{i}", motion=motion)
        for i, (photo, length, motion) in enumerate(zip(sc.photos, sc.scene_s, MOTIONS, strict=True))
    ]
    texts = [
        d.text_segment(t.text, t.kind, round(t.start_s * 1000), round(t.length_s * 1000))  # type: ignore[arg-type]
        for t in sc.texts
    ]
    total_ms = sum(s["d"] for s in scenes)
    music = {
        "st": 0,
        "d": total_ms,
        "sid": d.new_id(),
        "m": {"kind": "bgm", "name": Path(sc.music).name, "asset": "music", "volume": MUSIC_VOLUME},
    }
    draft["t"] = [
        {"tt": d.VIDEO, "sg": scenes},
        {"tt": d.AUDIO, "m": {"kind": "bgm"}, "sg": [music]},
        {"tt": d.TEXT, "sg": texts},
    ]
    draft["d"] = total_ms
    return draft


def run_ours(sc: Scenario, out: Path, work: Path, aspect: str, quality: str) -> None:
    from nemovideo_mcp.studio.draft import read_timeline
    from nemovideo_mcp.studio.render import Asset, render

    timeline = read_timeline(build_draft(sc, aspect, quality))
    assets = {
        f"photo{i}": Asset(path=Path(p), kind="image", width=size[0], height=size[1])
        for i, (p, size) in enumerate(zip(sc.photos, sc.photo_sizes, strict=True))
    }
    assets["music"] = Asset(path=Path(sc.music), kind="audio", duration_ms=round(sc.music_s * 1000), has_audio=True)
    render_dir = work / "render"
    render_dir.mkdir(exist_ok=True)
    asyncio.run(render(timeline, assets, out, render_dir, timeout_s=TIMEOUT_S["ours"] - 30))


def run_moviepy(sc: Scenario, out: Path, work: Path) -> None:
    """The same video the way MoviePy 2's documentation builds one: clips composed in Python, every frame
    assembled in numpy and piped to ffmpeg."""
    from moviepy import AudioFileClip, CompositeVideoClip, ImageClip, afx, vfx

    w, h = sc.width, sc.height
    frames, firsts = scene_spans(sc)
    layers = []
    for i, (photo, size) in enumerate(zip(sc.photos, sc.photo_sizes, strict=True)):
        length, motion = frames[i] / FPS, MOTIONS[i]
        cover = max(w / size[0], h / size[1])
        # Cover-scale once (an ImageClip transforms its picture once), then zoom every frame.
        still = ImageClip(photo, duration=length).resized((math.ceil(size[0] * cover), math.ceil(size[1] * cover)))
        effects = [vfx.CrossFadeIn(XFADE_S)] if i > 0 else []
        layers.append(
            still.with_effects([*effects, vfx.Resize(zoom_of(length, motion))])
            .with_start(firsts[i] / FPS)
            .with_position("center")
        )
    for overlay in sc.texts:
        text = ImageClip(overlay.png, transparent=True, duration=overlay.length_s)
        text = text.with_effects([vfx.CrossFadeIn(TEXT_FADE_S), vfx.CrossFadeOut(TEXT_FADE_S)])
        layers.append(text.with_start(overlay.start_s).with_position((overlay.x, overlay.y)))
    music = AudioFileClip(sc.music).subclipped(0, sc.duration_s)
    music = music.with_effects(
        [afx.MultiplyVolume(MUSIC_VOLUME), afx.AudioFadeIn(MUSIC_FADE_IN_S), afx.AudioFadeOut(MUSIC_FADE_OUT_S)]
    )
    # An opaque background: without one MoviePy also composites a mask for every frame and pipes RGBA.
    video = CompositeVideoClip(layers, size=(w, h), bg_color=(0, 0, 0))
    video = video.with_duration(sc.duration_s).with_audio(music)
    video.write_videofile(
        str(out),
        fps=FPS,
        codec="libx264",
        preset=X264_PRESET,
        audio_codec="aac",
        audio_fps=48000,
        audio_bitrate=AUDIO_BITRATE,
        pixel_format="yuv420p",
        logger=None,
        ffmpeg_params=(
            f"-crf {CRF} -profile:v high -g {GOP} -keyint_min {GOP} -sc_threshold 0 -flags +cgop -movflags +faststart"
        ).split(),
        temp_audiofile_path=str(work),
    )


def zoom_of(length: float, motion: str) -> Callable[[float], float]:
    """The scale at clip time t: exponential from 1 to ZOOM (or back), like the baseline's."""
    if motion == "zoom_in":
        return lambda t: float(ZOOM ** (t / length))
    return lambda t: float(ZOOM ** (1 - t / length))


def cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def child_main(args: argparse.Namespace) -> None:
    """One case in this fresh process; prints its wall and CPU time (this process and its ffmpeg) as JSON."""
    work = Path(args.work)
    sc = Scenario.load(work)
    out = work / f"{args.case}-{args.aspect.replace(':', 'x')}-{args.quality}.mp4"
    # Imports first, outside the timing: a long-lived server has them loaded already.
    for module in {"ours": ["nemovideo_mcp.studio.render"], "moviepy": ["moviepy"]}.get(args.case, []):
        importlib.import_module(module)
    ffmpeg_exe()
    cpu_before = cpu_s(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if args.case == "ours":
        run_ours(sc, out, work, args.aspect, args.quality)
    elif args.case == "ffmpeg":
        run_baseline(sc, out, work)
    else:
        run_moviepy(sc, out, work)
    wall = time.perf_counter() - started
    cpu = cpu_s(resource.RUSAGE_SELF) - cpu_before + cpu_s(resource.RUSAGE_CHILDREN)
    # ru_maxrss (KiB on Linux) is the parent's fallback for memory where /proc cannot be sampled. Linux also
    # counts the spawning process's memory at exec into a child's, and RUSAGE_CHILDREN is the largest child,
    # not a sum: an upper-bound estimate only.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "python_mb": own, "ffmpeg_mb": kids, "out": str(out)}))


# --- checking outputs ---


@dataclass
class Check:
    duration_s: float = 0.0
    frames: int = 0
    size: tuple[int, int] = (0, 0)
    problems: list[str] = field(default_factory=list)
    x264: dict[str, str] = field(default_factory=dict)


def check_output(path: Path, expected_s: float, size: tuple[int, int]) -> Check:
    """Trust a timing only when its file is a real video: H.264 High of the right size lasting the right time,
    AAC at 48 kHz that is not silent, a picture that is not flat, and the index at the front."""
    check = Check()
    if not path.is_file() or path.stat().st_size < 10_000:
        check.problems.append("no output file")
        return check
    ff = ffmpeg_exe()
    # Stream copy to null: reads the container's description and counts the video frames without decoding.
    info = run_checked(
        [ff, "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"]
    ).stderr
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info)
    if duration:
        check.duration_s = int(duration[1]) * 3600 + int(duration[2]) * 60 + float(duration[3])
    if abs(check.duration_s - expected_s) > 0.1:
        check.problems.append(f"lasts {check.duration_s:.2f} s, not {expected_s:.2f}")
    video = re.search(r"Video: h264 \((\w+)\).*?(\d{2,5})x(\d{2,5})", info)
    if not video:
        check.problems.append("no H.264 video")
    else:
        check.size = (int(video[2]), int(video[3]))
        if video[1] != "High":
            check.problems.append(f"H.264 profile {video[1]}")
        if check.size != size:
            check.problems.append(f"size {check.size[0]}x{check.size[1]}")
        if "yuv420p" not in info:
            check.problems.append("not yuv420p")
    if not re.search(r"Audio: aac.*48000 Hz, stereo", info):
        check.problems.append("no 48 kHz stereo AAC audio")
    frames = re.findall(r"frame=\s*(\d+)", info)
    check.frames = int(frames[-1]) if frames else 0
    if abs(check.frames - expected_s * FPS) > 2:
        check.problems.append(f"{check.frames} frames, not {round(expected_s * FPS)}")
    loudness = run_checked(
        [ff, "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-"]
    ).stderr
    mean = re.search(r"mean_volume: (-?[\d.]+) dB", loudness)
    if not mean or float(mean[1]) < -45:
        check.problems.append("audio is silent")
    # A small grey thumbnail of the middle frame: a flat one means black or broken video.
    grab = ["-nostdin", "-loglevel", "error", "-ss", str(expected_s / 2), "-i", str(path), "-frames:v", "1"]
    grab += ["-vf", "scale=32:18,format=gray", "-f", "rawvideo", "-"]
    thumb = subprocess.run([ff, *grab], capture_output=True, timeout=CHECK_TIMEOUT_S).stdout
    if len(thumb) != 32 * 18 or max(thumb) - min(thumb) < 20:
        check.problems.append("middle frame is flat")
    head = path.read_bytes()[: 8 << 20]
    boxes = top_level_boxes(head)
    if "moov" not in boxes or ("mdat" in boxes and boxes.index("moov") > boxes.index("mdat")):
        check.problems.append("index not at the front (+faststart)")
    check.x264 = x264_options(head)
    return check


def top_level_boxes(head: bytes) -> list[str]:
    names, pos = [], 0
    while pos + 8 <= len(head):
        size = int.from_bytes(head[pos : pos + 4], "big")
        names.append(head[pos + 4 : pos + 8].decode("latin-1"))
        if size == 1 and pos + 16 <= len(head):
            size = int.from_bytes(head[pos + 8 : pos + 16], "big")
        if size < 8:
            break
        pos += size
    return names


def x264_options(head: bytes) -> dict[str, str]:
    """The settings x264 writes into its first frame, to compare what each case asked the encoder for."""
    start = head.find(b"x264 - core")
    if start < 0:
        return {}
    text = head[start : head.find(b"\x00", start)].decode("latin-1")
    return dict(item.split("=", 1) for item in text.split("options:", 1)[-1].split() if "=" in item)


# Options that decide the encoding cost; threads and lookahead threads follow the machine, not the case.
COST_OPTIONS = ("crf", "ref", "subme", "me", "trellis", "bframes", "b_adapt", "rc_lookahead", "keyint", "weightp")


# --- the parent: fixtures, one child per case, the table ---


class SessionMemory(threading.Thread):
    """Peak resident memory of a case's whole process tree (its Python and every ffmpeg it starts, which share
    the session the case was started in), summed over the processes alive at each sample. Read from /proc
    every 100 ms, which is Linux only; elsewhere no samples are taken and the caller falls back to getrusage."""

    PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def __init__(self, session: int, every_s: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.session, self.every_s = session, every_s
        self.peak = self.peak_python = self.samples = 0
        # Processes seen outside the session are not read again: the sampler must not take CPU from the case.
        self.foreign: set[str] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        if not Path("/proc/self/statm").exists():
            return
        while not self.stopping.wait(self.every_s):
            self.sample()

    def sample(self) -> None:
        total = python = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or entry.name in self.foreign:
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
                name, fields = stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2 :].split()
                if len(fields) < 4 or fields[3] != str(self.session):  # state, ppid, pgrp, session
                    self.foreign.add(entry.name)
                    continue
                resident = int(Path(entry.path, "statm").read_text().split()[1]) * self.PAGE
            except (OSError, ValueError, IndexError):
                continue  # the process ended between the listing and the read
            total += resident
            python += resident if name.startswith("python") else 0
        self.samples += 1
        if total > self.peak:
            self.peak, self.peak_python = total, python

    def halt(self) -> None:
        self.stopping.set()
        self.join()


@dataclass
class Row:
    label: str
    case: str
    aspect: str
    quality: str
    wall_s: float | None = None
    cpu_s: float = 0.0
    peak_mb: float = 0.0
    python_mb: float = 0.0  # of the peak, in the case's Python process
    sampled: bool = True  # peak from /proc samples; False: from getrusage (an upper bound)
    error: str = ""
    check: Check | None = None


def run_case(row: Row, work: Path) -> None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", row.case, "--work", str(work)]
    cmd += ["--aspect", row.aspect, "--quality", row.quality]
    # Caches and temporary files of the case stay in the work folder; no byte-code written next to sources.
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMPDIR": str(work / "tmp"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    (work / "tmp").mkdir(exist_ok=True)
    # A session of its own, so a timeout can end the case's ffmpeg too, by the group we started.
    proc = subprocess.Popen(
        cmd,
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    memory = SessionMemory(proc.pid)
    memory.start()
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S[row.case] + 60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        row.error = f"timed out after {TIMEOUT_S[row.case] + 60:.0f} s"
        return
    finally:
        memory.halt()
    if proc.returncode != 0:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        row.error = (lines[-1] if lines else f"exit {proc.returncode}")[:160]
        print(stderr[-3000:], file=sys.stderr)
        return
    result = json.loads(stdout.strip().splitlines()[-1])
    row.wall_s, row.cpu_s = result["wall_s"], result["cpu_s"]
    if memory.samples:
        row.peak_mb, row.python_mb = memory.peak / 2**20, memory.peak_python / 2**20
    else:
        row.sampled = False
        row.peak_mb, row.python_mb = result["python_mb"] + result["ffmpeg_mb"], result["python_mb"]
    from nemovideo_mcp.studio.draft import canvas

    size = canvas(row.aspect, row.quality)  # type: ignore[arg-type]
    row.check = check_output(Path(result["out"]), Scenario.load(work).duration_s, size)
    if row.check.problems:
        row.error = "output rejected: " + "; ".join(row.check.problems)


def moviepy_missing() -> str:
    try:
        version = importlib.metadata.version("moviepy")
    except importlib.metadata.PackageNotFoundError:
        return "MoviePy is not installed: pip install 'moviepy>=2,<3' (benchmark only)"
    if not version.startswith("2."):
        return f"MoviePy {version} found; the benchmark needs 2.x: pip install 'moviepy>=2,<3'"
    return ""


def renderer_missing() -> str:
    try:
        from nemovideo_mcp.studio.render import Asset, render  # noqa: F401
    except ImportError as exc:
        return f"renderer not available ({exc})"
    return ""


def fmt_row(row: Row, base: Row | None, duration_s: float) -> str:
    if row.wall_s is None or row.error:
        return f"| {row.label} | — | — | — | — | {row.error or 'not run'} |"
    memory = f"{row.peak_mb:.0f} (py {row.python_mb:.0f}){'' if row.sampled else ' ≤'}"
    ratio = f"{row.wall_s / base.wall_s:.2f}x" if base and base.wall_s and not base.error else "—"
    return f"| {row.label} | {row.wall_s:.1f} | {row.cpu_s:.1f} | {memory} | {duration_s / row.wall_s:.2f}x | {ratio} |"


def parent_main(args: argparse.Namespace) -> None:
    duration = 10.0 if args.quick else 30.0
    rows = [
        Row("hand-written ffmpeg, 16:9 1920x1080 (baseline)", "ffmpeg", "16:9", "1080p"),
        Row("ours, 16:9 1920x1080", "ours", "16:9", "1080p"),
        Row("MoviePy 2, 16:9 1920x1080", "moviepy", "16:9", "1080p"),
        Row("ours, 9:16 1080x1920", "ours", "9:16", "1080p"),
        Row("ours, 16:9 1280x720", "ours", "16:9", "720p"),
    ]
    skip = {
        "ours": renderer_missing(),
        "moviepy": "skipped (--skip-moviepy)" if args.skip_moviepy else moviepy_missing(),
    }
    # Other work on the machine slows every case; the load is printed so a reader can judge the run.
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as folder:
        work = Path(folder)
        started = time.perf_counter()
        make_fixtures(work, args.quick)
        print(
            f"fixtures ready in {time.perf_counter() - started:.1f} s; {os.cpu_count()} cores; "
            f"{'quick ' if args.quick else ''}{duration:.0f} s video",
            file=sys.stderr,
        )
        for row in rows:
            if skip.get(row.case):
                row.error = skip[row.case]
                continue
            print(f"running: {row.label} ...", file=sys.stderr, flush=True)
            run_case(row, work)
            print(f"  {row.wall_s or 0:.1f} s {row.error}", file=sys.stderr, flush=True)
    base, ours, mpy = rows[0], rows[1], rows[2]
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n{'Quick' if args.quick else 'Full'} run: {duration:.0f} s video, 3 photos "
        f"{'1600x1200' if args.quick else '4000x3000'}, title, 3 captions, {XFADE_S} s crossfades, music at "
        f"{MUSIC_VOLUME:.0%}; x264 preset {X264_PRESET}, CRF {CRF}; {os.cpu_count()} cores, load average "
        f"{load_before:.1f} before and {load_after:.1f} after.\n"
    )
    print("| case | wall time (s) | CPU time (s) | peak memory (MB) | real-time factor | vs baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(fmt_row(row, base, duration))
    print(
        "\nPeak memory: the resident memory of the case's processes summed, at its highest (sampled every 100 ms); "
        "py: the Python process's part of it (≤: getrusage upper bound, no /proc). CPU time: the case's Python "
        "after imports, plus its ffmpeg.\n"
    )
    ok = [r for r in (base, ours, mpy) if r.wall_s is not None and not r.error]
    if base in ok and ours in ok:
        ratio = (ours.wall_s or 0) / (base.wall_s or 1)
        verdict = "met" if ratio <= TARGET_VS_BASELINE else "missed"
        # CPU time is the steadier measure when something else shares the cores.
        cpu = ours.cpu_s / base.cpu_s if base.cpu_s else float("nan")
        print(
            f"- ours within {TARGET_VS_BASELINE}x of the hand-written command: {verdict} ({ratio:.2f}x wall, "
            f"{cpu:.2f}x CPU)"
        )
    else:
        print(f"- ours within {TARGET_VS_BASELINE}x of the hand-written command: not measured")
    if mpy in ok and ours in ok:
        speedup = (mpy.wall_s or 0) / (ours.wall_s or 1)
        verdict = "met" if speedup >= TARGET_VS_MOVIEPY else "missed"
        print(f"- ours at least {TARGET_VS_MOVIEPY:g}x faster than MoviePy 2: {verdict} ({speedup:.1f}x)")
    else:
        print(f"- ours at least {TARGET_VS_MOVIEPY:g}x faster than MoviePy 2: not measured")
    reference = ours.check.x264 if ours.check else {}
    for row in (base, mpy):
        if reference and row.check and row.check.x264:
            differ = [
                f"{k} {row.check.x264.get(k)} vs {reference.get(k)}"
                for k in COST_OPTIONS
                if row.check.x264.get(k) != reference.get(k)
            ]
            note = "same as ours" if not differ else "differ from ours: " + ", ".join(differ)
            print(f"- x264 settings of {row.case}: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 10 s video from smaller photos (smoke check)")
    parser.add_argument("--skip-moviepy", action="store_true", help="leave out the (slow) MoviePy row")
    # Internal: run one case in this process (the parent starts one process per case).
    parser.add_argument("--case", choices=("ours", "ffmpeg", "moviepy"), help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--aspect", default="16:9", help=argparse.SUPPRESS)
    parser.add_argument("--quality", default="1080p", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.dont_write_bytecode = True  # nothing written next to the sources; the children get the same by env
    if args.case:
        child_main(args)
    else:
        parent_main(args)


if __name__ == "__main__":
    main()
