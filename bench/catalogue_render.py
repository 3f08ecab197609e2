"""The page renderer of the catalogue benchmark: A4 pages drawn line by line with PIL and the Debian CJK fonts, then
degraded the way scanning rooms degrade them. Written apart from samples/synthetic.py on purpose (other layouts,
other fonts and sizes, other degradations), so that the benchmark does not grade the structure code on the pages its
tests were tuned on.

A page is a list of :class:`Line` (text, size in points, alignment, colour, optional right-hand column) laid out
from the top margin down, plus optional red seals and a page-number footer.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DPI = 300
A4 = (2480, 3508)  # pixels at 300 dpi
MARGIN_L, MARGIN_R, MARGIN_T = 28.0, 26.0, 37.0  # mm, GB/T 9704-2012 §5.2.1

FONTS = {  # (file, face index): 0 = the simplified-Chinese face of each collection
    "song": ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    "kai": ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
    "hei": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
}
BLACK = (20, 20, 22)
RED = (210, 28, 30)
SEAL_RED = (222, 40, 44)


def mm(v: float) -> int:
    """Millimetres to pixels at 300 dpi."""
    return round(v / 25.4 * DPI)


def pt(v: float) -> int:
    """Points to pixels at 300 dpi."""
    return round(v / 72 * DPI)


@lru_cache(maxsize=64)
def font(face: str, px: int) -> ImageFont.FreeTypeFont:
    """A CJK font at a pixel size."""
    path, index = FONTS[face]
    return ImageFont.truetype(path, px, index=index)


@dataclass
class Line:
    """One printed line: ``align`` is centre, left, right or indent (a paragraph's first line); ``right`` puts a
    second text in a right-hand column on the same line; ``space`` is the gap above, in lines of its own size."""

    text: str
    size: float = 15.0
    align: str = "left"
    face: str = "song"
    colour: tuple[int, int, int] = BLACK
    right: str = ""
    space: float = 0.55
    letter: float = 0.0  # extra letter spacing, in ems (spaced-out titles)
    bold: bool = False


@dataclass
class Seal:
    """A round red seal: its centre in mm from the top left and its ring text."""

    x: float
    y: float
    text: str
    radius: float = 21.0


@dataclass
class PageSpec:
    """One page: lines from the top, seals (placed at lines named by ``anchor``) and a footer."""

    lines: list[Line]
    seals: list[tuple[int, float, str]] = field(default_factory=list)  # (line index, x offset mm, ring text)
    footer: str = ""
    rule_after: int | None = None  # a red rule under this line (the 红头's separator line)


def _text_width(text: str, f: ImageFont.FreeTypeFont, letter: float) -> int:
    return round(f.getlength(text) + max(0, len(text) - 1) * letter * f.size)


def _draw_text(draw: ImageDraw.ImageDraw, x: int, y: int, text: str, f, colour, letter: float, bold: bool) -> None:
    if letter <= 0:
        draw.text((x, y), text, font=f, fill=colour, stroke_width=1 if bold else 0, stroke_fill=colour)
        return
    for ch in text:
        draw.text((x, y), ch, font=f, fill=colour, stroke_width=1 if bold else 0, stroke_fill=colour)
        x += round(f.getlength(ch) + letter * f.size)


def render_page(spec: PageSpec, rng: random.Random) -> Image.Image:
    """The clean page in colour, laid out from the top margin."""
    page = Image.new("RGB", A4, (252, 251, 248))
    draw = ImageDraw.Draw(page)
    left, right = mm(MARGIN_L), A4[0] - mm(MARGIN_R)
    y = mm(MARGIN_T) + rng.randint(-20, 20)
    anchors: dict[int, tuple[int, int, int]] = {}
    for i, line in enumerate(spec.lines):
        f = font(line.face, pt(line.size))
        y += round(line.space * f.size)
        width = _text_width(line.text, f, line.letter)
        x = {"centre": (left + right - width) // 2, "right": right - width, "indent": left + 2 * f.size}.get(
            line.align, left)
        _draw_text(draw, x, y, line.text, f, line.colour, line.letter, line.bold)
        if line.right:
            rw = _text_width(line.right, f, 0)
            _draw_text(draw, right - rw, y, line.right, f, line.colour, 0, line.bold)
        anchors[i] = (x, y, width)
        y += f.size
        if spec.rule_after == i:
            y += mm(4)
            draw.rectangle((left, y, right, y + 5), fill=RED)
            y += mm(2)
    if spec.footer:
        f = font("song", pt(12))
        w = _text_width(spec.footer, f, 0)
        draw.text(((A4[0] - w) // 2, A4[1] - mm(22)), spec.footer, font=f, fill=BLACK)
    for index, dx, text in spec.seals:
        x, y0, width = anchors[index]
        f = font(spec.lines[index].face, pt(spec.lines[index].size))
        stamp_seal(page, x + width // 2 + mm(dx), y0 + f.size // 2, text, rng)
    return page


def stamp_seal(page: Image.Image, cx: int, cy: int, text: str, rng: random.Random, radius_mm: float = 21.0) -> None:
    """Multiply a round red seal (ring, ring text, star) over the page, as ink over print."""
    r = mm(radius_mm + rng.uniform(-1.5, 1.5))
    size = 2 * r + 20
    layer = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(layer)
    c = size // 2
    d.ellipse((c - r, c - r, c + r, c + r), outline=255, width=mm(1.1))
    f = font("song", round(r * 0.32))
    chars = list(text)
    span = math.radians(230)
    for k, ch in enumerate(chars):
        a = math.radians(205) + span * k / max(1, len(chars) - 1)
        px, py = c + 0.74 * r * math.cos(a), c + 0.74 * r * math.sin(a)
        glyph = Image.new("L", (f.size + 8, f.size + 8), 0)
        ImageDraw.Draw(glyph).text((4, 4), ch, font=f, fill=255)
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.BICUBIC)
        layer.paste(255, (round(px - glyph.width / 2), round(py - glyph.height / 2)), glyph)
    star = [(c + 0.28 * r * math.cos(math.radians(-90 + 36 * k)) * (1 if k % 2 == 0 else 0.4),
             c + 0.28 * r * math.sin(math.radians(-90 + 36 * k)) * (1 if k % 2 == 0 else 0.4)) for k in range(10)]
    d.polygon(star, fill=255)
    ink = np.asarray(layer, dtype=np.float32) / 255.0 * rng.uniform(0.65, 0.95)
    ink *= np.asarray(Image.effect_noise((size, size), 60).convert("L"), dtype=np.float32) / 255.0 * 0.5 + 0.6
    ink = np.clip(ink, 0, 1)[..., None]
    box = (cx - c, cy - c, cx - c + size, cy - c + size)
    region = np.asarray(page.crop(box), dtype=np.float32)
    seal = np.array(SEAL_RED, dtype=np.float32)
    out = region * (1 - ink) + (region * seal / 255.0) * ink
    page.paste(Image.fromarray(out.clip(0, 255).astype(np.uint8)), box[:2])


@dataclass(frozen=True)
class Scan:
    """How one page is scanned: colour mode, skew, blur, noise, JPEG quality."""

    mode: str  # colour | grey | bitonal
    skew: float
    blur: float
    noise: float
    quality: int
    threshold: int = 150


def random_scan(rng: random.Random, has_seal: bool) -> Scan:
    """A scan as scanning rooms make them: seal pages mostly in colour (DA/T 31), others any mode; skew within 2°."""
    if has_seal:
        mode = rng.choices(["colour", "grey"], [0.75, 0.25])[0]
    else:
        mode = rng.choices(["colour", "grey", "bitonal"], [0.25, 0.4, 0.35])[0]
    return Scan(mode, round(rng.uniform(-2.0, 2.0), 2), round(rng.uniform(0.0, 1.0), 2), round(rng.uniform(0, 9), 1),
                rng.randint(45, 85), rng.randint(135, 165))


def degrade(page: Image.Image, scan: Scan, rng: random.Random) -> tuple[bytes, str]:
    """The page as the scanner delivers it: skewed on the bed with a dark border, blurred, noisy; JPEG for colour
    and grey, CCITT G4 TIFF for bitonal. Returns (file bytes, suffix)."""
    bed = Image.new("RGB", (A4[0] + 80, A4[1] + 80), (40, 40, 42))
    bed.paste(page, (40 + rng.randint(-15, 15), 40 + rng.randint(-15, 15)))
    img = bed.rotate(scan.skew, resample=Image.BICUBIC, fillcolor=(40, 40, 42))
    if scan.blur > 0.05:
        img = img.filter(ImageFilter.GaussianBlur(scan.blur))
    arr = np.asarray(img, dtype=np.float32)
    if scan.noise > 0:
        arr = arr + np.random.default_rng(rng.randint(0, 2**31)).normal(0, scan.noise, arr.shape[:2])[..., None]
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    buf = io.BytesIO()
    if scan.mode == "bitonal":
        grey = img.convert("L")
        bits = grey.point(lambda v: 255 if v > scan.threshold else 0).convert("1")
        bits.save(buf, "TIFF", compression="group4", dpi=(DPI, DPI))
        return buf.getvalue(), ".tif"
    out = img if scan.mode == "colour" else img.convert("L")
    out.save(buf, "JPEG", quality=scan.quality, dpi=(DPI, DPI))
    return buf.getvalue(), ".jpg"
