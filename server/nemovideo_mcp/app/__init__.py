"""Use cases: what the tools do, with no MCP in sight; jobs and results."""
