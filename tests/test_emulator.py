"""The NemoVideo emulator, exercised with plain httpx over loopback (no project client code)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import nemovideo_mcp
from support.emulator import Emulator, EmulatorServer
from support.emulator.media import RenderCache
from support.images import png

SKILL = {
    "X-Skill-Source": "video-generator-for-free-ai",
    "X-Skill-Version": "1.0.0",
    "X-Skill-Platform": "unknown",
}
CREATE = 'Make a 12-second video of a city timelapse with lo-fi music at 35% and the title "Urban Dreams"'


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(time_scale=0.001)
    yield emulator
    emulator.close()


@pytest.fixture
def server(emu: Emulator) -> Iterator[EmulatorServer]:
    with EmulatorServer(emu) as srv:
        yield srv


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


@pytest.fixture
def user(emu: Emulator, client: httpx.Client) -> dict[str, str]:
    """A registered user with a session: headers and ids."""
    token = "nmv_usr_" + uuid.uuid4().hex
    uid = emu.add_user(token)
    headers = {"Authorization": f"Bearer {token}", **SKILL}
    sid = client.post("/api/tasks/me/with-session/nemo_agent", json={"task_name": "p"}, headers=headers)
    return {"token": token, "user_id": uid, "session_id": sid.json()["data"]["session_id"], **headers}


def auth(user: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in user.items() if k[0].isupper()}


def run_body(session_id: str, text: str) -> dict[str, Any]:
    return {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": session_id,
        "new_message": {"role": "user", "parts": [{"text": text}]},
    }


def parse_sse(lines: list[str]) -> list[dict[str, Any]]:
    """JSON objects from `data:` lines, skipping keep-alives and junk, as a tolerant client would."""
    events = []
    for line in lines:
        if not line.startswith("data:"):
            continue
        try:
            obj = json.loads(line[5:].strip())
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("type") != "heartbeat":
            events.append(obj)
    return events


def run_sse(client: httpx.Client, user: dict[str, str], text: str) -> tuple[list[dict[str, Any]], list[str]]:
    lines: list[str] = []
    with client.stream("POST", "/run_sse", json=run_body(user["session_id"], text), headers=auth(user)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines.extend(r.iter_lines())
    return parse_sse(lines), lines


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [
        p["text"]
        for e in events
        if not e.get("partial")
        for p in (e.get("content") or {}).get("parts", [])
        if "text" in p
    ]


def draft_of(client: httpx.Client, user: dict[str, str]) -> dict[str, Any]:
    r = client.get(f"/api/state/nemo_agent/me/{user['session_id']}/latest", headers=auth(user))
    return r.json()["data"]["state"]["draft"]


def credits(client: httpx.Client, user: dict[str, str]) -> dict[str, int]:
    return client.get("/api/credits/balance/simple", headers=auth(user)).json()["data"]


def png_bytes(width: int, height: int) -> bytes:
    return png(width, height, (128, 64, 32))


@pytest.fixture(scope="session")
def tiny_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The emulator's own test-pattern renderer makes a real H.264 file.
    out = tmp_path_factory.mktemp("media") / "clip.mp4"
    shutil.copyfile(RenderCache().get(64, 48, 1.0).result(timeout=60), out)
    return out


def start_render(client: httpx.Client, user: dict[str, str], render_id: str, **extra: Any) -> httpx.Response:
    body = {"id": render_id, "sessionId": user["session_id"], "draft": extra.pop("draft", None), **extra}
    if body["draft"] is None:
        body["draft"] = draft_of(client, user)
    return client.post("/api/render/proxy/lambda", json=body, headers=auth(user))


def wait_render(client: httpx.Client, user: dict[str, str], render_id: str) -> dict[str, Any]:
    for _ in range(200):
        body = client.get(f"/api/render/proxy/lambda/{render_id}", headers=auth(user)).json()
        status = body.get("data", body)["status"]
        if status in ("completed", "failed", "cancelled"):
            return body
        time.sleep(0.01)
    raise AssertionError("render never finished")


# --- auth and sessions ----------------------------------------------------------------------


def test_anonymous_token_needs_a_uuid_client_id(emu: Emulator, client: httpx.Client) -> None:
    assert client.post("/api/auth/anonymous-token").status_code == 400
    bad = client.post("/api/auth/anonymous-token", headers={"X-Client-Id": "not-a-uuid"})
    assert bad.status_code == 400
    assert bad.json() == {"detail": "X-Client-Id header is required"}

    r = client.post("/api/auth/anonymous-token", headers={"X-Client-Id": str(uuid.uuid4())})
    data = r.json()["data"]
    assert r.json()["code"] == 0
    assert data["token"].startswith("nmv_usr_") and len(data["token"]) == 8 + 32
    assert data["user_id"].startswith("anon_") and data["credits"] == 100
    assert data["expires_at"].endswith("Z")
    assert emu.anonymous_tokens_issued == 1
    assert emu.issued_tokens == [data["token"]]


def test_anonymous_rate_limit_is_429(emu: Emulator, client: httpx.Client) -> None:
    emu.rate_limit_anonymous = True
    headers = {"X-Client-Id": str(uuid.uuid4())}
    assert client.post("/api/auth/anonymous-token", headers=headers).status_code == 200
    second = client.post("/api/auth/anonymous-token", headers=headers)
    assert second.status_code == 429 and "detail" in second.json()
    other = client.post("/api/auth/anonymous-token", headers={"X-Client-Id": str(uuid.uuid4())})
    assert other.status_code == 200


def test_session_shape(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    sid = user["session_id"]
    assert sid.isdigit() and len(sid) == 19
    assert emu.sessions[sid].user_id == user["user_id"]
    emu.omit_user_id_in_session = True
    data = client.post("/api/tasks/me/with-session/nemo_agent", json={}, headers=auth(user)).json()["data"]
    assert data["task_id"].startswith("task_") and "user_id" not in data


def test_bad_tokens_get_1001_or_401(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    assert client.get("/api/credits/balance/simple").json()["code"] == 1001
    emu.expire_token(user["token"])
    assert client.get("/api/credits/balance/simple", headers=auth(user)).json()["code"] == 1001
    r = client.post("/run_sse", json=run_body(user["session_id"], "hi"), headers=auth(user))
    assert r.status_code == 200 and r.json()["code"] == 1001
    emu.auth_failure_style = "http401"
    r = client.post("/run_sse", json=run_body(user["session_id"], "hi"), headers=auth(user))
    assert r.status_code == 401 and r.json() == {"detail": "Unauthorized"}


def test_dropped_session_is_1002_or_adk_404(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    sid = user["session_id"]
    emu.drop_session(sid)
    assert client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=auth(user)).json()["code"] == 1002
    up = client.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": ["https://x/a.mp4"]}, headers=auth(user))
    assert up.json()["code"] == 1002
    claim = client.post("/api/auth/claim-token", json={"task_id": "t", "session_id": sid}, headers=auth(user))
    assert claim.json()["code"] == 1002
    r = client.post("/run_sse", json=run_body(sid, "hi"), headers=auth(user))
    assert r.status_code == 404 and r.json() == {"detail": f"Session not found: {sid}"}


def test_claim_token(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    body = {"task_id": "t", "session_id": user["session_id"]}
    data = client.post("/api/auth/claim-token", json=body, headers=auth(user)).json()["data"]
    assert data["claim_token"].startswith("clm_") and data["expires_in"] == 604800
    assert data["claim_token"] in emu.issued_tokens


# --- uploads --------------------------------------------------------------------------------


def test_upload_image_and_video(client: httpx.Client, user: dict[str, str], tiny_mp4: Path) -> None:
    files = [
        ("files", ("still.png", png_bytes(32, 24), "image/png")),
        ("files", ("clip.mp4", tiny_mp4.read_bytes(), "video/mp4")),
    ]
    r = client.post(f"/api/upload-video/nemo_agent/me/{user['session_id']}", files=files, headers=auth(user))
    body = r.json()
    assert body["code"] == 0 and body["data"]["session_state_applied"] is True
    image, video = body["data"]["files"]
    assert (image["file_type"], image["width"], image["height"]) == ("image", 32, 24)
    assert video["file_type"] == "video" and video["duration"] == pytest.approx(1.0, abs=0.3)
    assert (video["width"], video["height"]) == (64, 48)
    assert client.get(video["cdn_url"]).content == tiny_mp4.read_bytes()

    run_sse(client, user, "make a video from my uploads")
    segments = draft_of(client, user)["t"][0]["sg"]
    assert [s["m"]["name"] for s in segments] == ["still.png", "clip.mp4"]


def test_upload_rejections_and_urls(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    url = "/api/upload-video/nemo_agent/me"  # no session id: the user's latest session
    bad = client.post(url, files=[("files", ("notes.txt", b"hi", "text/plain"))], headers=auth(user))
    assert bad.json()["code"] == 4001
    assert (
        client.post(url, files=[("files", ("a.jpeg", b"x", "image/jpeg"))], headers=auth(user)).json()["code"] == 4001
    )
    emu.max_upload_bytes = 10
    big = client.post(url, files=[("files", ("a.png", png_bytes(8, 8), "image/png"))], headers=auth(user))
    assert big.json()["code"] == 4002
    r = client.post(url, json={"urls": ["https://x.test/song.mp3"], "source_type": "url"}, headers=auth(user))
    (record,) = r.json()["data"]["files"]
    assert record["file_type"] == "audio" and record["cdn_url"] == "https://x.test/song.mp3"
    assert len(emu.sessions[user["session_id"]].uploads) == 1


# --- run_sse default agent ------------------------------------------------------------------


def test_default_creation_stream(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    events, lines = run_sse(client, user, CREATE)
    calls = [p["functionCall"] for e in events for p in e["content"]["parts"] if "functionCall" in p]
    assert calls[0]["name"] == "generate_video_with_seedance"
    assert events[0]["longRunningToolIds"] == [calls[0]["id"]]
    responses = [e for e in events if "functionResponse" in e["content"]["parts"][0]]
    assert responses[0]["actions"]["stateDelta"]["draft"]["d"] == 12000
    assert any(e.get("partial") for e in events)
    assert texts(events) == ["Your video is ready! Click the Export button to download it."]
    assert all(e["author"] == "nemo_agent" and "invocationId" in e for e in events)
    assert any(line in ("data:", ": ping", 'data: {"type":"heartbeat"}') for line in lines)

    draft = draft_of(client, user)
    video, audio, title = draft["t"]
    assert video["tt"] == 0 and video["sg"][0]["m"]["name"] == "city timelapse"
    assert audio["tt"] == 1 and audio["sg"][0]["m"] == {"name": "Lo-fi", "volume": 0.35}
    assert audio["m"]["kind"] == "bgm"
    assert title["tt"] == 7 and title["sg"][0]["d"] == 3000 and title["sg"][0]["m"]["text"] == "Urban Dreams"
    assert (draft["m"]["width"], draft["m"]["height"]) == (1280, 720)
    assert credits(client, user) == {"available": 490, "frozen": 0, "total": 490}
    assert emu.run_sse_calls == 1


def test_edits_chat_and_chinese(client: httpx.Client, user: dict[str, str]) -> None:
    run_sse(client, user, CREATE)
    run_sse(client, user, "please remove the music")
    assert [t["tt"] for t in draft_of(client, user)["t"]] == [0, 7]
    before = draft_of(client, user)
    events, _ = run_sse(client, user, "hello, what can you do?")
    assert texts(events) and not any("functionCall" in str(e) for e in events)
    assert draft_of(client, user) == before
    run_sse(client, user, "生成一个15秒的竖屏视频，加上背景音乐")
    draft = draft_of(client, user)
    assert (draft["m"]["width"], draft["m"]["height"], draft["d"]) == (720, 1280, 15000)
    assert [t["tt"] for t in draft["t"]] == [0, 1]
    assert credits(client, user)["available"] == 500 - 10 - 2 - 0 - 10


def test_no_credits_is_2001_before_the_stream(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    emu.set_credits(user["user_id"], 5)
    r = client.post("/run_sse", json=run_body(user["session_id"], CREATE), headers=auth(user))
    assert r.headers["content-type"].startswith("application/json") and r.json()["code"] == 2001
    events, _ = run_sse(client, user, "hi there")  # chat is free
    assert texts(events)


def test_credits_are_frozen_while_streaming(emu: Emulator, server: EmulatorServer, user: dict[str, str]) -> None:
    emu.next_stream("ok", draft={"t": [{"tt": 0, "sg": [{"d": 1000, "m": {}}]}]}, duration_s=300)
    with httpx.Client(base_url=server.url, timeout=10) as a, httpx.Client(base_url=server.url) as b:
        with a.stream("POST", "/run_sse", json=run_body(user["session_id"], "x"), headers=auth(user)) as r:
            lines = r.iter_lines()
            assert next(lines).startswith("data: ")  # the function call arrives at once
            assert credits(b, user) == {"available": 498, "frozen": 2, "total": 500}
            list(lines)
        assert credits(b, user) == {"available": 498, "frozen": 0, "total": 498}


# --- run_sse scripted -----------------------------------------------------------------------


def test_scripted_replies(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    new_draft = {"t": [{"tt": 0, "sg": [{"d": 5000, "m": {"name": "x"}}]}], "d": 5000, "m": {}}
    emu.next_stream(silent=True, draft=new_draft)
    emu.next_stream("Hello there", partial=True, trailing_issue=True)
    emu.next_stream(error="SomeException: boom")
    emu.next_stream(error_code="MALFORMED_FUNCTION_CALL")
    emu.next_stream(events=[{"custom": 1}], heartbeats=3)

    events, _ = run_sse(client, user, "a")
    assert texts(events) == [] and draft_of(client, user) == new_draft
    events, _ = run_sse(client, user, "b")
    assert [e["content"]["parts"][0]["text"] for e in events if e.get("partial")] == ["Hell", "o th", "ere"]
    assert texts(events)[0] == "Hello there" and "temporary issue" in texts(events)[1]
    events, _ = run_sse(client, user, "c")
    assert events == [{"error": "SomeException: boom"}]
    events, _ = run_sse(client, user, "d")
    assert events[0]["errorCode"] == "MALFORMED_FUNCTION_CALL" and events[0]["errorMessage"]
    events, lines = run_sse(client, user, "e")
    assert events == [{"custom": 1}]
    assert [x for x in lines if x] == ["data:", ": ping", 'data: {"type":"heartbeat"}', 'data: {"custom":1}']
    assert credits(client, user)["available"] == 498  # only the silent edit was charged


def test_drop_after_applies_draft_then_cuts(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    new_draft = {"t": [{"tt": 0, "sg": [{"d": 5000, "m": {}}]}], "d": 5000, "m": {}}
    emu.next_stream("never seen", draft=new_draft, duration_s=100, drop_after_s=20)
    lines: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/run_sse", json=run_body(user["session_id"], "x"), headers=auth(user)) as r,
    ):
        lines.extend(r.iter_lines())
    assert "never seen" not in "".join(lines)
    assert draft_of(client, user) == new_draft
    assert credits(client, user) == {"available": 498, "frozen": 0, "total": 498}


# --- faults ---------------------------------------------------------------------------------


def test_fault_codes_and_statuses(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    emu.fail_next("credits", code=1001, times=2)
    assert [client.get("/api/credits/balance/simple", headers=auth(user)).json()["code"] for _ in "abc"] == [
        1001,
        1001,
        0,
    ]
    emu.fail_next("credits", http_status=500)
    r = client.get("/api/credits/balance/simple", headers=auth(user))
    assert r.status_code == 500 and "detail" in r.json()
    emu.fail_next("credits", http_status=502)
    r = client.get("/api/credits/balance/simple", headers=auth(user))
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    emu.fail_next("create_session", code=2001, message="custom words")
    assert client.post("/api/tasks/me/with-session/nemo_agent", json={}, headers=auth(user)).json() == {
        "code": 2001,
        "message": "custom words",
    }


@pytest.mark.parametrize("route", ["credits", "run_sse"])
def test_fault_reset_and_malformed(emu: Emulator, client: httpx.Client, user: dict[str, str], route: str) -> None:
    def call() -> httpx.Response:
        if route == "credits":
            return client.get("/api/credits/balance/simple", headers=auth(user))
        return client.post("/run_sse", json=run_body(user["session_id"], "hi"), headers=auth(user))

    emu.fail_next(route, fault="reset")
    with pytest.raises(httpx.RemoteProtocolError):
        call()
    emu.fail_next(route, fault="malformed_json")
    r = call()
    assert r.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        r.json()
    emu.fail_next(route, fault="session_not_found_404")
    assert call().status_code == 404
    emu.fail_next(route, fault="validation_422")
    r = call()
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "missing"
    assert call().status_code == 200  # faults are used up


def test_fault_hang_does_not_block_others(emu: Emulator, server: EmulatorServer, user: dict[str, str]) -> None:
    emu.hang_seconds = 0.6
    emu.fail_next("state", fault="hang")
    with httpx.Client(base_url=server.url, timeout=0.2) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get(f"/api/state/nemo_agent/me/{user['session_id']}/latest", headers=auth(user))
        started = time.monotonic()
        assert c.get("/api/credits/balance/simple", headers=auth(user)).json()["code"] == 0
        assert time.monotonic() - started < 0.2


def test_fault_hang_then_answers(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    emu.hang_seconds = 0.1
    emu.fail_next("state", fault="hang")
    started = time.monotonic()
    r = client.get(f"/api/state/nemo_agent/me/{user['session_id']}/latest", headers=auth(user))
    assert r.json()["code"] == 0 and time.monotonic() - started >= 0.1


def test_fault_truncated_sse(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    emu.fail_next("run_sse", fault="truncated_sse")
    received = bytearray()
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/run_sse", json=run_body(user["session_id"], CREATE), headers=auth(user)) as r,
    ):
        for chunk in r.iter_bytes():
            received += chunk
    lines = received.decode().split("\n")
    assert len(parse_sse(lines)) == 2
    assert lines[-1].startswith("data: {") and not lines[-1].endswith("}")  # cut mid-event
    assert len(draft_of(client, user)["t"]) == 3  # the work still happened server-side


def test_fault_garbage_sse_still_completes(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    emu.fail_next("run_sse", fault="garbage_sse")
    events, lines = run_sse(client, user, CREATE)
    assert texts(events) == ["Your video is ready! Click the Export button to download it."]
    assert {"event: x", "id: 3", "a line without any colon"} <= set(lines)
    assert lines[0].startswith("\ufeff") and max(map(len, lines)) > 60_000
    assert len(draft_of(client, user)["t"]) == 3


# --- renders --------------------------------------------------------------------------------


def test_render_wrapped_shape_and_cdn(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    run_sse(client, user, CREATE)
    started = start_render(client, user, "render_a", output={"format": "mp4", "quality": "high"})
    assert started.json() == {"success": True, "data": {"id": "render_a", "status": "pending", "progress": 5}}
    done = wait_render(client, user, "render_a")["data"]
    assert done["status"] == "completed" and done["progress"] == 100
    video = httpx.get(done["outputUrl"])  # no auth
    assert video.content[4:8] == b"ftyp" and int(video.headers["content-length"]) == len(video.content)
    job = emu.renders["render_a"]
    assert job.completed_at == pytest.approx(job.created_at + 45 * 0.001)
    assert job.status_requests >= 1 and emu.sessions[user["session_id"]].render_ids == ["render_a"]


def test_render_flat_shape_and_download_fallback(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    emu.render_shape, emu.render_url_missing = "flat", True
    run_sse(client, user, "make a 9:16 video of a beach")
    start_render(client, user, "render_b")
    done = wait_render(client, user, "render_b")
    assert done["taskId"] == "render_b" and done["status"] == "completed"
    assert "url" not in done["output"] and done["output"]["duration"] == 10.0
    r = client.get("/api/render/proxy/render_b/download", headers=auth(user))
    assert r.status_code == 200 and r.content[4:8] == b"ftyp"
    assert len(r.content) == done["output"]["size"] == int(r.headers["content-length"])
    assert client.get("/api/render/proxy/render_b/download").json()["code"] == 1001


def test_render_refusals(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    assert start_render(client, user, "r0").status_code == 400  # empty draft
    run_sse(client, user, CREATE)
    assert start_render(client, user, "r1").status_code == 200
    assert start_render(client, user, "r1").status_code == 409
    assert start_render(client, user, "r2", sessionId="123").status_code == 404

    anon = client.post("/api/auth/anonymous-token", headers={"X-Client-Id": str(uuid.uuid4())}).json()["data"]
    anon_user = {"Authorization": f"Bearer {anon['token']}"}
    sid = client.post("/api/tasks/me/with-session/nemo_agent", json={}, headers=anon_user).json()["data"]
    anon_user["session_id"] = sid["session_id"]
    emu.sessions[sid["session_id"]].draft = draft_of(client, user)
    assert start_render(client, anon_user, "r3").status_code == 402  # no attribution headers
    anon_user.update(SKILL)
    assert start_render(client, anon_user, "r4").status_code == 200
    emu.anonymous_export_allowed = False
    assert start_render(client, anon_user, "r5").status_code == 402


def test_render_failure_never_finish_cancel(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    run_sse(client, user, CREATE)
    emu.fail_next_render("GPU on fire")
    start_render(client, user, "f1")
    assert wait_render(client, user, "f1")["data"] == {
        "id": "f1",
        "status": "failed",
        "progress": emu.renders["f1"].progress,
        "error": "GPU on fire",
    }
    emu.render_never_finishes = True
    start_render(client, user, "n1")
    time.sleep(0.1)
    polled = client.get("/api/render/proxy/lambda/n1", headers=auth(user)).json()["data"]
    assert polled["status"] == "processing" and polled["progress"] < 100
    cancel = client.post("/api/render/proxy/lambda/n1/cancel", headers=auth(user)).json()
    assert cancel["data"]["status"] == "cancelled" and emu.renders["n1"].cancelled
    emu.render_never_finishes, emu.render_seconds_range = False, (10.0, 20.0)
    start_render(client, user, "v1")
    assert 0.01 <= emu.renders["v1"].duration_s <= 0.02


def test_cut_download(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    run_sse(client, user, CREATE)
    start_render(client, user, "c1")
    wait_render(client, user, "c1")
    emu.fail_next("render_download", fault="cut_download")
    received = bytearray()
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("GET", "/api/render/proxy/c1/download", headers=auth(user)) as r,
    ):
        declared = int(r.headers["content-length"])
        for chunk in r.iter_bytes():
            received += chunk
    assert 0 < len(received) < declared
    assert client.get("/api/render/proxy/c1/download", headers=auth(user)).content[4:8] == b"ftyp"


# --- misc -----------------------------------------------------------------------------------


def test_requests_are_recorded_and_cheap(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    started = time.monotonic()
    for _ in range(200):
        client.get("/api/credits/balance/simple", headers=auth(user))
    assert time.monotonic() - started < 3
    last = emu.requests[-1]
    assert (last.method, last.path, last.json) == ("GET", "/api/credits/balance/simple", None)
    assert last.headers["authorization"] == f"Bearer {user['token']}"
    assert emu.token_for_user(user["user_id"]) == user["token"]
    assert client.get("/no/such/path").json() == {"detail": "Not Found"}


def test_control_methods_are_thread_safe(emu: Emulator, client: httpx.Client, user: dict[str, str]) -> None:
    def hammer() -> None:
        for _ in range(50):
            emu.set_credits(user["user_id"], 100)
            emu.fail_next("claim_token", code=4001)

    worker = threading.Thread(target=hammer)
    worker.start()
    for _ in range(50):
        client.get("/api/credits/balance/simple", headers=auth(user))
    worker.join()
    assert emu.users[user["user_id"]].available == 100


def test_cli_serves_until_interrupted() -> None:
    package_root = str(Path(nemovideo_mcp.__file__).resolve().parent.parent)
    tests_dir = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, tests_dir, os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "support.emulator", "--port", "0", "--time-scale", "0.05"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        url = proc.stderr.readline().strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/").json()["time_scale"] == 0.05
    finally:
        proc.terminate()
        proc.wait(timeout=10)
