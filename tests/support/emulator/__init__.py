"""A scriptable stand-in for the NemoVideo cloud, for tests and benchmarks only (never shipped).

Legacy: tests now use the real studio wrapped by `support.cloud.CloudQuirks`. This stays only
because tests/test_jobs.py, test_hardening.py, test_http_mode.py, test_progress.py and the
benches in bench/ still use it: they were being changed elsewhere when the other tests moved.
When the last of them has moved, this package and tests/test_emulator.py go.

It imitates what the cloud does that the local studio does not: fault injection, scripted
turns, GUI-phrase replies, both render-status shapes, heartbeat styles and an accelerated
clock. It is served by the studio's loopback server and checks files with the same
`nemovideo_mcp.media` rules as the client and the studio.

    emu = Emulator(time_scale=0.001)       # emulated seconds x time_scale = real seconds
    emu.add_user("nmv_usr_test", credits=50)
    emu.fail_next("state", code=1002)
    emu.next_stream("Added the music.", draft={...})
    with EmulatorServer(emu) as srv:
        ...  # point the client at srv.url
"""

from support.emulator.server import EmulatorServer
from support.emulator.state import (
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
