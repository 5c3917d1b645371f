"""How a render's memory grows with the number of photos: with motion on every photo, and without.

Each row renders a 1080p slideshow of N generated photos (1 s each, 0.5 s crossfades, a caption on each) in a
fresh process and reports the peak resident memory of its ffmpeg. The "still" column is the same timeline with
no motion: the memory of the stills, the text cards and the encoder. The difference is what motion costs; it
should stay flat however many photos there are (two perspective filters serve them all).

    python bench/studio_memory.py [--counts 4 10 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MOTIONS = ("zoom_in", "pan_left", "zoom_out", "pan_right")


def child(count: int, moving: bool, work: Path) -> None:
    """Render in this process; print the wall time and the ffmpeg's peak RSS as JSON."""
    from PIL import Image

    from nemovideo_mcp.studio.draft import Scene, TextItem, Timeline
    from nemovideo_mcp.studio.render import Asset, render

    assets = {}
    for i in range(4):
        path = work / f"photo{i}.jpg"
        if not path.exists():
            Image.effect_noise((2400, 1600), 60).convert("RGB").save(path, quality=90)
        assets[f"p{i}"] = Asset(path=path, kind="image", width=2400, height=1600)
    scenes = [
        Scene(
            duration_ms=1000,
            kind="image",
            name=f"photo {i}",
            asset=f"p{i % 4}",
            motion=MOTIONS[i % 4] if moving else "none",
        )
        for i in range(count)
    ]
    texts = [TextItem(text=f"Photo {i + 1}", kind="caption", start_ms=i * 1000, duration_ms=1000) for i in range(count)]
    timeline = Timeline(
        width=1920, height=1080, duration_ms=count * 1000, transition="crossfade", transition_ms=500,
        scenes=scenes, texts=texts,
    )  # fmt: skip
    started = time.perf_counter()
    asyncio.run(render(timeline, assets, work / "out.mp4", work / "render", timeout_s=1800))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KB on Linux
    print(json.dumps({"wall": time.perf_counter() - started, "peak_mb": peak_mb}))


def run_case(count: int, moving: bool, work: Path) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", str(count), "--moving" if moving else "--still", "--work", str(work)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=1800, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", type=int, nargs="+", default=[4, 10, 20])
    parser.add_argument("--child", type=int)
    parser.add_argument("--moving", action="store_true")
    parser.add_argument("--still", action="store_true")
    parser.add_argument("--work")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.moving, Path(args.work))
        return
    print("Peak memory of the render's ffmpeg (MB), 1080p, 1 s a photo, crossfades, a caption on each photo.")
    print(f"{'photos':>6} {'still':>8} {'moving':>8} {'motion costs':>13} {'per photo':>10} {'wall s (moving)':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        first: tuple[int, float] | None = None
        for count in args.counts:
            work = Path(tmp) / str(count)
            work.mkdir()
            still = run_case(count, False, work)
            moving = run_case(count, True, work)
            cost = moving["peak_mb"] - still["peak_mb"]
            first = first or (count, moving["peak_mb"])
            per_photo = (moving["peak_mb"] - first[1]) / (count - first[0]) if count > first[0] else float("nan")
            print(
                f"{count:>6} {still['peak_mb']:>8.0f} {moving['peak_mb']:>8.0f} {cost:>13.0f} {per_photo:>10.1f} "
                f"{moving['wall']:>16.1f}"
            )


if __name__ == "__main__":
    main()
