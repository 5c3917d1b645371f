"""Error types shared by every layer.

Every failure the user can meet is a `NemoError` carrying a machine-readable
`code` (which lands in the tool's structured result) and a one-line human
`message` that says what to change. For the few codes whose advice depends on
who the user is, `app/messages.py:in_words` chooses the words instead (by code
and the error's fields, never by its text). Messages never contain tokens: they
are built from our own words plus sanitised backend text.
"""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal[
    "invalid_setting",
    "invalid_input",
    "token_rejected",
    "auth_failed",
    "session_lost",
    "no_credits",
    "unsupported_file",
    "file_too_large",
    "upload_refused",
    "plan_limit",
    "rate_limited",
    "anonymous_quota",
    "backend_error",
    "answer_too_large",
    "network_error",
    "timeout",
    "stream_failed",
    "stream_dropped",
    "not_export_ready",
    "render_failed",
    "render_cancelled",
    "download_failed",
    "job_not_found",
    "local_storage",
]


class NemoError(Exception):
    """A failure with a code for machines and a sentence for people."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        backend_code: int | None = None,
        http_status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.backend_code = backend_code
        self.http_status = http_status
        self.retryable = retryable

    def __str__(self) -> str:
        return self.message


class ApiError(NemoError):
    """The backend answered with an error envelope or an error HTTP status."""


class TransportError(NemoError):
    """The request never got a usable answer: connection refused/reset, timeout, bad framing."""


class SettingsError(NemoError):
    """A setting from the environment is invalid; the server keeps running and says so."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_setting", message)
