"""Who is calling: the X-Skill-* headers every request carries.

Source and version come from the frontmatter of our own SKILL.md, the one
file the version lives in. The wheel ships it as `nemovideo_mcp/skill/SKILL.md`;
a source checkout reads it from `manifests/` so both always agree.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

SKILL_NAME = "video-generator-for-free-ai"
Platform = Literal["clawhub", "cursor", "unknown"] | str

_PACKAGE_DIR = Path(__file__).resolve().parent
# The pattern hatch reads the version with (pyproject.toml): the wheel's metadata and `__version__` agree.
_VERSION = re.compile(r"(?m)^version:\s*['\"]?(?P<version>[0-9][^'\"\s]*)")
_CANDIDATES = (
    _PACKAGE_DIR / "skill" / "SKILL.md",
    _PACKAGE_DIR.parents[1] / "manifests" / "skills" / SKILL_NAME / "SKILL.md",
)


@dataclass(frozen=True)
class SkillInfo:
    name: str
    version: str
    path: Path


def skill_file() -> Path:
    for candidate in _CANDIDATES:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"SKILL.md not found in {', '.join(str(c) for c in _CANDIDATES)}")


def parse_frontmatter(text: str) -> dict[str, object]:
    """The YAML block between the leading `---` lines; {} when there is none."""
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    import yaml  # only the headers of the first backend call need the whole frontmatter

    loaded = yaml.safe_load(text[3:end])
    return loaded if isinstance(loaded, dict) else {}


@cache
def skill_info() -> SkillInfo:
    path = skill_file()
    meta = parse_frontmatter(path.read_text(encoding="utf-8"))
    return SkillInfo(name=str(meta.get("name", SKILL_NAME)), version=str(meta.get("version", "0.0.0")), path=path)


def package_version() -> str:
    """The version, without a YAML parser: `--version` and the server's start need nothing more."""
    try:
        found = _VERSION.search(skill_file().read_text(encoding="utf-8"))
    except OSError:
        return "0.0.0"
    return found["version"] if found else "0.0.0"


def detect_platform(
    explicit: str | None = None, *, home: Path | None = None, locations: list[Path] | None = None
) -> str:
    """Explicit setting wins; else where we are installed tells the client family."""
    if explicit:
        return explicit
    home = home or Path.home()
    places = locations if locations is not None else [_PACKAGE_DIR, Path(sys.prefix)]
    markers: list[tuple[Path, str]] = [(home / ".clawhub", "clawhub"), (home / ".cursor" / "skills", "cursor")]
    for place in places:
        for marker, platform in markers:
            try:
                place.resolve().relative_to(marker.resolve())
            except ValueError:
                continue
            return platform
    return "unknown"


def attribution_headers(platform: str) -> dict[str, str]:
    info = skill_info()
    return {"X-Skill-Source": info.name, "X-Skill-Version": info.version, "X-Skill-Platform": platform}
