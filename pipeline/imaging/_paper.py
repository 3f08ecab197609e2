"""Where the paper is on the scan (scanner bed and its shadows are not paper), and what size the paper is."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.imaging._raster import paper_tone

PAPERS_MM: dict[str, tuple[float, float]] = {
    "A4": (210.0, 297.0),
    "A3": (297.0, 420.0),
    "B5": (176.0, 250.0),
    "B5-JIS": (182.0, 257.0),
    "Letter": (215.9, 279.4),
    "16K": (184.0, 260.0),
    "16K-large": (210.0, 285.0),
}
"""Paper sizes a case file is made of, portrait, in millimetres (16K = 正16开, 16K-large = 大16开)."""

COMMON_DPI = (150, 200, 240, 300, 400, 600, 1200)
"""Resolutions scanners are set to; an inferred resolution snaps to one of these when it is close."""


def paper_region(grey: np.ndarray, dpi: float) -> np.ndarray:
    """Mask (True = paper) of a grey scan: everything but dark scanner bed and shadow reaching in from the edges.

    Only dark areas connected to the image frame and running along a good part of it count as bed, so binding
    holes, stains and dark marks inside the sheet stay paper.
    """
    full_h, full_w = grey.shape
    k = max(1, int(dpi // 40))  # the bed is found at about 40 dpi, where text strokes have faded to grey
    if k > 1:
        grey = cv2.resize(grey[: full_h // k * k, : full_w // k * k], (full_w // k, full_h // k),
                          interpolation=cv2.INTER_AREA)
        dpi = dpi / k
    h, w = grey.shape
    tone = paper_tone(grey)
    dark = (grey < 0.5 * tone).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    bed_ids = np.zeros(n, dtype=bool)
    for i in range(1, n):
        x, y, bw, bh, _area = stats[i]
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        if touches and (bw >= 0.15 * w or bh >= 0.15 * h):
            bed_ids[i] = True
    if not bed_ids.any():
        return np.ones((full_h, full_w), dtype=bool)
    bed = bed_ids[labels].astype(np.uint8)
    # the soft edge of the shadow and the antialiased paper edge: one more millimetre of bed
    r = max(1, round(dpi / 25.4))
    bed = cv2.dilate(bed, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1)))
    if k > 1:
        bed = cv2.resize(bed, (w * k, h * k), interpolation=cv2.INTER_NEAREST)
        bed = np.pad(bed, ((0, full_h - h * k), (0, full_w - w * k)), mode="edge")
    return bed == 0


def inner_paper(paper: np.ndarray, dpi: float, margin_mm: float = 2.0) -> np.ndarray:
    """The paper less a margin along its edges (and along the image frame), where edge shadows and tears lie."""
    edge = max(1, round(margin_mm / 25.4 * dpi))
    inner = cv2.erode(paper.astype(np.uint8), np.ones((2 * edge + 1, 2 * edge + 1), np.uint8)).astype(bool)
    inner[:edge] = inner[-edge:] = False
    inner[:, :edge] = inner[:, -edge:] = False
    return inner


def paper_size_px(paper: np.ndarray, skew: float | None, bordered: bool) -> tuple[float, float]:
    """Width and height in pixels of the sheet: its fitted rectangle if the bed shows, else the image less skew."""
    h, w = paper.shape
    if bordered:
        contours, _ = cv2.findContours(paper.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if contours:
            (_, _), (rw, rh), _ = cv2.minAreaRect(max(contours, key=cv2.contourArea))
            rw, rh = sorted((rw, rh))
            return (rw, rh) if w <= h else (rh, rw)
    a = math.radians(abs(skew or 0.0))
    c, s = math.cos(a), math.sin(a)
    det = c * c - s * s
    if det < 0.5:
        return float(w), float(h)
    # the scan of a sheet turned by a is its bounding box: W = w c + h s, H = w s + h c
    return (w * c - h * s) / det, (h * c - w * s) / det


def snap_dpi(dpi: float) -> float:
    """A resolution as files state it, snapped to the usual setting it stands for (PNG's 299.9994 is 300)."""
    near = min(COMMON_DPI, key=lambda d: abs(d - dpi))
    return float(near) if abs(near - dpi) <= 0.01 * near else float(dpi)


@dataclass(frozen=True)
class DpiGuess:
    """A resolution inferred from the sheet's pixel size, with the paper it assumed."""

    dpi: float
    paper: str
    error: float  # relative misfit of the guess


def infer_dpi(width_px: float, height_px: float) -> DpiGuess:
    """Resolution of a scan from the pixel size of its sheet, assuming a usual paper size and scanner setting."""
    short, long = sorted((float(width_px), float(height_px)))
    best: DpiGuess | None = None
    for name, (pw, ph) in PAPERS_MM.items():
        dx, dy = short / pw * 25.4, long / ph * 25.4
        dpi = (dx + dy) / 2
        misfit = abs(dx - dy) / dpi
        snap = min(COMMON_DPI, key=lambda d: abs(d - dpi))
        off = abs(snap - dpi) / snap
        # ties between A-series sizes (same aspect) go to the usual paper at the usual setting
        prior = (0.0 if name == "A4" else 0.01) + (0.0 if snap in (200, 300, 600) else 0.005)
        score = misfit + min(off, 0.05) + prior
        value = float(snap) if off < 0.03 else round(dpi, 1)
        if best is None or score < best.error:
            best = DpiGuess(value, name, score)
    assert best is not None
    return best
