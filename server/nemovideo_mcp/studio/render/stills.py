"""Still frames prepared with Pillow before ffmpeg runs: photos fitted to the canvas, gradient backgrounds."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageChops, ImageEnhance, ImageFilter, ImageOps, UnidentifiedImageError

from .model import RenderFailed

# Beyond this aspect mismatch a cover crop would cut away too much of the photo (a landscape photo on 9:16 keeps
# a third of its width); the whole photo goes on top of a blurred copy instead.
CONTAIN_RATIO = 1.4
Image.MAX_IMAGE_PIXELS = 200_000_000  # phone panoramas are big; decompression bombs are bigger


# RGB -> BT.709 limited-range Y'CbCr as Pillow "matrix" rows (r, g, b, offset): the encoder's own colour space,
# so ffmpeg converts nothing and the tags written at the end are true.
_BT709 = (
    0.2126 * 219 / 255, 0.7152 * 219 / 255, 0.0722 * 219 / 255, 16.0,
    -0.1146 * 224 / 255, -0.3854 * 224 / 255, 0.5 * 224 / 255, 128.0,
    0.5 * 224 / 255, -0.4542 * 224 / 255, -0.0458 * 224 / 255, 128.0,
)  # fmt: skip


def save_yuv420p(image: Image.Image, out: Path) -> Path:
    """Write ``image`` as raw planar yuv420p: ffmpeg reads it without decoding, and holds only the one frame."""
    if image.width % 2 or image.height % 2:
        raise ValueError("yuv420p needs even sizes")
    y, cb, cr = image.convert("RGB").convert("RGB", matrix=_BT709).split()
    half = (image.width // 2, image.height // 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as file:
        file.write(y.tobytes())
        file.write(cb.resize(half, Image.Resampling.BOX).tobytes())
        file.write(cr.resize(half, Image.Resampling.BOX).tobytes())
    return out


def aspect_mismatch(width: int, height: int, canvas_w: int, canvas_h: int) -> float:
    ratio = (width / height) / (canvas_w / canvas_h)
    return max(ratio, 1 / ratio)


def _open_photo(src: Path, label: str, target: tuple[int, int]) -> Image.Image:
    if not src.is_file():
        raise RenderFailed(f'The photo "{label}" is missing: its file {src.name} is no longer there.')
    try:
        with Image.open(src) as opened:
            # JPEG can decode at 1/2, 1/4, 1/8 scale directly: a 48 MP photo never needs to be fully decoded.
            opened.draft("RGB", (target[0] * 2, target[1] * 2))
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise RenderFailed(f'The photo "{label}" ({src.name}) could not be read as an image: {exc}.') from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise RenderFailed(f'The photo "{label}" ({src.name}) is damaged or not a supported image: {exc}.') from exc
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(backdrop, rgba).convert("RGB")
    return image.convert("RGB")


def prepare_photo(src: Path, label: str, width: int, height: int, out: Path) -> Path:
    """Write ``out`` (raw yuv420p): the photo filling a ``width`` x ``height`` frame, upright per EXIF."""
    image = _open_photo(src, label, (width, height))
    if aspect_mismatch(image.width, image.height, width, height) <= CONTAIN_RATIO:
        # Slightly above centre: in portraits and group photos faces sit in the upper half.
        frame = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS, centering=(0.5, 0.42))
    else:
        frame = _contain_on_blur(image, width, height)
    return save_yuv420p(frame, out)


def _contain_on_blur(image: Image.Image, width: int, height: int) -> Image.Image:
    # The blur is done at 1/8 size: the same look, a fraction of the work.
    small = (max(2, width // 8), max(2, height // 8))
    back = ImageOps.fit(image, small, Image.Resampling.BILINEAR)
    back = back.filter(ImageFilter.GaussianBlur(max(2.0, min(small) / 12)))
    back = back.resize((width, height), Image.Resampling.BICUBIC)
    back = ImageEnhance.Brightness(back).enhance(0.55)
    front = ImageOps.contain(image, (width, height), Image.Resampling.LANCZOS)
    back.paste(front, ((width - front.width) // 2, (height - front.height) // 2))
    return back


def parse_color(value: str, default: tuple[int, int, int]) -> tuple[int, int, int]:
    text = value.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    try:
        return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)) if len(text) == 6 else default
    except ValueError:
        return default


def prepare_gradient(colors: list[str], width: int, height: int, out: Path, *, seed: int = 0) -> Path:
    """Write ``out`` (raw yuv420p): a vertical gradient between two colours, ``height`` tall (taller than the
    canvas when the caller drifts over it), with a soft glow and a little noise so 8-bit video does not band."""
    top = parse_color(colors[0] if colors else "", (29, 43, 100))
    bottom = parse_color(colors[1] if len(colors) > 1 else (colors[0] if colors else ""), (248, 205, 218))
    ramp = Image.linear_gradient("L").resize((width, height), Image.Resampling.BICUBIC)
    frame = Image.composite(Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), ramp)
    glow = Image.radial_gradient("L").resize((width, width), Image.Resampling.BICUBIC)
    # radial_gradient reaches 181 at the middle of each edge: fade to nothing there, so no edge shows.
    glow = glow.point(lambda v: max(0, 181 - v) * 0.3)
    rng = random.Random(seed)
    centre = (round(width * rng.uniform(0.25, 0.75)), round(height * rng.uniform(0.2, 0.45)))
    light = Image.new("L", (width, height), 0)
    light.paste(glow, (centre[0] - width // 2, centre[1] - width // 2))
    frame = Image.composite(Image.new("RGB", (width, height), (255, 255, 255)), frame, light)
    noise = Image.effect_noise((width, height), 2.0).point(lambda v: max(0, min(4, v - 126)))
    frame = ImageChops.add(frame, Image.merge("RGB", (noise, noise, noise)), scale=1.0, offset=-2)
    return save_yuv420p(frame, out)
