"""The local renderer, judged by what comes out: streams, frames and sound decoded back with the same ffmpeg."""

from __future__ import annotations

import array
import asyncio
import itertools
import math
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from nemovideo_mcp.media.preview import contact_sheet
from nemovideo_mcp.studio.draft import Music, Scene, TextItem, Timeline
from nemovideo_mcp.studio.render import Asset, RenderFailed, build_command, font_report, render
from nemovideo_mcp.studio.render.fonts import FontChain, font_faces
from nemovideo_mcp.studio.render.text import draw_text_card, safe_area

from .conftest import COLORS, FFMPEG

W, H = 320, 180

# --- reading outputs back ---


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", *args], capture_output=True, timeout=timeout, check=False
    )


@dataclass
class Streams:
    video: str
    audio: str
    width: int
    height: int
    fps: float


def streams(path: Path) -> Streams:
    text = _run("-i", str(path)).stderr.decode(errors="replace")
    video = re.search(r"Stream #.*?: Video: (.*)", text)
    audio = re.search(r"Stream #.*?: Audio: (.*)", text)
    assert video, text
    size = re.search(r", (\d+)x(\d+)", video.group(1))
    fps = re.search(r"([\d.]+) fps", video.group(1))
    assert size and fps
    return Streams(video.group(1), audio.group(1) if audio else "", int(size[1]), int(size[2]), float(fps[1]))


def frame_count(path: Path) -> int:
    raw = _run("-i", str(path), "-map", "0:v:0", "-vf", "scale=8:8", "-f", "rawvideo", "-pix_fmt", "gray", "-").stdout
    return len(raw) // 64


def frames(path: Path, start_s: float, count: int = 1, size: tuple[int, int] = (W, H)) -> list[bytes]:
    raw = _run(
        "-ss", f"{start_s:.4f}", "-i", str(path), "-frames:v", str(count),
        "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ).stdout  # fmt: skip
    step = size[0] * size[1] * 3
    return [raw[i : i + step] for i in range(0, len(raw) - step + 1, step)]


def frame_at(path: Path, at_s: float, size: tuple[int, int] = (W, H)) -> bytes:
    found = frames(path, at_s, 1, size)
    assert found, f"no frame at {at_s} s"
    return found[0]


def mean_rgb(frame: bytes, width: int, box: tuple[int, int, int, int] | None = None) -> tuple[float, float, float]:
    height = len(frame) // (3 * width)
    x0, y0, x1, y1 = box or (0, 0, width, height)
    sums = [0, 0, 0]
    for y in range(y0, y1):
        row = frame[(y * width + x0) * 3 : (y * width + x1) * 3]
        for channel in range(3):
            sums[channel] += sum(row[channel::3])
    n = (x1 - x0) * (y1 - y0)
    return (sums[0] / n, sums[1] / n, sums[2] / n)


def distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return math.dist(a, b)


def pcm(path: Path, start_s: float = 0.0, duration_s: float | None = None) -> array.array[int]:
    args = ["-ss", f"{start_s:.3f}", "-i", str(path)]
    if duration_s is not None:
        args += ["-t", f"{duration_s:.3f}"]
    raw = _run(*args, "-map", "0:a:0", "-ac", "1", "-ar", "48000", "-f", "s16le", "-acodec", "pcm_s16le", "-").stdout
    samples = array.array("h")
    samples.frombytes(raw[: len(raw) // 2 * 2])
    return samples


def rms_db(samples: array.array[int]) -> float:
    if not samples:
        return -math.inf
    power = sum(s * s for s in samples) / len(samples)
    return 10 * math.log10(power / 32768**2) if power else -math.inf


# --- building timelines ---


def photo(name: str, ms: int = 1000, motion: str = "none") -> Scene:
    return Scene(duration_ms=ms, kind="image", name=f"{name} photo", asset=name, motion=motion)


def timeline(
    scenes: list[Scene], *, size: tuple[int, int] = (W, H), duration_ms: int | None = None, **extra: Any
) -> Timeline:
    return Timeline(
        width=size[0],
        height=size[1],
        duration_ms=duration_ms or sum(s.duration_ms for s in scenes),
        transition=extra.pop("transition", "cut"),
        scenes=scenes,
        **extra,
    )


def make(tl: Timeline, render_media: dict[str, Asset], tmp_path: Path, name: str = "out.mp4", **kwargs: Any) -> Path:
    out = tmp_path / name
    asyncio.run(render(tl, render_media, out, tmp_path / f"work-{name}", **kwargs))
    assert out.is_file()
    return out


# --- the file itself ---


@pytest.mark.parametrize(
    ("scene_ms", "duration_ms"),
    [((1000, 1000, 1000), 3000), ((1000, 700), 2500), ((1500, 1500, 1500), 2000)],
    ids=["exact", "last-scene-held", "trimmed"],
)
def test_delivery_format_and_exact_length(
    render_media: dict[str, Asset], tmp_path: Path, scene_ms: tuple[int, ...], duration_ms: int
) -> None:
    names = ["red", "green", "blue"]
    scenes = [photo(names[i], ms, "zoom_in") for i, ms in enumerate(scene_ms)]
    tl = timeline(
        scenes,
        duration_ms=duration_ms,
        transition="crossfade",
        texts=[TextItem(text="Title", kind="title", start_ms=0, duration_ms=1000)],
        music=Music(name="Music bed", generated="bed", volume=0.5),
    )
    out = make(tl, render_media, tmp_path)
    info = streams(out)
    assert "h264 (High)" in info.video and "yuv420p" in info.video and "bt709" in info.video
    assert (info.width, info.height) == (W, H) and info.fps == 30
    assert info.audio.startswith("aac (LC)") and "48000 Hz" in info.audio and "stereo" in info.audio
    expected_frames = duration_ms * 30 // 1000
    assert abs(frame_count(out) - expected_frames) <= 1
    audio_s = len(pcm(out)) / 48000
    assert abs(audio_s - duration_ms / 1000) <= 1 / 30, audio_s
    # faststart: the index (moov) comes before the media data (mdat).
    head = out.read_bytes()[:200_000]
    assert 0 <= head.find(b"moov") < head.find(b"mdat")
    if duration_ms == 2500:  # the last photo holds to the end instead of leaving black
        assert distance(mean_rgb(frame_at(out, 2.4), W), COLORS["green"]) < 30


def test_a_long_timeline_renders_with_a_short_command(render_media: dict[str, Asset], tmp_path: Path) -> None:
    """120 photos with a caption each: inline, the filter graph alone would pass Windows' 32,767-character
    command-line limit (a few dozen photos do); the command stays short and the video is whole and in order."""
    names = ["red", "green", "blue", "yellow"]
    scenes = [photo(names[i % 4], 200, ("zoom_in", "pan_left")[i % 2]) for i in range(120)]
    texts = [TextItem(text=f"Photo {i + 1}", kind="caption", start_ms=i * 200, duration_ms=200) for i in range(120)]
    tl = timeline(scenes, transition="crossfade", texts=texts)
    from nemovideo_mcp.studio.render.graph import plan_render
    from nemovideo_mcp.studio.render.runner import run_plan

    out = tmp_path / "out.mp4"
    plan = plan_render(tl, render_media, out, tmp_path / "work")
    graph = (plan.work_dir / plan.argv[plan.argv.index("-/filter_complex") + 1]).read_text()
    assert len(graph) > 40_000  # what the command line would have carried
    # Two motion filters serve all 120 moving photos: each holds a 16 MB table at 1080p, so one per photo made a
    # render's memory grow by that much with every photo.
    assert graph.count("perspective=") == 2
    # About 70 characters for each photo or caption input: some 450 of them fit under Windows' limit.
    assert len(" ".join(plan.argv)) < 20_000, len(" ".join(plan.argv))
    asyncio.run(run_plan(plan))
    assert abs(frame_count(out) - 120 * 6) <= 1
    # Scenes 41 to 44 (red, green, blue, yellow), each seen after its crossfade in, away from the caption.
    middles = [frame_at(out, (40 + k) * 0.2 + 0.12) for k in range(4)]
    top = (0, 0, W, H // 3)
    assert [min(COLORS, key=lambda c: distance(mean_rgb(f, W, top), COLORS[c])) for f in middles] == names


def test_the_motion_of_hundreds_of_photos_stays_within_what_ffmpeg_parses(
    render_media: dict[str, Asset], tmp_path: Path
) -> None:
    """ffmpeg refuses expressions nested about a hundred deep; a lane picks its scene by halving, not by a chain."""
    tl = timeline([photo("red", 200, "zoom_in") for _ in range(400)], size=(64, 36), transition="crossfade")
    argv = build_command(tl, render_media, tmp_path / "out.mp4", tmp_path / "work")
    graph = (tmp_path / "work" / argv[argv.index("-/filter_complex") + 1]).read_text()
    depth = deepest = 0
    for char in graph:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    assert deepest < 40, deepest


def test_photos_play_in_order_with_silent_audio(render_media: dict[str, Asset], tmp_path: Path) -> None:
    order = ["red", "green", "blue", "yellow"]
    out = make(timeline([photo(name, 700) for name in order]), render_media, tmp_path)
    for i, name in enumerate(order):
        seen = mean_rgb(frame_at(out, i * 0.7 + 0.35), W)
        assert distance(seen, COLORS[name]) < 25, (name, seen)
    assert "aac" in streams(out).audio
    assert rms_db(pcm(out)) == -math.inf or rms_db(pcm(out)) < -80


def test_exif_orientation_applied(render_media: dict[str, Asset], tmp_path: Path) -> None:
    out = make(timeline([photo("sideways", 1000)], size=(180, 320)), render_media, tmp_path)
    frame = frame_at(out, 0.5, (180, 320))
    top = mean_rgb(frame, 180, (0, 20, 180, 120))
    bottom = mean_rgb(frame, 180, (0, 200, 180, 300))
    assert distance(top, COLORS["red"]) < 40, top
    assert distance(bottom, COLORS["blue"]) < 40, bottom


def test_vertical_canvas_filled_from_landscape_photo(render_media: dict[str, Asset], tmp_path: Path) -> None:
    out = make(timeline([photo("yellow", 1000)], size=(180, 320)), render_media, tmp_path)
    frame = frame_at(out, 0.5, (180, 320))
    middle = mean_rgb(frame, 180, (10, 150, 170, 170))
    assert distance(middle, COLORS["yellow"]) < 30  # the whole photo, fitted across the middle
    for band in ((0, 0, 180, 12), (0, 308, 180, 320), (0, 40, 180, 60)):
        r, g, _b = mean_rgb(frame, 180, band)
        # The blurred, darkened copy: clearly the photo's colour, clearly not black bars.
        assert r > 70 and g > 60, (band, r, g)
        assert distance((r, g, _b), COLORS["yellow"]) > 40


def test_crossfade_blends_at_the_boundary(render_media: dict[str, Asset], tmp_path: Path) -> None:
    tl = timeline([photo("red", 1000), photo("blue", 1000)], transition="crossfade", transition_ms=400)
    out = make(tl, render_media, tmp_path)
    assert distance(mean_rgb(frame_at(out, 0.9), W), COLORS["red"]) < 25  # the fade starts where blue starts
    r, _g, b = mean_rgb(frame_at(out, 1.2), W)  # halfway through the 0.4 s fade
    assert 70 < r < 170 and 80 < b < 170, (r, b)
    assert distance(mean_rgb(frame_at(out, 1.6), W), COLORS["blue"]) < 25
    assert abs(frame_count(out) - 60) <= 1


def test_cut_is_a_hard_switch(render_media: dict[str, Asset], tmp_path: Path) -> None:
    out = make(timeline([photo("red", 1000), photo("blue", 1000)]), render_media, tmp_path)
    before, after = frames(out, 28.5 / 30, 2)  # frames 29 and 30: seeking picks the first frame at or after
    assert distance(mean_rgb(before, W), COLORS["red"]) < 25
    assert distance(mean_rgb(after, W), COLORS["blue"]) < 25


# --- motion ---


def _bar_centre(frame: bytes, x0: int = 0, x1: int = W) -> float:
    """Brightness-weighted x of the bright bar between x0 and x1: it moves by fractions of a pixel."""
    total = weighted = 0.0
    for y in range(H):
        row = frame[(y * W + x0) * 3 : (y * W + x1) * 3 : 3]
        for x, red in enumerate(row, start=x0):
            value = max(0, red - 24)
            weighted += value * x
            total += value
    return weighted / total


def _bar_spread(frame: bytes) -> float:
    """Distance between the two bars near the edges: grows as the view zooms in."""
    return _bar_centre(frame, W // 2, W) - _bar_centre(frame, 0, W // 2)


def _steady(values: list[float], increasing: bool) -> None:
    steps = [b - a for a, b in itertools.pairwise(values)]
    if not increasing:
        steps = [-s for s in steps]
    assert all(s > 0 for s in steps), steps  # monotonic, and every frame moves
    typical = sorted(steps)[len(steps) // 2]
    # Even: no frame stands still while the next jumps a whole pixel, as whole-pixel crops and zoompan do.
    assert min(steps) > 0.3 * typical and max(steps) < 3 * typical, steps


@pytest.mark.parametrize("motion", ["pan_right", "pan_left", "zoom_in", "zoom_out"])
def test_ken_burns_moves_every_frame_steadily(render_media: dict[str, Asset], tmp_path: Path, motion: str) -> None:
    source = "bar" if motion.startswith("pan") else "bars"
    out = make(timeline([photo(source, 2000, motion)]), render_media, tmp_path)
    sampled = frames(out, 0.0, 60)[5:55]
    assert len(sampled) == 50
    if source == "bar":
        # pan_right moves the view right, so the picture (and the bar) slides left.
        _steady([_bar_centre(f) for f in sampled], increasing=motion == "pan_left")
    else:
        _steady([_bar_spread(f) for f in sampled], increasing=motion == "zoom_in")


@pytest.mark.parametrize("motion", ["pan_left", "zoom_in"])
def test_photos_sharing_a_motion_lane_each_move_from_their_own_start(
    render_media: dict[str, Asset], tmp_path: Path, motion: str
) -> None:
    """Moving photos take turns on two perspective filters (scenes 1 and 3 share one): the third scene's move
    matches the same scene rendered alone, frame for frame once its crossfade is over."""
    source = "bar" if motion.startswith("pan") else "bars"
    measure = _bar_centre if source == "bar" else _bar_spread
    alone = make(timeline([photo(source, 2000, motion)]), render_media, tmp_path, "alone.mp4")
    three = [photo(source, 2000, motion), photo("red", 2000, "zoom_in"), photo(source, 2000, motion)]
    shared = make(timeline(three, transition="crossfade"), render_media, tmp_path, "shared.mp4")
    expected = [measure(f) for f in frames(alone, 0.5, 45)]
    seen = [measure(f) for f in frames(shared, 4.5, 45)]
    assert len(seen) == len(expected) == 45
    assert max(abs(a - b) for a, b in zip(seen, expected, strict=True)) < 0.5, (seen, expected)


def test_still_photo_without_motion_stays_put(render_media: dict[str, Asset], tmp_path: Path) -> None:
    out = make(timeline([photo("bar", 1000, "none")]), render_media, tmp_path)
    first, last = frame_at(out, 0.1), frame_at(out, 0.9)
    assert abs(_bar_centre(first) - _bar_centre(last)) < 0.05


def test_color_scene_is_a_moving_gradient(render_media: dict[str, Asset], tmp_path: Path) -> None:
    scene = Scene(duration_ms=2000, kind="color", name="Title card", background=["#000000", "#ffffff"])
    out = make(timeline([scene]), render_media, tmp_path)
    first, later = frame_at(out, 0.2), frame_at(out, 1.8)
    top, bottom = mean_rgb(first, W, (0, 0, W, 20)), mean_rgb(first, W, (0, H - 20, W, H))
    assert sum(bottom) - sum(top) > 200  # dark at the top, light at the bottom
    assert abs(sum(mean_rgb(later, W)) - sum(mean_rgb(first, W))) > 3  # and drifting


# --- text ---


def _title_region(frame: bytes) -> tuple[float, float, float]:
    return mean_rgb(frame, W, (40, 50, 280, 130))


def test_title_is_drawn_and_chinese_titles_differ(render_media: dict[str, Asset], tmp_path: Path) -> None:
    def with_title(text: str | None, name: str) -> bytes:
        texts = [TextItem(text=text, kind="title", start_ms=0, duration_ms=1000)] if text else []
        return frame_at(make(timeline([photo("blue", 1000)], texts=texts), render_media, tmp_path, name), 0.5)

    plain, hello, bye = with_title(None, "plain.mp4"), with_title("你好世界", "a.mp4"), with_title("再见朋友", "b.mp4")
    assert distance(_title_region(plain), _title_region(hello)) > 8  # white glyphs over blue
    changed = sum(1 for x, y in zip(hello, bye, strict=True) if abs(x - y) > 60)
    assert changed > 1500, changed  # different characters, not the same boxes twice
    # Outside the text the photo is untouched.
    corner = (0, 0, 30, 30)
    assert distance(mean_rgb(plain, W, corner), mean_rgb(hello, W, corner)) < 3


def test_caption_fades_in_and_out_on_time(render_media: dict[str, Asset], tmp_path: Path) -> None:
    texts = [TextItem(text="A caption", kind="caption", start_ms=1000, duration_ms=1000)]
    out = make(timeline([photo("yellow", 3000)], texts=texts), render_media, tmp_path)
    before, during, after = (frame_at(out, t) for t in (0.5, 1.5, 2.5))

    def changed(a: bytes, b: bytes, box: tuple[int, int, int, int]) -> int:
        x0, y0, x1, y1 = box
        return sum(1 for y in range(y0, y1) for x in range(x0, x1) if abs(a[(y * W + x) * 3] - b[(y * W + x) * 3]) > 40)

    area = safe_area(W, H)
    lower_third = (area.left, area.bottom - H // 5, area.right, area.bottom)
    assert changed(before, during, lower_third) > 300  # the translucent box and its letters
    assert changed(before, during, (0, 0, W, H // 2)) == 0  # only in the lower third
    assert changed(before, after, (0, 0, W, H)) == 0  # gone again


def _alpha_border(path: Path) -> int:
    with Image.open(path) as card:
        alpha = card.getchannel("A")
        w, h = alpha.size
        edges = [alpha.crop(box) for box in ((0, 0, w, 1), (0, h - 1, w, h), (0, 0, 1, h), (w - 1, 0, w, h))]
        return max(max(edge.getdata()) for edge in edges)


@pytest.mark.parametrize(
    ("text", "kind", "size"),
    [
        ("gjpqy ÁÉÎ Typography", "title", (1920, 1080)),
        ("我们的夏天：在里斯本的一周旅行，还有很多很多的回忆", "title", (1080, 1920)),
        ("A long caption with descenders: jumping quickly over gig pyjamas, again and again", "caption", (1920, 1080)),
        ("Supercalifragilisticexpialidociousness" * 3, "title", (320, 180)),
        ("字幕" * 60, "caption", (1080, 1920)),
    ],
)  # fmt: skip
def test_text_cards_never_clip_and_stay_in_the_safe_area(
    tmp_path: Path, text: str, kind: Any, size: tuple[int, int]
) -> None:
    card = draw_text_card(text, kind, size[0], size[1], tmp_path / "card.png")
    assert _alpha_border(card.path) == 0  # nothing touches the card's edge: strokes and descenders included
    area = safe_area(*size)
    x0, y0, x1, y1 = card.ink
    assert area.left <= x0 and x1 <= area.right and area.top <= y0 and y1 <= area.bottom, (card.ink, area)
    if size[1] > size[0]:
        assert y0 >= 150 * size[1] / 1920 and y1 <= size[1] - 150 * size[1] / 1920


def test_wrapping_keeps_latin_words_whole_and_breaks_cjk_anywhere(tmp_path: Path) -> None:
    from nemovideo_mcp.studio.render.text import _fit, _Typesetter

    typesetter = _Typesetter(FontChain())
    latin = _fit("the quick brown fox jumps over the lazy dog again", "title", 640, 360, typesetter)
    assert len(latin.lines) > 1
    assert " ".join(latin.lines).split() == [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "the",
        "lazy",
        "dog",
        "again",
    ]
    chinese = _fit("今天天气很好我们去公园散步吧", "title", 360, 640, typesetter)
    assert len(chinese.lines) > 1 and "".join(chinese.lines) == "今天天气很好我们去公园散步吧"
    assert not any(
        line.startswith(("，", "。")) for line in _fit("你好，世界。你好，朋友。", "title", 200, 360, typesetter).lines
    )


def test_fonts_cover_chinese_and_fall_back_per_character() -> None:
    report = font_report()
    assert "Noto Sans CJK" in report and "noto-cjk-sans-otc" in report
    chain = FontChain()
    assert chain.faces[0].path.endswith("NotoSansCJK-Regular.ttc")
    assert "SC" in (chain.font(0, 20).getname()[0] or "")
    assert all(run.face == 0 for run in chain.runs("Hello 你好"))
    if any("DejaVu" in face.label for face in font_faces()):
        runs = chain.runs("abc ا")  # Arabic alef: not in Noto CJK, in DejaVu
        assert runs[0].face == 0 and runs[-1].face != 0


# --- sound ---


def test_music_volume_is_linear_and_loops(render_media: dict[str, Asset], tmp_path: Path) -> None:
    def level(volume: float) -> float:
        tl = timeline([photo("red", 4000)], music=Music(name="tone", asset="tone", volume=volume))
        out = make(tl, render_media, tmp_path, f"music-{volume}.mp4")
        return rms_db(pcm(out, 1.5, 1.0))  # between the fades, and past the 1.3 s end of the file: looped

    full, quiet = level(1.0), level(0.35)
    assert abs(full - (-15.05)) < 1.5  # as recorded: a 0.25 sine is -15 dB RMS; nothing divided or normalised
    assert abs((full - quiet) - 20 * math.log10(1 / 0.35)) < 1.5, (full, quiet)


def test_music_fades_in_and_out(render_media: dict[str, Asset], tmp_path: Path) -> None:
    tl = timeline([photo("red", 4000)], music=Music(name="tone", asset="tone", volume=1.0))
    out = make(tl, render_media, tmp_path)
    start, middle, end = rms_db(pcm(out, 0, 0.1)), rms_db(pcm(out, 2, 0.1)), rms_db(pcm(out, 3.9, 0.1))
    assert start < middle - 10 and end < middle - 10


def test_generated_bed_is_audible_and_never_clips(render_media: dict[str, Asset], tmp_path: Path) -> None:
    tl = timeline([photo("red", 4000)], music=Music(name="Music bed", generated="bed", volume=1.0))
    out = make(tl, render_media, tmp_path)
    samples = pcm(out, 1.0, 2.0)
    assert -35 < rms_db(samples) < -6
    assert max(abs(s) for s in samples) < 32000


def test_clip_sound_kept_and_short_clip_held(render_media: dict[str, Asset], tmp_path: Path) -> None:
    clip = Scene(duration_ms=2000, kind="video", name="holiday clip", asset="clip", src_in_ms=2000)
    out = make(timeline([photo("red", 1000), clip]), render_media, tmp_path)
    assert rms_db(pcm(out, 0.1, 0.8)) < -60  # the photo is silent
    assert rms_db(pcm(out, 1.1, 0.7)) > -30  # the clip's own sound
    assert rms_db(pcm(out, 2.2, 0.7)) < -60  # the clip ran out after 1 s: padded with silence
    held_a, held_b = frame_at(out, 2.3), frame_at(out, 2.9)
    assert sum(abs(a - b) for a, b in zip(held_a, held_b, strict=True)) / len(held_a) < 2  # last frame held
    assert sum(mean_rgb(held_a, W)) > 100  # a picture, not black
    assert abs(frame_count(out) - 90) <= 1


def test_clip_volume_zero_mutes_it(render_media: dict[str, Asset], tmp_path: Path) -> None:
    clip = Scene(duration_ms=1000, kind="video", name="clip", asset="clip", volume=0.0)
    out = make(timeline([clip]), render_media, tmp_path)
    assert rms_db(pcm(out)) < -60


# --- failures, progress, cancellation ---


@pytest.mark.parametrize(
    ("scene", "words"),
    [
        (Scene(duration_ms=1000, kind="image", name="beach.jpg", asset="nope"), "beach.jpg"),
        (Scene(duration_ms=1000, kind="image", name="", asset="gone"), "deleted.jpg"),
        (Scene(duration_ms=1000, kind="image", name="cat.jpg", asset="broken"), "cat.jpg"),
        (Scene(duration_ms=1000, kind="image", name="dog.jpg"), "dog.jpg"),
    ],
    ids=["unknown-id", "file-deleted", "not-an-image", "no-asset"],
)
def test_bad_assets_are_named_before_ffmpeg_runs(
    render_media: dict[str, Asset], tmp_path: Path, scene: Scene, words: str
) -> None:
    with pytest.raises(RenderFailed, match=re.escape(words)) as failure:
        build_command(timeline([photo("red"), scene]), render_media, tmp_path / "x.mp4", tmp_path / "work")
    assert "Traceback" not in str(failure.value)


def test_undecodable_clip_is_named(render_media: dict[str, Asset], tmp_path: Path) -> None:
    scene = Scene(duration_ms=1000, kind="video", name="party.mp4", asset="garbage")
    with pytest.raises(RenderFailed, match=re.escape("party.mp4")):
        make(timeline([photo("red"), scene]), render_media, tmp_path)
    assert not (tmp_path / "out.mp4").exists()


def test_missing_music_is_named(render_media: dict[str, Asset], tmp_path: Path) -> None:
    tl = timeline([photo("red")], music=Music(name="song.mp3", asset="missing"))
    with pytest.raises(RenderFailed, match=r"song\.mp3"):
        build_command(tl, render_media, tmp_path / "x.mp4", tmp_path / "work")


def test_ffmpeg_failure_is_one_readable_line(render_media: dict[str, Asset], tmp_path: Path) -> None:
    from nemovideo_mcp.studio.render.graph import plan_render
    from nemovideo_mcp.studio.render.runner import run_plan

    plan = plan_render(timeline([photo("red")]), render_media, tmp_path / "x.mp4", tmp_path / "work")
    plan.graph_file.write_text(plan.graph_file.read_text() + ";nosuchfilter")
    with pytest.raises(RenderFailed) as failure:
        asyncio.run(run_plan(plan))
    message = str(failure.value)
    assert "\n" not in message and "Traceback" not in message and len(message) < 400
    assert "nosuchfilter" in message or "filter" in message.lower()


@pytest.mark.skipif(os.name == "nt", reason="a shell script stands in for ffmpeg")
def test_an_ffmpeg_too_old_is_named_with_the_fix(render_media: dict[str, Asset], tmp_path: Path) -> None:
    from nemovideo_mcp.studio.render.graph import plan_render
    from nemovideo_mcp.studio.render.runner import run_plan

    old = tmp_path / "ffmpeg-6"
    old.write_text("#!/bin/sh\necho \"Unrecognized option '/filter_complex'.\" >&2\nexit 8\n")
    old.chmod(0o755)
    plan = plan_render(timeline([photo("red")]), render_media, tmp_path / "x.mp4", tmp_path / "work", ffmpeg=str(old))
    with pytest.raises(RenderFailed) as failure:
        asyncio.run(run_plan(plan))
    assert "ffmpeg 7 or newer" in str(failure.value) and "IMAGEIO_FFMPEG_EXE" in str(failure.value)


def test_progress_rises_to_one(render_media: dict[str, Asset], tmp_path: Path) -> None:
    seen: list[float] = []
    make(timeline([photo("red", 20_000, "zoom_in")]), render_media, tmp_path, on_progress=seen.append)
    assert seen and seen[-1] == 1.0
    assert any(0 < v < 1 for v in seen), seen  # reported while ffmpeg ran, not only at the end
    assert all(b >= a for a, b in itertools.pairwise(seen))
    assert all(0 <= v <= 1 for v in seen)


def _ffmpeg_children() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ..."; comm may hold spaces, so split after its closing parenthesis.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == os.getpid() and "ffmpeg" in comm and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def _long_timeline() -> Timeline:
    return timeline([photo("red", 60_000, "zoom_in")], size=(640, 360))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see child processes")
def test_cancellation_kills_ffmpeg_and_leaves_no_file(render_media: dict[str, Asset], tmp_path: Path) -> None:
    out = tmp_path / "cancelled.mp4"
    started: list[float] = []

    async def scenario() -> None:
        task = asyncio.ensure_future(
            render(_long_timeline(), render_media, out, tmp_path / "work", on_progress=started.append)
        )
        for _ in range(200):
            await asyncio.sleep(0.05)
            if started:
                break
        assert started, "the render never got going"
        assert _ffmpeg_children(), "ffmpeg should be running"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert _ffmpeg_children() == []
    assert not out.exists()
    assert not any(p.name.endswith(".part.mp4") for p in tmp_path.iterdir())


def test_timeout_stops_ffmpeg(render_media: dict[str, Asset], tmp_path: Path) -> None:
    out = tmp_path / "slow.mp4"
    with pytest.raises(RenderFailed, match="longer than"):
        asyncio.run(render(_long_timeline(), render_media, out, tmp_path / "work", timeout_s=1.0))
    assert _ffmpeg_children() == []
    assert not out.exists()


# --- the command and the preview ---


def test_one_ffmpeg_process_with_one_filter_graph(render_media: dict[str, Asset], tmp_path: Path) -> None:
    tl = timeline(
        [photo("red", 1000, "zoom_in"), photo("green", 1000, "pan_left")],
        transition="crossfade",
        texts=[TextItem(text="Hi", kind="title", start_ms=0, duration_ms=500)],
        music=Music(name="tone", asset="tone", volume=0.35),
    )
    argv = build_command(tl, render_media, tmp_path / "out.mp4", tmp_path / "work", ffmpeg="ffmpeg")
    assert argv[0] == "ffmpeg" and argv.count("-/filter_complex") == 1
    graph = (tmp_path / "work" / argv[argv.index("-/filter_complex") + 1]).read_text()
    assert "zoompan" not in graph and "perspective" in graph and "xfade" in graph
    assert "amix=inputs=2:normalize=0" in graph and "alimiter" in graph and "volume=0.3500" in graph
    joined = " ".join(argv)
    for flag in ("-profile:v high", "-crf 20", "-g 60", "-flags +cgop", "-movflags +faststart", "-colorspace bt709"):
        assert flag in joined
    assert joined.count("-loop") == 0  # stills are decoded once and repeated by the loop filter


def test_contact_sheet_is_a_small_jpeg(render_media: dict[str, Asset], tmp_path: Path) -> None:
    out = make(timeline([photo(name, 500) for name in ("red", "green", "blue", "yellow")]), render_media, tmp_path)
    sheet = contact_sheet(out, frames=4)
    assert sheet is not None and sheet[:3] == b"\xff\xd8\xff" and len(sheet) < 100_000
    image = Image.open(__import__("io").BytesIO(sheet)).convert("RGB")
    assert image.width >= 2 * 100 and image.height >= 2 * 50
    # The four tiles show the four scenes in order (red, green, blue, yellow), left to right, top to bottom.
    w, h = image.width // 2, image.height // 2
    tiles = [image.getpixel((x * w + w // 2, y * h + h // 2)) for y in (0, 1) for x in (0, 1)]
    assert [max(range(3), key=lambda c: t[c]) for t in tiles[:3]] == [0, 1, 2], tiles  # type: ignore[index]
    tiny = contact_sheet(out, frames=4, max_bytes=8_000)
    assert tiny is not None and len(tiny) <= 8_000
