"""Serving an ASGI app on loopback with uvicorn: in a background thread, or in the foreground."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import uvicorn


class _QuickServer(uvicorn.Server):
    """uvicorn, minus its fixed 0.1 s waits at stop time.

    A server is started and stopped per MCP server start (and per test); uvicorn's tick-based
    main loop and its shutdown sleep would add ~0.2 s to each. Here stop() wakes the loop at once
    and in-flight requests get a short grace period before being cancelled.
    """

    grace_seconds = 0.25

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def request_stop(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._wake is not None:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # loop already closed
                pass

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):  # on_tick refreshes the Date header each second
            counter = (counter + 1) % 864000
            try:
                await asyncio.wait_for(self._wake.wait(), 0.1)
            except TimeoutError:
                pass

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        tasks = list(self.server_state.tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.grace_seconds)
            for task in pending:
                task.cancel()
        if not self.force_exit:
            await self.lifespan.shutdown()  # the app's own shutdown: the studio stops its renders cleanly


class LoopbackServer:
    """uvicorn on 127.0.0.1 (port picked at bind time unless given); a context manager.

    The socket is bound before the thread starts, so `url` is valid as soon as `start()` returns
    and no other process can take the port in between.
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, name: str = "nemo-studio") -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self._sock: socket.socket | None = None
        self._server: _QuickServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._sock is None:
            raise RuntimeError("server not started")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def _bind(self) -> _QuickServer:
        # proto must be IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP, and without it every response waits ~40 ms on Nagle + delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._sock = sock
        config = uvicorn.Config(
            self.app,
            log_config=None,  # leave the host process's logging alone
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = _QuickServer(config)
        return self._server

    def start(self) -> Self:
        server = self._bind()
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._sock]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = None

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in the calling thread (so Ctrl-C works) until interrupted; `on_ready(url)` once bound."""
        server = self._bind()
        if on_ready is not None:
            on_ready(self.url)
        server.run(sockets=[self._sock] if self._sock else None)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
