"""Second readings of single lines: the one home of line re-reads (a page's dropped title, the lines that decide a
卷内目录 field, a date under a seal).

The page OCR reads a whole page at once; the lines that matter most are often the ones it reads worst: titles in
large bold type spaced out over the line (民 事 裁 定 书), names two lines tall, dates under a red seal. Each such line
is found as a run of inked rows, cut from the page image, cleaned for the engine — the seal's red taken out
(:func:`pipeline.imaging.without_red`; on a grey page only the darkest ink), the gaps between spaced-out characters
closed, the line scaled to an ordinary type height — and read again as one line through the engine's line read and
the OCR cache (a rerun reads nothing twice). One ink level (:data:`INK_LEVEL`) finds lines and renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.errors import PageError
from pipeline.imaging import without_red
from pipeline.models import OcrPolicy
from pipeline.ocr._cache import OcrCache, cached_line
from pipeline.ocr._engines import profile_engine
from pipeline.ocr._protocol import OcrEngine
from pipeline.ocr._results import OcrResult

Box = tuple[int, int, int, int]
Reading = tuple[str, float]  # text, lowest word confidence (0-100)

INK_LEVEL = 140
"""Grey levels below this are ink, for finding lines and rendering them."""

RENDERINGS: tuple[tuple[float, int], ...] = ((0.15, 80), (0.3, 60))
"""(widest gap kept between characters as a share of the line height, target line height in pixels)."""


def line_ink(crop: Image.Image, drop_red: bool) -> np.ndarray:
    """Grey pixels of a crop; with ``drop_red`` a seal's red taken out (colour), or on a grey page only the darkest
    ink (a red seal scanned in grey is mid-grey, print is near black)."""
    if crop.mode == "1":
        return np.asarray(crop.convert("L"), dtype=np.uint8)
    if crop.mode != "RGB":
        grey = np.asarray(crop.convert("L"), dtype=np.uint8)
        if drop_red:
            return np.where(grey < min(90, int(np.percentile(grey, 2)) + 50), grey, 255).astype(np.uint8)
        return grey
    rgb = np.asarray(crop, dtype=np.uint8)
    return without_red(rgb) if drop_red else np.asarray(crop.convert("L"), dtype=np.uint8)


def render_line(grey: np.ndarray, gap_share: float, height: int) -> Image.Image | None:
    """A line image as an engine reads best: black on white, gaps between characters closed to ``gap_share`` of
    the line height, scaled to ``height`` pixels, with a white margin. None when the crop holds no ink."""
    ink = grey < INK_LEVEL
    rows = np.flatnonzero(ink.sum(axis=1) > 0)
    if rows.size == 0:
        return None
    ink = ink[rows[0] : rows[-1] + 1]
    cols = ink.any(axis=0)
    keep, run, gap = [], 0, max(2, int(gap_share * ink.shape[0]))
    for x, filled in enumerate(cols):
        run = 0 if filled else run + 1
        if filled or run <= gap:
            keep.append(x)
    line = np.where(ink[:, keep], 0, 255).astype(np.uint8)
    scale = height / max(1, line.shape[0])
    img = Image.fromarray(line).resize((max(1, round(line.shape[1] * scale)), height), Image.LANCZOS)
    return Image.fromarray(np.pad(np.asarray(img), 24, constant_values=255))


def ink_rows(grey: np.ndarray, min_px: int, max_px: int, gap_px: int = 0) -> list[Box]:
    """Boxes (x0, y0, x1, y1) of runs of inked rows ``min_px``..``max_px`` tall (text lines) in a grey region;
    runs apart by at most ``gap_px`` rows are one line (a title's strokes leave such gaps).

    A row counts as inked when it holds a fifth of the ink of the fullest rows: a seal's ring crossing the lines
    (black on a bitonal page) adds a few pixels to every row and must not join the lines into one block."""
    ink = grey < INK_LEVEL
    sums = ink.sum(axis=1)
    if not sums.any():
        return []
    rows = sums > max(3, 0.004 * ink.shape[1], 0.2 * float(np.percentile(sums, 98)))
    boxes, y = [], 0
    while y < len(rows):
        if not rows[y]:
            y += 1
            continue
        start, last = y, y
        while y < len(rows) and (rows[y] or y - last <= gap_px):
            if rows[y]:
                last = y
            y += 1
        if min_px <= last + 1 - start <= max_px:
            cols = np.flatnonzero(ink[start : last + 1].any(axis=0))
            boxes.append((int(cols[0]), start, int(cols[-1]) + 1, last + 1))
    return boxes


@dataclass
class PageImage:
    """A page image opened for re-reading lines, and the factor from OCR coordinates to its pixels."""

    image: Image.Image
    scale: float
    dpi: float
    label: str

    @classmethod
    def open(cls, path: Path, ocr: OcrResult, dpi: float, label: str) -> PageImage:
        """Open a page's archive image (read fully, the file closed)."""
        try:
            with Image.open(path) as img:
                img.load()
                image = img.convert("RGB") if img.mode not in ("1", "L", "RGB") else img.copy()
        except OSError as exc:
            raise PageError(f"cannot read page image {path} of {label}: {exc}", label) from exc
        return cls(image, image.width / max(1, ocr.width), dpi or ocr.dpi, label)

    def crop(self, box: Box, pad: float = 0.2, side: float = 1.2) -> Image.Image:
        """The pixels of a box given in OCR coordinates, with a margin of ``pad`` times its height above and below
        and ``side`` times its height left and right (an engine's line box can lose a first or last character)."""
        x0, y0, x1, y1 = box
        m, w = pad * (y1 - y0), side * (y1 - y0)
        s = self.scale
        return self.image.crop((max(0, round((x0 - w) * s)), max(0, round((y0 - m) * s)),
                                min(self.image.width, round((x1 + w) * s)),
                                min(self.image.height, round((y1 + m) * s))))


@dataclass(frozen=True)
class LineReader:
    """Reads single lines again with an engine's line read, through the OCR cache (None: no cache)."""

    engine: OcrEngine
    cache: OcrCache | None = None

    def read(self, image: Image.Image, dpi: float, label: str) -> OcrResult:
        """An image of one line, read as that line."""
        return cached_line(image, dpi, self.engine, label, self.cache)

    def readings(self, page: PageImage, box: Box, drop_red: bool = False) -> list[Reading]:
        """The line in ``box`` read in each rendering: (text, lowest word confidence)."""
        grey = line_ink(page.crop(box), drop_red)
        out = []
        for gap, height in RENDERINGS:
            img = render_line(grey, gap, height)
            if img is None:
                continue
            result = self.read(img, page.dpi, f"{page.label} line {box[1]}")
            text = "".join(ln.text for ln in result.lines if ln.words)
            confs = [w.conf for ln in result.lines for w in ln.words]
            if text:
                out.append((text, min(confs) if confs else 0.0))
        return out

    def find_lines(self, page: PageImage, region: Box, drop_red: bool = True) -> list[Box]:
        """Text lines inked in a region (OCR coordinates) that the page OCR may have missed, top to bottom."""
        crop = page.crop(region, pad=0.0, side=0.0)
        px_mm = page.dpi / 25.4 * page.scale
        found = ink_rows(line_ink(crop, drop_red), round(2.5 * px_mm), round(9 * px_mm))
        s, (rx, ry) = page.scale, region[:2]
        return [(round(rx + x0 / s), round(ry + y0 / s), round(rx + x1 / s), round(ry + y1 / s))
                for x0, y0, x1, y1 in found]


def line_reader(policy: OcrPolicy, cache_root: Path | None) -> LineReader | None:
    """The line reader of a profile's OCR policy (its engine), caching in ``cache_root`` (None: no cache); None
    when OCR is off."""
    if not policy.enabled:
        return None
    return LineReader(profile_engine(policy), OcrCache(cache_root) if cache_root is not None else None)
