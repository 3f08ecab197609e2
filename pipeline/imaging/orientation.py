"""Which way up a page is: 0/90/180/270 degrees clockwise to make it upright.

Lines running across or down the page come from the skew search (see :mod:`pipeline.imaging.skew`). Up or down is
read from punctuation: Chinese and Latin full stops, commas and enumeration commas sit low in the line with nothing
above them; on a page turned over they sit high with nothing below. When the marks are too few to be sure, Tesseract's
OSD (legacy orientation classifier) is asked on a reduced copy; when it has no answer either, the page keeps the
best guess and is flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
import pytesseract
from PIL import Image

from pipeline.errors import PageError

LOW = 0.56
"""A mark whose centre lies below this fraction of its line's height (from the top) sits low in the line."""

MIN_LINES = 3
"""Text lines needed before the stroke evidence decides alone."""

MIN_STROKE = 0.04
"""...and the stroke score must be at least this far from zero."""

MIN_OSD_CONFIDENCE = 1.0
"""Tesseract OSD answers with less confidence than this are not taken."""

MIN_VOTES = 6
"""Punctuation marks needed before they can veto the stroke evidence."""

MIN_MARGIN = 3.0
"""...and the winning side must have this many times the votes of the other (plus one)."""


@dataclass(frozen=True)
class Orientation:
    """An orientation decision: degrees clockwise to turn the page upright, and how it was reached."""

    rotation: int
    sure: bool
    method: str  # "strokes" (cheap detectors) | "osd" | "none"
    up_votes: int = 0
    down_votes: int = 0


def line_bands(ink: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges (top, bottom exclusive) of the text lines of a straight, upright-or-upside-down ink mask."""
    profile = ink.sum(axis=1)
    if profile.max(initial=0) == 0:
        return []
    on = profile > max(1, 0.01 * ink.shape[1])
    edges = np.flatnonzero(np.diff(np.concatenate(([0], on.view(np.int8), [0]))))
    bands = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]
    if not bands:
        return []
    heights = np.array([b - a for a, b in bands])
    typical = float(np.median(heights[heights >= 4])) if (heights >= 4).any() else 0.0
    if typical < 6:
        return []
    return [(a, b) for a, b in bands if 0.5 * typical <= b - a <= 2.5 * typical]


def punctuation_votes(ink: np.ndarray) -> tuple[int, int]:
    """Count marks that say "upright" (small, low, nothing above) and "upside down" (small, high, nothing below)."""
    bands = line_bands(ink)
    if not bands:
        return 0, 0
    mask = ink.astype(np.uint8)
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    band_of = np.full(ink.shape[0], -1, dtype=np.int32)
    for i, (a, b) in enumerate(bands):
        band_of[a:b] = i
    up = down = 0
    stats = stats[1:]
    tallest = max(b - a for a, b in bands)
    small = (stats[:, 2] <= 0.4 * tallest) & (stats[:, 3] <= 0.4 * tallest) & (stats[:, 4] >= 3)
    for x, y, w, h, area in stats[small]:
        i = band_of[y]
        if i < 0 or band_of[y + h - 1] != i:
            continue
        top, bottom = bands[i]
        hb = bottom - top
        if h > 0.4 * hb or w > 0.4 * hb or area < 3 or hb < 8:
            continue
        centre = (y + h / 2 - top) / hb
        if centre > LOW and not mask[top:y, x : x + w].any():
            up += 1
        elif centre < 1 - LOW and not mask[y + h : bottom, x : x + w].any():
            down += 1
    return up, down


def stroke_score(ink: np.ndarray) -> tuple[float, int]:
    """Up/down evidence from long horizontal strokes: positive when they sit high in the lines (upright Chinese).

    Measured on Song, Hei and Kai faces: the top quarter of a line of Chinese carries more long horizontal
    strokes than the bottom quarter, by 8-18% of all such stroke pixels on a page. Returns (score, lines used).
    """
    top = bottom = total = 0.0
    bands = line_bands(ink)
    for a, b in bands:
        hb = b - a
        band = ink[a:b].astype(np.uint8)
        strokes = cv2.erode(band, np.ones((1, max(3, int(0.35 * hb))), np.uint8)).sum(axis=1)
        q = max(1, hb // 4)
        top += float(strokes[:q].sum())
        bottom += float(strokes[-q:].sum())
        total += float(strokes.sum())
    return ((top - bottom) / total if total else 0.0), len(bands)


def _up_or_down(ink: np.ndarray) -> tuple[int, bool, int, int, float, int]:
    """0 or 180 for a straight ink mask whose lines run across, whether sure, and the evidence.

    The stroke score decides; punctuation only vetoes (on faces with centred full stops it is weak and noisy,
    on mainland faces with low-left marks it is strong, so a clear contrary count makes the page unsure).
    """
    score, lines = stroke_score(ink)
    up, down = punctuation_votes(ink)
    flip = 0 if score >= 0 else 180
    hi, lo = max(up, down), min(up, down)
    veto = hi >= MIN_VOTES and hi >= MIN_MARGIN * (lo + 1) and (180 if down > up else 0) != flip
    sure = lines >= MIN_LINES and abs(score) >= MIN_STROKE and not veto
    return flip, sure, up, down, score, lines


def line_direction(ink: np.ndarray, row_gaps: float, col_gaps: float) -> tuple[bool, bool]:
    """Whether the text lines of a straight ink mask run down the page, and whether that is clear.

    Pages with many lines show it in which profile has the wider gaps between lines; on a page with a line or two
    both profiles are mostly gaps and the elongation of the ink decides.
    """
    if min(row_gaps, col_gaps) < 0.55 and abs(row_gaps - col_gaps) >= 0.15:
        return col_gaps > row_gaps, True
    ys, xs = np.nonzero(ink)
    if len(xs) < 50:
        return False, False
    sx, sy = float(xs.std()), float(ys.std())
    return sy > sx, max(sx, sy) >= 3.0 * max(1.0, min(sx, sy))


def page_orientation(ink: np.ndarray, row_gaps: float, col_gaps: float, osd_image: Image.Image | None = None,
                     dpi: float = 150.0, label: str = "page", timeout: float = 10.0) -> Orientation:
    """Degrees clockwise to turn a straightened ink mask (True = ink) upright, with how sure that is.

    `row_gaps`/`col_gaps` come from the skew search; `osd_image` (any size, same orientation as `ink`) lets
    Tesseract OSD settle pages the cheap detectors are unsure of; without it such pages come back unsure.
    """
    vertical, clear = line_direction(ink, row_gaps, col_gaps)
    across = np.rot90(ink, -1) if vertical else ink
    flip, sure, up, down, _score, lines = _up_or_down(across)
    rotation = ((90 if vertical else 0) + flip) % 360
    if sure and clear:
        return Orientation(rotation, True, "strokes", up, down)
    if osd_image is not None and lines >= 2:
        answer = osd_rotation(osd_image, dpi, label, timeout)
        if answer is not None and answer[1] >= MIN_OSD_CONFIDENCE:
            return Orientation(answer[0], True, "osd", up, down)
    return Orientation(rotation, False, "strokes" if lines else "none", up, down)


def osd_rotation(grey: Image.Image, dpi: float, label: str, timeout: float = 10.0) -> tuple[int, float] | None:
    """Tesseract OSD on an image: (degrees clockwise to turn it upright, confidence), None if it has no answer."""
    try:
        out = pytesseract.image_to_osd(grey, config=f"--psm 0 --dpi {int(round(dpi))}", timeout=timeout)
    except pytesseract.TesseractError:
        return None  # "Too few characters" and the like: OSD has no opinion
    except RuntimeError as exc:  # pytesseract's timeout
        raise PageError(f"{label}: tesseract OSD timed out after {timeout:.0f} s ({exc})", page=label) from exc
    except OSError as exc:
        raise PageError(f"{label}: cannot run tesseract for OSD ({exc})", page=label) from exc
    rotate = re.search(r"Rotate:\s*(\d+)", out)
    conf = re.search(r"Orientation confidence:\s*([\d.]+)", out)
    if not rotate:
        return None
    return int(rotate.group(1)) % 360, float(conf.group(1)) if conf else 0.0
