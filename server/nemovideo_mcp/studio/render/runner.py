"""Running the one ffmpeg process of a render: progress, timeout, cancellation and readable failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

from ..draft import Timeline
from .graph import RenderPlan, plan_render
from .model import MIN_FFMPEG_MAJOR, Asset, RenderFailed, ffmpeg_path

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 30.0
KILL_WAIT_S = 10.0
_STDERR_LINES = 40

# ffmpeg's wrap-up lines say that something failed, not what: the line before them is the useful one.
_GENERIC = re.compile(
    r"conversion failed|error while (filtering|processing)|task finished with error|terminating thread|"
    r"could not open encoder before eof|nothing was written into output|error (re)?initializing filters|"
    r"failed to (configure|inject)|error opening output|exiting with exit code|error closing|"
    r"error muxing|received no packets|error writing trailer|cannot determine format of input",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"^(\[[^\]]*@ 0x[0-9a-f]+\]\s*)+", re.IGNORECASE)
_INPUT_REF = re.compile(r"(?:\b(?:in|vist|aist|ist|dec)#|input (?:stream|file) #|input #)(\d+)", re.IGNORECASE)


def _reason(lines: list[str]) -> str:
    useful = [line for line in lines if line.strip() and not _GENERIC.search(line)]
    line = (useful or lines or ["ffmpeg stopped without saying why"])[-1]
    text = _PREFIX.sub("", line.strip())
    return text[:240]


def explain_failure(lines: list[str], labels: list[str], ffmpeg: str = "ffmpeg") -> str:
    """A one-line account of why ffmpeg failed, naming the input at fault when ffmpeg says which."""
    if any("Unrecognized option" in line for line in lines):
        return (
            f"The ffmpeg in use ({ffmpeg}) is too old for the local studio, which needs ffmpeg {MIN_FFMPEG_MAJOR} "
            "or newer. Unset IMAGEIO_FFMPEG_EXE to use the one that comes with the imageio-ffmpeg package."
        )
    reason = _reason(lines)
    for line in reversed([line for line in lines if line.strip()]):
        found = _INPUT_REF.search(line)
        if found and int(found.group(1)) < len(labels):
            return f'The video could not be made because of "{labels[int(found.group(1))]}": {_reason([line])}'
    return f"The video could not be made: {reason}"


async def _check_decodes(ffmpeg: str, path: Path, stream: str, label: str, seek: float) -> None:
    """Decode a moment of the (absolute) file so a bad codec is named before the long render starts."""
    kind = "clip" if stream == "v" else "sound"
    args = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-xerror", "-ss", f"{seek:.3f}", "-t", "0.3"]
    args += ["-i", f"file:{path}", "-map", f"0:{stream}:0", "-f", "null", "-"]
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            _, err = await proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.shield(proc.wait())
        raise
    if proc.returncode != 0:
        lines = err.decode(errors="replace").splitlines()
        if any("matches no streams" in line for line in lines):
            what = "no picture" if stream == "v" else "no sound"
            raise RenderFailed(f'The {kind} "{label}" ({path.name}) has {what} that can be used.')
        raise RenderFailed(f'The {kind} "{label}" ({path.name}) could not be decoded: {_reason(lines)}')


async def _read_progress(stream: asyncio.StreamReader, total_us: float, report: Callable[[float], None]) -> None:
    async for raw in stream:
        key, _, value = raw.decode(errors="replace").strip().partition("=")
        # out_time_ms is microseconds too (a historic misnomer in ffmpeg); out_time_us is preferred when present.
        if key in ("out_time_us", "out_time_ms") and value.strip().lstrip("-").isdigit():
            report(max(0.0, int(value) / total_us))


async def _collect(stream: asyncio.StreamReader, into: deque[str]) -> None:
    async for raw in stream:
        into.append(raw.decode(errors="replace").rstrip())


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(KILL_WAIT_S):
            await proc.wait()


async def run_plan(
    plan: RenderPlan,
    *,
    on_progress: Callable[[float], None] | None = None,
    timeout_s: float = 900.0,
) -> None:
    """Run ``plan`` to a temporary name beside its output and move it into place only when ffmpeg succeeds."""
    out = plan.output
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.part{out.suffix or '.mp4'}")
    argv = [*plan.argv[:-1], f"file:{part.resolve()}"]
    last = 0.0

    def report(value: float) -> None:
        nonlocal last
        value = min(0.99, value)  # 1.0 only once the file is in place
        if on_progress is not None and value > last:
            last = value
            on_progress(value)

    stderr: deque[str] = deque(maxlen=_STDERR_LINES)
    log.info("render starting", extra={"inputs": len(plan.inputs), "frames": plan.frames})
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=plan.work_dir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        asyncio.ensure_future(_read_progress(proc.stdout, max(1.0, plan.duration_s * 1e6), report)),
        asyncio.ensure_future(_collect(proc.stderr, stderr)),
    ]
    try:
        try:
            async with asyncio.timeout(timeout_s):
                await proc.wait()
                await asyncio.gather(*readers)
        except TimeoutError:
            raise RenderFailed(
                f"The render took longer than {timeout_s:.0f} s and was stopped; try a shorter video or 720p."
            ) from None
        if proc.returncode != 0:
            raise RenderFailed(explain_failure(list(stderr), plan.inputs, argv[0]))
        if not part.is_file() or part.stat().st_size == 0:
            raise RenderFailed("The video could not be made: ffmpeg finished without writing a file.")
        os.replace(part, out)
    finally:
        # Reached on success, failure, timeout and cancellation alike: no ffmpeg outlives its render.
        await asyncio.shield(_stop(proc))
        for reader in readers:
            reader.cancel()
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    if on_progress is not None:
        on_progress(1.0)


async def render(
    timeline: Timeline,
    assets: Mapping[str, Asset],
    out: Path,
    work_dir: Path,
    *,
    on_progress: Callable[[float], None] | None = None,
    timeout_s: float = 900.0,
) -> None:
    """Render ``timeline`` to ``out`` (MP4) with one ffmpeg process, without blocking the event loop."""
    ffmpeg = await asyncio.to_thread(ffmpeg_path)
    plan = await asyncio.to_thread(plan_render, timeline, assets, out, work_dir, ffmpeg=ffmpeg)
    seen: set[tuple[Path, str]] = set()
    for path, stream, label, seek in plan.checks:
        if (path, stream) not in seen:
            seen.add((path, stream))
            await _check_decodes(ffmpeg, path, stream, label, seek)
    await run_plan(plan, on_progress=on_progress, timeout_s=timeout_s)
