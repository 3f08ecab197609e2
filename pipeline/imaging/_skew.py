"""Skew of a page's text lines by projection profiles, coarse to fine, and rotations that lose nothing.

The ink of a straight page piles up in rows: the sum of squared row counts peaks when the candidate angle lines
the rows up with the text. We search that score on ink-pixel coordinates (not on rotated images), first coarsely
with wide bins over the whole range, then in finer steps and finer bins around the best angle, and interpolate the
peak. The same search along columns tells whether the lines run across the page or down it (page turned 90/270).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

MIN_INK_MM2 = 30.0
"""Less ink than this (a page number, a dot or two) and no angle is estimated."""

MIN_SPAN_MM = 30.0
"""Ink spanning less than this in both directions holds no line long enough to measure an angle on."""

MIN_PEAK = 1.12
"""The best angle's score must beat the mean over the search range by this ratio, or the angle is unknown."""


@dataclass(frozen=True)
class SkewEstimate:
    """Skew search result: the correction angle (degrees CCW, None if unknown) and how sure the search was."""

    angle: float | None
    peak: float  # best score / mean score over the coarse range, along the winning axis
    vertical: bool  # lines run down the page (it lies turned 90° or 270°)
    row_gaps: float  # fraction of empty bins in the row profile at the best angle
    col_gaps: float  # same for the column profile
    points: int


def _profile_scores(x: np.ndarray, y: np.ndarray, angles: np.ndarray, bin_px: float, rows: bool,
                    sigma: float = 0.0) -> np.ndarray:
    """Sum of squared profile counts for each candidate correction angle (degrees CCW).

    With `sigma` (in bins) the profile is smoothed first, so the score rises smoothly to its peak instead of
    jumping with how strokes happen to fall on bin edges.
    """
    scores = np.empty(len(angles))
    inv = 1.0 / bin_px
    kernel = None
    if sigma > 0:
        r = max(1, int(3 * sigma))
        kernel = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
        kernel /= kernel.sum()
    for i, a in enumerate(np.radians(angles)):
        c, s = math.cos(a), math.sin(a)
        # image coordinates (y down): rotating the page CCW by a moves (x, y) to (x c + y s, -x s + y c)
        p = (y * c - x * s) if rows else (x * c + y * s)
        counts = np.bincount(((p - p.min()) * inv).astype(np.int32)).astype(np.float64)
        if kernel is not None:
            counts = np.convolve(counts, kernel, mode="same")
        scores[i] = float(np.dot(counts, counts))
    return scores


def _gap_fraction(x: np.ndarray, y: np.ndarray, angle: float, bin_px: float, rows: bool) -> float:
    """Fraction of near-empty bins inside the central 90% of the ink's extent along one axis."""
    a = math.radians(angle)
    c, s = math.cos(a), math.sin(a)
    p = (y * c - x * s) if rows else (x * c + y * s)
    lo, hi = np.percentile(p, [5, 95])
    counts = np.bincount(((p[(p >= lo) & (p <= hi)] - lo) / bin_px).astype(np.int32))
    if counts.size < 4:
        return 0.0
    return float(np.mean(counts <= 0.02 * counts.max()))


def _refine(x: np.ndarray, y: np.ndarray, centre: float, half: float, step: float, bin_px: float,
            rows: bool, sigma: float) -> float:
    """Best angle near `centre` at a step, interpolated between the neighbours of the peak.

    The window (centre ± half) moves on while the best angle sits on its edge, so a coarse guess that landed on
    the wrong side of a broad peak still ends on the peak.
    """
    for _ in range(6):
        angles = np.arange(centre - half, centre + half + step / 2, step)
        scores = _profile_scores(x, y, angles, bin_px, rows, sigma)
        k = int(np.argmax(scores))
        if 0 < k < len(angles) - 1:
            s0, s1, s2 = scores[k - 1], scores[k], scores[k + 1]
            denom = s0 - 2 * s1 + s2
            return float(angles[k] + (step * 0.5 * (s0 - s2) / denom if denom < 0 else 0.0))
        centre = float(angles[k])
    return centre


def ink_points(ink: np.ndarray, limit: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (x, y) of ink pixels in random order, centred, at most `limit` of them (reproducibly)."""
    ys, xs = np.nonzero(ink)
    rng = np.random.default_rng(seed)
    # a few repeats in a large sample change nothing, and drawing with replacement is far cheaper
    pick = rng.integers(0, len(xs), limit) if len(xs) > limit else rng.permutation(len(xs))
    xs, ys = xs[pick], ys[pick]
    # each pixel stands for its whole square: spread the points over it, which keeps the pixel grid itself
    # from looking like a set of perfectly straight lines
    x = xs.astype(np.float32) + rng.uniform(-0.5, 0.5, len(xs)).astype(np.float32)
    y = ys.astype(np.float32) + rng.uniform(-0.5, 0.5, len(ys)).astype(np.float32)
    if len(x):
        x -= x.mean()
        y -= y.mean()
    return x, y


def estimate_skew(ink: np.ndarray, max_angle: float = 15.0, dpi: float = 150.0) -> SkewEstimate:
    """Search the skew of an ink mask (True = ink) at about 150 dpi, along rows and along columns."""
    x, y = ink_points(ink, 60_000)
    n = len(x)
    mm = dpi / 25.4
    if n < MIN_INK_MM2 * mm * mm:
        return SkewEstimate(None, 1.0, False, 0.0, 0.0, n)
    span = max(np.ptp(np.percentile(x, [2, 98])), np.ptp(np.percentile(y, [2, 98])))
    if span < MIN_SPAN_MM * mm:
        return SkewEstimate(None, 1.0, False, 0.0, 0.0, n)
    unit = dpi / 150.0  # bins scale with resolution so the search behaves the same at any dpi
    step = 0.5
    coarse = np.arange(-max_angle, max_angle + step / 2, step)
    xc, yc = (x[: 20_000], y[: 20_000])
    row_scores = _profile_scores(xc, yc, coarse, 4 * unit, rows=True)
    col_scores = _profile_scores(xc, yc, coarse, 4 * unit, rows=False)
    kr, kc = int(np.argmax(row_scores)), int(np.argmax(col_scores))
    row_gaps = _gap_fraction(xc, yc, float(coarse[kr]), 2 * unit, rows=True)
    col_gaps = _gap_fraction(xc, yc, float(coarse[kc]), 2 * unit, rows=False)
    vertical = col_gaps > row_gaps
    scores, k = (col_scores, kc) if vertical else (row_scores, kr)
    peak = float(scores[k] / scores.mean())
    if peak < MIN_PEAK:
        return SkewEstimate(None, peak, vertical, row_gaps, col_gaps, n)
    rows = not vertical
    # fine stages on smoothed 1-px profiles: plain fine bins lock onto the pixel grid on pages skewed by a few
    # tenths of a degree (each stroke is a flat step there), measured 0.19° off before smoothing, 0.05° after
    angle = _refine(x, y, float(coarse[k]), 0.6, 0.1, unit, rows, sigma=2.0)
    angle = _refine(x, y, angle, 0.12, 0.02, unit, rows, sigma=1.0)
    if abs(angle) > max_angle + 0.25:
        return SkewEstimate(None, peak, vertical, row_gaps, col_gaps, n)
    return SkewEstimate(angle, peak, vertical, row_gaps, col_gaps, n)


def deskew_angle(grey: np.ndarray, max_angle: float = 15.0, dpi: float = 150.0) -> float | None:
    """Skew correction in degrees CCW for a grey page image (any resolution), or None if it cannot be told.

    The scanner bed, if it shows, is left out; seals should already be faded (see raster.ink_grey).
    """
    from pipeline.imaging._paper import inner_paper, paper_region
    from pipeline.imaging._raster import ink_mask, paper_tone, reduce, work_factor

    factor = work_factor(dpi)
    small = reduce(grey, factor)
    work_dpi = dpi / factor
    paper = paper_region(small, work_dpi)
    ink = ink_mask(small, paper_tone(small, paper), inner_paper(paper, work_dpi))
    return estimate_skew(ink, max_angle, work_dpi).angle


def rotation_matrix(width: int, height: int, angle: float) -> tuple[np.ndarray, int, int]:
    """Affine matrix turning an image CCW by `angle` degrees about its centre onto a canvas that holds all of it."""
    a = math.radians(angle)
    c, s = abs(math.cos(a)), abs(math.sin(a))
    new_w = int(math.ceil(width * c + height * s))
    new_h = int(math.ceil(width * s + height * c))
    m = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)
    m[0, 2] += (new_w - width) / 2.0
    m[1, 2] += (new_h - height) / 2.0
    return m, new_w, new_h


def rotate_expand(arr: np.ndarray, angle: float, fill: int | tuple[int, ...] = 255,
                  interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Turn an array CCW by `angle` degrees on an enlarged canvas filled with `fill`, so no pixel is cut off."""
    if abs(angle) < 1e-6:
        return arr
    h, w = arr.shape[:2]
    m, new_w, new_h = rotation_matrix(w, h, angle)
    if arr.ndim == 3 and isinstance(fill, int):
        fill = (fill,) * arr.shape[2]
    return cv2.warpAffine(arr, m, (new_w, new_h), flags=interpolation, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=fill)


def turn(arr: np.ndarray, rotation_cw: int) -> np.ndarray:
    """Turn an array clockwise by 0/90/180/270 degrees (lossless)."""
    k = (rotation_cw // 90) % 4
    if k == 0:
        return arr
    return np.ascontiguousarray(np.rot90(arr, -k))
