"""The MCP face: the server, the five tools, resources, HTTP serving."""
