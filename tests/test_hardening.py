"""Issue 11, second round: a hostile working folder, content that only starts like media, answers that
stall the server, transfers without a deadline, token pieces, addresses written another way, and
downloads from wherever the backend points. Each test reproduces one attack; the backend is the real
studio (`support.cloud`), and an attacker's service is a second one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import imageio_ffmpeg
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import OUTPUTS, inprocess, make_settings, png_bytes, recording, stdio_env, text_of
from nemovideo_mcp.backend.client import NemoApi
from nemovideo_mcp.backend.transport import BearerToken
from nemovideo_mcp.errors import NemoError, TransportError
from nemovideo_mcp.local.files import check_url, host_address, is_local_host
from nemovideo_mcp.settings import load_settings
from nemovideo_mcp.studio.app import Studio, create_app
from nemovideo_mcp.studio.server import LoopbackServer
from support.cloud import CloudQuirks

MP4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 4096


@contextmanager
def another_service(root: Path) -> Iterator[tuple[CloudQuirks, LoopbackServer]]:
    """Someone else's backend on loopback: a second studio, its requests recorded."""
    studio = Studio(root)
    quirks = CloudQuirks(create_app(studio), studio)
    with LoopbackServer(quirks) as server:
        yield quirks, server


def _set_draft(cloud: CloudQuirks, draft: dict[str, Any]) -> None:
    """The cloud's work made this the session's draft: the studio's next /state returns it."""
    assert cloud.studio is not None
    [project] = cloud.projects
    project.draft = draft
    cloud.studio.store.save(project)


# --- 1. a .env in the working folder ------------------------------------------------------------------


async def _stdio_in(folder: Path, env: dict[str, str]) -> Any:
    params = StdioServerParameters(command=sys.executable, args=["-m", "nemovideo_mcp"], env=env, cwd=str(folder))
    return params


async def test_working_folder_env_cannot_redirect_the_token_or_open_hidden_folders(
    cloud: CloudQuirks, cloud_server: LoopbackServer, home: Path
) -> None:
    """A cloned repository's .env names an attacker's API and switches the upload guards off."""
    token = "nmv_usr_" + "ab12" * 8  # any token is a user of the studio
    (home / ".ssh").mkdir()
    key_png = home / ".ssh" / "id.png"
    key_png.write_bytes(png_bytes())
    repo = home / "cloned-repo"
    repo.mkdir()
    with another_service(home / "attacker") as (attacker_cloud, attacker):
        (repo / ".env").write_text(
            f"NEMO_API_URL={attacker.url}\nNEMO_ALLOW_HIDDEN_UPLOADS=1\nNEMO_UPLOAD_DIRS=/\nNEMO_LANGUAGE=ja\n",
            encoding="utf-8",
        )
        # The user's own file (in the state folder) names the real backend.
        state = home / ".config" / "nemovideo"
        state.mkdir(parents=True)
        (state / ".env").write_text(f"NEMO_API_URL={cloud_server.url}\n", encoding="utf-8")
        os.chmod(state / ".env", 0o600)
        env = stdio_env(cloud_server, home, NEMO_TOKEN=token)
        for key in ("NEMO_API_URL", "NEMO_STATE_DIR", "NEMO_UPLOAD_DIRS"):
            env.pop(key)
        errlog_path = home / "stderr.log"
        params = await _stdio_in(repo, env)
        with errlog_path.open("a+", encoding="utf-8") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as raw:
                client = recording(raw)
                credits = await client.call_tool("credits", {})
                upload = await client.call_tool("upload", {"sources": [str(key_png)]})
        stderr = errlog_path.read_text(encoding="utf-8", errors="replace")
        OUTPUTS.append(stderr)
    assert attacker_cloud.requests == []  # not one byte, and so never the Bearer token, went to the attacker
    assert not credits.is_error, text_of(credits)
    assert any(r.headers.get("authorization") == f"Bearer {token}" for r in cloud.requests)
    assert upload.is_error and "hidden" in text_of(upload)
    assert "NEMO_API_URL" in stderr and "ignored" in stderr  # said so, naming the setting


def test_working_folder_env_keeps_harmless_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "NEMO_LANGUAGE=ja\nNEMO_TOKEN=nmv_usr_attackers_own_account_0000\nNEMO_HTTP_SECRET=0123456789abcdef0\n"
        "NEMO_EXPORT_DIR=/tmp/elsewhere\nNEMO_WEB_URL=https://phish.example\n",
        encoding="utf-8",
    )
    settings, error = load_settings()
    assert error is None
    assert settings.language == "ja"
    assert settings.token is None and settings.http_secret is None
    assert settings.web_url == "https://nemovideo.com" and "elsewhere" not in str(settings.export_dir)
    assert any("NEMO_TOKEN" in n for n in settings.notes)
    assert not any("nmv_usr_attackers" in n for n in settings.notes)


def test_user_env_file_must_be_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    state = tmp_path / ".config" / "nemovideo"
    state.mkdir(parents=True)
    (state / ".env").write_text("NEMO_API_URL=http://127.0.0.1:9\n", encoding="utf-8")
    os.chmod(state / ".env", 0o666)  # anyone may write it: not the user's word
    settings, _ = load_settings()
    assert settings.api_url != "http://127.0.0.1:9"
    assert any("not read" in n for n in settings.notes)
    os.chmod(state / ".env", 0o600)
    settings, _ = load_settings()
    assert settings.api_url == "http://127.0.0.1:9"


# --- 12.3: settings words ---------------------------------------------------------------------------


def test_log_level_in_any_case(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEMO_LOG_LEVEL", "debug")
    settings, error = load_settings()
    assert error is None and settings.log_level == "DEBUG"


def test_bad_value_in_a_dotenv_names_that_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("NEMO_DEFAULT_WAIT=-3\n", encoding="utf-8")
    _, error = load_settings()
    assert error is not None and "NEMO_DEFAULT_WAIT" in error.message
    assert str(tmp_path / ".env") in error.message and "environment" not in error.message


@pytest.mark.parametrize("value", ["${env:NEMO_TOKEN}", "${NEMO_TOKEN}"])
async def test_unexpanded_placeholder_is_unset_and_said(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, cloud: CloudQuirks, cloud_server: LoopbackServer
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEMO_TOKEN", value)
    settings, error = load_settings()
    assert error is None and settings.token is None
    assert any("NEMO_TOKEN" in n and "placeholder" in n for n in settings.notes)
    # Through the server: the placeholder is never sent as a Bearer token.
    home = tmp_path / "home"
    (home / "media").mkdir(parents=True)
    async with over_stdio_in(tmp_path, stdio_env(cloud_server, home, NEMO_TOKEN=value)) as client:
        result = await client.call_tool("credits", {})
    assert not result.is_error, text_of(result)
    assert cloud.requests and all("${" not in r.headers.get("authorization", "") for r in cloud.requests)


def over_stdio_in(folder: Path, env: dict[str, str]) -> Any:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def run() -> AsyncIterator[Client]:
        params = StdioServerParameters(command=sys.executable, args=["-m", "nemovideo_mcp"], env=env, cwd=str(folder))
        log_path = Path(env["HOME"]) / "server-stderr.log"
        with log_path.open("a+", encoding="utf-8") as errlog:
            try:
                async with Client(stdio_client(params, errlog=errlog)) as client:
                    yield recording(client)
            finally:
                errlog.flush()
                OUTPUTS.append(log_path.read_text(encoding="utf-8", errors="replace"))

    return run()


# --- 9. addresses written another way -----------------------------------------------------------------

LOCAL_SPELLINGS = [
    ("0x7f000001", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("127.000.000.001", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("\uff11\uff12\uff17.\uff10.\uff10.\uff11", "127.0.0.1"),  # full-width digits
    ("\u2460\u2461\u2466.0.0.1", "127.0.0.1"),  # circled digits: 1 2 7
    ("2852039166", "169.254.169.254"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ("10.1", "10.0.0.1"),
    ("[::ffff:127.0.0.1]", "127.0.0.1"),
    ("127\u30020\u30020\u30021", "127.0.0.1"),  # ideographic full stops
]


@pytest.mark.parametrize(("host", "address"), LOCAL_SPELLINGS)
def test_hosts_are_parsed_as_the_network_stack_does(host: str, address: str) -> None:
    assert str(host_address(host)) == address
    assert is_local_host(host)
    with pytest.raises(NemoError, match="private network"):
        check_url(f"http://{host}/clip.mp4")


@pytest.mark.parametrize("host", ["example.com", "8.8.8.8", "cdn.nemovideo.ai", "1e100.net", "08.8.8.8"])
def test_public_hosts_still_pass(host: str) -> None:
    assert not is_local_host(host)


# --- 10. downloads only from where renders are documented to be -------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/admin",
        "https://127.0.0.2/r.mp4",
        "https://2130706433/r.mp4",
        "http://169.254.169.254/latest/meta-data",
        "https://10.0.0.5/r.mp4",
        "https://localhost/r.mp4",
        "http://cdn.example/r.mp4",  # plain http off the API host
        "file:///etc/passwd",
    ],
)
async def test_download_refuses_local_and_private_targets(tmp_path: Path, url: str) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=MP4)

    api = NemoApi("https://api.example", headers={}, transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(NemoError, match="not used"):
            await api.download(url, tmp_path / "out.part", max_bytes=1 << 20)
    finally:
        await api.aclose()
    assert seen == []


async def test_download_refuses_a_redirect_into_the_local_network(tmp_path: Path) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "api.example":
            return httpx.Response(302, headers={"location": "http://0x7f000001:6379/"})
        return httpx.Response(200, content=MP4)

    api = NemoApi("https://api.example", headers={}, transport=httpx.MockTransport(answer))
    api.authorize(BearerToken("nmv_usr_redirect_test_token_000"))
    try:
        with pytest.raises(NemoError, match="this computer or a private network"):
            await api.download("/api/render/proxy/r1/download", tmp_path / "out.part", max_bytes=1 << 20)
    finally:
        await api.aclose()
    assert seen == ["https://api.example/api/render/proxy/r1/download"]


@pytest.mark.parametrize(
    ("addresses", "allowed"),
    [(["127.0.0.1"], False), (["10.1.2.3", "93.184.216.34"], False), (["::1"], False), (["93.184.216.34"], True)],
)
async def test_download_hosts_are_judged_by_the_addresses_their_names_lead_to(
    tmp_path: Path, addresses: list[str], allowed: bool
) -> None:
    """https://cdn.example/ is only fine if cdn.example does not lead to this computer or its network."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=MP4)

    async def resolve(host: str, port: int) -> list[str]:
        assert (host, port) == ("cdn.example", 443)
        return addresses

    api = NemoApi("https://api.example", headers={}, transport=httpx.MockTransport(answer), resolve=resolve)
    try:
        if allowed:
            assert await api.download("https://cdn.example/r.mp4", tmp_path / "a.part", max_bytes=1 << 20)
        else:
            with pytest.raises(NemoError, match="host name leads to this computer or a private network"):
                await api.download("https://cdn.example/r.mp4", tmp_path / "a.part", max_bytes=1 << 20)
    finally:
        await api.aclose()
    assert seen == (["https://cdn.example/r.mp4"] if allowed else [])


async def test_a_real_name_of_this_computer_is_refused(tmp_path: Path) -> None:
    """This machine's own host name, resolved the real way (through /etc/hosts or DNS)."""
    import socket

    name = socket.gethostname()
    found = {str(info[4][0]) for info in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)}
    if not name or host_address(name) is not None or not all(is_local_host(a) for a in found):
        pytest.skip(f"{name} does not lead to a local address here")
    api = NemoApi("https://api.example", headers={}, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    try:
        with pytest.raises(NemoError, match="host name leads to this computer"):
            await api.download(f"https://{name}/r.mp4", tmp_path / "a.part", max_bytes=1 << 20)
    finally:
        await api.aclose()


def test_a_connection_that_ends_at_this_computer_is_seen() -> None:
    """A name that changed its address between the check and the connection (DNS rebinding) is caught by the peer."""
    from nemovideo_mcp.backend.client import _peer_is_local

    class Stream:
        def __init__(self, peer: tuple[str, int]) -> None:
            self.peer = peer

        def get_extra_info(self, key: str) -> object:
            return self.peer if key == "server_addr" else None

    assert _peer_is_local(httpx.Response(200, extensions={"network_stream": Stream(("127.0.0.1", 443))}))
    assert _peer_is_local(httpx.Response(200, extensions={"network_stream": Stream(("192.168.0.7", 443))}))
    assert not _peer_is_local(httpx.Response(200, extensions={"network_stream": Stream(("93.184.216.34", 443))}))
    assert not _peer_is_local(httpx.Response(200))


async def test_local_api_downloads_from_its_own_origin_only(tmp_path: Path) -> None:
    """A studio on 127.0.0.1 serves its renders itself; another loopback port is someone else's service."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=MP4)

    api = NemoApi("http://127.0.0.1:8765", headers={}, transport=httpx.MockTransport(answer))
    try:
        assert await api.download("http://127.0.0.1:8765/renders/r.mp4", tmp_path / "a.part", max_bytes=1 << 20)
        with pytest.raises(NemoError):
            await api.download("http://127.0.0.1:8766/secret", tmp_path / "b.part", max_bytes=1 << 20)
    finally:
        await api.aclose()
    assert seen == ["http://127.0.0.1:8765/renders/r.mp4"]


async def test_export_never_fetches_another_local_service(
    cloud: CloudQuirks, cloud_server: LoopbackServer, home: Path, photos: list[str]
) -> None:
    """The backend's render URL names another loopback service: the export uses the API's download
    endpoint instead, and the other service never sees a request."""
    cloud.render_size = (160, 90)
    with another_service(home / "elsewhere") as (other, elsewhere):
        cloud.render_url_override = f"{elsewhere.url}/files/renders/stolen/stolen.mp4"
        async with inprocess(make_settings(cloud_server, home, default_wait=60.0)) as client:
            await client.call_tool("upload", {"sources": photos[:1]})
            generated = await client.call_tool("generate", {"instruction": "make a short video"})
            assert not generated.is_error, text_of(generated)
            exported = await client.call_tool("export", {})
    assert other.requests == []
    assert not exported.is_error, text_of(exported)
    assert any(r.path.endswith("/download") for r in cloud.requests)


# --- 4. deadlines and a minimum rate on every transfer ------------------------------------------------


class _Trickle(httpx.AsyncByteStream):
    def __init__(self, chunks: int, size: int, pause: float) -> None:
        self._chunks, self._size, self._pause = chunks, size, pause

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield MP4[:16]
        for _ in range(self._chunks):
            await anyio.sleep(self._pause)
            yield b"\x00" * self._size


async def test_a_trickling_download_is_given_up(tmp_path: Path) -> None:
    """512 B every 50 ms (10 KB/s) against a 64 KB/s minimum: cut off, not waited on forever."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Trickle(10_000, 512, 0.05))

    api = NemoApi(
        "https://api.example",
        headers={},
        read_timeout=0.3,
        transfer_min_rate=64 * 1024,
        transport=httpx.MockTransport(answer),
    )
    try:
        with pytest.raises(TransportError, match="slower than 64 KB/s"):
            await api.download("/api/render/proxy/r/download", tmp_path / "t.part", max_bytes=1 << 30)
    finally:
        await api.aclose()


async def test_a_download_has_an_overall_deadline(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Trickle(10_000, 64 * 1024, 0.01))

    api = NemoApi(
        "https://api.example",
        headers={},
        transfer_timeout=0.3,
        transfer_min_rate=0,
        transport=httpx.MockTransport(answer),
    )
    try:
        with pytest.raises(TransportError, match=r"within 0\.3 s"):
            await api.download("/api/render/proxy/r/download", tmp_path / "t.part", max_bytes=1 << 40)
    finally:
        await api.aclose()


async def test_a_slow_reading_backend_ends_the_upload(tmp_path: Path) -> None:
    """The backend never finishes reading the upload: the upload gets an answer within its deadline."""
    photo = tmp_path / "p.png"
    photo.write_bytes(png_bytes())

    async def answer(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(3600)  # reads nothing, answers never
        return httpx.Response(200, json={"code": 0, "data": {}})

    api = NemoApi(
        "https://api.example",
        headers={},
        read_timeout=0.2,
        transfer_timeout=0.5,
        transport=httpx.MockTransport(answer),
    )
    try:
        with photo.open("rb") as handle, pytest.raises(TransportError, match="upload"):
            await api.upload_files("s1", [("p.png", handle)])
    finally:
        await api.aclose()


def test_transfer_settings_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEMO_TRANSFER_TIMEOUT", "90")
    monkeypatch.setenv("NEMO_TRANSFER_MIN_RATE_KB", "32")
    settings, error = load_settings()
    assert error is None and settings.transfer_timeout == 90 and settings.transfer_min_rate_kb == 32


# --- 2. content that only starts like media -------------------------------------------------------------

_MP3_FRAMES = (b"\xff\xfb\x90\x64" + b"\x00" * 413) * 4


def _disguised(home: Path) -> dict[str, bytes]:
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n"
    return {
        "notes.mp3": "Dear diary, the passwords are...\n".encode("utf-16"),  # starts FF FE: looked like a frame
        "tagged.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"just some text, not audio\n" * 40,
        "key.png": png_bytes() + key,  # a real picture with a private key after it
        "aws.mp3": _MP3_FRAMES + b"aws_access_key_id = AKIAABCDEFGHIJKLMNOP\n",
        "token.wav": b"RIFF\x44\x00\x00\x00WAVEfmt \x10\x00\x00\x00"
        + b"\x00" * 16
        + b"data\x20\x00\x00\x00"
        + b"nmv_usr_0123456789abcdef0123456789",
        "empty-box.mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isom" + b"secret text, no boxes" * 20,
        "fake.webm": b"\x1a\x45\xdf\xa3" + b"not really matroska" * 10,
        "fake.wav": b"RIFF\x24\x00\x00\x00WAVE" + b"plain text in a wave costume" * 5,
        "fake.aac": b"\xff\xf1" + b"text after an ADTS-looking start" * 5,
    }


async def test_disguised_files_are_refused(cloud_server: LoopbackServer, home: Path, cloud: CloudQuirks) -> None:
    files = _disguised(home)
    for name, content in files.items():
        (home / "media" / name).write_bytes(content)
    async with inprocess(make_settings(cloud_server, home)) as client:
        for name in files:
            result = await client.call_tool("upload", {"sources": [str(home / "media" / name)]})
            assert result.is_error, name
            assert "not uploaded" in text_of(result), (name, text_of(result))
            assert "BEGIN" not in text_of(result) and "AKIA" not in text_of(result)
    assert not [r for r in cloud.requests if "upload-video" in r.path]  # not one byte of them left
    assert all(not project.media for project in cloud.projects)


def _made_by_ffmpeg(path: Path, source: str, *codec: str) -> None:
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", source, *codec, str(path)],
        check=True, timeout=60,
    )  # fmt: skip


async def test_real_media_still_uploads(cloud_server: LoopbackServer, cloud: CloudQuirks, home: Path) -> None:
    """Real media (an ID3-tagged MP3, an isom MP4, a PNG) passes the checks and is kept by the studio."""
    media = home / "media"
    _made_by_ffmpeg(media / "song.mp3", "sine=duration=0.3", "-c:a", "libmp3lame")
    _made_by_ffmpeg(media / "clip.mp4", "color=c=red:s=32x32:d=0.3", "-c:v", "libx264", "-pix_fmt", "yuv420p")
    (media / "pic.png").write_bytes(png_bytes())
    assert (media / "song.mp3").read_bytes()[:3] == b"ID3" and (media / "clip.mp4").read_bytes()[4:12] == b"ftypisom"
    good = ["song.mp3", "clip.mp4", "pic.png"]
    async with inprocess(make_settings(cloud_server, home)) as client:
        result = await client.call_tool("upload", {"sources": [str(media / n) for n in good]})
    assert not result.is_error, text_of(result)
    [project] = cloud.projects
    assert sorted((m.name, m.kind) for m in project.media) == [
        ("clip.mp4", "video"),
        ("pic.png", "image"),
        ("song.mp3", "audio"),
    ]


# --- 3. answers that stall the server -----------------------------------------------------------------


def _state_answer(draft: Any) -> bytes:
    return json.dumps({"code": 0, "data": {"session_id": "s", "state": {"draft": draft}}}).encode()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (_state_answer({"t": [{"tt": 0, "sg": [{"d": 1}]} for _ in range(20_000)]}), "20,000 tracks"),
        (b'{"code":0,"data":{"state":{"draft":' + b"[" * 100_000 + b"]" * 100_000 + b"}}}", "nested"),
        (b'{"code":0,"data":{"x":"' + b"a" * (9 * 2**20) + b'"}}', "larger than 8 MB"),
    ],
    ids=["many-tracks", "deep", "huge"],
)
async def test_oversized_answers_get_a_specific_error(content: bytes, words: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=content, headers={"content-type": "application/json"})

    api = NemoApi("https://api.example", headers={}, get_retries=0, transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(NemoError) as caught:
            await api.state("s")
    finally:
        await api.aclose()
    assert caught.value.code == "answer_too_large" and words in caught.value.message


async def test_a_huge_timeline_through_the_server(cloud: CloudQuirks, cloud_server: LoopbackServer, home: Path) -> None:
    """The tool answers with words and a code, not 'unexpected problem' and not megabytes of timeline."""
    async with inprocess(make_settings(cloud_server, home)) as client:
        await client.call_tool("state", {})
        _set_draft(cloud, {"t": [{"tt": 0, "sg": [{"d": 1000, "m": {"name": "x"}}]} for _ in range(20_000)]})
        result = await client.call_tool("state", {})
    assert result.is_error
    assert "too large" in text_of(result) and len(text_of(result)) < 2000
    assert (result.structured_content or {}).get("error", {}).get("code") == "answer_too_large"


def test_stream_events_are_bounded() -> None:
    from nemovideo_mcp.backend import sse

    deep = '{"content":' + "[" * 100_000 + "]" * 100_000 + "}"
    assert isinstance(sse.parse_data(deep)[0], sse.Ignored)
    big = json.dumps({"actions": {"stateDelta": {"draft": {"t": [{"sg": []}] * 1000}}}})
    assert not any(isinstance(e, sse.DraftUpdate) for e in sse.parse_data(big))


# --- 5. pieces of the token -------------------------------------------------------------------------


def test_redaction_comes_before_truncation() -> None:
    from nemovideo_mcp.backend.models import RenderStatus
    from nemovideo_mcp.text.clean import clean_text
    from nemovideo_mcp.text.redact import register_secret

    secret = "Zq9" + "x7Y" * 20  # a user's own token: no known shape, only the registry knows it
    register_secret(secret)
    text = "a" * 280 + " " + secret
    assert secret[:15] not in clean_text(text, limit=300)
    status = RenderStatus.from_answer({"status": "failed", "error": "e" * 290 + secret}, "r")
    assert status.error is not None and secret[:8] not in status.error


async def test_a_tool_name_equal_to_the_token_never_shows(
    cloud: CloudQuirks, cloud_server: LoopbackServer, home: Path
) -> None:
    token = "nmv_usr_" + "c0ffee12" * 4  # any token is a user of the studio
    call = {"content": {"role": "model", "parts": [{"functionCall": {"id": "a1", "name": token, "args": {}}}]}}
    cloud.next_turn("ok", events=[call], duration_s=500)
    notes: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append(message or "")

    async with inprocess(make_settings(cloud_server, home, token=token)) as client:
        result = await client.call_tool(
            "generate", {"instruction": "add lo-fi music", "wait_seconds": 20}, progress_callback=on_progress
        )
    shown = " ".join([*notes, text_of(result), repr(result.structured_content)])
    assert token[8:24] not in shown and token[8:24] not in shown.replace(" ", "_")
    assert "nmv usr" not in shown
    assert not cloud._scripts  # the scripted turn, with its call named like the token, was the one answered


async def test_a_legal_but_huge_timeline_fits_in_a_tool_result(
    cloud: CloudQuirks, cloud_server: LoopbackServer, home: Path
) -> None:
    """500 tracks of 40 clips each is within the limits, but megabytes as a result: it is shortened and says so."""
    from nemovideo_mcp.mcp.fit import MAX_RESULT_CHARS

    clip = {"d": 1000, "m": {"name": "clip " + "x" * 80, "text": "caption " * 20}}
    async with inprocess(make_settings(cloud_server, home)) as client:
        await client.call_tool("state", {})
        _set_draft(cloud, {"t": [{"tt": k % 3, "sg": [dict(clip) for _ in range(40)]} for k in range(500)]})
        result = await client.call_tool("state", {})
    assert not result.is_error, text_of(result)[:500]
    structured = result.structured_content or {}
    size = len(text_of(result)) + len(json.dumps(structured, ensure_ascii=False))
    assert size <= MAX_RESULT_CHARS
    assert structured["draft"] is None and 0 < len(structured["timeline"]["tracks"]) < 500
    assert "Shortened to fit" in text_of(result) and "raw draft" in text_of(result)
    assert "of 500 tracks are listed" in text_of(result)


def test_a_small_result_is_left_as_it_is() -> None:
    from nemovideo_mcp.mcp.fit import fit_result

    data = {"message": "Timeline (1 track)", "draft": {"t": [{"tt": 0, "sg": [{"d": 1}]}]}, "jobs": [1, 2]}
    assert fit_result(dict(data)) == data
    long = fit_result({"message": "word " * 10_000, "jobs": []})
    assert len(long["message"]) < 20_200 and "text is cut short" in long["message"]
