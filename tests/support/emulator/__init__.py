"""A faithful local emulator of the NemoVideo HTTP API (see docs: nemovideo-api contract).

Used by the test suite (the real client talks to it over loopback HTTP) and by the
`demo` command. It stands alone: nothing else from `nemovideo_mcp` is imported.

    emu = Emulator(time_scale=0.001)       # emulated seconds x time_scale = real seconds
    emu.add_user("nmv_usr_test", credits=50)
    emu.fail_next("state", code=1002)
    emu.next_stream("Added the music.", draft={...})
    with EmulatorServer(emu) as srv:
        ...  # point the client at srv.url
"""

from nemovideo_mcp.emulator.server import EmulatorServer
from nemovideo_mcp.emulator.state import (
    AuthFailureStyle,
    Emulator,
    FaultKind,
    RecordedRequest,
    RenderJob,
    RenderShape,
    SessionState,
    Upload,
    User,
)

__all__ = [
    "AuthFailureStyle",
    "Emulator",
    "EmulatorServer",
    "FaultKind",
    "RecordedRequest",
    "RenderJob",
    "RenderShape",
    "SessionState",
    "Upload",
    "User",
]
