"""The emulator's state and its control surface.

`Emulator` is shared between the test thread (which scripts and inspects it) and
the server thread (which serves HTTP), so every access to mutable state goes
through one re-entrant lock. The HTTP layer calls the "server side" methods and
turns `ApiError` into responses; it never touches the dictionaries directly.
"""

from __future__ import annotations

import copy
import random
import secrets
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from types import EllipsisType
from typing import Any, Literal

from support.emulator import media
from support.emulator.stream import (
    AgentReply,
    Draft,
    StreamScript,
    TurnPlan,
    draft_duration_ms,
    empty_draft,
    interpret,
    is_export_ready,
    plan_default,
    plan_scripted,
)

FaultKind = Literal[
    "reset",
    "hang",
    "malformed_json",
    "truncated_sse",
    "garbage_sse",
    "cut_download",
    "session_not_found_404",
    "validation_422",
]
AuthFailureStyle = Literal["envelope", "http401"]
RenderShape = Literal["wrapped", "flat"]

ROUTES = frozenset(
    {
        "anonymous_token",
        "create_session",
        "run_sse",
        "upload",
        "credits",
        "state",
        "render_start",
        "render_status",
        "render_cancel",
        "render_download",
        "cdn",
        "claim_token",
    }
)

DEFAULT_MESSAGES = {
    1001: "Token expired or invalid",
    1002: "Session not found",
    2001: "Insufficient credits",
    4001: "Unsupported file type",
    4002: "File too large",
}
EXPORT_BLOCKED = "Free plan cannot export. Register or upgrade your plan to unlock export."
ANONYMOUS_CREDITS = 100
TOKEN_LIFETIME = timedelta(days=7)
CLAIM_LIFETIME_S = 604_800


class ApiError(Exception):
    """A failure the HTTP layer sends as-is: a status and a JSON (or text) body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def envelope_error(code: int, message: str | None = None) -> ApiError:
    """The backend's usual failure: HTTP 200 with a non-zero code."""
    return ApiError(200, {"code": code, "message": message or DEFAULT_MESSAGES.get(code, "Request failed")})


def http_error(status: int, detail: Any = None) -> ApiError:
    """A FastAPI-style failure: that status with `{"detail": ...}`."""
    return ApiError(status, {"detail": detail if detail is not None else HTTPStatus(status).phrase})


def validation_error(*fields: str) -> ApiError:
    detail = [{"type": "missing", "loc": ["body", f], "msg": "Field required", "input": None} for f in fields]
    return ApiError(422, {"detail": detail})


def _hex(n: int = 16) -> str:
    return secrets.token_hex(n)


# --- records --------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lowercase names
    json: Any  # parsed body, or None (multipart, empty, not JSON)
    time: float


@dataclass
class User:
    user_id: str
    registered: bool
    available: int
    frozen: int = 0
    client_id: str | None = None


@dataclass
class TokenRecord:
    token: str
    user_id: str
    expired: bool = False


@dataclass
class Upload:
    file_id: str
    filename: str
    file_type: media.FileType
    cdn_url: str
    size: int | None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    path: Path | None = None  # None for URL imports (never fetched)

    def to_json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "file_type": self.file_type,
            "cdn_url": self.cdn_url,
            "duration": self.duration,
            "width": self.width,
            "height": self.height,
            "size": self.size,
            "file_id": self.file_id,
        }


@dataclass
class SessionState:
    session_id: str
    task_id: str
    task_name: str
    language: str
    user_id: str
    draft: Draft
    uploads: list[Upload] = field(default_factory=list)
    render_ids: list[str] = field(default_factory=list)
    generated_media: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)


@dataclass
class RenderJob:
    id: str
    session_id: str
    user_id: str
    created_at: float
    duration_s: float  # real (scaled) seconds from start to completion
    video_seconds: float  # the draft's length, reported in the flat status shape
    file: Future[Path]
    status: str = "pending"
    progress: int = 5
    completed_at: float | None = None
    status_requests: int = 0
    cancelled: bool = False
    fail_reason: str | None = None
    never_finishes: bool = False
    error: str | None = None

    def refresh(self, now: float) -> None:
        """Advance status from elapsed time: no background task needed, polling just reads the clock."""
        if self.status in ("completed", "failed", "cancelled"):
            return
        fraction = (now - self.created_at) / self.duration_s if self.duration_s > 0 else 1.0
        if self.fail_reason is not None and fraction >= 0.5:
            self.status, self.error = "failed", self.fail_reason
        elif fraction >= 1.0 and not self.never_finishes:
            self.status, self.progress = "completed", 100
            self.completed_at = self.created_at + self.duration_s  # when it finished, not when asked
        else:
            # Progress runs evenly from the 5 % of the start answer to 100 % at completion.
            self.status = "pending" if fraction < 0.05 else "processing"
            self.progress = min(95 if self.never_finishes else 99, 5 + int(95 * fraction))


@dataclass
class Fault:
    code: int | None
    http_status: int | None
    fault: FaultKind | None
    message: str | None
    remaining: int


# --- the emulator ---------------------------------------------------------------------------


class Emulator:
    """A scriptable in-process NemoVideo backend. Serve it with `EmulatorServer`."""

    def __init__(self, time_scale: float = 1.0, *, seed: int | None = 0) -> None:
        self.time_scale = time_scale
        # Behaviour switches: plain attributes, read at request time.
        self.hang_seconds = 30.0
        self.rate_limit_anonymous = False
        self.anonymous_export_allowed = True
        self.auth_failure_style: AuthFailureStyle = "envelope"
        self.omit_user_id_in_session = False
        self.render_shape: RenderShape = "wrapped"
        self.render_url_missing = False
        # A render URL elsewhere (another local service, say) instead of this emulator's own CDN.
        self.render_url_override: str | None = None
        self.render_never_finishes = False
        self.render_seconds = 45.0
        self.render_seconds_range: tuple[float, float] | None = None
        self.heartbeat_interval_s = 20.0
        self.max_upload_bytes = 200 * 1024 * 1024
        self.rng = random.Random(seed)

        self._lock = threading.RLock()
        self._tokens: dict[str, TokenRecord] = {}
        self._users: dict[str, User] = {}
        self._sessions: dict[str, SessionState] = {}
        self._renders: dict[str, RenderJob] = {}
        self._files: dict[str, Upload] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._render_failures: deque[str] = deque()
        self._scripts: deque[StreamScript] = deque()
        self._anonymous_clients: dict[str, float] = {}
        self._requests: list[RecordedRequest] = []
        self._issued: list[str] = []
        self._anonymous_count = 0
        self._run_sse_count = 0
        self._tmp = tempfile.TemporaryDirectory(prefix="nemo-emu-")  # removed on close() or GC
        self.upload_dir = Path(self._tmp.name) / "uploads"

    def close(self) -> None:
        """Delete uploaded files. Optional: the temp dir is also removed when the object is collected."""
        self._tmp.cleanup()

    # --- control: users and tokens --------------------------------------------------------

    def add_user(self, token: str, *, registered: bool = True, credits: int = 500, user_id: str | None = None) -> str:
        """Accept `token` (like a NEMO_TOKEN) for a new user; returns the user id."""
        with self._lock:
            uid = user_id or (f"usr_{_hex(6)}" if registered else f"anon_{_hex(6)}")
            self._users.setdefault(uid, User(uid, registered, credits))
            self._tokens[token] = TokenRecord(token, uid)
            self._issued.append(token)
            return uid

    def expire_token(self, token: str) -> None:
        with self._lock:
            self._tokens[token].expired = True

    def expire_all_tokens(self) -> None:
        with self._lock:
            for record in self._tokens.values():
                record.expired = True

    def token_for_user(self, user_id: str) -> str:
        """The newest still-valid token of that user (KeyError if none)."""
        with self._lock:
            for record in reversed(list(self._tokens.values())):
                if record.user_id == user_id and not record.expired:
                    return record.token
        raise KeyError(user_id)

    def set_credits(self, user_id: str, available: int, frozen: int = 0) -> None:
        with self._lock:
            user = self._users[user_id]
            user.available, user.frozen = available, frozen

    # --- control: sessions, faults, scripts -------------------------------------------------

    def drop_session(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def drop_all_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()

    def fail_next(
        self,
        route: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        fault: FaultKind | None = None,
        message: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` requests to `route` fail. Give at most one of code/http_status/fault."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; expected one of {sorted(ROUTES)}")
        if sum(x is not None for x in (code, http_status, fault)) > 1:
            raise ValueError("give only one of code, http_status, fault")
        if code is None and http_status is None and fault is None:
            http_status = 500
        with self._lock:
            self._faults.setdefault(route, deque()).append(Fault(code, http_status, fault, message, times))

    def clear_faults(self, route: str | None = None) -> None:
        """Drop the faults still queued for `route` (all routes when None): the network behaves again."""
        with self._lock:
            if route is None:
                self._faults.clear()
            else:
                self._faults.pop(route, None)

    def fail_next_render(self, reason: str = "Render worker crashed", times: int = 1) -> None:
        """The next `times` renders end in status `failed` with `reason`."""
        with self._lock:
            self._render_failures.extend([reason] * times)

    def next_stream(
        self,
        text: str | EllipsisType | None = ...,
        *,
        silent: bool = False,
        partial: bool = False,
        events: list[dict[str, Any]] | None = None,
        draft: dict[str, Any] | None = None,
        duration_s: float | None = None,
        error: str | None = None,
        error_code: str | None = None,
        drop_after_s: float | None = None,
        trailing_issue: bool = False,
        heartbeats: int | None = None,
        cost: int | None = None,
    ) -> None:
        """Queue a scripted reply for the next /run_sse call (FIFO); see the package docs."""
        script = StreamScript(
            text,
            silent,
            partial,
            copy.deepcopy(events),
            copy.deepcopy(draft),
            duration_s,
            error,
            error_code,
            drop_after_s,
            trailing_issue,
            heartbeats,
            cost,
        )
        with self._lock:
            self._scripts.append(script)

    # --- inspection (live objects: read them, do not mutate) --------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._requests

    @property
    def anonymous_tokens_issued(self) -> int:
        return self._anonymous_count

    @property
    def run_sse_calls(self) -> int:
        return self._run_sse_count

    @property
    def renders(self) -> dict[str, RenderJob]:
        with self._lock:
            now = time.time()
            for job in self._renders.values():
                job.refresh(now)
            return self._renders

    @property
    def sessions(self) -> dict[str, SessionState]:
        return self._sessions

    @property
    def users(self) -> dict[str, User]:
        return self._users

    @property
    def issued_tokens(self) -> list[str]:
        return self._issued

    # --- server side: bookkeeping -----------------------------------------------------------

    def record(self, method: str, path: str, headers: dict[str, str], body: Any, route: str) -> None:
        with self._lock:
            self._requests.append(RecordedRequest(method, path, headers, body, time.time()))
            if route == "run_sse":
                self._run_sse_count += 1

    def take_fault(self, route: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(route)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
            return fault

    # --- server side: auth, sessions, credits -----------------------------------------------

    def issue_anonymous_token(self, client_id: str) -> dict[str, Any]:
        with self._lock:
            now = time.time()
            last = self._anonymous_clients.get(client_id)
            if self.rate_limit_anonymous and last is not None and now - last < TOKEN_LIFETIME.total_seconds():
                raise http_error(429, "Rate limit exceeded: 1 anonymous token per client per 7 days")
            self._anonymous_clients[client_id] = now
            token = f"nmv_usr_{_hex()}"
            uid = f"anon_{_hex(6)}"
            self._users[uid] = User(uid, False, ANONYMOUS_CREDITS, client_id=client_id)
            self._tokens[token] = TokenRecord(token, uid)
            self._issued.append(token)
            self._anonymous_count += 1
        expires = (datetime.now(UTC) + TOKEN_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"token": token, "user_id": uid, "expires_at": expires, "credits": ANONYMOUS_CREDITS}

    def user_for(self, token: str | None) -> User:
        """The token's user; envelope 1001 when missing, unknown or expired."""
        with self._lock:
            record = self._tokens.get(token or "")
            if record is None or record.expired:
                raise envelope_error(1001)
            return self._users[record.user_id]

    def credits(self, user: User) -> dict[str, int]:
        with self._lock:
            return {"available": user.available, "frozen": user.frozen, "total": user.available + user.frozen}

    def create_session(self, user: User, task_name: str, language: str) -> dict[str, Any]:
        with self._lock:
            sid = str(self.rng.randrange(10**18, 10**19))  # 19 digits, like the real ids
            session = SessionState(sid, f"task_{_hex(8)}", task_name, language, user.user_id, empty_draft(task_name))
            self._sessions[sid] = session
        data = {"task_id": session.task_id, "session_id": sid, "user_id": user.user_id}
        if self.omit_user_id_in_session:
            del data["user_id"]
        return data

    def session_for(self, user: User, session_id: str | None) -> SessionState:
        """The user's session, or its newest one when no id is given; envelope 1002 otherwise."""
        with self._lock:
            if session_id is None:
                mine = [s for s in self._sessions.values() if s.user_id == user.user_id]
                if mine:
                    return max(mine, key=lambda s: s.created_at)
            else:
                session = self._sessions.get(session_id)
                if session is not None and session.user_id == user.user_id:
                    return session
        raise envelope_error(1002)

    def state(self, session: SessionState) -> dict[str, Any]:
        with self._lock:
            draft = copy.deepcopy(session.draft)
            width, height = media.render_size(draft.get("m"))
            return {
                "session_id": session.session_id,
                "task_id": session.task_id,
                "task_name": session.task_name,
                "state": {
                    "draft": draft,
                    "video_infos": [u.to_json() for u in session.uploads],
                    "generated_media": copy.deepcopy(session.generated_media),
                    "canvas_config": {"width": width, "height": height, "fps": 30},
                },
                "render_ids": list(session.render_ids),
            }

    def claim_token(self, session: SessionState) -> dict[str, Any]:
        token = f"clm_{_hex()}"
        with self._lock:
            self._issued.append(token)
        return {"claim_token": token, "expires_in": CLAIM_LIFETIME_S}

    # --- server side: uploads ---------------------------------------------------------------

    def new_file_dir(self) -> tuple[str, Path]:
        file_id = f"f_{_hex(8)}"
        directory = self.upload_dir / file_id
        directory.mkdir(parents=True, exist_ok=True)
        return file_id, directory

    def add_uploads(self, session: SessionState, uploads: list[Upload]) -> None:
        with self._lock:
            session.uploads.extend(uploads)
            self._files.update((u.file_id, u) for u in uploads)

    def uploaded_file(self, file_id: str) -> Upload | None:
        with self._lock:
            return self._files.get(file_id)

    # --- server side: turns -----------------------------------------------------------------

    def begin_turn(self, user: User, session: SessionState, text: str, clip_url_base: str) -> TurnPlan:
        """Plan the turn (scripted or default), check credits (2001) and freeze its cost."""
        with self._lock:
            script = self._scripts[0] if self._scripts else None
            if script is not None:
                plan = plan_scripted(script, self.heartbeat_interval_s)
            else:
                plan = plan_default(self._default_reply(session, text, clip_url_base), self.heartbeat_interval_s)
            if plan.cost > user.available:
                raise envelope_error(2001)
            if script is not None:
                self._scripts.popleft()  # consumed only by a turn that actually runs
            user.available -= plan.cost
            user.frozen += plan.cost
            return plan

    def _default_reply(self, session: SessionState, text: str, clip_url_base: str) -> AgentReply:
        uploads = [{"type": u.file_type, "name": u.filename, "url": u.cdn_url} for u in session.uploads]

        def clip_url(subject: str) -> str:
            slug = "-".join("".join(c if c.isalnum() else " " for c in subject).split())[:40] or "clip"
            return f"{clip_url_base}/cdn/generated/{slug}.mp4"

        return interpret(text, session.draft, uploads, clip_url)

    def apply_turn(self, session_id: str, draft: Draft, generated: list[dict[str, Any]]) -> None:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:  # dropped meanwhile: the work is lost, like upstream
                session.draft = copy.deepcopy(draft)
                session.generated_media.extend(generated)

    def settle(self, user_id: str, cost: int, charge: bool) -> None:
        """End of a turn: frozen credits are spent (or handed back on failure)."""
        with self._lock:
            user = self._users.get(user_id)
            if user is None:
                return
            user.frozen = max(0, user.frozen - cost)
            if not charge:
                user.available += cost

    # --- server side: renders ---------------------------------------------------------------

    def start_render(self, user: User, body: dict[str, Any], attributed: bool) -> RenderJob:
        if not user.registered and not (attributed and self.anonymous_export_allowed):
            raise http_error(402, EXPORT_BLOCKED)
        render_id, session_id = body.get("id"), body.get("sessionId")
        if not isinstance(render_id, str) or not render_id or session_id is None:
            raise validation_error(*[k for k in ("id", "sessionId") if not body.get(k)])
        with self._lock:
            if render_id in self._renders:
                raise ApiError(409, {"success": False, "error": f"Render id already exists: {render_id}"})
            session = self._sessions.get(str(session_id))
            if session is None or session.user_id != user.user_id:
                raise ApiError(404, {"success": False, "error": f"Session not found: {session_id}"})
            draft = body.get("draft", session.draft)
            if not is_export_ready(draft):
                raise ApiError(400, {"success": False, "error": "Draft has no segments to render"})
            low_high = self.render_seconds_range
            seconds = self.rng.uniform(*low_high) if low_high else self.render_seconds
            width, height = media.render_size(draft.get("m"))
            length_ms = draft_duration_ms(draft)
            job = RenderJob(
                id=render_id,
                session_id=session.session_id,
                user_id=user.user_id,
                created_at=time.time(),
                duration_s=seconds * self.time_scale,
                video_seconds=round(length_ms / 1000, 3),
                # Started now, in a worker thread, so the file is usually ready when the job completes.
                file=media.render_cache.get(width, height, media.render_seconds(length_ms)),
                fail_reason=self._render_failures.popleft() if self._render_failures else None,
                never_finishes=self.render_never_finishes,
            )
            self._renders[render_id] = job
            session.render_ids.append(render_id)
            return job

    def render_for(self, user: User | None, render_id: str, *, poll: bool = False) -> RenderJob:
        """The job, refreshed; 404 when unknown or (given a user) someone else's."""
        with self._lock:
            job = self._renders.get(render_id)
            if job is None or (user is not None and job.user_id != user.user_id):
                raise ApiError(404, {"success": False, "error": f"Render not found: {render_id}"})
            job.refresh(time.time())
            if poll:
                job.status_requests += 1
            return job

    def cancel_render(self, user: User, render_id: str) -> RenderJob:
        with self._lock:
            job = self.render_for(user, render_id)
            if job.status in ("pending", "processing"):
                job.cancelled, job.status = True, "cancelled"
            return job
