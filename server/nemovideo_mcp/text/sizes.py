"""File sizes in words a person reads at a glance: 50 KB, 3.4 MB, never "0.0 MB" for a small file."""

from __future__ import annotations


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024**2:
        return f"{round(size / 1024)} KB"
    if size < 1024**3:
        return f"{size / 1024**2:.1f} MB"
    return f"{size / 1024**3:.1f} GB"
