"""NemoVideo MCP server: make and edit videos through the NemoVideo API from any MCP client."""

from nemovideo_mcp.attribution import package_version

__version__ = package_version()
__all__ = ["__version__"]
