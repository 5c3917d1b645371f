"""Logging to stderr only, with secrets redacted.

In stdio mode stdout carries the MCP protocol, so every log line (ours, the
SDK's and httpx's) goes to stderr. The redaction processor runs after
exception formatting so tracebacks are scrubbed too.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from nemovideo_mcp.text.redact import redact, structlog_processor


class _Stderr:
    """Writes to whatever `sys.stderr` is at the time, so a replaced stream (tests, embedding) is honoured."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _RedactingFilter(logging.Filter):
    """Scrubs records of stdlib loggers (mcp, httpx, uvicorn) before they are written."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record must not kill logging
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(level: str = "INFO") -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    handler = logging.StreamHandler(_Stderr())
    handler.addFilter(_RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # httpx logs every request line at INFO: useful for debugging, noise otherwise.
    logging.getLogger("httpx").setLevel(max(numeric, logging.WARNING))
    logging.getLogger("httpcore").setLevel(max(numeric, logging.WARNING))

    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog_processor,
        structlog.dev.ConsoleRenderer(colors=False),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    from nemovideo_mcp.settings import take_pending_notes

    for note in take_pending_notes():  # how the settings were read: ignored or unexpanded values
        structlog.get_logger("nemovideo_mcp.settings").warning(note)
