"""Async client for the NemoVideo HTTP API.

One method per endpoint, each returning a typed model or raising a
`NemoError` subclass. Recovery that needs state (new token, new session)
lives in `auth.py`; this layer only knows HTTP: timeouts on every call,
retries where repeating is safe (`transport.py`: the one place that retries a
request), never for a `/run_sse` whose stream has started. The token rides on
the `httpx.Auth` the connection owns (`authorize`).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import anyio
import httpx
from httpx_sse import EventSource
from pydantic import BaseModel, ValidationError

from nemovideo_mcp.backend import sse
from nemovideo_mcp.backend.models import (
    MAX_DEPTH,
    Credits,
    RenderStatus,
    SessionInfo,
    SessionState,
    TokenGrant,
    UploadedFile,
    draft_problem,
    shape_problem,
)
from nemovideo_mcp.backend.transport import (
    CALLER_RETRIES,
    IDEMPOTENT,
    STREAMED,
    RetryPolicy,
    RetryTransport,
    too_large,
)
from nemovideo_mcp.errors import ApiError, ErrorCode, NemoError, TransportError
from nemovideo_mcp.local.files import host_address, is_local_host, normalize_host
from nemovideo_mcp.text.clean import clean_text

APP = "nemo_agent"
M = TypeVar("M", bound=BaseModel)

# Backend envelope codes -> our error codes (the words come from messages.py).
_ENVELOPE_CODES: dict[int, ErrorCode] = {
    1001: "auth_failed",
    1002: "session_lost",
    2001: "no_credits",
    4001: "unsupported_file",
    4002: "file_too_large",
}
_HTTP_CODES: dict[int, ErrorCode] = {401: "auth_failed", 402: "plan_limit", 429: "rate_limited"}


class NemoApi:
    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        stream_idle_timeout: float = 300.0,
        get_retries: int = 3,
        rate_limit_delay: float = 30.0,
        transfer_timeout: float = 3600.0,
        transfer_min_rate: float = 8 * 1024,
        transport: httpx.AsyncBaseTransport | None = None,
        resolve: Callable[[str, int], Awaitable[list[str]]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # How a download host's name becomes addresses (tests give names their own addresses).
        self._resolve = resolve or _addresses_of
        self._connect_timeout = connect_timeout
        # Every upload and download: an overall deadline, and a minimum rate once the first
        # read timeout has passed (a backend that trickles bytes defeats per-read timeouts).
        self._transfer = TransferLimits(deadline=transfer_timeout, min_rate=transfer_min_rate, grace=read_timeout)
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        )
        self._stream_timeout = httpx.Timeout(
            connect=connect_timeout, read=stream_idle_timeout, write=read_timeout, pool=connect_timeout
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=dict(headers),
            timeout=self._timeout,
            transport=transport,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )
        # Every route out (the default one and any proxy httpx set up from the environment) retries the same way.
        policy = RetryPolicy(retries=get_retries, rate_limit_delay=rate_limit_delay)
        self._http._transport = RetryTransport(self._http._transport, policy)
        self._http._mounts = {
            pattern: None if route is None else RetryTransport(route, policy)
            for pattern, route in self._http._mounts.items()
        }

    def authorize(self, auth: httpx.Auth) -> None:
        """Sign every API request with `auth` (the connection's token); downloads elsewhere never are."""
        self._http.auth = auth

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing ---------------------------------------------------------

    async def _send(
        self, method: str, path: str, *, signed: bool = True, idempotent: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One request, answered in full (the transport retries it where that is safe)."""
        extensions = {} if idempotent is None else {IDEMPOTENT: idempotent}
        auth = httpx.USE_CLIENT_DEFAULT if signed else None
        try:
            return await self._http.request(method, path, auth=auth, extensions=extensions, **kwargs)
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from None

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._send(method, path, **kwargs)
        return _unwrap(response, body=await _parsed(response))

    # -- identity ---------------------------------------------------------

    async def anonymous_token(self, client_id: str) -> TokenGrant:
        # Safe to repeat only if it never reached the server: a second grant burns the weekly quota.
        data = await self._json("POST", "/api/auth/anonymous-token", signed=False, headers={"X-Client-Id": client_id})
        return _model(TokenGrant, data)

    async def create_session(self, language: str) -> SessionInfo:
        data = await self._json(
            "POST", f"/api/tasks/me/with-session/{APP}", json={"task_name": "project", "language": language}
        )
        return _model(SessionInfo, data)

    # -- reading ----------------------------------------------------------

    async def credits(self) -> Credits:
        return _model(Credits, await self._json("GET", "/api/credits/balance/simple"))

    async def state(self, session_id: str) -> SessionState:
        data = await self._json("GET", f"/api/state/{APP}/me/{session_id}/latest")
        found = data.get("state")
        if isinstance(found, dict) and (problem := await anyio.to_thread.run_sync(draft_problem, found.get("draft"))):
            raise too_large(problem)
        raw_state: dict[str, Any] = found if isinstance(found, dict) else {}
        draft = raw_state.get("draft") if isinstance(raw_state.get("draft"), dict) else None
        return _model(SessionState, {**data, "draft": draft, "raw_state": raw_state})

    # -- uploads ----------------------------------------------------------

    async def upload_files(self, session_id: str, files: Sequence[tuple[str, BinaryIO]]) -> list[UploadedFile]:
        """Multipart upload of open files (field `files`, repeated).

        httpx streams file objects from disk, so memory does not grow with file size. The whole
        request must finish within the time the minimum rate allows for its size (plus the wait
        for the backend's answer), and never after the overall transfer deadline.
        """
        parts = [("files", (name, handle, "application/octet-stream")) for name, handle in files]
        size = sum(_size_of(handle) for _, handle in files)
        timeout = self._upload_timeout()
        limits = self._transfer
        allowed = limits.grace + (size / limits.min_rate if limits.min_rate > 0 else limits.deadline)
        allowed += timeout.read or 0.0
        try:
            with _TransferClock(TransferLimits(deadline=min(limits.deadline, allowed), min_rate=0, grace=0)):
                data = await self._json(
                    "POST", f"/api/upload-video/{APP}/me/{session_id}", files=parts, timeout=timeout
                )
        except _TransferTooSlow as exc:
            raise TransportError(
                "timeout",
                f"The upload {exc.reason}: the NemoVideo service took in the files too slowly. Try again later, "
                "or upload a smaller file.",
                retryable=True,
            ) from None
        return _uploaded(data)

    async def upload_urls(self, session_id: str, urls: Sequence[str]) -> list[UploadedFile]:
        data = await self._json(
            "POST", f"/api/upload-video/{APP}/me/{session_id}", json={"urls": list(urls), "source_type": "url"}
        )
        return _uploaded(data)

    def _upload_timeout(self) -> httpx.Timeout:
        # The write timeout is per chunk (no progress at all for that long); the overall pace is the
        # transfer clock's. The backend then inspects the file before answering: five read timeouts.
        read = 5 * (self._timeout.read or 60.0)
        write = self._timeout.write or 60.0
        return httpx.Timeout(connect=self._timeout.connect, read=read, write=write, pool=self._timeout.pool)

    # -- the agent stream -------------------------------------------------

    async def open_stream(self, session_id: str, message: str) -> Stream:
        """Open the `/run_sse` stream; errors before the first byte raise here (safe to retry).

        Once this returns, the message has been accepted and may be charged:
        nothing in this module will ever send it again.
        """
        body = {
            "app_name": APP,
            "user_id": "me",
            "session_id": session_id,
            "new_message": {"role": "user", "parts": [{"text": message}]},
        }
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        request = self._http.build_request(
            "POST",
            "/run_sse",
            json=body,
            headers=headers,
            timeout=self._stream_timeout,
            extensions={STREAMED: True, IDEMPOTENT: False},
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from None
        if "text/event-stream" not in response.headers.get("content-type", ""):
            try:
                await response.aread()
            except httpx.HTTPError as exc:
                raise _transport_error(exc) from None
            finally:
                await response.aclose()
            _unwrap(response)  # raises the error the backend sent
            raise ApiError("backend_error", "The backend answered the instruction without a stream; try again.")
        return Stream(response)

    # -- render -----------------------------------------------------------

    async def render_start(self, render_id: str, session_id: str, draft: dict[str, Any]) -> RenderStatus:
        body = {
            "id": render_id,
            "sessionId": session_id,
            "draft": draft,
            "output": {"format": "mp4", "quality": "high"},
        }
        response = await self._send("POST", "/api/render/proxy/lambda", json=body)
        answer = _unwrap(response, render=True, body=await _parsed(response))
        return RenderStatus.from_answer(answer, render_id)

    async def render_status(self, render_id: str) -> RenderStatus:
        """One status poll. A retryable failure (5xx, garbled answer after the retries) raises
        `TransportError`: the render itself is unaffected and the caller just polls again."""
        try:
            response = await self._send("GET", f"/api/render/proxy/lambda/{render_id}")
            answer = _unwrap(response, render=True, body=await _parsed(response))
        except ApiError as exc:
            if not exc.retryable:
                raise
            raise TransportError(exc.code, exc.message, http_status=exc.http_status, retryable=True) from None
        return RenderStatus.from_answer(answer, render_id)

    async def render_cancel(self, render_id: str) -> None:
        # Cancelling twice is harmless, so a retry is safe.
        cancel = await self._send("POST", f"/api/render/proxy/lambda/{render_id}/cancel", idempotent=True)
        _unwrap(cancel, render=True)

    def render_download_path(self, render_id: str) -> str:
        return f"/api/render/proxy/{render_id}/download"

    def _same_origin(self, url: httpx.URL) -> bool:
        api = httpx.URL(self.base_url)
        return (url.scheme, normalize_host(url.host), url.port or _PORTS.get(url.scheme)) == (
            api.scheme,
            normalize_host(api.host),
            api.port or _PORTS.get(api.scheme),
        )

    def download_refusal(self, url: httpx.URL) -> str | None:
        """Why the server will not fetch *url*, or None when it may.

        The API's own origin is always allowed (the authenticated download endpoint, a local studio).
        Anything else must be an https link to a public host, as the documented render URLs are:
        a hostile backend must not make this process fetch from this computer or its network
        (``http://127.0.0.1:8080/admin``, ``http://169.254.169.254/``, however the address is written).
        """
        if url.scheme not in ("http", "https"):
            return "it is not a web link"
        if self._same_origin(url):
            return None
        if is_local_host(url.host):
            return "it points to this computer or a private network"
        if url.scheme != "https":
            return "it is not an https link"
        return None

    async def _resolves_locally(self, url: httpx.URL) -> str | None:
        """Why a download host *name* may not be used: it resolves to this computer or a private network."""
        if self._same_origin(url) or host_address(url.host) is not None:
            return None  # the API's own origin, or an address already judged by download_refusal
        try:
            with anyio.fail_after(self._connect_timeout):
                addresses = await self._resolve(url.host, url.port or _PORTS.get(url.scheme, 443))
        except (OSError, TimeoutError):
            return None  # connecting fails the same way, and says so
        if any(is_local_host(address) for address in addresses):
            return "its host name leads to this computer or a private network"
        return None

    async def download(
        self,
        url: str,
        dest: Path,
        *,
        max_bytes: int,
        on_progress: Callable[[int, int | None], Awaitable[None]] | None = None,
    ) -> int:
        """Stream `url` into `dest` (an already-created temp file). Returns the byte count.

        The Bearer token goes only to our own API host, never to a CDN. Every hop of a redirect is
        checked with :meth:`download_refusal`. The whole transfer has a deadline and a minimum rate.
        """
        if not url.startswith(("http://", "https://", "/")) or url.startswith("//"):
            raise NemoError("download_failed", "The render's download link was not used: it is not a web link.")
        absolute = httpx.URL(url if not url.startswith("/") else self.base_url + url)
        done = 0
        try:
            with _TransferClock(self._transfer) as clock:
                for _ in range(_MAX_REDIRECTS + 1):
                    refusal = self.download_refusal(absolute) or await self._resolves_locally(absolute)
                    if refusal is not None:
                        raise NemoError("download_failed", f"The render's download link was not used: {refusal}.")
                    # Only the API's origin gets the token; redirects are followed here, hop by hop.
                    auth = httpx.USE_CLIENT_DEFAULT if self._same_origin(absolute) else None
                    async with self._http.stream(
                        "GET",
                        absolute,
                        auth=auth,
                        timeout=self._timeout,
                        follow_redirects=False,
                        extensions={STREAMED: True, CALLER_RETRIES: True},
                    ) as response:
                        if not self._same_origin(absolute) and _peer_is_local(response):
                            # The name resolved anew when connecting (DNS rebinding): not one byte is read.
                            raise NemoError(
                                "download_failed",
                                "The render's download link was not used: it points to this computer or a "
                                "private network.",
                            )
                        if response.is_redirect and "location" in response.headers:
                            absolute = absolute.join(response.headers["location"])
                            continue
                        if response.status_code >= 300:
                            await response.aread()
                            _unwrap(response, render=True)
                            raise ApiError("download_failed", f"The download answered HTTP {response.status_code}.")
                        total = _int_or_none(response.headers.get("content-length"))
                        if total is not None and total > max_bytes:
                            raise NemoError("download_failed", _too_big(total, max_bytes))
                        async with await anyio.open_file(dest, "wb") as out:
                            # Chunks as they arrive, so the clock sees a trickle; written a megabyte at a time.
                            buffer = bytearray()
                            async for chunk in response.aiter_bytes():
                                done += len(chunk)
                                clock.moved(done)
                                if done > max_bytes:
                                    raise NemoError("download_failed", _too_big(done, max_bytes))
                                buffer += chunk
                                if len(buffer) >= 1 << 20:
                                    await out.write(bytes(buffer))
                                    buffer.clear()
                                    if on_progress is not None:
                                        await on_progress(done, total)
                            if buffer:
                                await out.write(bytes(buffer))
                                if on_progress is not None:
                                    await on_progress(done, total)
                        if total is not None and done != total:
                            raise TransportError(
                                "download_failed",
                                f"The download stopped early ({done} of {total} bytes).",
                                retryable=True,
                            )
                        return done
                raise NemoError("download_failed", "The download was redirected too many times.")
        except httpx.HTTPError as exc:
            raise TransportError(
                "download_failed", f"The download was cut off after {done} bytes ({_describe(exc)}).", retryable=True
            ) from None
        except _TransferTooSlow as exc:
            raise TransportError(
                "download_failed", f"The download {exc.reason} after {done} bytes.", retryable=True
            ) from None


# -- helpers --------------------------------------------------------------


async def _addresses_of(host: str, port: int) -> list[str]:
    found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in found]


def _peer_is_local(response: httpx.Response) -> bool:
    """Whether the connection that answered ends at this computer or a private network."""
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    return isinstance(peer, tuple) and bool(peer) and is_local_host(str(peer[0]))


_PORTS = {"http": 80, "https": 443}
_INLINE_PARSE_BYTES = 64 * 1024  # larger answers and stream events are parsed in a worker thread
_MAX_REDIRECTS = 5


@dataclass(frozen=True)
class TransferLimits:
    deadline: float  # seconds for the whole transfer
    min_rate: float  # bytes per second once `grace` has passed; 0: no minimum
    grace: float  # seconds before the rate counts (connecting, the first answer)


class _TransferTooSlow(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _TransferClock:
    """A cancel scope whose deadline is the earlier of the overall deadline and the moment the
    bytes moved so far fall below the minimum rate; `moved()` pushes the second one forward."""

    def __init__(self, limits: TransferLimits) -> None:
        self._limits = limits
        self._start = 0.0
        self._scope = anyio.CancelScope()

    def __enter__(self) -> _TransferClock:
        self._start = anyio.current_time()
        self._scope.__enter__()
        self.moved(0)
        return self

    def moved(self, done: int) -> None:
        limits = self._limits
        deadline = self._start + limits.deadline
        if limits.min_rate > 0:
            deadline = min(deadline, self._start + limits.grace + done / limits.min_rate)
        self._scope.deadline = deadline

    def __exit__(self, *exc_info: Any) -> None:
        # The scope only ever swallows its own cancellation, and that is turned into an error here.
        self._scope.__exit__(*exc_info)
        if self._scope.cancelled_caught:
            limits = self._limits
            if anyio.current_time() >= self._start + limits.deadline:
                raise _TransferTooSlow(f"did not finish within {limits.deadline:g} s")
            raise _TransferTooSlow(f"became slower than {limits.min_rate / 1024:g} KB/s")


def _size_of(handle: BinaryIO) -> int:
    try:
        return os.fstat(handle.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        return 0


class Stream:
    """An open `/run_sse` response: iterate `events()`, then `aclose()`."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    async def events(self) -> AsyncIterator[sse.Event]:
        try:
            async for item in EventSource(self._response).aiter_sse():
                data = item.data
                parsed = (
                    await anyio.to_thread.run_sync(sse.parse_data, data)
                    if len(data) > _INLINE_PARSE_BYTES
                    else sse.parse_data(data)
                )
                for event in parsed:
                    yield event
        except httpx.HTTPError as exc:
            raise TransportError(
                "stream_dropped", f"The connection to the backend dropped ({_describe(exc)})."
            ) from None

    async def aclose(self) -> None:
        await self._response.aclose()


_UNPARSED: Any = object()


def _load_json(content: bytes) -> Any:
    """The parsed body, or None when it is not JSON; an answer too deep to handle raises `answer_too_large`."""
    if not content.strip():
        return None
    try:
        body = json.loads(content)
    except RecursionError:
        raise too_large(f"it is nested more than {MAX_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError):
        return None
    if (problem := shape_problem(body)) is not None:
        raise too_large(problem)
    return body


async def _parsed(response: httpx.Response) -> Any:
    """`_load_json` of the answer; a large one is parsed in a worker thread, so other calls keep going."""
    content = response.content
    if len(content) > _INLINE_PARSE_BYTES:
        return await anyio.to_thread.run_sync(_load_json, content)
    return _load_json(content)


def _unwrap(response: httpx.Response, *, render: bool = False, body: Any = _UNPARSED) -> dict[str, Any]:
    """The `data` of a successful answer, or the right error for everything else."""
    status = response.status_code
    if body is _UNPARSED:
        body = _load_json(response.content)

    def detail() -> str:
        # Worded only for an error: cleaning a success's "message" would be work thrown away on every call.
        return _detail(body) if body is not None else _plain_text(response)

    if status >= 400:
        if status == 404 and "session not found" in detail().lower():
            raise ApiError("session_lost", "The backend no longer knows this session.", http_status=status)
        code = _HTTP_CODES.get(status)
        if code is not None:
            raise ApiError(code, detail() or f"HTTP {status}", http_status=status)
        if status >= 500:
            raise ApiError(
                "backend_error",
                f"The NemoVideo service had an error (HTTP {status}).",
                http_status=status,
                retryable=True,
            )
        raise ApiError(
            "backend_error", f"The backend refused the request (HTTP {status}: {detail()}).", http_status=status
        )

    if not isinstance(body, dict):
        raise ApiError("backend_error", "The backend sent an answer that is not valid JSON; try again.", retryable=True)
    if "code" in body and body.get("code") not in (0, "0", None):
        raw = body.get("code")
        number = int(raw) if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()) else None
        code = _ENVELOPE_CODES.get(number or -1, "backend_error")
        shown = str(number) if number is not None else "unknown"  # never echo a non-numeric code verbatim
        message = detail() or f"error code {shown}"
        if code == "session_lost":
            message = "The backend no longer knows this session."
        raise ApiError(
            code,
            message if code != "backend_error" else f"The backend reported: {message} (code {shown}).",
            backend_code=number,
        )
    if render:
        if body.get("success") is False:
            raise ApiError("render_failed", f"The render service refused: {detail() or 'no reason given'}.")
        return body
    data = body.get("data")
    return data if isinstance(data, dict) else {}


def _detail(body: Any) -> str:
    """The backend's reason in plain words: never raw JSON, which agents tend to echo to the user."""
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "msg"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return clean_text(value, limit=300).strip()
            if value and not isinstance(value, str):
                return clean_text(_plain(value), limit=300).strip()
    return ""


def _plain_text(response: httpx.Response) -> str:
    """A non-JSON body as a reason: plain text is kept, markup and broken JSON are not words."""
    try:
        text = clean_text(response.text[:4000], limit=200).strip()  # clean_text redacts before it cuts
    except Exception:  # an undecodable body
        return ""
    return "" if text.startswith(("<", "{", "[")) else text.replace("{", "(").replace("}", ")")


def _plain(value: Any) -> str:
    """FastAPI validation details (`[{"loc": [...], "msg": ...}]`) and other JSON, as words."""
    items = value if isinstance(value, list) else [value]
    words = []
    for item in items[:5]:
        if isinstance(item, dict) and isinstance(item.get("msg"), str):
            loc = item.get("loc")
            where = ".".join(str(p) for p in loc if p != "body") if isinstance(loc, list) else ""
            words.append(f"{where}: {item['msg']}" if where else item["msg"])
        elif isinstance(item, dict):
            words.append(", ".join(f"{k} {v}" for k, v in list(item.items())[:5] if isinstance(v, str | int | float)))
        else:
            words.append(str(item))
    text = "; ".join(w for w in words if w) or "no reason given"
    return text.replace("{", "(").replace("}", ")")


def _model(cls: type[M], data: dict[str, Any]) -> M:
    """Read an answer into its model; an answer missing what we need is the backend's fault, said in words."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})) or "fields"
        raise ApiError(
            "backend_error",
            f"The NemoVideo service sent an incomplete answer (missing or invalid: {fields}); try again.",
        ) from None


def _uploaded(data: dict[str, Any]) -> list[UploadedFile]:
    files = data.get("files")
    return [_model(UploadedFile, f) for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection"
    return type(exc).__name__


def _transport_error(exc: httpx.HTTPError) -> TransportError:
    if isinstance(exc, httpx.TimeoutException):
        return TransportError(
            "timeout", "The NemoVideo service did not answer in time; try again in a minute.", retryable=True
        )
    return TransportError(
        "network_error",
        f"Could not reach the NemoVideo service ({_describe(exc)}). Check the network or NEMO_API_URL.",
        retryable=True,
    )


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _too_big(size: int, limit: int) -> str:
    return (
        f"The export is larger than the download limit ({size // 2**20} MB > {limit // 2**20} MB); "
        "raise NEMO_MAX_DOWNLOAD_MB."
    )
