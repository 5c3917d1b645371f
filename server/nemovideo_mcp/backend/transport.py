"""Retries and the token, each in one place.

Retries: an httpx transport that repeats a request only when repeating cannot do harm.

- Any request whose connection was never made is tried again: nothing reached the server.
- A 429 is waited out once (its Retry-After, else NEMO_RATE_LIMIT_DELAY): the backend refused before acting.
- An idempotent request (a GET, or one the client marks so, like cancelling a render) is also tried again
  on a lost answer, a 5xx, or a success whose body is not JSON (a proxy glitch).

Nothing else is repeated: an upload or a render start may have taken effect. A download is repeated by
the export itself (into a fresh file, from its other source), so here only when it never connected. A
streamed answer is handed over as soon as its headers arrive and never retried after that, so a started
`/run_sse` is never resent.
Buffered answers are read here with a size cap (on the decoded bytes, so a gzip bomb counts in full).

The token: a `BearerToken`, the `httpx.Auth` of the API client, changed only by the `Connection` that owns it.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import anyio
import httpx

from nemovideo_mcp.backend.models import MAX_ANSWER_BYTES
from nemovideo_mcp.errors import ApiError

# Keys of `httpx.Request.extensions` the client sets per request.
IDEMPOTENT = "nemovideo_idempotent"  # bool: overrides "a GET is idempotent, anything else is not"
STREAMED = "nemovideo_streamed"  # True: the caller reads the body (downloads, the agent stream)
# True: the caller repeats the whole exchange itself (a download: into a fresh file, from its other source),
# so only a connection that was never made is tried again here.
CALLER_RETRIES = "nemovideo_caller_retries"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
# A Retry-After beyond this is not waited out inside one call: the caller hears about the 429 instead.
MAX_RETRY_AFTER = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3  # further attempts after the first (NEMO_GET_RETRIES)
    rate_limit_delay: float = 30.0  # the wait after a 429 that names none (NEMO_RATE_LIMIT_DELAY)
    max_answer_bytes: int = MAX_ANSWER_BYTES


class BearerToken(httpx.Auth):
    """The token on every API request it signs (the client decides which: never a CDN's)."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token:
            request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class RetryTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, policy: RetryPolicy) -> None:
        self._inner = inner
        self.policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        idempotent = bool(request.extensions.get(IDEMPOTENT, request.method in _SAFE_METHODS))
        streamed = bool(request.extensions.get(STREAMED, False))
        if request.extensions.get(CALLER_RETRIES, False):
            idempotent, waited_out_429 = False, True
        else:
            waited_out_429 = False
        attempts = 1 + self.policy.retries
        attempt = 0
        while True:
            last = attempt >= attempts - 1
            try:
                response = await self._inner.handle_async_request(request)
                if not streamed:
                    # Read here, inside the retry: a connection cut off mid-answer is a lost answer too.
                    response = await self._buffered(request, response)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if last:
                    raise
            except httpx.TransportError:
                if not idempotent or last:
                    raise
            else:
                if response.status_code == 429 and not waited_out_429:
                    delay = self._rate_limit_wait(response)
                    if delay is not None:
                        waited_out_429 = True
                        await response.aclose()
                        await anyio.sleep(delay)
                        continue  # an allowance of its own: it does not use up an attempt
                failed = response.status_code >= 500 or (not streamed and _garbled(response))
                if not (idempotent and failed) or last:
                    return response
                await response.aclose()
            await anyio.sleep(backoff(attempt))
            attempt += 1

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        named = retry_after(response.headers.get("retry-after"))
        if named is None:
            return self.policy.rate_limit_delay
        return named if named <= MAX_RETRY_AFTER else None

    async def _buffered(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        """The whole answer in memory, decoded, refused past the size cap while it arrives."""
        limit = self.policy.max_answer_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) <= limit and "content-encoding" not in response.headers:
            # The common case, read as it is: the framing stops at the declared length, nothing to decode.
            try:
                await response.aread()
            finally:
                await response.aclose()
            return response
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise too_large(f"it is larger than {limit // 2**20} MB")
        finally:
            await response.aclose()
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED_HEADERS]
        return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _garbled(response: httpx.Response) -> bool:
    """A success whose body should be JSON and is not (an empty body counts as JSON: some endpoints send none)."""
    if response.status_code >= 300:
        return False
    # A cheap look at both ends: the body is parsed once, later and (when large) off the event loop.
    content = response.content.strip()
    return bool(content) and (content[:1], content[-1:]) not in ((b"{", b"}"), (b"[", b"]"))


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def backoff(attempt: int) -> float:
    # Exponential with full jitter: spreads retries from many clients.
    return random.uniform(0, min(8.0, 0.25 * 2**attempt))


def too_large(reason: str) -> ApiError:
    return ApiError(
        "answer_too_large",
        f"The NemoVideo service sent an answer too large to read safely ({reason}). Try again later; if the "
        "timeline itself is that large, start a new project.",
    )
