"""What a fresh clone of this repository contains, for tests that build or install from a copy of it."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: What a fresh clone contains (ignoring caches and local environments).
IGNORE = shutil.ignore_patterns(
    "__pycache__",
    "*.pyc",
    ".venv",
    "venv",
    "dist",
    "build",
    "*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".git",
    "nemovideo-demo",
)


def copy_checkout(target: Path) -> Path:
    """A copy of the repository's files in *target*, as a fresh clone would have them."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "README.md", "LICENSE", ".env.example", "SECURITY.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, target / name)
    for name in ("server", "manifests", "docs"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, target / name, ignore=IGNORE)
    return target
