"""What is on the paper: nothing (a blank back), or marks that decide how the page is archived (colour/grey/bitonal)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.imaging._raster import picture_mask

BLANK_MIN_MARK_MM = 1.5
"""A mark at least this long (mm) in some direction means the page is not blank; specks and dust are smaller."""

BLANK_MIN_INK_MM2 = 0.6
"""...and it must hold this much ink (mm²), so that a hair-thin scratch of noise does not count."""


def _binding_holes(stats: np.ndarray, shape: tuple[int, int], px_per_mm: float) -> np.ndarray:
    """Which components look like punched binding holes: filled discs of 3-10 mm within 35 mm of an edge."""
    x, y, w, h, area = (stats[:, i].astype(np.float64) for i in range(5))
    d = np.maximum(w, h) / px_per_mm
    round_ = (np.minimum(w, h) >= 0.75 * np.maximum(w, h)) & (area >= 0.6 * w * h) & (area <= 0.9 * w * h)
    near = 35 * px_per_mm
    at_edge = (x < near) | (y < near) | (shape[1] - (x + w) < near) | (shape[0] - (y + h) < near)
    return (d >= 3) & (d <= 10) & round_ & at_edge


def is_blank(marks: np.ndarray, dpi: float) -> bool:
    """True if a mask of clear marks on the paper (bleed-through and the bed already left out) holds no real mark.

    A page number, a signature or a seal is a real mark; isolated specks smaller than 1.5 mm and punched
    binding holes are not.
    """
    if not marks.any():
        return True
    px_per_mm = dpi / 25.4
    if marks.sum() > 200 * px_per_mm * px_per_mm:
        return False  # far more ink than any amount of dust
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(marks.astype(np.uint8), connectivity=8)
    if n <= 1:
        return True
    stats = stats[1:]
    sizes = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) / px_per_mm
    areas = stats[:, cv2.CC_STAT_AREA] / (px_per_mm * px_per_mm)
    real = (sizes >= BLANK_MIN_MARK_MM) & (areas >= BLANK_MIN_INK_MM2) & ~_binding_holes(stats, marks.shape, px_per_mm)
    return not bool(np.any(real))


@dataclass(frozen=True)
class ColourDecision:
    """How a page is archived, why, and whether it bears a seal."""

    mode: str  # "bitonal" | "grey" | "colour"
    reason: str  # short English phrase, e.g. "red seal"
    seal: bool
    seal_boxes: tuple[tuple[int, int, int, int], ...] = ()  # (x, y, w, h) of each seal, in the input's pixels


def _components(mask: np.ndarray, close_px: int) -> np.ndarray:
    """Stats (x, y, w, h, area) of the clusters of a mask after bridging gaps of `close_px`."""
    if not mask.any():
        return np.zeros((0, 5), dtype=np.int32)
    k = np.ones((2 * close_px + 1, 2 * close_px + 1), np.uint8)
    closed = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, k)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    # count real pixels per cluster, not the bridged ones
    real = np.bincount(labels[mask], minlength=len(stats))
    stats = stats.copy()
    stats[:, cv2.CC_STAT_AREA] = real
    return stats[1:]


def colour_decision(rgb: np.ndarray, paper: np.ndarray, dpi: float, tone: float,
                    keep_colour_for_seals: bool = True, pictures: np.ndarray | None = None) -> ColourDecision:
    """Archive mode of a page from a reduced copy (H×W×3 RGB, or H×W grey) of it, looking only at the paper.

    Red seals, red-headed titles, colour photos and coloured ink keep colour; a grey photograph keeps grey;
    black text (with the paper's own tint, stains and bleed-through) becomes bitonal. `pictures` marks the
    photographs if already found (see raster.picture_regions); otherwise dense colour counts as one.
    """
    mm = dpi / 25.4
    if rgb.ndim == 3:
        rgb = np.ascontiguousarray(rgb)
        r, g, b = cv2.split(rgb)
        hi = cv2.max(cv2.max(r, g), b)
        chroma = cv2.subtract(hi, cv2.min(cv2.min(r, g), b))
        # ink is never tinted by the scanner; thin blue strokes keep only ~25 of their ~90 chroma through JPEG
        dark = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) < tone - 50
        coloured = ((chroma > 35) | (dark & (chroma > 20))) & paper
        if coloured.sum() >= 2.0 * mm * mm:
            photo_area = picture_mask(coloured, dpi) if pictures is None else pictures
            # red inside a photograph is part of the picture, not a seal or a title
            red = coloured & (cv2.subtract(r, cv2.max(g, b)) > 30) & ~photo_area
            title = False
            boxes: list[tuple[int, int, int, int]] = []
            for x, y, w, h, area in _components(red, max(1, round(1.5 * mm))):
                wmm, hmm = w / mm, h / mm
                if area < 3.0 * mm * mm:
                    continue
                if 12 <= wmm <= 70 and 12 <= hmm <= 70 and max(wmm, hmm) <= 1.6 * min(wmm, hmm):
                    boxes.append((int(x), int(y), int(w), int(h)))
                elif wmm >= 3 * hmm and wmm >= 40:
                    title = True
            other = coloured & ~red & ~photo_area
            photo = bool((coloured & photo_area).sum() >= 0.1 * photo_area.sum() > 0)
            inked = other.sum() >= 3.0 * mm * mm
            seal, found = bool(boxes), tuple(boxes)
            if seal and keep_colour_for_seals:
                return ColourDecision("colour", "red seal", True, found)
            if title and keep_colour_for_seals:
                return ColourDecision("colour", "red-headed title", seal, found)
            if photo:
                return ColourDecision("colour", "colour photo", seal, found)
            if inked:
                return ColourDecision("colour", "coloured ink", seal, found)
            if red.sum() >= 3.0 * mm * mm and keep_colour_for_seals:
                return ColourDecision("colour", "red marks", seal, found)
            if seal:
                return ColourDecision("bitonal", "black text (seal kept in black)", True, found)
        grey = np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    else:
        grey = rgb
    # a grey photograph: a dense block of mid-tones, which text and rules never make
    mid = (grey < tone - 40) & (grey > 60) & paper
    if picture_mask(mid, dpi).any():
        return ColourDecision("grey", "grey photo", False)
    return ColourDecision("bitonal", "black text", False)
