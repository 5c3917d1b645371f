"""Typed views of the backend's answers.

Tolerant readers: unknown fields are ignored, missing ones get defaults,
because the vendor's documents disagree and the backend adds fields.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from nemovideo_mcp.text.redact import redact

# What one backend answer may hold: beyond this it is refused with `answer_too_large`, not parsed
# into memory or walked by the timeline code (a 25 MB draft of 20,000 tracks stalled every other call).
MAX_ANSWER_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_TRACKS = 500
MAX_SEGMENTS = 20_000


def shape_problem(value: Any, *, max_depth: int = MAX_DEPTH) -> str | None:
    """Why a parsed answer is too deep to handle, or None. Iterative: a deep answer cannot overflow the stack."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return f"it is nested more than {max_depth} levels deep"
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return None


def draft_problem(draft: Any) -> str | None:
    """Why a draft is too large to read (tracks, segments, depth), or None."""
    if not isinstance(draft, dict):
        return None
    tracks = draft.get("t")
    if isinstance(tracks, list):
        if len(tracks) > MAX_TRACKS:
            return f"the timeline has {len(tracks):,} tracks (the limit is {MAX_TRACKS})"
        segments = sum(len(t["sg"]) for t in tracks if isinstance(t, dict) and isinstance(t.get("sg"), list))
        if segments > MAX_SEGMENTS:
            return f"the timeline has {segments:,} clips (the limit is {MAX_SEGMENTS:,})"
    return shape_problem(draft)


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any, info: ValidationInfo) -> Any:
        # Ids are long numbers that JSON may deliver as numbers; we always treat them as text.
        is_text_id = (info.field_name or "").endswith(("_id", "token")) or info.field_name == "expires_at"
        return str(value) if is_text_id and isinstance(value, int) and not isinstance(value, bool) else value


class TokenGrant(_Tolerant):
    token: str
    user_id: str | None = None
    expires_at: str | None = None
    credits: int | None = None


class SessionInfo(_Tolerant):
    session_id: str
    task_id: str | None = None
    user_id: str | None = None


class Credits(_Tolerant):
    available: int = 0
    frozen: int = 0
    total: int = 0


class UploadedFile(_Tolerant):
    filename: str | None = None
    file_type: str | None = None
    cdn_url: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    size: int | None = None


class SessionState(_Tolerant):
    session_id: str | None = None
    task_id: str | None = None
    task_name: str | None = None
    user_id: str | None = None
    draft: dict[str, Any] | None = None
    raw_state: dict[str, Any] = Field(default_factory=dict)


RenderPhase = Literal["pending", "processing", "completed", "failed", "cancelled", "unknown"]


class RenderStatus(_Tolerant):
    """Either documented shape, normalised."""

    id: str
    status: RenderPhase = "unknown"
    progress: int | None = None
    url: str | None = None
    duration: float | None = None
    size: int | None = None
    error: str | None = None

    @classmethod
    def from_answer(cls, answer: dict[str, Any], fallback_id: str) -> RenderStatus:
        data = answer.get("data")
        body: dict[str, Any] = data if isinstance(data, dict) else answer
        raw_output = body.get("output")
        output: dict[str, Any] = raw_output if isinstance(raw_output, dict) else {}
        raw_status = str(body.get("status") or "unknown").lower()
        status: RenderPhase = {
            "pending": "pending",
            "queued": "pending",
            "processing": "processing",
            "rendering": "processing",
            "running": "processing",
            "completed": "completed",
            "done": "completed",
            "succeeded": "completed",
            "success": "completed",
            "failed": "failed",
            "error": "failed",
            "cancelled": "cancelled",
            "canceled": "cancelled",
        }.get(raw_status, "unknown")  # type: ignore[assignment]
        error = body.get("error") or answer.get("error") or body.get("message") if status == "failed" else None
        return cls(
            id=_text(body.get("id")) or _text(body.get("taskId")) or fallback_id,
            status=status,
            progress=_progress(body.get("progress")),
            url=_text(body.get("outputUrl"))
            or _text(body.get("output_url"))
            or _text(output.get("url"))
            or _text(body.get("url")),
            duration=_finite(output.get("duration")),
            size=output.get("size")
            if isinstance(output.get("size"), int) and not isinstance(output.get("size"), bool)
            else None,
            error=redact(str(error))[:300] if error else None,  # redacted before the cut
        )


def _text(value: Any) -> str | None:
    """A string field from the wire: only a non-empty string counts (a list or a number is noise)."""
    return value if isinstance(value, str) and value else None


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _progress(value: Any) -> int | None:
    number = _finite(value)
    return None if number is None else int(max(0.0, min(100.0, number)))
