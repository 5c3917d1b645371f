"""The real client against the real studio behaving like the cloud: GUI phrases, the other render shape,
keep-alives and recoverable errors, added by `support.cloud.CloudQuirks` around the studio's own app; and
what each of its faults (`support.faults`) puts on the wire, read with a plain HTTP client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from conftest import inprocess, make_settings, probe_video, text_of
from nemovideo_mcp.settings import Settings
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import HEARTBEATS, CloudQuirks
from support.faults import GARBAGE

FORBIDDEN = ("click", "open the", "drag", "点击", "打开", "拖拽")


@pytest.fixture
def quirks(cloud: CloudQuirks) -> CloudQuirks:
    return cloud


@pytest.fixture
def settings(cloud_server: LoopbackServer, home: Path) -> Settings:
    return make_settings(cloud_server, home, poll_initial=0.1, poll_max=0.3, default_wait=120.0)


@pytest.fixture
def photo(home: Path) -> str:
    path = home / "media" / "beach.jpg"
    Image.new("RGB", (640, 400), (30, 120, 200)).save(path)
    return str(path)


async def _make(client: Any, photo: str, instruction: str) -> Any:
    uploaded = await client.call_tool("upload", {"sources": [photo]})
    assert not uploaded.is_error, text_of(uploaded)
    return await client.call_tool("generate", {"instruction": instruction})


async def test_a_gui_phrase_reply_becomes_a_real_export(settings: Settings, quirks: CloudQuirks, photo: str) -> None:
    quirks.gui_phrases = True
    async with inprocess(settings) as client:
        result = await _make(client, photo, "make a 2-second 720p video from my photos")
        assert not result.is_error, text_of(result)
        # "Click the Export button" arrived; the agent gets a real next step instead of the click.
        assert [s["tool"] for s in result.structured_content["next_steps"]] == ["export"], result.structured_content
        assert not any(word in text_of(result).lower() for word in FORBIDDEN), text_of(result)
        exported = await client.call_tool("export", {"wait_seconds": 120})
    assert exported.structured_content["status"] == "succeeded", text_of(exported)
    assert probe_video(Path(exported.structured_content["path"]))["codec"] == "h264"


async def test_the_other_render_status_shape_still_exports(settings: Settings, quirks: CloudQuirks, photo: str) -> None:
    quirks.render_shape = "task"
    async with inprocess(settings) as client:
        await _make(client, photo, "make a 2-second 720p video from my photos")
        result = await client.call_tool("export", {"wait_seconds": 120})
    assert result.structured_content["status"] == "succeeded", text_of(result)
    assert probe_video(Path(result.structured_content["path"]))["width"] == 1280
    assert quirks.shaped >= 1  # the status answers really came in the other shape


@pytest.mark.parametrize("style", ["comment", "empty", "json"])
async def test_keep_alives_in_the_stream_are_not_shown(
    settings: Settings, quirks: CloudQuirks, photo: str, style: Any
) -> None:
    quirks.heartbeats = style
    async with inprocess(settings) as client:
        result = await _make(client, photo, "make a 2-second video from my photos")
    assert not result.is_error, text_of(result)
    assert "heartbeat" not in text_of(result) and "ping" not in text_of(result)
    assert "Timeline (" in text_of(result)


async def test_a_lost_session_is_recovered_and_said(settings: Settings, quirks: CloudQuirks, photo: str) -> None:
    async with inprocess(settings) as client:
        await _make(client, photo, "make a 2-second video from my photos")
        quirks.fail_next("state", code=1002)
        result = await client.call_tool("state", {})
    assert not result.is_error, text_of(result)
    assert any("started fresh" in n for n in result.structured_content["notices"]), result.structured_content
    assert quirks.calls["create_session"] == 2  # a new session, exactly once


# -- what each fault puts on the wire ------------------------------------------------------------


@pytest.fixture
def http(cloud_server: LoopbackServer) -> Iterator[httpx.Client]:
    """A plain HTTP client with a token and a session: it sees the bytes the MCP client would."""
    with httpx.Client(base_url=cloud_server.url, timeout=10) as client:
        token = client.post("/api/auth/anonymous-token", headers={"x-client-id": "wire-test"}).json()["data"]["token"]
        client.headers["authorization"] = f"Bearer {token}"
        client.headers["x-session"] = client.post("/api/tasks/me/with-session/nemo_agent", json={}).json()["data"][
            "session_id"
        ]
        yield client


def _turn(http: httpx.Client, text: str = "Make a 1-second video: Hello there.") -> httpx.Request:
    body = {"session_id": http.headers["x-session"], "new_message": {"parts": [{"text": text}]}}
    return http.build_request("POST", "/run_sse", json={"app_name": "nemo_agent", "user_id": "me", **body})


def _read_until_cut(http: httpx.Client, request: httpx.Request) -> tuple[dict[str, str], bytes, bool]:
    """The headers, the bytes that arrived, and whether the connection dropped before the end."""
    received = b""
    response = http.send(request, stream=True)
    try:
        for chunk in response.iter_raw():
            received += chunk
    except httpx.RemoteProtocolError:
        return dict(response.headers), received, True
    finally:
        response.close()
    return dict(response.headers), received, False


def _state(http: httpx.Client) -> dict[str, Any]:
    answer = http.get(f"/api/state/nemo_agent/me/{http.headers['x-session']}/latest").json()
    return dict(answer["data"]["state"])


def test_envelope_codes_and_gateway_answers(cloud: CloudQuirks, http: httpx.Client) -> None:
    cloud.fail_next("credits", code=2001)
    cloud.fail_next("credits", status=502)
    cloud.fail_next("credits", status=503)
    cloud.fail_next("credits", status=429)
    envelope = http.get("/api/credits/balance/simple")
    assert envelope.status_code == 200 and envelope.json()["code"] == 2001
    nginx = http.get("/api/credits/balance/simple")
    assert nginx.status_code == 502 and nginx.headers["content-type"] == "text/html" and "nginx" in nginx.text
    plain = http.get("/api/credits/balance/simple")
    assert plain.status_code == 503 and plain.headers["content-type"].startswith("text/plain")
    limited = http.get("/api/credits/balance/simple")
    assert limited.status_code == 429 and "Rate limit" in limited.json()["detail"]
    assert http.get("/api/credits/balance/simple").json()["code"] == 0  # each fault meets one request
    assert cloud.queued == 0 and cloud.calls["credits"] == 5


def test_adk_answers_name_the_session(cloud: CloudQuirks, http: httpx.Client) -> None:
    cloud.fail_next("state", kind="session_not_found_404")
    cloud.fail_next("run_sse", kind="session_not_found_404")
    cloud.fail_next("run_sse", kind="validation_422")
    session = http.headers["x-session"]
    state = http.get(f"/api/state/nemo_agent/me/{session}/latest")
    assert state.status_code == 404 and state.json() == {"detail": f"Session not found: {session}"}
    turn = http.send(_turn(http))
    assert turn.status_code == 404 and turn.json() == {"detail": f"Session not found: {session}"}
    invalid = http.send(_turn(http))
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "new_message"]
    assert not _state(http)["draft"].get("t")  # none of those turns reached the studio


def test_reset_and_malformed_answers(cloud: CloudQuirks, http: httpx.Client) -> None:
    cloud.fail_next("credits", kind="reset")
    cloud.fail_next("credits", kind="malformed_json")
    headers, body, dropped = _read_until_cut(http, http.build_request("GET", "/api/credits/balance/simple"))
    assert dropped and body == b"" and headers["content-length"] == "512"
    malformed = http.get("/api/credits/balance/simple")
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        json.loads(malformed.content)


def test_revoked_tokens_and_lost_sessions_are_refused(cloud: CloudQuirks, http: httpx.Client) -> None:
    lost = http.headers["x-session"]
    cloud.drop_sessions()
    state = http.get(f"/api/state/nemo_agent/me/{lost}/latest")
    assert state.json()["code"] == 1002
    turn = http.send(_turn(http))
    assert turn.status_code == 404 and turn.json() == {"detail": f"Session not found: {lost}"}
    render = http.post("/api/render/proxy/lambda", json={"id": "r1", "sessionId": lost, "draft": {}})
    assert render.json()["code"] == 1002
    http.headers["x-session"] = http.post("/api/tasks/me/with-session/nemo_agent", json={}).json()["data"]["session_id"]
    http.send(_turn(http)).read()  # a new session is served, its body read once by the wrapper and once by the studio
    assert _state(http)["draft"].get("t")
    cloud.revoke_tokens()
    assert http.get("/api/credits/balance/simple").json()["code"] == 1001
    assert cloud.calls["run_sse"] == 2 and cloud.calls["credits"] == 1


def test_a_hung_request_gets_no_answer_in_time(cloud: CloudQuirks, http: httpx.Client) -> None:
    cloud.hang_seconds = 30.0
    cloud.fail_next("credits", kind="hang")
    with pytest.raises(httpx.ReadTimeout):
        http.get("/api/credits/balance/simple", timeout=0.3)
    assert http.get("/api/credits/balance/simple").json()["code"] == 0  # the server still answers others


def test_a_truncated_stream_drops_mid_event_but_the_work_lands(cloud: CloudQuirks, http: httpx.Client) -> None:
    cloud.fail_next("run_sse", kind="truncated_sse")
    _, body, dropped = _read_until_cut(http, _turn(http))
    blocks = body.split(b"\n\n")
    assert dropped
    assert len(blocks) == 3 and blocks[-1].startswith(b"data: {") and not blocks[-1].endswith(b"}")
    assert all(json.loads(block.removeprefix(b"data: ")) for block in blocks[:2])
    assert _state(http)["draft"].get("t"), "the studio's turn did not finish"


def test_garbage_lines_come_between_the_real_events(cloud: CloudQuirks, http: httpx.Client) -> None:
    cloud.fail_next("run_sse", kind="garbage_sse")
    _, body, dropped = _read_until_cut(http, _turn(http))
    assert not dropped and body.startswith("\ufeff: stream start\n\n".encode())
    assert all(noise in body for noise in GARBAGE)
    events = [_event(line) for line in body.split(b"\n")]
    texts = [part["text"] for e in events if e for part in e.get("content", {}).get("parts", []) if "text" in part]
    assert texts and texts[-1].startswith("Done"), texts  # the studio's reply came through whole


def _event(line: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(line.removeprefix(b"data: "))
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def test_partial_replies_and_a_model_error(cloud: CloudQuirks, http: httpx.Client) -> None:
    cloud.partial_replies = True
    _, body, _ = _read_until_cut(http, _turn(http))
    events = [e for e in map(_event, body.split(b"\n")) if e and e.get("content", {}).get("role") == "model"]
    texts = [e["content"]["parts"][0].get("text") for e in events]
    pieces = [t for e, t in zip(events, texts, strict=True) if e.get("partial")]
    assert len(pieces) == 3 and "".join(pieces) == texts[-1] and not events[-1].get("partial")
    cloud.fail_next("run_sse", kind="model_error")
    _, body, dropped = _read_until_cut(http, _turn(http))
    assert not dropped and [e.get("errorCode") for e in map(_event, body.split(b"\n")) if e] == [
        "MALFORMED_FUNCTION_CALL"
    ]


def test_a_render_that_never_finishes_and_a_cut_download(
    cloud: CloudQuirks, http: httpx.Client, tmp_path: Path
) -> None:
    cloud.render_size = (160, 90)
    http.send(_turn(http, "make a 1-second video about the sea")).read()
    draft = _state(http)["draft"]
    cloud.render_never_finishes = True
    http.post("/api/render/proxy/lambda", json={"id": "r1", "sessionId": http.headers["x-session"], "draft": draft})
    for _ in range(600):  # the studio's render finishes meanwhile (its file is served), its status says otherwise
        status = http.get("/api/render/proxy/lambda/r1").json()["data"]
        assert status["status"] == "processing" and "outputUrl" not in status, status
        if http.get("/api/render/proxy/r1/download").status_code == 200:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the studio's own render never finished")
    cloud.render_never_finishes = False
    status = http.get("/api/render/proxy/lambda/r1").json()["data"]
    assert status["status"] == "completed"
    cloud.fail_next("cdn", kind="cut_download")
    headers, body, dropped = _read_until_cut(http, http.build_request("GET", status["outputUrl"]))
    assert dropped and len(body) == int(headers["content-length"]) // 2
    whole = http.get(status["outputUrl"])
    assert whole.status_code == 200 and whole.content.startswith(body)
    (tmp_path / "r1.mp4").write_bytes(whole.content)
    assert probe_video(tmp_path / "r1.mp4")["width"] == 160  # rendered at the asked size, whatever the draft said


# -- scripted turns and renders on the accelerated clock ---------------------------------------------------

SCRIPTED = {"t": [{"tt": 0, "sg": [{"d": 1000, "m": {"name": "sea"}}]}], "d": 1000, "m": {"width": 640, "height": 360}}


def _events(body: bytes) -> list[dict[str, Any]]:
    return [event for line in body.split(b"\n\n") if (event := _event(line)) is not None]


def test_a_scripted_turn_streams_its_events_and_its_draft_lands_in_the_studio(
    cloud: CloudQuirks, http: httpx.Client
) -> None:
    cloud.next_turn("Here it is.", draft=SCRIPTED, duration_s=25)  # 25 ms real: two keep-alives meanwhile
    _, body, dropped = _read_until_cut(http, _turn(http, "anything at all"))
    assert not dropped and body.count(HEARTBEATS["comment"]) == 2
    events = _events(body)
    call = events[0]["content"]["parts"][0]["functionCall"]
    assert events[1]["content"]["parts"][0]["functionResponse"]["id"] == call["id"]
    assert events[1]["actions"]["stateDelta"]["draft"] == SCRIPTED
    assert events[-1]["content"]["parts"] == [{"text": "Here it is."}]
    assert _state(http)["draft"] == SCRIPTED  # the real studio's state answers with it
    cloud.next_turn(events=[{"custom": 1}], error="SomeException: boom")
    _, body, _ = _read_until_cut(http, _turn(http))
    assert _events(body) == [{"custom": 1}, {"error": "SomeException: boom"}]
    _, body, _ = _read_until_cut(http, _turn(http, "make it 2 seconds"))  # no script left: the studio's planner
    assert _state(http)["draft"]["d"] == 2000


def test_a_scripted_turn_that_drops_still_lands_its_draft(cloud: CloudQuirks, http: httpx.Client) -> None:
    cloud.next_turn("never seen", draft=SCRIPTED, duration_s=100, drop_after_s=20)
    _, body, dropped = _read_until_cut(http, _turn(http))
    assert dropped and b"never seen" not in body
    assert "functionCall" in _events(body)[0]["content"]["parts"][0]
    assert _state(http)["draft"] == SCRIPTED


def _render(http: httpx.Client, render_id: str) -> None:
    session = http.headers["x-session"]
    http.post("/api/render/proxy/lambda", json={"id": render_id, "sessionId": session, "draft": SCRIPTED})


def _until_done(http: httpx.Client, render_id: str) -> tuple[list[int], dict[str, Any]]:
    progress: list[int] = []
    for _ in range(600):
        status = http.get(f"/api/render/proxy/lambda/{render_id}").json()["data"]
        if status["status"] not in ("pending", "processing"):
            return progress, status
        progress.append(int(status["progress"]))
        time.sleep(0.02)
    raise AssertionError("the render never finished")


def test_renders_last_their_time_fail_when_asked_and_lose_or_move_their_link(
    cloud: CloudQuirks, http: httpx.Client
) -> None:
    cloud.render_size = (160, 90)
    cloud.next_turn(draft=SCRIPTED)
    http.send(_turn(http)).read()
    cloud.render_seconds = 1500  # 1.5 s real, whatever the studio's render takes
    _render(http, "slow")
    progress, status = _until_done(http, "slow")
    assert status["status"] == "completed" and status["outputUrl"].endswith(".mp4")
    assert len(set(progress)) >= 10 and progress == sorted(progress) and progress[-1] < 100, progress
    cloud.render_seconds = None
    cloud.fail_next_render("GPU on fire")
    _render(http, "failing")
    _render(http, "failing")  # the same id again is the same render, failing once
    _render(http, "fine")
    assert _until_done(http, "failing")[1] == {
        "id": "failing",
        "status": "failed",
        "progress": 0,
        "error": "GPU on fire",
    }
    assert _until_done(http, "fine")[1]["status"] == "completed"
    cloud.render_url_missing = True
    assert {"outputUrl", "url"} & {*_until_done(http, "fine")[1], *_until_done(http, "fine")[1]["output"]} == set()
    assert http.get("/api/render/proxy/fine/download").status_code == 200  # what a client falls back to
    cloud.render_url_missing, cloud.render_url_override = False, "http://127.0.0.1:9/elsewhere.mp4"
    status = _until_done(http, "fine")[1]
    assert status["outputUrl"] == status["output"]["url"] == "http://127.0.0.1:9/elsewhere.mp4"


def test_one_anonymous_token_per_client_and_sessions_without_a_user_id(
    cloud: CloudQuirks, cloud_server: LoopbackServer
) -> None:
    cloud.one_token_per_client, cloud.omit_session_user_id = True, True
    with httpx.Client(base_url=cloud_server.url, timeout=10) as client:
        first = client.post("/api/auth/anonymous-token", headers={"x-client-id": "laptop"})
        again = client.post("/api/auth/anonymous-token", headers={"x-client-id": "laptop"})
        other = client.post("/api/auth/anonymous-token", headers={"x-client-id": "phone"})
        headers = {"authorization": f"Bearer {first.json()['data']['token']}"}
        session = client.post("/api/tasks/me/with-session/nemo_agent", json={}, headers=headers).json()["data"]
    assert first.json()["code"] == 0 and other.json()["code"] == 0
    assert again.status_code == 429 and "1 anonymous token per client" in again.json()["detail"]
    assert session["session_id"] and "user_id" not in session


def test_a_scripted_turn_sends_the_keep_alives_asked_for(cloud: CloudQuirks, http: httpx.Client) -> None:
    cloud.next_turn("ok", heartbeats=7, duration_s=5)
    _, body, _ = _read_until_cut(http, _turn(http))
    assert body.count(HEARTBEATS["comment"]) == 7 and _events(body)[-1]["content"]["parts"] == [{"text": "ok"}]


def test_a_held_render_is_cancelled_though_the_studios_finished_and_its_polls_are_counted(
    cloud: CloudQuirks, http: httpx.Client
) -> None:
    cloud.render_size = (160, 90)
    cloud.next_turn(draft=SCRIPTED)
    http.send(_turn(http)).read()
    cloud.render_seconds = 100_000  # 100 s real: the cloud says "processing" long after the studio's render is done
    _render(http, "held")
    _render(http, "done")
    for _ in range(600):
        finished = [http.get(f"/api/render/proxy/{r}/download").status_code == 200 for r in ("held", "done")]
        if all(finished):  # the studio's renders have finished
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the studio's own renders never finished")
    assert cloud.render_states == {"held": "processing", "done": "processing"}
    assert http.post("/api/render/proxy/lambda/held/cancel").json()["data"]["status"] == "cancelled"
    polls = cloud.status_requests["held"]
    assert http.get("/api/render/proxy/lambda/held").json()["data"]["status"] == "cancelled"
    assert cloud.status_requests["held"] == polls + 1 and cloud.status_requests["done"] == 0
    cloud.render_seconds = None
    assert cloud.render_states == {"held": "cancelled", "done": "completed"}
    assert (
        http.post("/api/render/proxy/lambda/done/cancel").json()["data"]["status"] == "cancelled"
    )  # as the studio says
    assert cloud.render_states["done"] == "completed"  # a finished render stays finished


def test_uploads_by_link_are_refused_by_the_studio_and_accepted_as_the_cloud_does(
    cloud: CloudQuirks, http: httpx.Client
) -> None:
    path = f"/api/upload-video/nemo_agent/me/{http.headers['x-session']}"
    links = {"urls": ["https://example.com/a/clip.mp4", "https://example.com/song.mp3"], "source_type": "url"}
    assert http.post(path, json=links).json()["code"] == 4001  # the studio works offline
    cloud.fetches_links = True
    answer = http.post(path, json=links).json()
    assert answer["code"] == 0
    files = answer["data"]["files"]
    assert [(f["filename"], f["file_type"], f["cdn_url"]) for f in files] == [
        ("clip.mp4", "video", "https://example.com/a/clip.mp4"),
        ("song.mp3", "audio", "https://example.com/song.mp3"),
    ]
    assert http.post(path, json={"urls": ["https://example.com/notes.txt"]}).json()["code"] == 4001
    assert all(not project.media for project in cloud.projects)  # never fetched, kept nowhere
