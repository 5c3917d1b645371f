"""NemoVideo MCP server: make and edit videos through the NemoVideo API from any MCP client."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from nemovideo_mcp.attribution import package_version


@contextmanager
def rich_hidden() -> Iterator[None]:
    """`import rich` fails inside, for libraries that load rich only to decorate logs we write ourselves.

    structlog imports it for coloured tracebacks, and the SDK's server for a log handler it does not
    install once logging is configured; our logs are plain, redacted text, and rich (with pygments and
    attrs) was a large part of the start. Outside, rich imports normally: the CLI draws with it.
    """
    if "rich" in sys.modules:
        yield
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # what makes the import raise ImportError
    try:
        yield
    finally:
        if sys.modules.get("rich", False) is None:
            del sys.modules["rich"]


# Before any of our modules imports structlog, so that it never sees rich.
with rich_hidden():
    import structlog  # noqa: F401

__version__ = package_version()
__all__ = ["__version__", "rich_hidden"]
