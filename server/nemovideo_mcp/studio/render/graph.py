"""Timeline -> the argv of one ffmpeg process whose single filter graph makes the whole video."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..draft import Scene, Timeline
from .model import Asset, RenderFailed, ffmpeg_path
from .stills import CONTAIN_RATIO, aspect_mismatch, prepare_gradient, prepare_photo
from .text import draw_text_card

SAMPLE_RATE = 48_000
# The filter graph goes to ffmpeg in a file: inline, a timeline of a few dozen photos and captions would pass
# Windows' 32,767-character command-line limit (and, with a few hundred, Linux's 128 KB for one argument).
GRAPH_FILE = "graph.txt"
X264_PRESET = "veryfast"  # on 2 cores: about real time at 1080p with motion on every photo
CRF = 20
AUDIO_BITRATE = "192k"
MAX_TRANSITION_SHARE = 0.4  # of the shorter neighbouring scene, so every scene is seen on its own
TEXT_FADE_S = 0.3
MUSIC_FADE_IN_S = 0.8
MUSIC_FADE_OUT_S = 1.5
CLICK_FADE_S = 0.012  # a clip's sound cut mid-waveform clicks; a few milliseconds of fade hide it
LIMIT = 0.891  # -1 dBFS
BED_CHORD_S = 2.4


@dataclass
class Shot:
    """A scene as placed on the output: frames from ``start``, plus ``fade_out`` frames overlapping the next."""

    scene: Scene
    number: int
    start: int
    frames: int
    fade_in: int = 0
    fade_out: int = 0

    @property
    def length(self) -> int:
        return self.frames + self.fade_out


@dataclass
class RenderPlan:
    argv: list[str]
    inputs: list[str] = field(default_factory=list)  # what the user calls input #i, for error messages
    frames: int = 0
    duration_s: float = 0.0
    output: Path = Path()
    checks: list[tuple[Path, str, str, float]] = field(default_factory=list)  # (file, "v"/"a", label, seek s)
    # ffmpeg runs in here: the prepared stills, the text cards and the filter graph are named relative to it.
    work_dir: Path = Path()

    @property
    def graph_file(self) -> Path:
        return self.work_dir / GRAPH_FILE


def frames_for(ms: int, fps: int) -> int:
    return round(ms * fps / 1000)


def plan_shots(timeline: Timeline) -> tuple[list[Shot], int]:
    """Scenes back to back on whole frames; the last one held or the excess cut so the total is exact."""
    fps = timeline.fps
    total = max(1, frames_for(timeline.duration_ms, fps))
    shots: list[Shot] = []
    elapsed = 0
    for number, scene in enumerate(timeline.scenes, start=1):
        start = frames_for(elapsed, fps)
        elapsed += scene.duration_ms
        end = min(frames_for(elapsed, fps), total)
        if start >= total:
            break
        if end > start:  # a scene shorter than a frame is skipped; the next starts where it would have
            shots.append(Shot(scene, number, start, end - start))
    if not shots:
        shots.append(Shot(timeline.scenes[0], 1, 0, total))
    shots[-1].frames = total - shots[-1].start
    if timeline.transition == "crossfade":
        wanted = frames_for(max(0, timeline.transition_ms), fps)
        for before, after in itertools.pairwise(shots):
            overlap = min(wanted, math.floor(MAX_TRANSITION_SHARE * min(before.frames, after.frames)))
            if overlap >= 2:
                before.fade_out = after.fade_in = overlap
    return shots, total


def scene_label(scene: Scene, number: int, asset: Asset | None = None) -> str:
    if scene.name:
        return scene.name
    if asset is not None:
        return asset.path.name
    return f"scene {number}"


def _file_arg(path: Path, work_dir: Path) -> str:
    # "file:" keeps ffmpeg from reading a colon in a file name as a protocol. The files prepared in the work
    # folder (where ffmpeg runs) go by their short names, so a long timeline's command stays short.
    if path.parent.resolve() == work_dir.resolve():
        return f"file:{path.name}"
    return f"file:{path.resolve()}"


def _seconds(frames: int, fps: int) -> str:
    return f"{frames / fps:.6f}"


class _Graph:
    def __init__(self, timeline: Timeline, work_dir: Path) -> None:
        self.timeline = timeline
        self.work_dir = work_dir
        self.fps = timeline.fps
        # yuv420p needs even sizes; canvas() always gives them, a hand-written draft might not.
        self.width = max(2, timeline.width - timeline.width % 2)
        self.height = max(2, timeline.height - timeline.height % 2)
        self.input_args: list[str] = []
        self.labels: list[str] = []
        self.filters: list[str] = []
        self.checks: list[tuple[Path, str, str, float]] = []
        self.stills: list[Callable[[], Path]] = []  # prepared together once the graph is known
        self.lanes = [_Lane("la"), _Lane("lb")]  # moving photos, alternately: neighbours never share one

    def prepare_stills(self) -> None:
        """Run the still preparations side by side (Pillow releases the GIL while it decodes and resizes), two at
        a time so two large photos are the most held in memory at once; the first failure, in scene order, wins."""
        if not self.stills:
            return
        with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1, len(self.stills))) as pool:
            pending = [pool.submit(job) for job in self.stills]
            for job in pending:
                job.result()

    def add_input(self, path: Path, label: str, *options: str) -> int:
        self.input_args += [*options, "-i", _file_arg(path, self.work_dir)]
        self.labels.append(label)
        return len(self.labels) - 1

    def add_image(self, path: Path, label: str) -> int:
        # -framerate only labels the one frame's rate (xfade insists that branches agree); it is decoded once.
        return self.add_input(path, label, "-f", "image2", "-pattern_type", "none", "-framerate", str(self.fps))

    def add_raw(self, path: Path, label: str, width: int, height: int) -> int:
        return self.add_input(
            path, label, "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-framerate", str(self.fps)
        )

    def still_frames(self, index: int, length: int) -> str:
        """The one frame of a prepared still, repeated ``length`` times: the loop filter reuses it, never copies."""
        # Raw stills carry no colour tags; tagged like the text cards, ffmpeg adds no full-frame conversion before
        # the first overlay (measured: about a fifth of the graph's CPU time at 1080p).
        tags = "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"
        return f"[{index}:v]{tags},loop=loop={length - 1}:size=1:start=0,settb=1/{self.fps},setpts=N"


def _corners(motion: str, length: int, width: int, height: int, fps: int, frame: str) -> dict[str, str]:
    """Where the four corners of the view sit in the photo at frame ``frame`` (an expression) of a scene.

    Sub-pixel zoom or pan with perspective: it resamples with 1/256 pixel precision every frame, where zoompan and
    crop step by whole pixels and visibly shake on slow moves."""
    progress = f"({frame}/{length - 1})"
    seconds = length / fps
    half_w, half_h = width / 2, height / 2
    if motion in ("zoom_in", "zoom_out"):
        peak = 1 + min(0.15, max(0.06, 0.03 * seconds))
        # Exponential: every frame grows by the same ratio, which the eye reads as a steady push.
        exponent = progress if motion == "zoom_in" else f"(1-{progress})"
        zoom = f"pow({peak:.4f},{exponent})"
        cx = f"{half_w}"
    else:
        # A slight zoom change during the pan varies the resampling phase across the frame, so the picture
        # does not pulse between sharp and soft as whole-pixel positions come and go.
        zoom = f"(1.10+0.04*{progress})"
        direction = 1 if motion == "pan_right" else -1
        cx = f"({half_w}+{direction}*(2*{progress}-1)*({half_w}-{half_w}/{zoom}))"
    cy = f"{half_h}"
    hw, hh = f"({half_w}/{zoom})", f"({half_h}/{zoom})"
    left, right, top, bottom = f"{cx}-{hw}", f"{cx}+{hw}", f"{cy}-{hh}", f"{cy}+{hh}"
    return {"x0": left, "y0": top, "x1": right, "y1": top, "x2": left, "y2": bottom, "x3": right, "y3": bottom}


def _moves(shot: Shot) -> bool:
    return shot.scene.motion != "none" and shot.length >= 2


@dataclass
class _Lane:
    """Moving photos that never overlap in time, played back to back through one perspective filter.

    Each perspective filter holds a table of its own (8 bytes a pixel: 16 MB at 1080p), so one per photo made
    memory grow with every photo. Neighbouring scenes overlap in a crossfade, so they go to different lanes:
    two lanes serve any timeline."""

    name: str
    parts: list[tuple[Shot, str, str]] = field(default_factory=list)  # (shot, its still's frames, its output label)

    def filters(self, width: int, height: int, fps: int) -> list[str]:
        if not self.parts:
            return []
        starts = list(itertools.accumulate((shot.length for shot, _, _ in self.parts), initial=0))
        own = [
            _corners(shot.scene.motion, shot.length, width, height, fps, f"(on-{starts[k]})")
            for k, (shot, _, _) in enumerate(self.parts)
        ]

        def pick(key: str, lo: int, hi: int) -> str:
            # The scene a frame belongs to, found by halving: ffmpeg's expressions nest only about a hundred
            # deep, and if() evaluates just the branch it takes.
            if hi - lo == 1:
                return own[lo][key]
            mid = (lo + hi) // 2
            return f"if(lt(on,{starts[mid]}),{pick(key, lo, mid)},{pick(key, mid, hi)})"

        corners = {key: pick(key, 0, len(self.parts)) for key in own[0]}
        warp = "perspective=" + ":".join(f"{key}='{value}'" for key, value in corners.items())
        warp += ":interpolation=linear:eval=frame"
        inputs = [f"{frames}[{self.name}in{k}]" for k, (_, frames, _) in enumerate(self.parts)]
        joined = "".join(f"[{self.name}in{k}]" for k in range(len(self.parts)))
        if len(self.parts) == 1:
            return [*inputs, f"{joined}{warp},setsar=1[{self.parts[0][2]}]"]
        outs = "".join(f"[{self.name}out{k}]" for k in range(len(self.parts)))
        chain = [
            *inputs,
            f"{joined}concat=n={len(self.parts)}:v=1:a=0,settb=1/{fps},{warp},setsar=1,split={len(self.parts)}{outs}",
        ]
        for k, (_, _, out) in enumerate(self.parts):
            chain.append(
                f"[{self.name}out{k}]trim=start_frame={starts[k]}:end_frame={starts[k + 1]},setpts=PTS-STARTPTS[{out}]"
            )
        return chain


def _resolve(shot: Shot, assets: Mapping[str, Asset]) -> Asset:
    scene = shot.scene
    label = scene_label(scene, shot.number)
    if not scene.asset:
        raise RenderFailed(f'Scene {shot.number} ("{label}") has no uploaded file attached.')
    asset = assets.get(scene.asset)
    if asset is None:
        raise RenderFailed(f'The file for scene {shot.number} ("{label}") is not among the uploads any more.')
    label = scene_label(scene, shot.number, asset)
    if not asset.path.is_file():
        raise RenderFailed(f'"{label}" is missing: its file {asset.path.name} is no longer there.')
    if asset.kind == "audio":
        raise RenderFailed(f'"{label}" is a sound file; a scene needs a photo or a video clip.')
    return asset


def _photo_branch(g: _Graph, shot: Shot, asset: Asset, label: str, out: str, lane: int) -> None:
    still = g.work_dir / f"scene_{shot.number:03d}.yuv"
    g.stills.append(lambda: prepare_photo(asset.path, label, g.width, g.height, still))
    index = g.add_raw(still, label, g.width, g.height)
    if _moves(shot):
        g.lanes[lane].parts.append((shot, g.still_frames(index, shot.length), out))
    else:
        g.filters.append(f"{g.still_frames(index, shot.length)},setsar=1[{out}]")


def _color_branch(g: _Graph, shot: Shot, out: str) -> None:
    # A slow drift over a taller gradient: whole-pixel steps are invisible on something this smooth, and a
    # crop costs nothing next to resampling the frame.
    travel = min(round(g.height * 0.12), shot.length - 1)
    travel += travel % 2  # yuv420p: even sizes
    path = g.work_dir / f"scene_{shot.number:03d}.yuv"
    colors, seed, height = shot.scene.background, shot.number, g.height + travel
    g.stills.append(lambda: prepare_gradient(colors, g.width, height, path, seed=seed))
    index = g.add_raw(path, scene_label(shot.scene, shot.number), g.width, g.height + travel)
    drift = f"{travel}*n/{max(1, shot.length - 1)}"
    g.filters.append(
        f"{g.still_frames(index, shot.length)},crop={g.width}:{g.height}:0:'{drift}':exact=1,setsar=1[{out}]"
    )


def _clip_branch(g: _Graph, shot: Shot, asset: Asset, label: str, out: str) -> int | None:
    """The clip's video as ``out``; returns the input index of its sound (a separate input: ffmpeg then reads
    the two at the pace each part of the graph needs them) or None when it has none to keep."""
    w, h, fps = g.width, g.height, g.fps
    seek = f"{max(0, shot.scene.src_in_ms) / 1000:.3f}"
    span = f"{shot.length / fps + 0.5:.3f}"
    index = g.add_input(asset.path, label, "-ss", seek, "-t", span)
    g.checks.append((asset.path.resolve(), "v", label, max(0, shot.scene.src_in_ms) / 1000))
    length = shot.length
    head = f"[{index}:v]setpts=PTS-STARTPTS,fps={fps}"
    tail = (
        f"setsar=1,format=yuv420p,tpad=stop_mode=clone:stop={length},trim=end_frame={length},"
        f"settb=1/{fps},setpts=N[{out}]"
    )
    src_w, src_h = asset.width, asset.height
    if src_w and src_h and asset.rotation % 180 == 90:
        src_w, src_h = src_h, src_w
    if src_w and src_h and aspect_mismatch(src_w, src_h, w, h) > CONTAIN_RATIO:
        small_w, small_h = max(2, w // 16 * 2), max(2, h // 16 * 2)
        g.filters.append(
            f"{head},split=2[{out}bg0][{out}fg0];"
            f"[{out}bg0]scale={small_w}:{small_h}:force_original_aspect_ratio=increase,crop={small_w}:{small_h},"
            f"gblur=sigma={max(1.0, min(small_w, small_h) / 12):.2f},scale={w}:{h},lutyuv=y='val*0.55'[{out}bg];"
            f"[{out}fg0]scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2[{out}fg];"
            f"[{out}bg][{out}fg]overlay=(W-w)/2:(H-h)/2,{tail}"
        )
    else:
        g.filters.append(f"{head},scale={w}:{h}:force_original_aspect_ratio=increase:flags=bicubic,crop={w}:{h},{tail}")
    if not asset.has_audio or shot.scene.volume <= 0:
        return None
    g.checks.append((asset.path.resolve(), "a", label, max(0, shot.scene.src_in_ms) / 1000))
    return g.add_input(asset.path, label, "-ss", seek, "-t", span)


def _samples(frames: int, fps: int) -> int:
    return round(frames * SAMPLE_RATE / fps)


def _clip_sound(g: _Graph, shot: Shot, index: int, out: str) -> None:
    fps = g.fps
    total = _samples(shot.length, fps)
    click = round(CLICK_FADE_S * SAMPLE_RATE)
    fade_in = min(total // 2, max(click, _samples(shot.fade_in, fps)))
    fade_out = min(total // 2, max(click, _samples(shot.fade_out, fps)))
    delay = _samples(shot.start, fps)
    volume = min(2.0, shot.scene.volume)
    g.filters.append(
        f"[{index}:a]asetpts=PTS-STARTPTS,aresample={SAMPLE_RATE},"
        f"aformat=sample_fmts=fltp:channel_layouts=stereo,apad=whole_len={total},atrim=end_sample={total},"
        f"volume={volume:.4f},afade=t=in:ss=0:ns={fade_in},afade=t=out:ss={total - fade_out}:ns={fade_out}"
        + (f",adelay=delays={delay}S:all=1" if delay else "")
        + f"[{out}]"
    )


# A soft pad over I-vi-IV-V in C (bass, then three chord tones), plus a quiet arpeggio on eighth notes.
_CHORDS = (
    (130.81, 329.63, 392.00, 523.25),
    (110.00, 329.63, 440.00, 523.25),
    (87.31, 349.23, 440.00, 523.25),
    (98.00, 293.66, 392.00, 493.88),
)


def _pick(values: list[float], index: str) -> str:
    """An expression worth ``values[index]``."""
    expr = f"{values[-1]}"
    for i in range(len(values) - 2, -1, -1):
        expr = f"if(eq({index},{i}),{values[i]},{expr})"
    return expr


def bed_expression(detune: float) -> str:
    """One channel of the generated music bed for aevalsrc. Each chord swells in and out (a half sine), so the
    voices change pitch only at silence and never click."""
    chord = f"mod(floor(t/{BED_CHORD_S}),{len(_CHORDS)})"
    swell = f"sin(PI*mod(t,{BED_CHORD_S})/{BED_CHORD_S})"
    voices = []
    for voice, gain in zip(range(4), (0.16, 0.07, 0.06, 0.05), strict=True):
        freq = _pick([chord_tones[voice] for chord_tones in _CHORDS], chord)
        voices.append(f"{gain}*sin(2*PI*{freq}*{detune}*t)")
    # The arpeggio: a chord tone an octave up every eighth note, with a fast decay so each note ends near silence.
    step = "mod(floor(t*4),3)"
    arp_freq = (
        f"if(eq({step},0),{_pick([c[1] * 2 for c in _CHORDS], chord)},"
        f"if(eq({step},1),{_pick([c[2] * 2 for c in _CHORDS], chord)},{_pick([c[3] * 2 for c in _CHORDS], chord)}))"
    )
    pluck = "(1-exp(-200*mod(t,0.25)))*exp(-14*mod(t,0.25))"
    arp = f"0.035*{pluck}*sin(2*PI*{arp_freq}*t)"
    return f"({'+'.join(voices)})*{swell}+{arp}"


def _music(g: _Graph, timeline: Timeline, assets: Mapping[str, Asset], total: int, out: str) -> bool:
    music = timeline.music
    if music is None or music.volume <= 0:
        return False
    seconds = total / SAMPLE_RATE
    fade_in = min(MUSIC_FADE_IN_S, seconds / 4)
    fade_out = min(MUSIC_FADE_OUT_S, seconds / 3)
    shape = (
        f"atrim=end_sample={total},volume={min(2.0, music.volume):.4f},"
        f"afade=t=in:st=0:d={fade_in:.3f},afade=t=out:st={seconds - fade_out:.3f}:d={fade_out:.3f}[{out}]"
    )
    if music.asset:
        asset = assets.get(music.asset)
        label = music.name or "the music"
        if asset is None:
            raise RenderFailed(f'The music "{label}" is not among the uploads any more.')
        label = music.name or asset.path.name
        if not asset.path.is_file():
            raise RenderFailed(f'The music "{label}" is missing: its file {asset.path.name} is no longer there.')
        if asset.kind == "image":
            raise RenderFailed(f'The music "{label}" is a picture, not a sound file.')
        g.checks.append((asset.path.resolve(), "a", label, 0.0))
        # Looped at the demuxer: nothing of the song is held in memory, however long the video.
        index = g.add_input(asset.path, label, "-stream_loop", "-1")
        g.filters.append(
            f"[{index}:a]aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,"
            f"asetpts=N/SR/TB,{shape}"
        )
        return True
    if music.generated == "bed":
        left, right = bed_expression(1.0), bed_expression(1.003)
        g.filters.append(
            f"aevalsrc=exprs='{left}|{right}':s={SAMPLE_RATE}:d={seconds + 0.1:.3f},"
            f"aformat=sample_fmts=fltp:channel_layouts=stereo,tremolo=f=0.5:d=0.15,{shape}"
        )
        return True
    return False


def plan_render(
    timeline: Timeline, assets: Mapping[str, Asset], out: Path, work_dir: Path, *, ffmpeg: str | None = None
) -> RenderPlan:
    """Everything ``render`` needs: the argv, and what each ffmpeg input is called for error messages."""
    work_dir.mkdir(parents=True, exist_ok=True)
    g = _Graph(timeline, work_dir)
    fps = g.fps
    shots, total = plan_shots(timeline)
    sounds: list[str] = []
    for k, shot in enumerate(shots):
        label = f"v{k}"
        if shot.scene.kind == "color":
            _color_branch(g, shot, label)
            continue
        asset = _resolve(shot, assets)
        name = scene_label(shot.scene, shot.number, asset)
        if asset.kind == "video":
            sound = _clip_branch(g, shot, asset, name, label)
            if sound is not None:
                sounds.append(f"a{k}")
                _clip_sound(g, shot, sound, f"a{k}")
        else:
            _photo_branch(g, shot, asset, name, label, lane=k % 2)

    for lane in g.lanes:
        g.filters += lane.filters(g.width, g.height, fps)

    current = "v0"
    for k in range(1, len(shots)):
        before, after = shots[k - 1], shots[k]
        joined = f"j{k}"
        if before.fade_out:
            # Offsets are where each scene starts: the earlier branch runs fade_out frames longer instead.
            g.filters.append(
                f"[{current}][v{k}]xfade=transition=fade:duration={_seconds(before.fade_out, fps)}:"
                f"offset={_seconds(after.start, fps)}[{joined}]"
            )
        else:
            g.filters.append(f"[{current}][v{k}]concat=n=2:v=1:a=0,settb=1/{fps}[{joined}]")
        current = joined

    for j, item in enumerate(timeline.texts):
        start = frames_for(item.start_ms, fps)
        end = min(total, frames_for(item.start_ms + item.duration_ms, fps))
        if end - start < 1:
            continue
        card = draw_text_card(item.text, item.kind, g.width, g.height, work_dir / f"text_{j:03d}.png")
        index = g.add_image(card.path, f"text {j + 1}")
        length = end - start
        fade = min(TEXT_FADE_S, length / fps / 3)
        fades = ""
        if fade >= 1 / fps:
            fades = (
                f",fade=t=in:st={_seconds(start, fps)}:d={fade:.3f}:alpha=1,"
                f"fade=t=out:st={(end / fps) - fade:.6f}:d={fade:.3f}:alpha=1"
            )
        g.filters.append(
            f"[{index}:v]format=rgba,scale=out_color_matrix=bt709:out_range=tv,format=yuva420p,"
            f"loop=loop={length - 1}:size=1:start=0,settb=1/{fps},setpts=N+{start}{fades}[t{j}]"
        )
        g.filters.append(
            f"[{current}][t{j}]overlay=x={card.x}:y={card.y}:eof_action=pass:"
            f"enable='between(t,{_seconds(start, fps)},{(end - 0.5) / fps:.6f})'[o{j}]"
        )
        current = f"o{j}"
    g.filters.append(
        f"[{current}]format=yuv420p,setsar=1,"
        f"setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv,trim=end_frame={total}[vout]"
    )

    g.prepare_stills()

    samples = _samples(total, fps)
    if _music(g, timeline, assets, samples, "music"):
        sounds.append("music")
    g.filters.append(f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={samples}[silence]")
    mix_inputs = "".join(f"[{name}]" for name in ["silence", *sounds])
    # normalize=0: amix would otherwise divide every input by the number of inputs; the limiter keeps the sum
    # from clipping instead. level=0 stops alimiter from raising quiet mixes, so volumes stay linear.
    g.filters.append(
        f"{mix_inputs}amix=inputs={1 + len(sounds)}:normalize=0:duration=first:dropout_transition=0,"
        f"alimiter=limit={LIMIT}:attack=5:release=80:level=0:latency=1,aresample={SAMPLE_RATE},"
        f"aformat=sample_fmts=fltp:channel_layouts=stereo,apad=whole_len={samples},atrim=end_sample={samples}[aout]"
    )

    gop = 2 * fps
    argv = [
        ffmpeg_path(ffmpeg),
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-v",
        "error",
        *g.input_args,
        "-/filter_complex",  # ffmpeg 7+: the option's value is read from this file
        GRAPH_FILE,
        "-map",
        "[vout]",
        "-map",
        "[aout]",
        "-c:v",
        "libx264",
        "-preset",
        X264_PRESET,
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-crf",
        str(CRF),
        # Fast P-skip copies blocks that moved less than a pixel, so slow Ken Burns moves advance in fits and
        # starts; deciding skips properly costs a few percent.
        "-x264-params",
        "no-fast-pskip=1",
        "-g",
        str(gop),
        "-keyint_min",
        str(gop),
        "-sc_threshold",
        "0",
        "-flags",
        "+cgop",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-colorspace",
        "bt709",
        "-color_range",
        "tv",
        "-fps_mode",
        "cfr",
        "-r",
        str(fps),
        "-c:a",
        "aac",
        "-b:a",
        AUDIO_BITRATE,
        "-ar",
        str(SAMPLE_RATE),
        "-ac",
        "2",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        "-progress",
        "pipe:1",
        "-stats_period",
        "0.25",
        "-y",
        _file_arg(out, work_dir),
    ]
    plan = RenderPlan(argv, g.labels, total, total / fps, out, g.checks, work_dir)
    plan.graph_file.write_text(";".join(g.filters), encoding="utf-8")
    return plan


def build_command(
    timeline: Timeline, assets: Mapping[str, Asset], out: Path, work_dir: Path, *, ffmpeg: str | None = None
) -> list[str]:
    """The full argv of the one ffmpeg process that renders ``timeline`` to ``out``. Writes the prepared
    stills and text cards into ``work_dir``; RenderFailed (naming the file) for a missing or unreadable asset."""
    return plan_render(timeline, assets, out, work_dir, ffmpeg=ffmpeg).argv
