"""The local studio behind the real MCP server: what a user gets is a real video made from what they asked.

Every test drives the server the way a client does (in-process or over stdio, both protocol
modes) with NEMO_API_URL=local and judges the output file: streams, duration, frames, colours.
Canvases are 720p and timelines a few seconds, so the suite stays fast.
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
from pathlib import Path
from typing import Any

import anyio
import httpx
import imageio_ffmpeg
import pytest
from PIL import Image

from conftest import MODES, inprocess, over_stdio, text_of
from nemovideo_mcp.media.probe import probe
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio import local_studio

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
COLOURS = {"red.jpg": (220, 40, 40), "green.jpg": (40, 200, 60), "blue.jpg": (40, 70, 220)}


def studio_settings(home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_url": "local",
        "state_dir": home / "state",
        "export_dir": home / "exports",
        "upload_dirs": str(home),
        "poll_initial": 0.1,
        "poll_max": 0.3,
        "default_wait": 120.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def studio_env(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "NEMO_API_URL": "local",
        "NEMO_STATE_DIR": str(home / "state"),
        "NEMO_EXPORT_DIR": str(home / "exports"),
        "NEMO_UPLOAD_DIRS": str(home),
        "NEMO_POLL_INITIAL": "0.1",
        "NEMO_POLL_MAX": "0.3",
        "NEMO_LOG_LEVEL": "DEBUG",
    }


@pytest.fixture
def photos(home: Path) -> list[str]:
    """Three landscape photos of clearly different colours, in upload order."""
    paths = []
    for name, colour in COLOURS.items():
        path = home / "media" / name
        image = Image.new("RGB", (960, 640), colour)
        image.paste(Image.new("RGB", (200, 120), (240, 240, 240)), (380, 260))  # some detail to zoom on
        image.save(path, quality=92)
        paths.append(str(path))
    return paths


def tone(path: Path, seconds: float = 3.0, frequency: int = 440) -> Path:
    """A loud, steady stereo tone: music whose level is easy to measure."""
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", f"sine=frequency={frequency}:sample_rate=48000:duration={seconds}", "-ac", "2", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def frame(video: Path, at: float, size: tuple[int, int] = (36, 64)) -> Image.Image:
    """One decoded frame, shrunk so comparisons are cheap and robust to compression."""
    proc = subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-ss", f"{at:.3f}", "-i", str(video), "-frames:v", "1",
         "-vf", f"scale={size[0]}:{size[1]}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return Image.frombytes("RGB", size, proc.stdout)


def mean_colour(image: Image.Image) -> tuple[float, float, float]:
    pixels = list(image.getdata())
    return tuple(sum(p[i] for p in pixels) / len(pixels) for i in range(3))


def dominant(image: Image.Image) -> str:
    """Which test photo a frame shows, by its strongest colour channel."""
    r, g, b = mean_colour(image)
    lead = {"red.jpg": r - (g + b) / 2, "green.jpg": g - (r + b) / 2, "blue.jpg": b - (r + g) / 2}
    return max(lead, key=lambda name: lead[name])


def mean_volume_db(video: Path) -> float:
    proc = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostats", "-i", str(video), "-map", "0:a", "-af", "volumedetect", "-f", "null", "-"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    line = next(line for line in proc.stderr.splitlines() if "mean_volume" in line)
    return float(line.split("mean_volume:")[1].split("dB")[0])


async def generate(client: Any, instruction: str) -> Any:
    result = await client.call_tool("generate", {"instruction": instruction})
    assert not result.is_error, text_of(result)
    return result


async def export(client: Any, filename: str = "video.mp4") -> tuple[Any, Path]:
    result = await client.call_tool("export", {"filename": filename, "wait_seconds": 300})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["status"] == "succeeded", text_of(result)
    return result, Path(data["path"])


# --- the issue's own example: photos, a title and music at 35 % on a vertical timeline -----------


@pytest.mark.parametrize("mode", MODES)
async def test_photos_title_and_music_make_a_real_vertical_video(home: Path, photos: list[str], mode: str) -> None:
    music = tone(home / "media" / "song.wav")
    async with inprocess(studio_settings(home), mode=mode) as client:
        uploaded = await client.call_tool("upload", {"sources": [*photos, str(music)]})
        assert not uploaded.is_error, text_of(uploaded)
        made = await generate(
            client, 'Make a 3-second 9:16 720p video from my photos with the title "Summer Sale" and my music at 35%'
        )
        summary = made.structured_content["timeline"]["summary"]
        assert "Summer Sale" in summary and "35%" in summary and "song.wav" in summary, summary
        result, path = await export(client)

    info = probe(path)
    assert (info.video_codec, info.width, info.height) == ("h264", 720, 1280)
    assert info.audio_codec == "aac"
    assert info.duration_s is not None and abs(info.duration_s - 3.0) <= 1 / 30 + 0.03
    # Each photo on screen in upload order, filling the 9:16 canvas (no black bars at the edges).
    seen = [dominant(frame(path, at)) for at in (0.5, 1.5, 2.5)]
    assert seen == list(COLOURS), seen
    middle = frame(path, 1.5)
    for corner in ((0, 0), (35, 0), (0, 63), (35, 63)):
        assert sum(middle.getpixel(corner)) > 60, f"black bar at {corner}"  # type: ignore[arg-type]
    # The agent can see what it made: a small JPEG contact sheet beside the path and the resource link.
    images = [b for b in result.content if getattr(b, "type", "") == "image"]
    assert len(images) == 1 and images[0].mime_type == "image/jpeg"
    jpeg = base64.b64decode(images[0].data)
    assert jpeg.startswith(b"\xff\xd8") and len(jpeg) < 100_000
    assert Image.open(io.BytesIO(jpeg)).size[0] >= 2 * 150
    assert any(getattr(b, "type", "") == "resource_link" for b in result.content)


async def test_music_at_35_percent_is_about_9_db_quieter_than_at_100(home: Path, photos: list[str]) -> None:
    music = tone(home / "media" / "song.wav", seconds=4.0)
    async with inprocess(studio_settings(home)) as client:
        await client.call_tool("upload", {"sources": [photos[0], str(music)]})
        await generate(client, "Make a 3-second 720p video from my photos with my music at 35%")
        _, quiet = await export(client, "quiet.mp4")
        await generate(client, "set the music volume to 100%")
        _, loud = await export(client, "loud.mp4")
    difference = mean_volume_db(loud) - mean_volume_db(quiet)
    assert 7.5 <= difference <= 10.5, difference  # 20*log10(1/0.35) = 9.1 dB


async def test_a_description_alone_makes_title_and_caption_scenes(home: Path) -> None:
    async with inprocess(studio_settings(home)) as client:
        await generate(client, "Make a 4-second 720p video: Fresh bread every day. We open at seven.")
        draft = (await client.call_tool("state", {})).structured_content["draft"]
        texts = [s["m"]["text"] for t in draft["t"] if t["tt"] == 7 for s in t["sg"]]
        assert "Fresh bread every day" in texts and "We open at seven" in texts, texts
        _, path = await export(client)
    info = probe(path)
    assert info.duration_s is not None and abs(info.duration_s - 4.0) <= 0.07
    assert (info.width, info.height) == (1280, 720) and info.has_audio
    # Designed backgrounds, not black, and the frames move within a scene.
    first, later = frame(path, 1.6), frame(path, 2.4)
    assert sum(mean_colour(first)) > 60
    assert first.tobytes() != later.tobytes()


async def test_what_it_does_not_understand_changes_nothing(home: Path, photos: list[str]) -> None:
    async with inprocess(studio_settings(home)) as client:
        await client.call_tool("upload", {"sources": photos[:1]})
        await generate(client, "Make a 3-second video from my photos")
        before = (await client.call_tool("state", {})).structured_content["draft"]
        result = await client.call_tool("generate", {"instruction": "flibber the wobbly gronk"})
        after = (await client.call_tool("state", {})).structured_content["draft"]
    text = text_of(result).lower()
    assert "understand" in text and "title" in text  # says so, and lists what it can do
    assert after == before


async def test_credits_on_the_studio_say_it_is_free(home: Path) -> None:
    async with inprocess(studio_settings(home)) as client:
        result = await client.call_tool("credits", {})
    assert not result.is_error
    assert "free" in text_of(result) and "no credits are spent" in text_of(result)


# --- projects last ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_project_survives_a_restart_with_its_media_copied(home: Path, photos: list[str], mode: str) -> None:
    env = studio_env(home)
    async with over_stdio(env, mode=mode) as client:
        await client.call_tool("upload", {"sources": photos})
        await generate(client, 'Make a 3-second 720p video from my photos with the title "Kept"')
        summary = (await client.call_tool("state", {})).structured_content["timeline"]["summary"]
    for path in photos:  # the user's files may go away: the studio kept copies
        Path(path).unlink()
    async with over_stdio(env, mode=mode) as client:
        again = (await client.call_tool("state", {})).structured_content["timeline"]["summary"]
        assert again == summary and "Kept" in again
        _, video = await export(client)
    assert [dominant(frame(video, at)) for at in (0.5, 1.5, 2.5)] == list(COLOURS)
    kept = list((home / "state" / "studio" / "projects").glob("*/media/*"))
    assert len(kept) == 3


async def test_a_bad_asset_fails_the_render_naming_it_and_keeps_the_work(home: Path, photos: list[str]) -> None:
    async with inprocess(studio_settings(home)) as client:
        await client.call_tool("upload", {"sources": photos})
        await generate(client, "Make a 3-second 720p video from my photos")
        before = (await client.call_tool("state", {})).structured_content["draft"]
        stored = sorted((home / "state" / "studio" / "projects").glob("*/media/*"))
        damaged = next(p for p in stored if p.suffix == ".jpg")
        damaged.write_bytes(b"\xff\xd8\xff\xe0 not a picture any more")
        result = await client.call_tool("export", {"wait_seconds": 120})
        after = (await client.call_tool("state", {})).structured_content["draft"]
    assert result.is_error or result.structured_content["status"] == "failed", text_of(result)
    assert any(name in text_of(result) for name in COLOURS), text_of(result)
    assert after == before  # the timeline is untouched
    assert all(p.exists() for p in stored)


async def test_cancelling_an_export_stops_ffmpeg(home: Path, photos: list[str]) -> None:
    async with inprocess(studio_settings(home)) as client:
        await client.call_tool("upload", {"sources": photos})
        await generate(client, "Make a 60-second 1080p video from my photos")
        started = await client.call_tool("export", {"wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        with anyio.fail_after(60):
            while not _ffmpeg_rendering(home):
                await anyio.sleep(0.1)
        cancelled = await client.call_tool("export", {"job_id": job_id, "cancel": True})
        assert cancelled.structured_content["status"] == "cancelled", text_of(cancelled)
        with anyio.fail_after(20):
            while _ffmpeg_rendering(home):
                await anyio.sleep(0.1)
    assert not list((home / "exports").glob("*.mp4"))


def _ffmpeg_rendering(home: Path) -> bool:
    marker = str(home / "state" / "studio")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "ffmpeg" in cmdline and marker in cmdline and "renders" in cmdline:
                return True
    return False


# --- the HTTP contract, spoken by the studio itself --------------------------------------------


def test_the_studio_speaks_the_contract(tmp_path: Path) -> None:
    with local_studio(tmp_path / "studio") as server, httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("/api/auth/anonymous-token").status_code == 400  # X-Client-Id is required
        grant = http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "c1"}).json()
        assert grant["code"] == 0 and grant["data"]["token"].startswith("nmv_usr_")
        auth = {"Authorization": f"Bearer {grant['data']['token']}"}
        session = http.post("/api/tasks/me/with-session/nemo_agent", json={"task_name": "project"}, headers=auth)
        sid = session.json()["data"]["session_id"]
        assert sid.isdigit()
        missing = http.post("/run_sse", json={"session_id": "12345", "new_message": {"parts": [{"text": "hi"}]}},
                            headers=auth)  # fmt: skip
        assert missing.status_code == 404 and "Session not found" in missing.json()["detail"]
        words = {"role": "user", "parts": [{"text": "make a 4-second 720p video: Hello there."}]}
        body = {"app_name": "nemo_agent", "user_id": "me", "session_id": sid, "new_message": words}
        stream = http.post("/run_sse", json=body, headers=auth)
        events = [line for line in stream.text.splitlines() if line.startswith("data: ")]
        assert any('"functionCall"' in e for e in events) and any('"stateDelta":{"draft"' in e for e in events)
        assert '"text"' in events[-1]
        state = http.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=auth).json()
        assert state["data"]["state"]["draft"]["d"] == 4000
        other = http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "c2"}).json()["data"]["token"]
        foreign = http.get(f"/api/state/nemo_agent/me/{sid}/latest", headers={"Authorization": f"Bearer {other}"})
        assert foreign.json()["code"] == 1002  # another user's project is not found, not shown
        link = http.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": ["https://example.com/a.mp4"]},
                         headers=auth).json()  # fmt: skip
        assert link["code"] == 4001 and "offline" in link["message"]
        bad = http.post(f"/api/upload-video/nemo_agent/me/{sid}", files={"files": ("x.jpeg", b"\xff\xd8\xff")},
                        headers=auth).json()  # fmt: skip
        assert bad["code"] == 4001  # the contract's list has jpg, not jpeg; the client renames
        start = http.post("/api/render/proxy/lambda", json={"id": "render_t1", "sessionId": sid, "draft": {}},
                          headers=auth).json()  # fmt: skip
        assert start["success"] and start["data"]["status"] in ("pending", "processing")
        again = http.post("/api/render/proxy/lambda", json={"id": "render_t1", "sessionId": sid}, headers=auth)
        assert again.json()["data"]["id"] == "render_t1"  # the same id is the same render, never a second
        for _ in range(600):
            status = http.get("/api/render/proxy/lambda/render_t1", headers=auth).json()["data"]
            if status["status"] in ("completed", "failed"):
                break
            anyio.run(anyio.sleep, 0.1)
        assert status["status"] == "completed", status
        video = http.get(status["outputUrl"])  # like a CDN link: no token needed, an unguessable path
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        assert (
            http.get(status["outputUrl"].replace(status["outputUrl"].rsplit("/", 1)[1], "guess.mp4")).status_code == 404
        )


def _session(http: httpx.Client) -> tuple[dict[str, str], str]:
    token = http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "c1"}).json()["data"]["token"]
    auth = {"Authorization": f"Bearer {token}"}
    sid = http.post("/api/tasks/me/with-session/nemo_agent", json={}, headers=auth).json()["data"]["session_id"]
    return auth, sid


def _describe(http: httpx.Client, auth: dict[str, str], sid: str, text: str) -> None:
    body = {"session_id": sid, "new_message": {"role": "user", "parts": [{"text": text}]}}
    assert http.post("/run_sse", json=body, headers=auth).status_code == 200


def _wait_render(http: httpx.Client, auth: dict[str, str], render_id: str) -> dict[str, Any]:
    for _ in range(1200):
        status = http.get(f"/api/render/proxy/lambda/{render_id}", headers=auth).json()["data"]
        if status["status"] in ("completed", "failed", "cancelled"):
            return status
        anyio.run(anyio.sleep, 0.1)
    raise AssertionError(f"render {render_id} never finished")


def test_a_render_cut_off_by_a_restart_finishes_under_the_same_id(tmp_path: Path) -> None:
    root = tmp_path / "studio"
    with local_studio(root) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        auth, sid = _session(http)
        _describe(http, auth, sid, "make a 8-second 720p video: One. Two. Three.")
        http.post("/api/render/proxy/lambda", json={"id": "render_cut", "sessionId": sid}, headers=auth)
        for _ in range(300):  # stop while ffmpeg is at work
            if http.get("/api/render/proxy/lambda/render_cut", headers=auth).json()["data"]["status"] == "processing":
                break
            anyio.run(anyio.sleep, 0.05)
    with local_studio(root) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        status = _wait_render(http, auth, "render_cut")
        assert status["status"] == "completed", status
        assert probe(next(root.glob("projects/*/renders/render_cut.mp4"))).duration_s == pytest.approx(8, abs=0.05)


def test_old_renders_are_pruned_and_the_work_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "studio"
    with local_studio(root) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        auth, sid = _session(http)
        _describe(http, auth, sid, "make a 1-second 720p video: Hi.")
        for n in range(5):
            http.post("/api/render/proxy/lambda", json={"id": f"render_{n}", "sessionId": sid}, headers=auth)
            assert _wait_render(http, auth, f"render_{n}")["status"] == "completed"
        kept = sorted(p.stem for p in root.glob("projects/*/renders/*.mp4"))
        assert kept == ["render_2", "render_3", "render_4"]  # the newest three
        gone = http.get("/api/render/proxy/lambda/render_0", headers=auth)
        assert gone.status_code == 404
        state = http.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=auth).json()["data"]["state"]
        assert state["draft"]["d"] == 1000  # the timeline itself is never pruned


@pytest.mark.parametrize("mode", MODES)
async def test_the_agent_is_told_which_phrasings_the_studio_understands(home: Path, mode: str) -> None:
    async with inprocess(studio_settings(home), mode=mode) as client:
        instructions = client.instructions or ""
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert "local NemoVideo studio" in instructions and "free" in instructions
    assert "make a 15-second video from my photos" in instructions  # the planner's own examples
    generate = tools["generate"].description or ""
    assert "local studio" in generate and "'remove scene 2'" in generate and "把标题改成" in generate
    assert "Spends credits" not in generate
