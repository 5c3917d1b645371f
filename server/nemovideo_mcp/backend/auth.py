"""Zero-config identity: token, client id and session, and the documented recoveries.

Order on first use: `NEMO_TOKEN` if set, else a stored anonymous token that
has not expired, else a new anonymous token for our persisted client id.
Then the stored session for that token, else a new one. All of it survives
a restart, and a cross-process lock makes two servers started at once share
one identity instead of each burning the once-a-week anonymous token.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

import anyio
import filelock
import structlog

from nemovideo_mcp.backend.client import NemoApi
from nemovideo_mcp.backend.models import TokenGrant
from nemovideo_mcp.backend.transport import BearerToken
from nemovideo_mcp.errors import ApiError, NemoError
from nemovideo_mcp.local.store import StateStore
from nemovideo_mcp.text.redact import register_secret

log = structlog.get_logger(__name__)
T = TypeVar("T")

IDENTITY_FILE = "identity.json"
SESSION_FILE = "session.json"
CLIENT_ID_FILE = "client_id"
# Longest wait for the identity lock: another process may hold it through a token request and a 429 pause.
_LOCK_WAIT = 300.0
# Renew a little before the backend would refuse the token.
_EXPIRY_MARGIN = timedelta(minutes=10)


class Notifier(Protocol):
    async def __call__(self, message: str) -> None: ...


async def _silent(message: str) -> None:
    return None


@dataclass
class Identity:
    token: str
    user_id: str | None
    anonymous: bool
    expires_at: str | None
    session_id: str
    task_id: str | None

    @classmethod
    def of(cls, grant: TokenGrant, session: dict[str, str], *, anonymous: bool) -> Identity:
        return cls(
            token=grant.token,
            user_id=session.get("user_id") or grant.user_id,
            anonymous=anonymous,
            expires_at=grant.expires_at,
            session_id=session["session_id"],
            task_id=session.get("task_id"),
        )


class Connection:
    """Owns the identity (the token the API client sends, too) and runs API calls with the documented
    recoveries: a new token for 1001/401, a new session for 1002/404. Repeating a request that failed on
    the way is the transport's job (`transport.py`), never this class's."""

    def __init__(
        self,
        api: NemoApi,
        store: StateStore,
        *,
        user_token: str | None,
        client_id: str | None,
        language: str,
        backend_name: str | None = None,
    ) -> None:
        self.api = api
        # What a stored identity and session belong to: the API's URL, or a stable name for a backend
        # whose URL changes at every start (the local studio binds a fresh loopback port each time).
        self.backend_name = backend_name or api.base_url
        self.store = store
        self.user_token = user_token
        self.configured_client_id = client_id
        self.language = language
        self.identity: Identity | None = None
        self._token = BearerToken()
        api.authorize(self._token)
        self.notices: list[str] = []  # things the user must hear once, e.g. "the timeline started fresh"
        self._lock = anyio.Lock()
        register_secret(user_token)

    # -- public -----------------------------------------------------------

    async def ensure(self, notify: Notifier = _silent) -> Identity:
        if self.identity is not None:
            return self.identity
        async with self._lock:
            if self.identity is None:
                self.identity = await self._bootstrap(notify)
        return self.identity

    async def call(self, op: Callable[[Identity], Awaitable[T]], notify: Notifier = _silent) -> T:
        """Run `op` once; on a recoverable error fix the cause and run it exactly once more.

        `op` must be safe to repeat when it raised (it did not take effect):
        every recoverable error here is one the backend sends before acting. (A 429 was already waited out
        by the transport: one that reaches here is the answer.)
        """
        identity = await self.ensure(notify)
        try:
            return await op(identity)
        except ApiError as exc:
            if exc.code == "auth_failed":
                identity = await self._renew_token(identity, notify)
            elif exc.code == "session_lost":
                identity = await self._renew_session(identity, notify)
            else:
                raise
        return await op(identity)

    def take_notices(self) -> list[str]:
        notices, self.notices = self.notices, []
        return notices

    # -- bootstrap --------------------------------------------------------

    async def _io(self, fn: Callable[..., T], *args: object) -> T:
        """The state files are small, but disk I/O (fsync included) never runs on the event loop."""
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except OSError as exc:
            raise self._storage_error(exc.strerror or type(exc).__name__) from None

    @asynccontextmanager
    async def _identity_lock(self) -> AsyncIterator[None]:
        """The cross-process lock around identity changes.

        Held across a token request (read timeout) and a 429 pause, so it waits longer than both.
        """
        await self._io(self.store.ensure)  # the lock file lives in the folder: make it (off the loop) first
        try:
            lock = self.store.async_lock("identity", timeout=_LOCK_WAIT)
            await lock.acquire()
        except filelock.Timeout:
            raise self._storage_error("another NemoVideo server on this computer kept it locked") from None
        except OSError as exc:
            raise self._storage_error(exc.strerror or type(exc).__name__) from None
        try:
            yield
        finally:
            await lock.release()

    def _storage_error(self, reason: str) -> NemoError:
        return NemoError(
            "local_storage",
            f"Could not use the state folder {self.store.root} ({reason}). Check that it is writable, or set "
            "NEMO_STATE_DIR to another folder, and try again.",
        )

    async def _bootstrap(self, notify: Notifier) -> Identity:
        await notify("Setting things up...")
        # The lock spans read-check-request-write so two processes never both ask for a token.
        async with self._identity_lock():
            grant, anonymous = await self._token_locked(force_new=False)
            session = await self._stored_session(grant.token)
            if session is None:
                try:
                    session = await self._new_session_locked(grant)
                except ApiError as exc:
                    if exc.code != "auth_failed":
                        raise
                    if not anonymous:
                        raise _rejected_user_token() from None
                    # The stored anonymous token was revoked early: get a fresh one, once.
                    grant, _ = await self._token_locked(force_new=True)
                    session = await self._new_session_locked(grant)
        identity = Identity.of(grant, session, anonymous=anonymous)
        await notify("Connected to NemoVideo.")
        log.info("connected", anonymous=anonymous, user_id=identity.user_id)
        return identity

    async def _token_locked(self, *, force_new: bool) -> tuple[TokenGrant, bool]:
        if self.user_token:
            grant = TokenGrant(token=self.user_token)
            self._use(grant)
            return grant, False
        stored = None if force_new else await self._stored_token()
        grant = stored or await self._request_anonymous_token()
        self._use(grant)
        return grant, True

    def _use(self, grant: TokenGrant) -> None:
        """Send this token from now on; known to the redactor before it can appear anywhere."""
        register_secret(grant.token)
        self._token.token = grant.token

    async def _stored_token(self) -> TokenGrant | None:
        data = await self._io(self.store.read_json, IDENTITY_FILE)
        if not data or data.get("api_url") != self.backend_name:
            return None
        try:
            grant = TokenGrant.model_validate(data)
        except ValueError:
            return None
        if token_expired(grant.expires_at):
            return None
        register_secret(grant.token)  # read from disk: redact it even if it is never used
        return grant

    async def _request_anonymous_token(self) -> TokenGrant:
        client_id = await self._client_id()
        try:
            grant = await self.api.anonymous_token(client_id)
        except ApiError as exc:
            if exc.http_status != 400:
                raise _token_error(exc) from None
            # The backend did not accept our client id: make a fresh one and try once more.
            client_id = await self._client_id(regenerate=True)
            try:
                grant = await self.api.anonymous_token(client_id)
            except ApiError as again:
                raise _token_error(again) from None
        register_secret(grant.token)
        await self._io(self.store.write_json, IDENTITY_FILE, {**grant.model_dump(), "api_url": self.backend_name})
        return grant

    async def _client_id(self, *, regenerate: bool = False) -> str:
        if self.configured_client_id and not regenerate:
            return self.configured_client_id
        if not regenerate:
            stored = (await self._io(self.store.read_text, CLIENT_ID_FILE) or "").strip()
            try:
                return str(uuid.UUID(stored))
            except ValueError:
                pass
        fresh = str(uuid.uuid4())
        await self._io(self.store.write_text, CLIENT_ID_FILE, fresh)
        self.configured_client_id = None
        return fresh

    async def _stored_session(self, token: str) -> dict[str, str] | None:
        data = await self._io(self.store.read_json, SESSION_FILE)
        if not data or data.get("owner") != _fingerprint(self.backend_name, token) or not data.get("session_id"):
            return None
        return {k: str(v) for k, v in data.items() if isinstance(v, str | int)}

    async def _new_session_locked(self, grant: TokenGrant) -> dict[str, str]:
        info = await self.api.create_session(self.language)
        record = {
            "session_id": info.session_id,
            "task_id": info.task_id or "",
            "user_id": info.user_id or grant.user_id or "",
            "owner": _fingerprint(self.backend_name, grant.token),
            "created_at": datetime.now(UTC).isoformat(),
        }
        await self._io(self.store.write_json, SESSION_FILE, record)
        return record

    # -- recovery ---------------------------------------------------------

    async def _renew_token(self, identity: Identity, notify: Notifier) -> Identity:
        if not identity.anonymous:
            raise _rejected_user_token()
        await notify("The sign-in expired; reconnecting...")
        async with self._lock, self._identity_lock():
            current = await self._stored_token()
            # Another process may have renewed it already: use theirs rather than burning another grant.
            if current is not None and current.token != identity.token:
                grant = current
                self._use(grant)
            else:
                grant, _ = await self._token_locked(force_new=True)
            session = await self._stored_session(grant.token) or await self._new_session_locked(grant)
            if session["session_id"] != identity.session_id:
                self.notices.append(_FRESH)
            self.identity = Identity.of(grant, session, anonymous=True)
        return self.identity

    async def _renew_session(self, identity: Identity, notify: Notifier) -> Identity:
        await notify("The project session was lost; starting a new one...")
        async with self._lock, self._identity_lock():
            session = await self._stored_session(identity.token)
            if session is None or session["session_id"] == identity.session_id:
                session = await self._new_session_locked(TokenGrant(token=identity.token, user_id=identity.user_id))
            self.notices.append(_FRESH)
            grant = TokenGrant(token=identity.token, user_id=identity.user_id, expires_at=identity.expires_at)
            self.identity = Identity.of(grant, session, anonymous=identity.anonymous)
        return self.identity


_FRESH = "The previous project session had expired, so a new one was started: the timeline started fresh."


def _fingerprint(base_url: str, token: str) -> str:
    # Ties a stored session to the token and backend it belongs to without storing the token twice.
    return hashlib.sha256(f"{base_url}\n{token}".encode()).hexdigest()[:16]


def token_expired(expires_at: str | None) -> bool:
    if not expires_at:
        return False
    try:
        moment = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment - _EXPIRY_MARGIN <= datetime.now(UTC)


def _rejected_user_token() -> NemoError:
    return NemoError(
        "token_rejected",
        "NemoVideo rejected the token in NEMO_TOKEN (invalid or expired). Copy a fresh token from your "
        "NemoVideo account into NEMO_TOKEN, or unset NEMO_TOKEN to use a free anonymous account.",
    )


def _token_error(exc: ApiError) -> NemoError:
    """The anonymous-token request's refusals; app/messages.py words them for the user."""
    if exc.code == "rate_limited":
        # Still 429 after the transport waited once: this computer's weekly anonymous account is used up.
        return NemoError("anonymous_quota", "anonymous-token request refused with HTTP 429", http_status=429)
    if exc.http_status == 400:
        return NemoError("auth_failed", "anonymous-token request refused the client id (HTTP 400)", http_status=400)
    return exc
