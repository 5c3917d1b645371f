"""Command line: `nemovideo-mcp` serves MCP over stdio (what clients launch).

Subcommands: `serve [--http]`, and `demo`, which runs one scripted session
against the built-in local backend and leaves a real MP4 behind.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nemovideo_mcp import __version__

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SETTINGS = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nemovideo-mcp", description="NemoVideo MCP server: make and edit videos from AI agents."
    )
    parser.add_argument("--version", action="version", version=f"nemovideo-mcp {__version__}")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve MCP over stdio (default) or streamable HTTP")
    serve.add_argument("--http", action="store_true", help="serve streamable HTTP at /mcp instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind with --http (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port with --http (default 8765)")
    serve.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host (requires NEMO_HTTP_SECRET)"
    )
    demo = sub.add_parser("demo", help="make a real MP4 on the built-in local backend (no account needed)")
    demo.add_argument("--out", default="nemovideo-demo", help="folder for the MP4 (default ./nemovideo-demo)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    if command == "demo":
        from nemovideo_mcp.demo import run_demo

        return run_demo(args.out)
    return _serve(
        getattr(args, "http", False),
        getattr(args, "host", "127.0.0.1"),
        getattr(args, "port", 8765),
        getattr(args, "allow_remote", False),
    )


def _serve(http: bool, host: str, port: int, allow_remote: bool) -> int:
    from nemovideo_mcp.errors import NemoError
    from nemovideo_mcp.logs import configure_logging
    from nemovideo_mcp.settings import load_settings
    from nemovideo_mcp.tools import build_server

    settings, error = load_settings()
    configure_logging(settings.log_level)
    if error is not None:
        # Keep serving: the client still sees the tools, and each call explains the bad setting.
        import structlog

        structlog.get_logger("nemovideo_mcp").error(error.message)
    server = build_server(settings, error)
    if not http:
        server.run("stdio")
        return EXIT_OK
    from nemovideo_mcp.http_serve import serve_http

    secret = settings.http_secret.get_secret_value() if settings.http_secret else None
    try:
        serve_http(server, host=host, port=port, allow_remote=allow_remote, secret=secret)
    except NemoError as exc:
        print(exc.message, file=sys.stderr)
        return EXIT_SETTINGS
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
