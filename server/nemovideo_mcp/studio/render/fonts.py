"""Font discovery and per-character fallback for text cards."""

from __future__ import annotations

import functools
import importlib.resources
import logging
import shutil
import subprocess
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image, ImageDraw, ImageFont, features

log = logging.getLogger(__name__)

NOTO_PACKAGE = "noto_cjk_sans_otc"
NOTO_FILE = "NotoSansCJK-Regular.ttc"
# Fallbacks when the package is missing, most complete first; CJK-capable ones ahead of Latin-only ones.
SYSTEM_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
# A code point no font maps: drawing it shows the font's .notdef glyph, which is what a missing glyph looks like.
_NOTDEF_PROBE = "\U0010ffff"
_PROBE_SIZE = 32
_FC_TIMEOUT_S = 5.0
_MAX_FC_LOOKUPS = 32


class Run(NamedTuple):
    """Characters drawn with one font; ``proportional`` for punctuation set in Latin text."""

    text: str
    face: int
    proportional: bool = False

    def options(self) -> dict[str, Any]:
        # CJK fonts map ’ “ ” … to full-width glyphs; in Latin text "pwid" picks their proportional forms.
        return {"features": ["pwid"]} if self.proportional and _HAVE_RAQM else {}


_HAVE_RAQM = bool(features.check("raqm"))


@dataclass(frozen=True)
class FontFace:
    path: str
    index: int
    label: str


def _face_index(path: str, want: str) -> int:
    """Index of the face whose family name contains ``want`` (e.g. " SC"), else 0."""
    for index in range(16):
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        if want in family:
            return index
    return 0


def _family(path: str, index: int) -> str:
    try:
        return ImageFont.truetype(path, 12, index=index).getname()[0] or Path(path).stem
    except OSError:
        return Path(path).stem


def _packaged_noto() -> FontFace | None:
    try:
        resource = importlib.resources.files(NOTO_PACKAGE).joinpath(NOTO_FILE)
    except (ModuleNotFoundError, TypeError):
        return None
    path = str(resource)
    if not Path(path).is_file():
        return None
    # The collection holds JP, KR, SC, TC, HK faces; SC has the Simplified Chinese glyph forms.
    index = _face_index(path, " SC")
    return FontFace(path, index, f"{_family(path, index)} ({NOTO_PACKAGE.replace('_', '-')} package)")


def _fc_match(pattern: str) -> FontFace | None:
    exe = shutil.which("fc-match")
    if not exe:
        return None
    try:
        result = subprocess.run(
            [exe, "-f", "%{file}\n%{index}", pattern],
            capture_output=True,
            text=True,
            timeout=_FC_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = result.stdout.splitlines()
    if result.returncode != 0 or not lines or not Path(lines[0]).is_file():
        return None
    index = int(lines[1]) if len(lines) > 1 and lines[1].strip().isdigit() else 0
    if not lines[0].lower().endswith((".ttf", ".otf", ".ttc", ".otc")):
        return None
    return FontFace(lines[0], index, f"{_family(lines[0], index)} (system)")


@functools.cache
def font_faces() -> tuple[FontFace, ...]:
    """The fonts text is drawn with, primary first, then fallbacks for characters the primary lacks."""
    faces: list[FontFace] = []
    packaged = _packaged_noto()
    if packaged:
        faces.append(packaged)
    for pattern in ("sans-serif:lang=zh-cn", "sans-serif"):
        found = _fc_match(pattern)
        if found:
            faces.append(found)
    for path in SYSTEM_CANDIDATES:
        if Path(path).is_file():
            index = _face_index(path, " SC") if path.endswith(".ttc") else 0
            faces.append(FontFace(path, index, f"{_family(path, index)} (system)"))
    unique: dict[tuple[str, int], FontFace] = {}
    for face in faces:
        unique.setdefault((str(Path(face.path).resolve()), face.index), face)
    return tuple(unique.values())


def font_report() -> str:
    """Which font files text is drawn with, for ``doctor``."""
    faces = font_faces()
    if not faces:
        return "No font found: text would be drawn with Pillow's tiny built-in font. Install noto-cjk-sans-otc."
    head, *rest = faces
    report = f"{head.label}: {head.path}" + (f" (face {head.index})" if head.index else "")
    if rest:
        report += "; fallbacks: " + ", ".join(f"{face.label}: {face.path}" for face in rest[:3])
    if head.path.endswith(NOTO_FILE) and NOTO_PACKAGE.replace("_", "-") not in head.label:
        report += " (the noto-cjk-sans-otc package is missing; using the system copy)"
    return report


def _render_probe(font: ImageFont.FreeTypeFont, ch: str) -> bytes:
    image = Image.new("L", (_PROBE_SIZE * 2, _PROBE_SIZE * 2))
    ImageDraw.Draw(image).text((_PROBE_SIZE // 2, _PROBE_SIZE // 2), ch, font=font, fill=255)
    return image.tobytes()


def _invisible(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in {"Cf", "Cc", "Mn", "Me", "Zs"}


class FontChain:
    """Chooses, per character, the first font that has a glyph for it; asks fontconfig for rare scripts."""

    def __init__(self, faces: Sequence[FontFace] | None = None) -> None:
        self.faces: list[FontFace] = list(font_faces() if faces is None else faces)
        self._probe_fonts: list[ImageFont.FreeTypeFont] = []
        self._notdef: list[bytes] = []
        self._choice: dict[str, int] = {}
        self._fc_lookups = 0
        self._lock = threading.Lock()
        for face in self.faces:
            self._add_probe(face)

    def _add_probe(self, face: FontFace) -> None:
        font = ImageFont.truetype(face.path, _PROBE_SIZE, index=face.index)
        self._probe_fonts.append(font)
        self._notdef.append(_render_probe(font, _NOTDEF_PROBE))

    def has_glyph(self, face_index: int, ch: str) -> bool:
        if _invisible(ch):
            return True
        rendered = _render_probe(self._probe_fonts[face_index], ch)
        return rendered != self._notdef[face_index] and any(rendered)

    def face_for(self, ch: str) -> int:
        """Index into ``faces`` of the font to draw ``ch`` with (0 when nothing has it: the primary's box)."""
        with self._lock:
            if ch in self._choice:
                return self._choice[ch]
            choice = next((i for i in range(len(self.faces)) if self.has_glyph(i, ch)), -1)
            if choice < 0:
                choice = self._ask_fontconfig(ch)
            self._choice[ch] = max(choice, 0)
            return self._choice[ch]

    def _ask_fontconfig(self, ch: str) -> int:
        if self._fc_lookups >= _MAX_FC_LOOKUPS:
            return -1
        self._fc_lookups += 1
        found = _fc_match(f":charset={ord(ch):x}")
        if not found:
            return -1
        known = {(face.path, face.index): i for i, face in enumerate(self.faces)}
        if (found.path, found.index) in known:
            return -1  # fontconfig's best guess is a font we already tried
        try:
            self._add_probe(found)
        except OSError:
            return -1
        self.faces.append(found)
        index = len(self.faces) - 1
        return index if self.has_glyph(index, ch) else -1

    def runs(self, text: str) -> list[Run]:
        """``text`` split into runs of one font each; face -1 is Pillow's built-in font."""
        if not self.faces:
            return [Run(text, -1)] if text else []
        runs: list[Run] = []
        for i, ch in enumerate(text):
            face = self.face_for(ch) if not _invisible(ch) else (runs[-1].face if runs else 0)
            proportional = _in_latin_context(text, i)
            if runs and runs[-1].face == face and runs[-1].proportional == proportional:
                runs[-1] = Run(runs[-1].text + ch, face, proportional)
            else:
                runs.append(Run(ch, face, proportional))
        return runs

    @functools.lru_cache(maxsize=256)  # noqa: B019 - chains live as long as the process; a few sizes each
    def font(self, face_index: int, size: int) -> ImageFont.FreeTypeFont:
        if face_index < 0:
            builtin = ImageFont.load_default(size)
            if not isinstance(builtin, ImageFont.FreeTypeFont):
                raise OSError("Pillow was built without FreeType; text cannot be drawn")
            return builtin
        face = self.faces[face_index]
        return ImageFont.truetype(face.path, size, index=face.index)


@functools.cache
def default_chain() -> FontChain:
    return FontChain()


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in {"W", "F"}


def _in_latin_context(text: str, i: int) -> bool:
    """Whether ``text[i]`` sits among Latin letters: punctuation takes the script of its nearest neighbour."""
    ch = text[i]
    if _wide(ch):
        return False
    if unicodedata.category(ch)[0] not in "PSZ":
        return True
    for step in (-1, 1):
        j = i + step
        while 0 <= j < len(text):
            other = text[j]
            if unicodedata.category(other)[0] not in "PSZ":
                return not _wide(other)
            j += step
    return True
