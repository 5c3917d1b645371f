"""`python -m support.emulator`: run the emulator standalone until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from support.emulator.server import EmulatorServer
from support.emulator.state import Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--time-scale", type=float, default=1.0, help="real seconds per emulated second")
    parser.add_argument("--token", action="append", default=[], help="accept this token for a registered user")
    parser.add_argument("--credits", type=int, default=500, help="credits for --token users")
    args = parser.parse_args(argv)

    emu = Emulator(time_scale=args.time_scale)
    for token in args.token:
        emu.add_user(token, credits=args.credits)
    server = EmulatorServer(emu, host=args.host, port=args.port)
    try:
        server.serve_forever(lambda url: print(f"NemoVideo emulator at {url}", file=sys.stderr))
    except KeyboardInterrupt:
        pass
    finally:
        emu.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
