"""Re-reading the top of a page whose OCR dropped its title: each line of ink there read as a single line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.errors import PageError
from pipeline.models import OcrPolicy
from pipeline.ocr._lines import LineReader, ink_rows, line_reader
from pipeline.ocr._results import OcrChar, OcrLine, OcrResult, OcrWord


@dataclass(frozen=True)
class HeadingReader:
    """Re-reads the top of a page whose OCR shows no title but leaves the top of the page unread.

    Tesseract's page layout analysis (psm 3) drops a title standing above a table or a photo (measured on the
    synthetic 扣押物品清单 and 现场勘验照片 pages at 200 and 300 dpi). This finds the text lines of ink above the first
    line the OCR read (within the top third) and reads each as a single line with the profile's engine (``lines``,
    the one line re-reader: Tesseract's psm 7, or PP-OCR's recogniser without its detector), a few tenths of a second
    per such page; pages whose text starts at the top margin cost nothing. ``has_title`` says whether a page's OCR
    already shows a title (the structure stage knows what a title is).
    """

    has_title: Callable[[OcrResult], bool]
    lines: LineReader | None = field(default=None)  # None: the default profile's engine, no cache
    top_margin: float = 0.16  # OCR text starting above this share of the page height leaves no room for a title
    max_lines: int = 3

    @classmethod
    def for_policy(cls, has_title: Callable[[OcrResult], bool], policy: OcrPolicy,
                   cache_root: Path | None = None) -> HeadingReader:
        """The re-reader of a profile's OCR policy (its engine), caching in ``cache_root``."""
        return cls(has_title, line_reader(policy, cache_root))

    def complete(self, image_path: Path | None, dpi: float, label: str, ocr: OcrResult) -> OcrResult:
        """The page's OCR, with its heading re-read when the OCR found no title on the page."""
        if self.has_title(ocr):
            return ocr
        return self(image_path, dpi, label, ocr) or ocr

    def __call__(self, image_path: Path | None, dpi: float, label: str, ocr: OcrResult) -> OcrResult | None:
        """The page's OCR with the re-read heading lines added, or None when there is nothing to re-read."""
        if image_path is None:
            return None
        tops = [ln.y0 for ln in ocr.lines if ln.words]
        band = min(tops) / ocr.height if tops else 1 / 3
        if band < self.top_margin:
            return None
        band = min(band, 1 / 3)
        try:
            with Image.open(image_path) as img:
                grey = img.convert("L")
        except OSError as exc:
            raise PageError(f"cannot read page image {image_path} of {label}: {exc}", label) from exc
        scale = ocr.width / grey.width
        dpi = dpi or ocr.dpi
        reader = self.lines or line_reader(OcrPolicy(), None)
        assert reader is not None
        lines = []
        top = np.asarray(grey.crop((0, 0, grey.width, int(grey.height * band))))
        for box in title_lines(top, dpi)[: self.max_lines]:
            words = reader.read(grey.crop(box), dpi, label).words
            if words:
                ws = tuple(_placed(w, box[0], box[1], scale) for w in words)
                lines.append(OcrLine(ws, min(w.x0 for w in ws), min(w.y0 for w in ws), max(w.x1 for w in ws),
                                     max(w.y1 for w in ws)))
        if not lines:
            return None
        merged = tuple(sorted((*lines, *ocr.lines), key=lambda ln: ln.y0))
        return OcrResult(ocr.width, ocr.height, ocr.dpi, merged, ocr.settings + " +heading-reread")


def _placed(w: OcrWord, dx: int, dy: int, scale: float) -> OcrWord:
    """A word read in a crop, moved to where the crop lies on the page (its characters too)."""
    chars = tuple(OcrChar(c.text, round((c.x0 + dx) * scale), round((c.x1 + dx) * scale), c.conf) for c in w.chars)
    return OcrWord(w.text, round((w.x0 + dx) * scale), round((w.y0 + dy) * scale), round((w.x1 + dx) * scale),
                   round((w.y1 + dy) * scale), w.conf, chars)


def title_lines(band: np.ndarray, dpi: float) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of the lines in a band as tall as a line of title type (4-16 mm, strokes apart by up
    to 1 mm are one line), with 2 mm of paper around them."""
    px_mm = dpi / 25.4
    pad = round(2.0 * px_mm)
    return [(max(0, x0 - pad), max(0, y0 - pad), min(band.shape[1], x1 + pad), min(band.shape[0], y1 + pad))
            for x0, y0, x1, y1 in ink_rows(band, round(4.0 * px_mm), round(16.0 * px_mm), max(1, round(px_mm)))]
