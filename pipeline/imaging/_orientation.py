"""Which way up a page is: 0/90/180/270 degrees clockwise to make it upright.

Whether lines run across or down the page comes from the skew search (``imaging/_skew.py``). Up or down is read from
long horizontal strokes, which sit high in a line of Chinese. When that evidence is thin (few lines, short lines, a
photo page), the OCR engine reads two lines of the page upright and turned over in one call (a :data:`TextReader`
passed in), and the side on which it reads more characters confidently wins: a mean confidence would let two
characters read well from a turned-over signature block beat twelve read a little less well the right way up.
Tesseract's OSD was measured too (bench/imaging.py): ~1 CPU-s a page, no answer on photo pages and some wrong
answers, so it is only offered as ``pipeline.ocr.osd_rotation`` for comparison. A page still unsure is flagged; the
caller decides what to do with the best guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

MIN_LINES = 3
"""Text lines needed before the stroke evidence decides alone."""

MIN_STROKE = 0.06
"""...and the stroke score must be at least this far from zero (text pages measured 0.05-0.19)."""

CONFIDENT = 80.0
"""A character read with at least this confidence (0-100) counts as read confidently."""

MIN_OCR_CHARS = 4
"""The orientation check by OCR needs at least this many characters read confidently on the better side..."""

MIN_OCR_RATIO = 2.0
"""...and this many times as many as on the other side."""


TextReader = Callable[[np.ndarray, float, str], "list[tuple[str, float, int, int]] | None"]
"""Reads the text of a grey image (2-D uint8) at a resolution, for a page named in errors: (character, confidence
0-100, top, height) per character read, or None when it has no answer. The OCR engine provides it
(``OcrEngine.read_glyphs``)."""


@dataclass(frozen=True)
class Orientation:
    """An orientation decision: degrees clockwise to turn the page upright, and how it was reached."""

    rotation: int
    sure: bool
    method: str  # "strokes" (cheap detector) | "ocr" (tesseract read) | "none"
    score: float = 0.0  # stroke score (positive: upright as the lines run across)
    lines: int = 0  # text lines the decision saw


def line_bands(ink: np.ndarray, dpi: float = 150.0) -> list[tuple[int, int]]:
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
    # pieces of one line split by a hair-thin gap (handwriting, jittered glyphs) are one line
    mm = dpi / 25.4
    merged = [bands[0]]
    for a, b in bands[1:]:
        if a - merged[-1][1] < max(0.15 * typical, 0.6 * mm):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return [(a, b) for a, b in merged if 0.5 * typical <= b - a <= 2.5 * typical and b - a >= 2 * mm]


def stroke_score(ink: np.ndarray, dpi: float = 150.0) -> tuple[float, int]:
    """Up/down evidence from long horizontal strokes: positive when they sit high in the lines (upright Chinese).

    Measured on Song, Hei and Kai faces: the top quarter of a line of Chinese carries more long horizontal
    strokes than the bottom quarter, by 8-18% of all such stroke pixels on a page. Returns (score, lines used).
    """
    top = bottom = total = 0.0
    bands = line_bands(ink, dpi)
    for a, b in bands:
        hb = b - a
        band = ink[a:b].astype(np.uint8)
        strokes = cv2.erode(band, np.ones((1, max(3, int(0.35 * hb))), np.uint8)).sum(axis=1)
        q = max(1, hb // 4)
        top += float(strokes[:q].sum())
        bottom += float(strokes[-q:].sum())
        total += float(strokes.sum())
    return ((top - bottom) / total if total else 0.0), len(bands)


def _up_or_down(ink: np.ndarray, dpi: float) -> tuple[int, bool, float, int]:
    """0 or 180 for a straight ink mask whose lines run across, whether the stroke evidence is clear, the evidence."""
    score, lines = stroke_score(ink, dpi)
    return (0 if score >= 0 else 180), lines >= MIN_LINES and abs(score) >= MIN_STROKE, score, lines


def line_direction(ink: np.ndarray, row_gaps: float, col_gaps: float) -> tuple[bool, bool]:
    """Whether the text lines of a straight ink mask run down the page, and whether that is clear.

    Pages with many lines show it in which profile has the wider gaps between lines; on a page with a line or two
    both profiles are mostly gaps and the elongation of the ink decides.
    """
    if min(row_gaps, col_gaps) < 0.55:
        return col_gaps > row_gaps, abs(row_gaps - col_gaps) >= 0.15
    ys, xs = np.nonzero(ink)
    if len(xs) < 50:
        return False, False
    sx, sy = float(xs.std()), float(ys.std())
    return sy > sx, max(sx, sy) >= 3.0 * max(1.0, min(sx, sy))


def ocr_up_or_down(grey: np.ndarray, ink: np.ndarray, dpi: float, reader: TextReader,
                   label: str) -> tuple[int, float, float] | None:
    """Read a sample of text lines upright and turned over in one OCR call: (0 or 180, characters read confidently
    upright, turned over).

    None when the engine reads fewer than MIN_OCR_CHARS characters confidently on both sides (too little to judge).

    `grey` and `ink` are straight and their lines run across. Engines read Chinese turned over as near-garbage
    (Tesseract's mean confidence ~20 against ~85 upright, measured), a far clearer signal than OSD gives.
    """
    bands = line_bands(ink, dpi)
    if not bands:
        return None
    heights = np.array([b - a for a, b in bands])
    body = [bd for bd, hb in zip(bands, heights) if 0.7 * np.median(heights) <= hb <= 1.4 * np.median(heights)]
    picked = sorted(body or bands, key=lambda bd: -int(ink[bd[0] : bd[1]].sum()))[:2]
    crops = []
    for a, b in sorted(picked):
        cols = np.flatnonzero(ink[a:b].any(axis=0))
        hb = b - a
        x0 = max(0, int(cols[0]) - hb // 2)
        x1 = min(ink.shape[1], x0 + 12 * hb, int(cols[-1]) + hb // 2 + 1)
        crops.append(grey[max(0, a - hb // 3) : b + hb // 3, x0:x1])
    width = max(c.shape[1] for c in crops)
    sample = np.vstack([np.pad(c, ((0, 0), (0, width - c.shape[1])), constant_values=255) for c in crops])
    gap = np.full((sample.shape[0], width), 255, np.uint8)
    both = np.vstack([sample, gap, sample[::-1, ::-1]])
    glyphs = reader(both, dpi, label)
    if glyphs is None:
        return None
    h = sample.shape[0]
    confident = {0: 0, 180: 0}
    for text, conf, top, height in glyphs:
        centre = top + height / 2
        side = 0 if centre < h else 180 if centre > 2 * h else None
        if side is not None and text.strip() and float(conf) >= CONFIDENT:
            confident[side] += 1
    up, down = confident[0], confident[180]
    if max(up, down) < MIN_OCR_CHARS:
        return None
    return (0 if up >= down else 180), float(up), float(down)


def page_orientation(ink: np.ndarray, row_gaps: float, col_gaps: float,
                     grey: np.ndarray | Callable[[], np.ndarray] | None = None, dpi: float = 150.0,
                     reader: TextReader | None = None, label: str = "page") -> Orientation:
    """Degrees clockwise to turn a straightened ink mask (True = ink) upright, with how sure that is.

    `row_gaps`/`col_gaps` come from the skew search. `grey` (the straightened page, same geometry as `ink`, or a
    function making it) and a `reader` let OCR settle pages the cheap detectors are unsure of; without them such
    pages come back unsure.
    """
    vertical, clear = line_direction(ink, row_gaps, col_gaps)
    across = np.rot90(ink, -1) if vertical else ink
    flip, sure, score, lines = _up_or_down(across, dpi)
    rotation = ((90 if vertical else 0) + flip) % 360
    if sure and clear:
        return Orientation(rotation, True, "strokes", score, lines)
    if grey is not None and reader is not None and lines:
        g = grey() if callable(grey) else grey
        best: tuple[float, int] | None = None
        # lines across or down: if the profiles did not say clearly, let tesseract read both ways
        for down in (vertical,) if clear else (vertical, not vertical):
            turned = np.rot90(ink, -1) if down else ink
            answer = ocr_up_or_down(np.rot90(g, -1) if down else g, turned, dpi, reader, label)
            if answer is None:
                continue
            side, up_n, down_n = answer
            if max(up_n, down_n) >= MIN_OCR_RATIO * min(up_n, down_n):
                if best is None or max(up_n, down_n) > best[0]:
                    best = (max(up_n, down_n), ((90 if down else 0) + side) % 360)
        if best is not None:
            return Orientation(best[1], True, "ocr", score, lines)
    return Orientation(rotation, False, "strokes" if lines else "none", score, lines)
