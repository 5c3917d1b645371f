"""Command line: `nemovideo-mcp` serves MCP over stdio (what clients launch).

Subcommands: `serve [--http]`; `demo`, which runs one scripted session
against the local studio and leaves a real video behind; `studio`, which runs
the local studio on its own for several commands to share; the five
tools for a person at a terminal (`generate`, `upload`, `state`, `credits`,
`export`, through the same `NemoVideo` facade the tools use, with a progress
bar on stderr and the result on stdout, `--json` for scripts); `doctor`; and
`install <client>`, which adds the server to a client's config file.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nemovideo_mcp import __version__

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console

    from nemovideo_mcp.app.jobs import Reporter
    from nemovideo_mcp.app.results import ErrorInfo
    from nemovideo_mcp.app.service import NemoVideo

# Exit codes, documented in the README (the table there is generated from EXIT_CODES).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SETTINGS = 3
EXIT_RUNNING = 4
EXIT_ACCOUNT = 5
EXIT_NETWORK = 6
EXIT_INTERRUPTED = 130

EXIT_CODES: list[tuple[int, str]] = [
    (EXIT_OK, "Success (for `doctor`: no check failed; for `install`: entry written or already up to date)."),
    (EXIT_FAILED, "The operation failed (render failed, upload refused, a `doctor` check failed, bad config file)."),
    (EXIT_USAGE, "Wrong command-line usage."),
    (EXIT_SETTINGS, "A `NEMO_*` setting is invalid; the message names the variable."),
    (
        EXIT_RUNNING,
        "Still running after `--wait`: an export resumes with `export --job-id`; a generate keeps "
        "running at NemoVideo, check with `state`.",
    ),
    (EXIT_ACCOUNT, "Needs action on the account: no credits (2001), plan limit (402), token rejected, rate limit."),
    (EXIT_NETWORK, "The NemoVideo API could not be reached or timed out; try again later."),
    (EXIT_INTERRUPTED, "Interrupted with Ctrl-C."),
]

# A person at a terminal waits for the result: background jobs die with the process.
CLI_DEFAULT_WAIT = 3600.0

_ACCOUNT_CODES = {"no_credits", "plan_limit", "token_rejected", "auth_failed", "rate_limited", "anonymous_quota"}
_NETWORK_CODES = {"network_error", "timeout"}


def _parser() -> argparse.ArgumentParser:
    return _parsers()[0]


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each subcommand's parser (which reports its own usage errors)."""
    parser = argparse.ArgumentParser(
        prog="nemovideo-mcp",
        description="NemoVideo MCP server: make and edit videos from AI agents. Without a command it serves MCP "
        "over stdio (what MCP clients launch).",
    )
    parser.add_argument("--version", action="version", version=f"nemovideo-mcp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="serve MCP over stdio (default) or streamable HTTP")
    serve.add_argument("--http", action="store_true", help="serve streamable HTTP at /mcp instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind with --http (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8765, help="port with --http (default 8765)")
    serve.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host (requires NEMO_HTTP_SECRET)"
    )
    demo = sub.add_parser("demo", help="make a real video on the local studio (free, offline, no account)")
    demo.add_argument("--out", default="nemovideo-demo", help="folder for the MP4 (default ./nemovideo-demo)")

    studio = sub.add_parser(
        "studio", help="run the local studio on its own (one backend for several commands or servers)"
    )
    studio.add_argument("--port", type=_port, default=8780, help="port on 127.0.0.1 (default 8780; 0 picks one)")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the result as JSON (for scripts)")
    common.add_argument("--quiet", "-q", action="store_true", help="no progress output on stderr")
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument(
        "--wait",
        type=_seconds,
        default=CLI_DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"longest wait for the result before printing the job id (default {CLI_DEFAULT_WAIT:.0f})",
    )

    gen = sub.add_parser(
        "generate", parents=[common, waiting], help="make or edit the video from an instruction (spends credits)"
    )
    gen.add_argument("instruction", nargs="+", help="what to make or change, in plain words")
    up = sub.add_parser("upload", parents=[common], help="upload local files or http(s) URLs (free)")
    up.add_argument("sources", nargs="+", metavar="PATH_OR_URL")
    st = sub.add_parser("state", parents=[common, waiting], help="show the timeline, or wait for a job (free)")
    st.add_argument("job_id", nargs="?", help="a job id printed by generate or export")
    sub.add_parser("credits", parents=[common], help="show the credit balance (free)")
    ex = sub.add_parser("export", parents=[common, waiting], help="render the timeline to an MP4 and save it (free)")
    ex.add_argument("--job-id", help="resume or cancel this export job")
    ex.add_argument("--filename", help="file name for the MP4 (saved in the export folder, never overwrites)")
    ex.add_argument("--cancel", action="store_true", help="cancel the running export")

    doc = sub.add_parser("doctor", help="check settings, folders, API, token and ffmpeg; print what to fix")
    doc.add_argument("--json", action="store_true", help="print the checks as JSON")

    from nemovideo_mcp.cli.install import CLIENTS

    inst = sub.add_parser("install", help="add this server to an MCP client's config file")
    inst.add_argument("client", choices=CLIENTS)
    inst.add_argument("--dry-run", action="store_true", help="show the change as a diff; write nothing")
    inst.add_argument("--config", metavar="PATH", help="config file to edit instead of the client's default")
    inst.add_argument("--name", default="nemovideo", help="server name in the config (default nemovideo)")
    inst.add_argument(
        "--use",
        choices=["auto", "script", "uvx", "python"],
        default="auto",
        help="how the client starts the server: this install's console script, uvx, or python -m "
        "(default auto; always an absolute path)",
    )
    inst.add_argument(
        "--with-token",
        action="store_true",
        help="copy NEMO_TOKEN from this shell into the config (claude-desktop, cursor; stored in plain text, "
        "the file made private)",
    )
    return parser, dict(sub.choices)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser, subcommands = _parsers()
    args, extra = parser.parse_known_args(argv)
    command = args.command
    # An unknown option after a command is that command's mistake: show its usage, not the top level's.
    owner = subcommands.get(command) if command else None
    if extra:
        (owner or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if command == "generate" and owner is not None and not " ".join(args.instruction).strip():
        owner.error("the instruction is empty: say what video to make or what to change")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    # No arguments is how MCP clients start the server: serve without building every command's parser first.
    args = _parse(given) if given else argparse.Namespace(command=None)
    command = args.command or "serve"
    try:
        if command == "demo":
            from nemovideo_mcp.cli.demo import run_demo

            return run_demo(args.out)
        if command == "studio":
            return _studio(args.port)
        if command in ("generate", "upload", "state", "credits", "export"):
            return _tool_command(args)
        if command == "doctor":
            from nemovideo_mcp.cli.doctor import run_doctor

            return run_doctor(as_json=args.json)
        if command == "install":
            from nemovideo_mcp.cli.install import run_install

            return run_install(
                args.client,
                config=args.config,
                name=args.name,
                use=args.use,
                with_token=args.with_token,
                dry_run=args.dry_run,
            )
        return _serve(
            getattr(args, "http", False),
            getattr(args, "host", "127.0.0.1"),
            getattr(args, "port", 8765),
            getattr(args, "allow_remote", False),
        )
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED


def _studio(port: int) -> int:
    """The studio in the foreground, keeping its projects where the MCP server's built-in one does."""
    from nemovideo_mcp.app.service import STUDIO_FOLDER
    from nemovideo_mcp.logs import configure_logging
    from nemovideo_mcp.settings import load_settings
    from nemovideo_mcp.studio import local_studio

    settings, error = load_settings()
    configure_logging(settings.log_level)
    if error is not None:
        print(error.message, file=sys.stderr)
        return EXIT_SETTINGS
    root = settings.state_dir / STUDIO_FOLDER
    server = local_studio(root, port=port, time_limit_s=settings.render_timeout)

    def ready(url: str) -> None:
        print(
            f"Local studio serving {url} (projects in {root}). Point commands or servers at it with "
            f"NEMO_API_URL={url}; Ctrl-C stops it.",
            file=sys.stderr,
            flush=True,
        )

    try:
        server.serve_forever(ready)
    except OSError as exc:
        print(f"Cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}. Choose another --port.", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _serve(http: bool, host: str, port: int, allow_remote: bool) -> int:
    # Starting creates over a hundred thousand objects that live as long as the process (the SDK's and our
    # models, the tool schemas): the cyclic collector would walk them several times during the start for
    # nothing (6% of the instructions it takes). It waits until the server is built (see `_collector_on`).
    gc.disable()
    try:
        return _build_and_serve(http, host, port, allow_remote)
    finally:
        gc.enable()


def _collector_on() -> None:
    """The server is built: what exists now stays (a few thousand garbage objects among it too), so the collector
    leaves it aside from now on and runs as usual for everything after."""
    gc.freeze()
    gc.enable()


def _build_and_serve(http: bool, host: str, port: int, allow_remote: bool) -> int:
    from nemovideo_mcp.errors import NemoError
    from nemovideo_mcp.logs import configure_logging
    from nemovideo_mcp.mcp.tools import build_server
    from nemovideo_mcp.settings import load_settings

    settings, error = load_settings()
    configure_logging(settings.log_level)
    if error is not None:
        # Keep serving: the client still sees the tools, and each call explains the bad setting.
        import structlog

        structlog.get_logger("nemovideo_mcp").error(error.message)
    server = build_server(settings, error, per_client=http)
    if not http:
        if sys.stdin.isatty():
            # A person started it by hand. The transport reads stdin in a thread that only a line ends, so
            # the usual KeyboardInterrupt would wait for Enter: Ctrl-C ends the process at once instead.
            signal.signal(signal.SIGINT, _quit_now)
            print(
                "nemovideo-mcp is an MCP server: MCP clients start it and talk to it over stdin/stdout. "
                "Try `nemovideo-mcp demo` or `nemovideo-mcp --help`; Ctrl-C quits.",
                file=sys.stderr,
                flush=True,
            )
        _collector_on()
        server.run("stdio")
        return EXIT_OK
    from nemovideo_mcp.mcp.http_serve import check_bind, serve_http

    secret = settings.http_secret.get_secret_value() if settings.http_secret else None
    clients = settings.http_client_secrets
    try:
        check_bind(host, allow_remote=allow_remote, secret=secret, clients=clients)
        shown = f"[{host}]" if ":" in host else host
        print(f"Serving MCP over streamable HTTP at http://{shown}:{port}/mcp; Ctrl-C stops it.", file=sys.stderr)
        sys.stderr.flush()
        interrupts: list[int] = []

        def note_interrupt(signum: int, frame: object) -> None:
            # uvicorn shuts down on Ctrl-C, then re-raises the signal here, and uvicorn.run swallows the
            # KeyboardInterrupt: this note is what tells an interrupted server from one that ended.
            interrupts.append(signum)
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGINT, note_interrupt)
        try:
            _collector_on()
            serve_http(server, host=host, port=port, allow_remote=allow_remote, secret=secret, clients=clients)
        finally:
            signal.signal(signal.SIGINT, previous)
        if interrupts:
            print("Interrupted.", file=sys.stderr)
            return EXIT_INTERRUPTED
    except NemoError as exc:
        print(exc.message, file=sys.stderr)
        return EXIT_SETTINGS
    except OSError as exc:  # e.g. the port is taken
        print(f"Cannot serve on {host}:{port}: {exc.strerror or exc}. Choose another --port.", file=sys.stderr)
        return EXIT_FAILED
    except SystemExit as exc:  # uvicorn exits when it cannot bind
        print(f"Cannot serve on {host}:{port} (is the port in use?). Choose another --port.", file=sys.stderr)
        return EXIT_FAILED if exc.code else EXIT_OK
    return EXIT_OK


def _quit_now(signum: int, frame: object) -> None:
    """SIGINT at a terminal: nothing is connected to this stdio server, so leave without waiting for stdin."""
    try:
        sys.stderr.write("Interrupted.\n")
        sys.stderr.flush()
    finally:
        os._exit(EXIT_INTERRUPTED)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (e.g. 60 or 0.5)") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 or more seconds")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: give a port number from 1 to 65535")
    return value


# -- the five tools as commands ---------------------------------------------------


def exit_code_for(status: str | None, error_code: str | None) -> int:
    """The exit code of a finished command from its result's status and error code."""
    if status == "running":
        return EXIT_RUNNING
    if error_code is None:
        return EXIT_FAILED if status in ("failed", "interrupted") else EXIT_OK
    if error_code == "invalid_setting":
        return EXIT_SETTINGS
    if error_code in _ACCOUNT_CODES:
        return EXIT_ACCOUNT
    if error_code in _NETWORK_CODES:
        return EXIT_NETWORK
    return EXIT_FAILED


def _operation(args: argparse.Namespace) -> Callable[[NemoVideo, Reporter], Awaitable[BaseModel]]:
    command = args.command
    if command == "generate":
        instruction = " ".join(args.instruction)
        return lambda service, report: service.generate(instruction, args.wait, report)
    if command == "upload":
        # At a terminal a relative path is relative to where the person stands (MCP clients: HOME).
        return lambda service, report: service.upload(list(args.sources), report, base_dir=Path.cwd())
    if command == "state":
        return lambda service, report: service.state(args.job_id, args.wait, report)
    if command == "credits":
        return lambda service, report: service.credits(report)
    return lambda service, report: service.export(
        job_id=args.job_id, filename=args.filename, wait_seconds=args.wait, cancel=args.cancel, report=report
    )


def _tool_command(args: argparse.Namespace) -> int:
    import anyio
    from rich.console import Console

    from nemovideo_mcp.app.results import ErrorInfo
    from nemovideo_mcp.app.service import NemoVideo
    from nemovideo_mcp.errors import NemoError
    from nemovideo_mcp.logs import configure_logging
    from nemovideo_mcp.settings import load_settings

    out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    err = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    settings, error = load_settings()
    # Logs would drown the progress bar: warnings only, unless NEMO_LOG_LEVEL asks for more.
    configure_logging(settings.log_level if "log_level" in settings.model_fields_set else "WARNING")
    if error is not None:
        _print_outcome(args, out, err, None, ErrorInfo(code=error.code, message=error.message))
        return EXIT_SETTINGS
    operation = _operation(args)
    started = time.time()
    services: list[NemoVideo] = []

    async def run() -> tuple[BaseModel | None, ErrorInfo | None]:
        async with NemoVideo(settings) as service:
            services.append(service)
            progress = _Progress(err, enabled=not args.quiet)
            with progress:
                try:
                    return await operation(service, progress.report), None
                except NemoError as exc:
                    return None, service.explain(exc)

    result: BaseModel | None
    info: ErrorInfo | None
    try:
        result, info = anyio.run(run)
    except KeyboardInterrupt:
        _print_interrupted(args, err, services[0] if services else None, started)
        return EXIT_INTERRUPTED
    except NemoError as exc:
        result, info = None, ErrorInfo(code=exc.code, message=exc.message, backend_code=exc.backend_code)
    except OSError as exc:
        result, info = (
            None,
            ErrorInfo(
                code="local_storage", message=f"A local file or folder could not be used: {exc.strerror or exc}."
            ),
        )
    _print_outcome(args, out, err, result, info)
    if result is None:
        return exit_code_for("failed", info.code if info else None)
    result_error = getattr(result, "error", None)
    code = exit_code_for(getattr(result, "status", None), result_error.code if result_error else None)
    if code == EXIT_OK and getattr(result, "refused", None):
        return EXIT_FAILED  # a partial upload: some of what was asked for is not there
    return code


def _print_interrupted(args: argparse.Namespace, err: Console, service: NemoVideo | None, started: float) -> None:
    """Ctrl-C: say what this process leaves behind; a generate sent to NemoVideo goes on without it."""
    from rich.text import Text

    jobs = service.jobs.all() if service is not None and hasattr(service, "jobs") else []
    generate = [j.record for j in jobs if j.record.kind == "generate" and j.record.started_at >= started - 1]
    if args.command != "generate" or not generate:
        err.print(Text("Interrupted."))
        return
    job_id = generate[-1].job_id
    err.print(
        Text(
            f"Interrupted. The instruction was already sent (job {job_id}): NemoVideo keeps working on it and "
            "charges its credits even though this command stopped, and the timeline changes when it is done. "
            f"Follow it with `nemovideo-mcp state {job_id}`, or `nemovideo-mcp state` for the timeline in a "
            "few minutes. Do not send it again: that would charge twice.",
            style="yellow",
        )
    )


def _print_outcome(
    args: argparse.Namespace, out: Console, err: Console, result: BaseModel | None, info: ErrorInfo | None
) -> None:
    from rich.text import Text

    from nemovideo_mcp.text.redact import redact, redact_value

    if args.json:
        if result is not None:
            data: dict[str, Any] = result.model_dump(mode="json")
            if data.get("status") == "running" and _is_generate(args, result):
                data["message"] = GENERATE_STOPPED_WAITING
        else:
            data = {
                "status": "failed",
                "message": info.message if info else "Failed.",
                "error": info.model_dump(mode="json") if info else None,
            }
        out.print_json(json.dumps(redact_value(data), ensure_ascii=False), highlight=False)
        return
    if result is None:
        err.print(Text("Error: ", style="bold red") + Text(redact(info.message if info else "Failed.")))
        return
    status = getattr(result, "status", None)
    job_id = getattr(result, "job_id", None)
    if status == "running" and _is_generate(args, result):
        # This process ends now and its job with it; the backend keeps working on the instruction.
        out.print(Text(GENERATE_STOPPED_WAITING))
        return
    if args.command == "upload" and isinstance(getattr(result, "files", None), list):
        out.print(Text(redact(upload_text(result))))
    else:
        out.print(Text(redact(str(getattr(result, "message", "")))))
    if status == "running" and job_id:
        hint = (
            "nemovideo-mcp export --job-id " + job_id
            if args.command == "export" or getattr(result, "routed_to", None) == "export"
            else "nemovideo-mcp state " + job_id
        )
        err.print(Text(f"Still running. Check again with: {hint}", style="yellow"))
    path = getattr(result, "path", None)
    if path:
        err.print(Text("Saved: ", style="bold green") + Text(path))


def upload_text(result: Any) -> str:
    """The upload result for a person: each file with its type, length, size; then what was refused."""
    from nemovideo_mcp.app.upload import describe_item

    lines = [f"Uploaded {len(result.files)} file(s):"] if result.files else ["Nothing was uploaded."]
    for item in result.files:
        lines.append(f"- {item.filename or item.source}: {describe_item(item)}")
    if result.refused:
        lines.append("Not uploaded:")
        lines += [f"- {refusal.message}" for refusal in result.refused]
    if result.files:
        lines.append('Next: describe the video with `nemovideo-mcp generate "..."`; the uploaded media will be used.')
    return "\n".join(lines)


GENERATE_STOPPED_WAITING = (
    "Stopped waiting (--wait). The instruction was sent once and NemoVideo keeps working on it; run "
    "`nemovideo-mcp state` in a few minutes to see the timeline. Do not send it again: that would charge twice."
)


def _is_generate(args: argparse.Namespace, result: BaseModel) -> bool:
    return args.command == "generate" and getattr(result, "routed_to", None) != "export"


class _Progress:
    """The `report` callback as a rich progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, console: Console, *, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None
        self._last = ""

    def __enter__(self) -> _Progress:
        if self.enabled and self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("Starting...", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    async def report(self, message: str, progress: float | None = None) -> None:
        from rich.markup import escape

        from nemovideo_mcp.text.redact import redact

        message = redact(message)
        if self._bar is not None:
            self._bar.update(
                self._task,
                description=escape(message),
                total=100 if progress is not None else None,
                completed=progress or 0,
            )
        elif self.enabled and message != self._last:
            self.console.print(f"... {escape(message)}", highlight=False)
        self._last = message


if __name__ == "__main__":
    raise SystemExit(main())
