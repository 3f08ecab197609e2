"""Marks in mid-grey on a page scanned in grey: a red seal (or a stamp in blue ink) is mid-grey in the scan and black
in the bits cut from it, where it covers the characters under it (a date under the seal)."""

from __future__ import annotations

import cv2
import numpy as np

MIN_MARK_MM2 = 30.0
"""Mid-grey area (after the edges of black strokes are worn away) that makes a mark: measured on the catalogue
benchmark's grey scans, pages with a seal had 93-240 mm², pages of print alone 0-9 mm²."""


def has_grey_marks(grey: np.ndarray, dpi: float) -> bool:
    """Whether a grey page (2-D uint8) holds mid-grey marks wider than a stroke's anti-aliased edge.

    Read at about 150 dpi: pixels darker than the paper's cut (72 % of its tone, as the bits are cut) but not black,
    worn away by one pixel all round so that the grey edges of black strokes leave nothing behind."""
    step = max(1, round(dpi / 150))
    small = grey[::step, ::step]
    tone = float(np.median(small))
    band = ((small >= 60) & (small < 0.72 * tone)).astype(np.uint8)
    worn = cv2.erode(band, np.ones((3, 3), np.uint8))
    px_per_mm = dpi / step / 25.4
    return float(worn.sum()) / (px_per_mm * px_per_mm) >= MIN_MARK_MM2
