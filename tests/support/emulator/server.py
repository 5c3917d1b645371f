"""Serving an `Emulator` over loopback HTTP: the studio's loopback server, with the emulator's app."""

from __future__ import annotations

import logging

from nemovideo_mcp.studio.server import LoopbackServer
from support.emulator.app import create_app
from support.emulator.state import Emulator
from support.emulator.stream import DropConnection


class _HideDeliberateDrops(logging.Filter):
    """uvicorn logs every exception that escapes the app; ours are scripted faults, not bugs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        return not isinstance(exc, DropConnection)


_error_logger = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _HideDeliberateDrops) for f in _error_logger.filters):
    _error_logger.addFilter(_HideDeliberateDrops())


class EmulatorServer(LoopbackServer):
    """The emulator on 127.0.0.1 (port picked at bind time unless given); a context manager."""

    def __init__(self, emulator: Emulator, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(create_app(emulator), host=host, port=port, name="nemo-emulator")
        self.emulator = emulator
