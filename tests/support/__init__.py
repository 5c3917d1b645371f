"""Test support: backends that script, fault and record what the real client does (never shipped)."""
