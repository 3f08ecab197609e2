"""Contact sheets: one PNG of page thumbnails per volume, flagged pages outlined in red, for a quick human look."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pipeline.common import CJK_FONT_FILE, write_atomic

FLAG_COLOUR = (220, 0, 0)
BACKGROUND = (245, 245, 245)


@dataclass(frozen=True)
class Thumb:
    """One page on a contact sheet: its label (the stamped page number), its archival image and its flags."""

    label: str
    image: Path | None
    flags: tuple[str, ...] = ()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    if CJK_FONT_FILE.exists():
        return ImageFont.truetype(str(CJK_FONT_FILE), size)
    return ImageFont.load_default()


THUMB_BOX = (140, 190)
"""The box a page thumbnail fits in, in pixels."""


def thumbnail_path(image_path: Path) -> Path:
    """Where the thumbnail of a page image is kept: beside it, made while the page is processed."""
    return image_path.with_name(image_path.stem + ".thumb.png")


def thumbnail_of(page: Image.Image, box: tuple[int, int] = THUMB_BOX) -> Image.Image:
    """A page image (any mode) reduced to fit ``box``, in RGB."""
    page = page.convert("L") if page.mode == "1" else page if page.mode in ("L", "RGB") else page.convert("RGB")
    factor = min(page.width // box[0], page.height // box[1]) // 2
    if factor > 1:  # a box average down to twice the size first: cheap, and it keeps thin strokes visible
        page = page.reduce(factor)
    else:
        page = page.copy()
    page.thumbnail(box, Image.Resampling.LANCZOS if page.mode == "L" else Image.Resampling.BILINEAR)
    return page.convert("RGB")


def thumbnail(path: Path, box: tuple[int, int] = THUMB_BOX) -> Image.Image:
    """The page image reduced to fit ``box``, in RGB: the kept thumbnail when there is one of that size, else made
    from the image (JPEGs are decoded at a reduced scale straight away)."""
    kept = thumbnail_path(path)
    if box == THUMB_BOX and kept.exists():
        with Image.open(kept) as img:
            return img.convert("RGB")
    with Image.open(path) as img:
        if img.format == "JPEG":
            img.draft("RGB", (box[0] * 2, box[1] * 2))
        img.load()
        return thumbnail_of(img, box)


def contact_sheet(thumbs: list[Thumb], title: str = "", columns: int = 8, thumb_box: tuple[int, int] = THUMB_BOX
                  ) -> Image.Image:
    """Lay the pages out in a grid with their labels; flagged pages get a red frame and their first flag."""
    pad, label_h = 10, 34
    cell_w, cell_h = thumb_box[0] + 2 * pad, thumb_box[1] + label_h + 2 * pad
    columns = max(1, min(columns, len(thumbs) or 1))
    rows = max(1, math.ceil(len(thumbs) / columns))
    title_h = 40 if title else 0
    big, small = _font(20), _font(11)
    title_w = int(big.getlength(title)) + 2 * pad if title else 0
    sheet = Image.new("RGB", (max(columns * cell_w, title_w), title_h + rows * cell_h), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, 8), title, fill=(0, 0, 0), font=big)
    for i, t in enumerate(thumbs):
        x0 = (i % columns) * cell_w + pad
        y0 = title_h + (i // columns) * cell_h + pad
        if t.image is not None and t.image.exists():
            im = thumbnail(t.image, thumb_box)
        else:
            im = Image.new("RGB", (thumb_box[0] * 3 // 4, thumb_box[1]), (200, 200, 200))
        ox, oy = x0 + (thumb_box[0] - im.width) // 2, y0 + (thumb_box[1] - im.height) // 2
        sheet.paste(im, (ox, oy))
        if t.flags:
            draw.rectangle((ox - 4, oy - 4, ox + im.width + 3, oy + im.height + 3), outline=FLAG_COLOUR, width=4)
        draw.text((x0, y0 + thumb_box[1] + 3), t.label, fill=(0, 0, 0), font=small)
        if t.flags:
            text = t.flags[0] if len(t.flags[0]) <= 24 else t.flags[0][:23] + "…"
            draw.text((x0, y0 + thumb_box[1] + 17), text, fill=FLAG_COLOUR, font=small)
    return sheet


def write_contact_sheet(path: Path, thumbs: list[Thumb], title: str = "", columns: int = 8) -> Path:
    """Write a contact sheet PNG atomically; returns its path."""
    import io

    buf = io.BytesIO()
    contact_sheet(thumbs, title, columns).save(buf, "PNG")  # optimize=True: 2% smaller, 4x the time (1.5 s)
    write_atomic(path, buf.getvalue())
    return path
