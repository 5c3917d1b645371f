"""Long-running work: jobs outlive calls, progress flows, exports survive failures and restarts.

The backend is the real studio behaving like the cloud (`support.cloud`): its clock is scaled
(1 cloud second = 1 ms), so a 150 s generation or a 45 s render takes a fraction of a second here,
and its renders are real ones at a small size.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from conftest import inprocess, make_settings, over_stdio, probe_video, record_output, stdio_env, text_of
from nemovideo_mcp.mcp.tools import build_server
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks

VIDEO = "make a 10-second video about city lights"
TITLE_DRAFT = {
    "t": [
        {"tt": 0, "sg": [{"d": 10000, "m": {"name": "city lights"}}]},
        {"tt": 7, "sg": [{"d": 3000, "m": {"text": "Urban Dreams", "kind": "title"}}]},
    ],
    "d": 10000,
    "m": {"width": 640, "height": 360},
}


@pytest.fixture
def settings(cloud_server: LoopbackServer, home: Path) -> Settings:
    return make_settings(cloud_server, home)


@pytest.fixture(autouse=True)
def _small_renders(cloud: CloudQuirks) -> None:
    cloud.render_size = (160, 90)


def _status_polls(cloud: CloudQuirks) -> int:
    """The status requests the one render got."""
    (render_id,) = cloud.render_states
    return cloud.status_requests[render_id]


async def _make_video(client: Any) -> None:
    result = await client.call_tool("generate", {"instruction": VIDEO})
    assert not result.is_error, text_of(result)


async def _export_reaching_the_backend(client: Any, cloud: CloudQuirks) -> str:
    """Make a video, start its export without waiting, and return the job id once the backend has the render."""
    await _make_video(client)
    started = await client.call_tool("export", {"wait_seconds": 0})
    with anyio.fail_after(30):
        while not cloud.render_states:
            await anyio.sleep(0.01)
    return str(started.structured_content["job_id"])


async def test_generate_longer_than_wait_returns_job_then_completes(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.next_turn("Here is your draft.", draft=TITLE_DRAFT, duration_s=300)
    async with inprocess(settings) as client:
        first = await client.call_tool("generate", {"instruction": VIDEO, "wait_seconds": 0})
        data = first.structured_content
        assert data["status"] == "running" and data["job_id"]
        assert "state" in text_of(first) and data["job_id"] in text_of(first)
        again = await client.call_tool("state", {"job_id": data["job_id"], "wait_seconds": 30})
        record_output(again)
        job = again.structured_content["job"]
        assert job["status"] == "succeeded", text_of(again)
        assert job["reply"] == "Here is your draft."
        assert job["elapsed_s"] is not None
        # Waiting again is idempotent.
        third = await client.call_tool("state", {"job_id": data["job_id"], "wait_seconds": 0})
        assert third.structured_content["job"]["reply"] == "Here is your draft."
    assert cloud.calls["run_sse"] == 1


async def test_client_cancelling_the_call_does_not_stop_the_job(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.next_turn("Done with the edit.", draft=TITLE_DRAFT, duration_s=200)
    async with inprocess(settings) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.call_tool, "generate", {"instruction": VIDEO})
            with anyio.fail_after(10):
                while cloud.calls["run_sse"] == 0:  # the stream is running: now the client gives up
                    await anyio.sleep(0.005)
            tg.cancel_scope.cancel()
        state = await client.call_tool("state", {})
        (job,) = state.structured_content["jobs"]
        assert job["status"] == "running"  # the call is gone, the job is not
        done = await client.call_tool("state", {"job_id": job["job_id"], "wait_seconds": 20})
    assert done.structured_content["job"]["status"] == "succeeded"
    assert done.structured_content["job"]["reply"] == "Done with the edit."
    assert "Urban Dreams" in done.structured_content["timeline"]["summary"]


async def test_progress_notifications_reach_a_client_with_a_token(settings: Settings, cloud: CloudQuirks) -> None:
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    values: list[float] = []

    async def on_value(progress: float, total: float | None, message: str | None) -> None:
        values.append(progress)
        await on_progress(progress, total, message)

    async with inprocess(settings) as client:
        await client.call_tool("generate", {"instruction": VIDEO}, progress_callback=on_value)
    assert any(m.startswith("Working on it") for m in messages), messages
    assert len(messages) >= 3
    assert all(b > a for a, b in itertools.pairwise(values)), values  # MCP: progress only increases


async def test_still_working_on_a_heartbeat_only_stream(
    cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks
) -> None:
    settings = make_settings(cloud_server, home, still_working_interval=0.05)
    cloud.next_turn("Finally done.", heartbeats=40, duration_s=600)
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with inprocess(settings) as client:
        result = await client.call_tool("generate", {"instruction": VIDEO}, progress_callback=on_progress)
    assert result.structured_content["reply"] == "Finally done."
    notes = [m for m in messages if m.startswith("Still working")]
    assert notes, messages


async def test_silent_stream_reports_the_diff(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        await _make_video(client)
        draft = cloud.projects[0].draft
        changed = {
            **draft,
            "t": [*draft["t"], {"tt": 7, "sg": [{"d": 3000, "m": {"text": "Urban Dreams", "kind": "title"}}]}],
        }
        cloud.next_turn(silent=True, draft=changed)
        result = await client.call_tool("generate", {"instruction": 'add the title "Urban Dreams"'})
        record_output(result)
        cloud.next_turn(silent=True)
        nothing = await client.call_tool("generate", {"instruction": "make it pop"})
    changes = result.structured_content["changes"]
    assert any(c.startswith("Added track") and "Urban Dreams" in c for c in changes), changes
    assert "Urban Dreams" in text_of(result)
    assert nothing.structured_content["changes"] == []
    assert "did not change" in text_of(nothing) and "rephras" in text_of(nothing)


async def test_dropped_stream_is_not_resent(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.next_turn("never seen", draft=TITLE_DRAFT, duration_s=100, drop_after_s=50)
    async with inprocess(settings) as client:
        result = await client.call_tool("generate", {"instruction": VIDEO})
        record_output(result)
        assert not (await client.call_tool("credits", {})).is_error
    assert result.structured_content["error"]["code"] == "stream_dropped"
    assert "not sent again" in text_of(result)
    assert cloud.calls["run_sse"] == 1


@pytest.mark.parametrize(("shape", "url_missing"), [("data", False), ("task", False), ("data", True)])
async def test_export_with_each_status_shape(
    settings: Settings, cloud: CloudQuirks, shape: str, url_missing: bool
) -> None:
    cloud.render_shape = shape  # type: ignore[assignment]
    cloud.render_url_missing = url_missing
    async with inprocess(settings) as client:
        await _make_video(client)
        result = await client.call_tool("export", {})
        record_output(result)
    assert result.structured_content["status"] == "succeeded", text_of(result)
    assert probe_video(Path(result.structured_content["path"]))["codec"] == "h264"
    assert (cloud.shaped > 0) == (shape == "task")
    if url_missing:
        assert any("/download" in r.path for r in cloud.requests)


async def test_failed_render_is_retried_once_with_a_new_id(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.fail_next_render("GPU worker lost")
    async with inprocess(settings) as client:
        await _make_video(client)
        result = await client.call_tool("export", {})
    assert result.structured_content["status"] == "succeeded", text_of(result)
    assert len(cloud.render_states) == 2
    assert result.structured_content["render_id"] == list(cloud.render_states)[-1]


async def test_render_failing_twice_reports_the_reason(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.fail_next_render("GPU worker lost", times=2)
    async with inprocess(settings) as client:
        await _make_video(client)
        result = await client.call_tool("export", {})
    assert result.is_error and "GPU worker lost" in text_of(result)
    assert result.structured_content["error"]["code"] == "render_failed"
    assert len(cloud.render_states) == 2
    assert list(settings.export_dir.glob("*")) == [] if settings.export_dir.exists() else True


async def test_interrupted_download_leaves_no_partial_file(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.fail_next("cdn", kind="cut_download", times=10)
    cloud.fail_next("render_download", kind="cut_download", times=10)
    async with inprocess(settings) as client:
        await _make_video(client)
        result = await client.call_tool("export", {"filename": "cut.mp4"})
        assert result.is_error and result.structured_content["error"]["code"] == "download_failed"
        assert sorted(p.name for p in settings.export_dir.iterdir()) == []
        # Once the network behaves, export again finishes the same render without rendering twice.
        cloud.clear_faults()
        retry = await client.call_tool("export", {"job_id": result.structured_content["job_id"]})
    assert retry.structured_content["status"] == "succeeded", text_of(retry)
    assert (settings.export_dir / "cut.mp4").stat().st_size > 1000
    assert len(cloud.render_states) == 1


async def test_two_exports_in_parallel_get_their_own_files(settings: Settings, cloud: CloudQuirks) -> None:
    results: dict[str, Any] = {}
    async with inprocess(settings) as client:
        await _make_video(client)

        async def run(name: str) -> None:
            results[name] = await client.call_tool("export", {"filename": name})

        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "first.mp4")
            tg.start_soon(run, "second.mp4")
    paths = {results[n].structured_content["path"] for n in results}
    assert len(paths) == 2 and all(Path(p).is_file() for p in paths)
    assert len(cloud.render_states) == 2


async def test_export_again_resumes_the_same_render(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.render_seconds = 300
    async with inprocess(settings) as client:
        await _make_video(client)
        first = await client.call_tool("export", {"wait_seconds": 0})
        assert first.structured_content["status"] == "running"
        second = await client.call_tool("export", {"wait_seconds": 30})
    assert second.structured_content["status"] == "succeeded"
    assert second.structured_content["job_id"] == first.structured_content["job_id"]
    assert len(cloud.render_states) == 1


async def test_cancel_a_render(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.render_seconds = 100_000
    async with inprocess(settings) as client:
        await _make_video(client)
        started = await client.call_tool("export", {"wait_seconds": 0.05})
        with anyio.fail_after(30):  # on a busy machine the render may not be submitted yet after 0.05 s
            while not cloud.render_states:
                await anyio.sleep(0.01)
        cancelled = await client.call_tool("export", {"cancel": True})
    assert started.structured_content["status"] == "running"
    assert cancelled.structured_content["status"] == "cancelled", text_of(cancelled)
    assert next(iter(cloud.render_states.values())) == "cancelled"


async def test_restarted_server_recovers_the_render(
    cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks
) -> None:
    cloud.render_seconds = 1500  # 1.5 s real: long enough to kill the server in the middle
    env = stdio_env(cloud_server, home)
    connection = over_stdio(env)
    client = await connection.__aenter__()
    await _make_video(client)
    started = await client.call_tool("export", {"wait_seconds": 0.2})
    assert started.structured_content["status"] == "running"
    job_id = started.structured_content["job_id"]
    # Like a crash or a dead laptop battery: the server gets no chance to clean up.
    os.kill(_server_pid(env["NEMO_STATE_DIR"]), signal.SIGKILL)
    assert next(iter(cloud.render_states.values())) in ("pending", "processing")  # killed mid-render
    with contextlib.suppress(Exception):  # the client notices its server is gone
        await connection.__aexit__(None, None, None)
    await anyio.sleep(1.0)  # downtime: not part of how long the resumed run took
    async with over_stdio(env) as client:
        state = await client.call_tool("state", {})
        assert [j["job_id"] for j in state.structured_content["jobs"]] == [job_id]
        resume_began = time.monotonic()
        resumed = await client.call_tool("export", {"wait_seconds": 30})
        this_run = time.monotonic() - resume_began
        record_output(resumed)
    assert resumed.structured_content["status"] == "succeeded", text_of(resumed)
    assert resumed.structured_content["elapsed_s"] <= this_run + 0.2, (resumed.structured_content, this_run)
    assert resumed.structured_content["job_id"] == job_id
    assert len(cloud.render_states) == 1
    assert probe_video(Path(resumed.structured_content["path"]))["codec"] == "h264"


async def test_finished_export_asked_again_refreshes_the_url(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as client:
        await _make_video(client)
        first = await client.call_tool("export", {})
        polls = _status_polls(cloud)
        again = await client.call_tool("export", {"job_id": first.structured_content["job_id"]})
    assert again.structured_content["path"] == first.structured_content["path"]
    assert again.structured_content["url"]
    assert _status_polls(cloud) == polls + 1
    assert len(cloud.render_states) == 1


def _server_pid(state_dir: str) -> int:
    """The stdio server started with this state folder (found through /proc, so Linux only)."""
    marker = f"NEMO_STATE_DIR={state_dir}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                return int(entry.name)
        except OSError:
            continue
    raise AssertionError("server process not found")


async def _export_running_then_stop(settings: Settings, cloud: CloudQuirks, **args: Any) -> str:
    """Start an export and stop the server while it renders (the journal keeps it as running)."""
    async with inprocess(settings) as client:
        await _make_video(client)
        started = await client.call_tool("export", {"wait_seconds": 0.05, **args})
        assert started.structured_content["status"] == "running", text_of(started)
        return str(started.structured_content["job_id"])


async def test_two_calls_resuming_at_once_render_and_save_once(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.render_seconds = 400
    job_id = await _export_running_then_stop(settings, cloud, filename="city.mp4")
    results: list[Any] = []
    async with inprocess(settings) as client:

        async def resume() -> None:
            results.append(await client.call_tool("export", {"filename": "city.mp4", "wait_seconds": 30}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(resume)
            tg.start_soon(resume)
    assert [r.structured_content["job_id"] for r in results] == [job_id, job_id]
    assert len(cloud.render_states) == 1
    assert sorted(p.name for p in settings.export_dir.iterdir()) == ["city.mp4"]


async def test_export_again_without_the_filename_waits_for_the_named_one(
    settings: Settings, cloud: CloudQuirks
) -> None:
    cloud.render_seconds = 300
    async with inprocess(settings) as client:
        await _make_video(client)
        first = await client.call_tool("export", {"filename": "named.mp4", "wait_seconds": 0})
        again = await client.call_tool("export", {"wait_seconds": 30})
    assert again.structured_content["job_id"] == first.structured_content["job_id"]
    assert again.structured_content["path"].endswith("named.mp4")
    assert len(cloud.render_states) == 1


async def test_crash_between_submit_and_journal_does_not_render_twice(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.render_seconds = 300
    job_id = await _export_running_then_stop(settings, cloud)
    # Rewind the journal to the moment before the backend's answer was recorded.
    journal = settings.state_dir / "jobs.json"
    data = json.loads(journal.read_text())
    for job in data["jobs"]:
        if job["job_id"] == job_id:
            job["state"]["draft_submitted"] = False
    journal.write_text(json.dumps(data))
    async with inprocess(settings) as client:
        result = await client.call_tool("export", {"wait_seconds": 30})
    assert result.structured_content["status"] == "succeeded", text_of(result)
    assert len(cloud.render_states) == 1


async def _export_submitted_then_stop(settings: Settings, cloud: CloudQuirks) -> tuple[str, str]:
    """Start an export, wait until the backend has its render, stop the server: (job id, render id)."""
    async with inprocess(settings) as client:
        await _make_video(client)
        started = await client.call_tool("export", {"wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        with anyio.fail_after(30):
            while not cloud.render_states or not started.structured_content.get("render_id"):
                await anyio.sleep(0.01)
                started = await client.call_tool("export", {"job_id": job_id, "wait_seconds": 0})
    return job_id, str(started.structured_content["render_id"])


async def test_a_render_request_landing_after_the_restart_check_is_not_rendered_twice(
    settings: Settings, cloud: CloudQuirks
) -> None:
    cloud.render_seconds = 300
    job_id, render_id = await _export_submitted_then_stop(settings, cloud)
    journal = settings.state_dir / "jobs.json"
    data = json.loads(journal.read_text())
    for job in data["jobs"]:
        if job["job_id"] == job_id:
            job["state"]["draft_submitted"] = False  # the crash came before the backend's answer
    journal.write_text(json.dumps(data))
    # The restart's check does not find it yet: the request was still in flight and lands just after.
    cloud.fail_next("render_status", status=404)
    async with inprocess(settings) as client:
        result = await client.call_tool("export", {"job_id": job_id, "wait_seconds": 30})
    assert result.structured_content["status"] == "succeeded", text_of(result)
    assert result.structured_content["render_id"] == render_id  # resubmitted under the same id
    assert list(cloud.render_states) == [render_id]


async def test_unwritable_export_folder_is_explained_and_render_kept(
    cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks
) -> None:
    (home / "not-a-folder").write_text("a file where the export folder should be")
    settings = make_settings(cloud_server, home, export_dir=home / "not-a-folder")
    async with inprocess(settings) as client:
        await _make_video(client)
        result = await client.call_tool("export", {})
    assert result.is_error
    error = result.structured_content["error"]
    assert error["code"] == "download_failed" and "NEMO_EXPORT_DIR" in error["message"]
    assert "Traceback" not in text_of(result)
    # Fixed folder, same render: asking again resumes it instead of rendering twice.
    async with inprocess(make_settings(cloud_server, home)) as client:
        again = await client.call_tool("export", {"job_id": result.structured_content["job_id"]})
    assert again.structured_content["status"] == "succeeded", text_of(again)
    assert len(cloud.render_states) == 1


async def test_generate_succeeds_when_only_the_asked_for_export_fails(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.next_turn("Done! Click the Export button to download", draft=TITLE_DRAFT)
    cloud.fail_next_render("encoder crashed", times=2)
    async with inprocess(settings) as client:
        result = await client.call_tool("generate", {"instruction": "make it and send me the video"})
    data = result.structured_content
    assert not result.is_error and data["status"] == "succeeded"
    assert data["export"]["error"]["code"] == "render_failed"
    assert any("do not resend the instruction" in n for n in data["notices"])


async def test_generate_cut_off_by_a_restart_is_reported_not_resumed(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.next_turn("never finished here", duration_s=100_000)
    async with inprocess(settings) as client:
        started = await client.call_tool("generate", {"instruction": VIDEO, "wait_seconds": 0.05})
        job_id = started.structured_content["job_id"]
    async with inprocess(settings) as client:
        state = await client.call_tool("state", {})
        job = await client.call_tool("state", {"job_id": job_id, "wait_seconds": 0})
    # NemoVideo may still be working on it (and charging): state lists it.
    (listed,) = state.structured_content["jobs"]
    assert listed["job_id"] == job_id and listed["status"] == "interrupted"
    assert "may still be working" in text_of(state)
    assert job.structured_content["job"]["status"] == "interrupted"
    assert "not sent again" in text_of(job)
    # The answer to state is not "call state".
    assert "call state" not in text_of(job).lower() and "timeline below" in text_of(job)
    assert cloud.calls["run_sse"] == 1


def _age_journal(settings: Settings, job_id: str, seconds: float) -> None:
    journal = settings.state_dir / "jobs.json"
    data = json.loads(journal.read_text())
    for job in data["jobs"]:
        if job["job_id"] == job_id:
            job["started_at"] -= seconds
    journal.write_text(json.dumps(data))


async def test_an_old_cut_off_generate_ends(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.next_turn("never finished here", duration_s=100_000)
    async with inprocess(settings) as client:
        started = await client.call_tool("generate", {"instruction": VIDEO, "wait_seconds": 0.05})
        job_id = started.structured_content["job_id"]
    _age_journal(settings, job_id, settings.stream_max + 60)  # older than any stream can run
    async with inprocess(settings) as client:
        state = await client.call_tool("state", {})
        job = await client.call_tool("state", {"job_id": job_id, "wait_seconds": 0})
    assert state.structured_content["jobs"] == []
    assert job.structured_content["job"]["status"] == "failed"
    assert job.structured_content["job"]["error"]["code"] == "stream_dropped"
    assert "finished with it" in text_of(job)


async def test_a_render_cancelled_at_the_backend_ends_its_job_cancelled(settings: Settings, cloud: CloudQuirks) -> None:
    """Someone else (or this server's own cancel, racing a status poll) stops the render at the backend: the job
    learns it from a poll and ends cancelled, not failed."""
    import httpx

    cloud.render_never_finishes = True
    async with inprocess(settings) as client:
        job_id = await _export_reaching_the_backend(client, cloud)
        render_id = next(iter(cloud.render_states))
        async with httpx.AsyncClient(base_url=settings.api_url, timeout=10) as http:
            headers = {"Authorization": f"Bearer {cloud.issued_tokens[-1]}"}
            answer = await http.post(f"/api/render/proxy/lambda/{render_id}/cancel", headers=headers)
        assert answer.json()["data"]["status"] == "cancelled", answer.text
        ended = await client.call_tool("state", {"job_id": job_id, "wait_seconds": 30})
    job = ended.structured_content["job"]
    assert job["status"] == "cancelled", text_of(ended)
    assert job["error"]["code"] == "render_cancelled"


async def test_an_export_is_cancelled_from_its_job_id_after_a_restart(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.render_seconds = 100_000
    async with inprocess(settings) as client:
        await _make_video(client)
        started = await client.call_tool("export", {"wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        with anyio.fail_after(30):  # until the backend has the render: then the process that started it ends
            while not cloud.render_states or not started.structured_content.get("render_id"):
                await anyio.sleep(0.01)
                started = await client.call_tool("export", {"job_id": job_id, "wait_seconds": 0})
    async with inprocess(settings) as client:
        cancelled = await client.call_tool("export", {"job_id": job_id, "cancel": True})
        state = await client.call_tool("state", {})
    assert cancelled.structured_content["status"] == "cancelled", text_of(cancelled)
    assert next(iter(cloud.render_states.values())) == "cancelled"  # stopped at the backend too
    assert state.structured_content["jobs"] == []
    async with inprocess(settings) as client:  # and it stays cancelled
        again = await client.call_tool("state", {"job_id": job_id, "wait_seconds": 0})
    assert again.structured_content["job"]["status"] == "cancelled"


async def test_an_export_interrupted_long_ago_ends(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.render_seconds = 100_000
    job_id = await _export_running_then_stop(settings, cloud)
    _age_journal(settings, job_id, 3 * 24 * 3600)
    async with inprocess(settings) as client:
        state = await client.call_tool("state", {})
        job = await client.call_tool("state", {"job_id": job_id, "wait_seconds": 0})
    assert state.structured_content["jobs"] == []
    assert job.structured_content["job"]["status"] == "failed"
    assert "more than a day ago" in text_of(job)


async def test_a_stream_that_never_ends_is_cut_at_stream_max(
    cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks
) -> None:
    settings = make_settings(cloud_server, home, stream_max=0.3)
    cloud.next_turn("too late", heartbeats=10_000, duration_s=1_000_000)
    async with inprocess(settings) as client:
        result = await client.call_tool("generate", {"instruction": VIDEO})
    assert result.structured_content["error"]["code"] == "stream_dropped"
    assert cloud.calls["run_sse"] == 1


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_without_a_progress_token_progress_arrives_as_log_messages(
    settings: Settings, cloud: CloudQuirks, mode: str
) -> None:
    notes: list[str] = []

    async def on_log(params: Any) -> None:
        notes.append(str(params.data))

    cloud.next_turn(draft=TITLE_DRAFT, duration_s=300)  # the agent's work takes a while, as the cloud's does
    server = build_server(settings)
    async with Client(server, mode=mode, logging_callback=on_log, log_level="info") as client:
        await client.call_tool("generate", {"instruction": VIDEO})
    assert "Setting things up..." in notes
    assert any(n.startswith("Working on it") for n in notes), notes


async def test_a_render_that_finished_during_the_restart_is_fetched_at_once(
    cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks
) -> None:
    # A first status poll 60 s out: only the resume's immediate look can finish within the 5 s wait below.
    settings = make_settings(cloud_server, home, poll_initial=60.0)
    cloud.render_seconds = 200  # 0.2 s real
    async with inprocess(settings) as client:
        await _make_video(client)
        started = await client.call_tool("export", {"wait_seconds": 0})
        assert started.structured_content["status"] == "running"
        with anyio.fail_after(10):
            while not started.structured_content.get("render_id") or not cloud.render_states:
                await anyio.sleep(0.01)  # until the backend has the render and the journal knows it
                started = await client.call_tool("export", {"wait_seconds": 0})
    await anyio.sleep(0.4)  # the render completes while no server runs
    async with inprocess(settings) as client:
        resumed = await client.call_tool("export", {"wait_seconds": 5})
    assert resumed.structured_content["status"] == "succeeded", text_of(resumed)
    assert len(cloud.render_states) == 1


async def test_an_old_failed_export_never_stands_in_for_a_newer_timeline(
    settings: Settings, cloud: CloudQuirks
) -> None:
    async with inprocess(settings) as client:
        await _make_video(client)
        cloud.fail_next("cdn", kind="cut_download", times=10)
        cloud.fail_next("render_download", kind="cut_download", times=10)
        old = await client.call_tool("export", {"filename": "a.mp4"})
        assert old.structured_content["error"]["code"] == "download_failed"
        cloud.clear_faults()
        await client.call_tool("generate", {"instruction": 'add the title "Second cut"'})
        newer = await client.call_tool("export", {"filename": "b.mp4"})
        assert newer.structured_content["status"] == "succeeded"
        plain = await client.call_tool("export", {})
    assert plain.structured_content["status"] == "succeeded", text_of(plain)
    assert plain.structured_content["job_id"] not in (
        old.structured_content["job_id"],
        newer.structured_content["job_id"],
    )
    # a.mp4's render is not reused for the new timeline; b.mp4's is, since the timeline did not change since.
    assert plain.structured_content["reused_from"] == newer.structured_content["job_id"]
    assert len(cloud.render_states) == 2


async def test_two_servers_on_one_home_keep_each_others_jobs(settings: Settings, cloud: CloudQuirks) -> None:
    async with inprocess(settings) as first, inprocess(settings) as second:
        await _make_video(first)
        exported = await first.call_tool("export", {})
        assert exported.structured_content["status"] == "succeeded", text_of(exported)
        # The second server started before the first one's jobs existed; its writes must not drop them.
        cloud.next_turn("Sure.", draft=TITLE_DRAFT)
        await _make_video(second)
    journal = json.loads((settings.state_dir / "jobs.json").read_text())
    ids = {job["job_id"] for job in journal["jobs"]}
    assert exported.structured_content["job_id"] in ids
    assert len([job for job in journal["jobs"] if job["kind"] == "generate"]) == 2


async def test_the_journal_never_holds_backend_secrets_or_render_urls(settings: Settings, cloud: CloudQuirks) -> None:
    leaked = "nmv_usr_" + "5f" * 16  # a token the backend echoes back
    cloud.next_turn(f"Done. Debug: Bearer {leaked}", draft=TITLE_DRAFT)
    async with inprocess(settings) as client:
        made = await client.call_tool("generate", {"instruction": "make it and send me the video"})
        record_output(made)
        assert made.structured_content["export"]["status"] == "succeeded", text_of(made)
        url = made.structured_content["export"]["url"]
    journal = (settings.state_dir / "jobs.json").read_text()
    assert leaked not in journal
    assert url and url not in journal and "/files/renders/" not in journal
    assert json.loads(journal)["jobs"]


async def test_state_with_an_export_job_id_only_looks(settings: Settings, cloud: CloudQuirks) -> None:
    """state is annotated read-only: after a restart it reports an interrupted export, it never resumes one."""
    cloud.render_seconds = 300
    async with inprocess(settings) as client:
        job_id = await _export_reaching_the_backend(client, cloud)
    await anyio.sleep(0.5)  # the render finishes at the backend while no server follows it
    async with inprocess(settings) as client:
        looked = await client.call_tool("state", {"job_id": job_id, "wait_seconds": 1})
        saved_by_state = list(settings.export_dir.glob("*.mp4"))
        resumed = await client.call_tool("export", {"job_id": job_id, "wait_seconds": 30})
    assert looked.structured_content["job"]["status"] == "interrupted", text_of(looked)
    assert saved_by_state == []
    assert resumed.structured_content["status"] == "succeeded", text_of(resumed)
    assert len(cloud.render_states) == 1


def _as_older_journal(entry: dict[str, Any]) -> dict[str, Any]:
    """A journal entry as servers before typed job state wrote it: the steps in `params`, the outcome in `result`."""
    state = dict(entry.pop("state"))
    state.pop("kind")
    return {**entry, "params": state, "result": state.pop("result")}


async def test_a_journal_written_before_typed_job_state_still_resumes(settings: Settings, cloud: CloudQuirks) -> None:
    cloud.render_seconds = 300
    job_id, render_id = await _export_submitted_then_stop(settings, cloud)
    journal = settings.state_dir / "jobs.json"
    data = json.loads(journal.read_text())
    finished_turn = {
        "job_id": "gen_0123456789ab",
        "kind": "generate",
        "status": "succeeded",
        "stage": "Done",
        "started_at": time.time() - 60,
        "finished_at": time.time() - 30,
        "params": {"instruction": VIDEO, "also_export": False},
        "result": {"message": "Here is your draft.", "status": "succeeded", "reply": "Here is your draft.",
                   "changes": ["added clip city lights"], "timeline_changed": True},
    }  # fmt: skip
    old = [_as_older_journal(job) for job in data["jobs"]]
    assert all("state" not in job and "params" in job for job in old)
    journal.write_text(json.dumps({"jobs": [finished_turn, *old]}))
    async with inprocess(settings) as client:
        turn = await client.call_tool("state", {"job_id": "gen_0123456789ab", "wait_seconds": 0})
        export = await client.call_tool("export", {"job_id": job_id, "wait_seconds": 30})
    assert turn.structured_content["job"]["reply"] == "Here is your draft.", text_of(turn)
    assert turn.structured_content["job"]["changes"] == ["added clip city lights"]
    assert export.structured_content["status"] == "succeeded", text_of(export)
    assert export.structured_content["render_id"] == render_id  # the old journal's render, not a second one
    assert list(cloud.render_states) == [render_id]


async def test_render_polls_do_not_rewrite_the_journal(
    settings: Settings, cloud: CloudQuirks, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nemovideo_mcp.local.store import StateStore

    writes: list[float] = []
    write_json = StateStore.write_json

    def counting(self: StateStore, name: str, data: dict[str, Any]) -> None:
        if name == "jobs.json":
            writes.append(time.monotonic())
        write_json(self, name, data)

    monkeypatch.setattr(StateStore, "write_json", counting)
    cloud.render_never_finishes = True  # progress stalls at 95 %: the schedule keeps polling, up to poll_max apart
    async with inprocess(settings) as client:
        await _make_video(client)
        started = await client.call_tool("export", {"wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        with anyio.fail_after(30):
            while not cloud.render_states or _status_polls(cloud) < 3:
                await anyio.sleep(0.01)
        before, polls_before = len(writes), _status_polls(cloud)
        with anyio.fail_after(30):
            while _status_polls(cloud) < polls_before + 20:
                await anyio.sleep(0.01)
        during = len(writes) - before
        await client.call_tool("export", {"job_id": job_id, "cancel": True})
    assert during == 0, f"{during} journal writes during 20 status polls"
    # The real transitions are still journaled: the cancel ends the job on disk.
    journal = json.loads((settings.state_dir / "jobs.json").read_text())
    assert [j["status"] for j in journal["jobs"] if j["job_id"] == job_id] == ["cancelled"]
