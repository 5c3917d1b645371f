"""Titles and captions drawn with Pillow into small transparent PNGs that ffmpeg overlays."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from ..draft import TextKind
from .fonts import FontChain, default_chain

Box = tuple[int, int, int, int]

# Break opportunities: CJK text may wrap between any two characters, but these never start a line...
_NO_LINE_START = set("，。、！？；：）》」』】〕〉〗”’,.!?;:)]}%…·ー～〜ゝゞ々")
# ...and these never end one.
_NO_LINE_END = set("（《「『【〔〈〖“‘([{")
_ELLIPSIS = "…"


@dataclass(frozen=True)
class SafeArea:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def safe_area(width: int, height: int) -> SafeArea:
    """Where text may go: 6% side margins, 5% top and bottom, more on vertical video where apps put their UI."""
    margin_x = round(width * 0.06)
    margin_y = round(height * 0.05)
    if height > width:
        margin_y = max(margin_y, round(height * 150 / 1920))
    return SafeArea(margin_x, margin_y, width - margin_x, height - margin_y)


@dataclass(frozen=True)
class TextCard:
    """A drawn text item: the PNG, where its top-left goes on the canvas, and where its ink lands."""

    path: Path
    x: int
    y: int
    width: int
    height: int
    ink: Box


@dataclass(frozen=True)
class _Style:
    start: float  # first font size tried, as a fraction of the canvas's shorter side
    smallest: float
    max_lines: int
    height_share: float  # of the safe area's height the text block may take
    line_pitch: float  # baseline to baseline, in font sizes
    weight: float  # faux-bold stroke in font sizes: the bundled Noto face is Regular only


_STYLES: dict[TextKind, _Style] = {
    "title": _Style(start=0.12, smallest=0.045, max_lines=3, height_share=0.7, line_pitch=1.28, weight=0.035),
    "caption": _Style(start=0.058, smallest=0.03, max_lines=3, height_share=0.34, line_pitch=1.34, weight=0.0),
}


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x2E80 <= code <= 0x9FFF  # radicals, punctuation, kana, bopomofo, unified ideographs
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF
        or 0xFE30 <= code <= 0xFE4F
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x20000 <= code <= 0x3FFFF
    )


def _atoms(paragraph: str) -> list[str]:
    """Unbreakable pieces: a Latin word, one CJK character (with punctuation kept on the right side), or a space."""
    atoms: list[str] = []
    word = ""
    for ch in paragraph:
        if ch.isspace():
            if word:
                atoms.append(word)
                word = ""
            if atoms and atoms[-1] != " ":
                atoms.append(" ")
        elif _is_cjk(ch) or ch in _NO_LINE_START or ch in _NO_LINE_END:
            if word:
                atoms.append(word)
                word = ""
            atoms.append(ch)
        else:
            word += ch
    if word:
        atoms.append(word)
    merged: list[str] = []
    for atom in atoms:
        if merged and merged[-1] != " " and (atom[0] in _NO_LINE_START or merged[-1][-1] in _NO_LINE_END):
            merged[-1] += atom
        else:
            merged.append(atom)
    while merged and merged[-1] == " ":
        merged.pop()
    return merged


def _wrap(paragraph: str, measure: Callable[[str], float], max_width: float, split_width: float) -> list[str]:
    pieces: list[str] = []
    for atom in _atoms(paragraph):
        # A word wider than the whole line is the one case where breaking inside it beats clipping it.
        pieces.extend(list(atom) if atom != " " and measure(atom) > split_width else [atom])
    lines: list[str] = []
    current = ""
    for piece in pieces:
        if piece == " ":
            if current:
                current += " "
            continue
        candidate = current + piece
        if not current.strip() or measure(candidate) <= max_width:
            current = candidate
        else:
            lines.append(current.rstrip())
            current = piece
    if current.strip():
        lines.append(current.rstrip())
    return lines


@dataclass
class _Layout:
    size: int
    stroke: int
    lines: list[str]
    pitch: int
    ascent: int
    ink: Box  # in block coordinates: the first baseline is y=0, the widest line starts at x=0
    offsets: list[float]  # each line's left x, centred in the block


class _Typesetter:
    def __init__(self, chain: FontChain) -> None:
        self.chain = chain

    def width(self, line: str, size: int, stroke: int) -> float:
        runs = self.chain.runs(line)
        return sum(self.chain.font(run.face, size).getlength(run.text, **run.options()) for run in runs) + 2 * stroke

    def layout(self, lines: list[str], size: int, stroke: int, pitch_ratio: float) -> _Layout:
        primary = self.chain.font(self.chain.runs("A")[0].face, size)
        ascent, _descent = primary.getmetrics()
        pitch = max(1, round(size * pitch_ratio))
        widths = [self.width(line, size, stroke) for line in lines]
        block = max(widths, default=0.0)
        offsets = [(block - w) / 2 for w in widths]
        ink: Box | None = None
        for k, line in enumerate(lines):
            x = offsets[k] + stroke
            for run in self.chain.runs(line):
                font = self.chain.font(run.face, size)
                left, top, right, bottom = font.getbbox(run.text, anchor="ls", stroke_width=stroke, **run.options())
                box = (
                    math.floor(x + left),
                    k * pitch + math.floor(top),
                    math.ceil(x + right),
                    k * pitch + math.ceil(bottom),
                )
                ink = box if ink is None else _union(ink, box)
                x += font.getlength(run.text, **run.options())
        return _Layout(size, stroke, lines, pitch, ascent, ink or (0, 0, 1, 1), offsets)

    def draw_mask(self, layout: _Layout, size: tuple[int, int], origin: tuple[int, int], stroke: int) -> Image.Image:
        mask = Image.new("L", size, 0)
        draw = ImageDraw.Draw(mask)
        for k, line in enumerate(layout.lines):
            x = origin[0] + layout.offsets[k] + layout.stroke
            y = origin[1] + k * layout.pitch
            for run in self.chain.runs(line):
                font = self.chain.font(run.face, layout.size)
                options = run.options()
                draw.text(
                    (x, y), run.text, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255, **options
                )
                x += font.getlength(run.text, **options)
        return mask


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _caption_padding(size: int) -> tuple[int, int]:
    return round(size * 0.55), round(size * 0.32)


def _fit(text: str, kind: TextKind, width: int, height: int, typesetter: _Typesetter) -> _Layout:
    """The largest size at which the text fits the safe area within the style's line count; else truncate."""
    style = _STYLES[kind]
    area = safe_area(width, height)
    shorter = min(width, height)
    size = max(8, round(shorter * style.start))
    smallest = max(8, min(size, round(shorter * style.smallest)))
    paragraphs = [p for p in text.replace("\r", "").split("\n") if p.strip()] or [text.strip()]
    while True:
        stroke = round(size * style.weight)
        pad_x, pad_y = _caption_padding(size) if kind == "caption" else (0, 0)
        max_w = area.width - 2 * pad_x
        max_h = area.height * style.height_share - 2 * pad_y

        def measure(line: str, size: int = size, stroke: int = stroke) -> float:
            return typesetter.width(line, size, stroke)

        def wrap(width: float, measure: Callable[[str], float] = measure, max_w: float = max_w) -> list[str]:
            return [line for p in paragraphs for line in _wrap(p, measure, width, max_w)]

        lines = wrap(max_w)
        layout = typesetter.layout(lines, size, stroke, style.line_pitch)
        ink_w, ink_h = layout.ink[2] - layout.ink[0], layout.ink[3] - layout.ink[1]
        if len(lines) <= style.max_lines and ink_w <= max_w and ink_h <= max_h:
            return typesetter.layout(_balanced(lines, wrap, max_w), size, stroke, style.line_pitch)
        if size <= smallest:
            return _truncate(lines, size, stroke, style, max_w, max_h, typesetter)
        size = max(smallest, math.floor(size * 0.92))


def _balanced(lines: list[str], wrap: Callable[[float], list[str]], max_w: float) -> list[str]:
    """The same number of lines at the narrowest width that allows it: no lone word or character left over."""
    if len(lines) < 2:
        return lines
    low, high = max_w / (len(lines) + 1), max_w
    for _ in range(12):
        middle = (low + high) / 2
        if len(wrap(middle)) <= len(lines):
            high = middle
        else:
            low = middle
    balanced = wrap(high)
    return balanced if len(balanced) == len(lines) else lines


def _truncate(
    lines: list[str], size: int, stroke: int, style: _Style, max_w: float, max_h: float, typesetter: _Typesetter
) -> _Layout:
    """Too long even at the smallest size: keep the lines that fit and end the last with an ellipsis."""
    kept = list(lines)
    while len(kept) > 1:
        layout = typesetter.layout(kept, size, stroke, style.line_pitch)
        if layout.ink[3] - layout.ink[1] <= max_h and len(kept) <= max(style.max_lines, 1) * 2:
            break
        kept.pop()
    if len(kept) < len(lines):
        last = kept[-1]
        while last and typesetter.width(last + _ELLIPSIS, size, stroke) > max_w:
            last = last[:-1]
        kept[-1] = last.rstrip() + _ELLIPSIS
    return typesetter.layout(kept, size, stroke, style.line_pitch)


def _even(value: int) -> int:
    return value - value % 2


def draw_text_card(
    text: str, kind: TextKind, width: int, height: int, out: Path, *, chain: FontChain | None = None
) -> TextCard:
    """Draw one text item for a ``width`` x ``height`` canvas into ``out`` (PNG) and say where it goes."""
    typesetter = _Typesetter(chain or default_chain())
    layout = _fit(text, kind, width, height, typesetter)
    size = layout.size
    ink = layout.ink
    area = safe_area(width, height)
    if kind == "title":
        shadow_dy = max(1, round(size * 0.05))
        blur = max(1.0, size * 0.08)
        outline = max(1, round(size * 0.03))
        extent = _union(ink, (ink[0], ink[1] + shadow_dy, ink[2], ink[3] + shadow_dy))
        extent = _grow(extent, outline + math.ceil(blur * 3) + 2)
    else:
        pad_x, pad_y = _caption_padding(size)
        top = min(ink[1], -round(size * 0.9))
        bottom = max(ink[3], (len(layout.lines) - 1) * layout.pitch + round(size * 0.24))
        box = (ink[0] - pad_x, top - pad_y, ink[2] + pad_x, bottom + pad_y)
        extent = _grow(_union(ink, box), 2)
    card_w = _even(extent[2] - extent[0] + 1) + 2
    card_h = _even(extent[3] - extent[1] + 1) + 2
    origin = (-extent[0], -extent[1])
    canvas_size = (card_w, card_h)
    card = Image.new("RGBA", canvas_size, (0, 0, 0, 0))
    layers: list[tuple[tuple[int, int, int], Image.Image]] = []
    if kind == "title":
        shadow = typesetter.draw_mask(layout, canvas_size, (origin[0], origin[1] + shadow_dy), layout.stroke + outline)
        shadow = shadow.filter(ImageFilter.GaussianBlur(blur)).point(lambda v: v * 0.6)
        edge = typesetter.draw_mask(layout, canvas_size, origin, layout.stroke + outline).point(lambda v: v * 0.45)
        layers += [((0, 0, 0), shadow), ((10, 10, 14), edge)]
        # Centre the ink on the canvas: the text block's visual middle, not its line boxes.
        x = round(width / 2 - (ink[0] + ink[2]) / 2) - origin[0]
        y = round(height / 2 - (ink[1] + ink[3]) / 2) - origin[1]
    else:
        box_mask = Image.new("L", canvas_size, 0)
        shifted = (box[0] + origin[0], box[1] + origin[1], box[2] + origin[0], box[3] + origin[1])
        ImageDraw.Draw(box_mask).rounded_rectangle(shifted, radius=round(size * 0.3), fill=round(255 * 0.55))
        layers.append(((12, 12, 16), box_mask))
        x = round(width / 2 - (box[0] + box[2]) / 2) - origin[0]
        y = area.bottom - box[3] - origin[1]
    layers.append(((255, 255, 255), typesetter.draw_mask(layout, canvas_size, origin, layout.stroke)))
    for color, mask in layers:
        layer = Image.new("RGBA", canvas_size, (*color, 0))
        layer.putalpha(mask)
        card = Image.alpha_composite(card, layer)
    # Even offsets keep the card aligned with the 4:2:0 chroma grid it is blended into.
    x, y = _even(x), _even(y)
    out.parent.mkdir(parents=True, exist_ok=True)
    card.save(out, format="PNG", compress_level=1)
    ink_on_canvas = (ink[0] + origin[0] + x, ink[1] + origin[1] + y, ink[2] + origin[0] + x, ink[3] + origin[1] + y)
    return TextCard(out, x, y, card_w, card_h, ink_on_canvas)


def _grow(box: Box, by: int) -> Box:
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)
