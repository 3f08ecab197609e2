"""A seal's red taken out of a colour image, for reading the characters the seal covers.

A red seal is pressed over the signature block and the date; where it covers print, the print stays near black
(ink under ink) and the seal around it is red. The OCR reads a grey image in which the seal's red is gone and the
print it covers is left as it was. The archived page keeps its colour untouched: this only makes what OCR reads.

Ways measured (bench/ocr_engines.py ``--seal-ink``, sealed colour pages): ``luma`` (no suppression),
``red`` (the red channel: red ink is nearly white there, but so is a tinted paper's own red and the light fringes
JPEG's colour subsampling leaves), ``max`` (the brightest channel), and ``distance`` (pixels whose colour is
distinctly red — red well above both green and blue — are moved towards white in proportion to how red they are;
anything grey or black keeps its luma). :data:`METHOD` is the one the pipeline uses.
"""

from __future__ import annotations

import cv2
import numpy as np

METHODS = ("luma", "red", "max", "distance")
"""The ways of making a sealed region grey that the bench compares."""

METHOD = "distance"
"""The way the pipeline uses (bench/ocr_engines.py: the fewest errors on sealed colour pages)."""

REDNESS_FROM, REDNESS_FULL = 24.0, 96.0
"""Redness (red minus the larger of green and blue) at which a pixel starts to fade, and at which it is paper."""


def without_red(rgb: np.ndarray, method: str | None = None) -> np.ndarray:
    """Grey (uint8, H×W) of an RGB array with red ink taken out by ``method`` (one of :data:`METHODS`; None:
    :data:`METHOD`)."""
    method = method or METHOD
    if method == "red":
        return np.ascontiguousarray(rgb[..., 0])
    if method == "max":
        return rgb.max(axis=2)
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if method == "luma":
        return luma
    if method != "distance":
        raise ValueError(f"unknown way to take out red: {method!r} (one of {', '.join(METHODS)})")
    r = rgb[..., 0].astype(np.int16)
    redness = r - np.maximum(rgb[..., 1], rgb[..., 2]).astype(np.int16)
    fade = np.clip((redness - REDNESS_FROM) / (REDNESS_FULL - REDNESS_FROM), 0.0, 1.0)
    return (luma + fade * (255.0 - luma)).astype(np.uint8)


SEAL_RADIUS_MM = (16.0, 24.0)
"""Round official seals are 38-45 mm across (a court's 42 mm): rings of this radius are sought."""

RING_SUPPORT = 0.6
"""A circle is a seal's ring when ink lies under at least this share of its circumference."""


def seal_rings(ink: np.ndarray, dpi: float) -> list[tuple[float, float, float]]:
    """Round seals in an ink mask (True = ink) of a page scanned without colour: (centre x, centre y, radius) in its
    pixels. A seal scanned in grey is mid-grey ink like any other; only its ring tells it from print. Circles are
    proposed by a Hough transform and kept when ink lies under most of their circumference (print never draws a
    circle that large)."""
    k = 2  # circles are sought at half the resolution (~6 ms a page instead of ~0.4 s), checked at full
    lo, hi = (round(r * dpi / 25.4 / k) for r in SEAL_RADIUS_MM)
    if min(ink.shape) < 2 * k * lo:
        return []
    small = cv2.resize(ink.astype(np.uint8) * 255, (ink.shape[1] // k, ink.shape[0] // k), interpolation=cv2.INTER_AREA)
    found = cv2.HoughCircles(cv2.GaussianBlur(small, (3, 3), 0), cv2.HOUGH_GRADIENT, dp=1, minDist=2 * lo,
                             param1=120, param2=40, minRadius=lo, maxRadius=hi)
    if found is None:
        return []
    rings = []
    angles = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    near = np.arange(-3, 4)
    for cx, cy, r in found[0][:8] * k:
        xs = np.clip(np.round(cx + np.outer(np.cos(angles), r + near)).astype(int), 0, ink.shape[1] - 1)
        ys = np.clip(np.round(cy + np.outer(np.sin(angles), r + near)).astype(int), 0, ink.shape[0] - 1)
        if ink[ys, xs].any(axis=1).mean() >= RING_SUPPORT:
            rings.append((float(cx), float(cy), float(r)))
    return rings


def darkest_ink(grey: np.ndarray) -> np.ndarray:
    """A grey region under a seal scanned without colour with the seal taken out: the seal's ink is mid-grey, the
    print it covers near black; what is lighter than half-way between the two becomes paper. Left as it is when
    the two cannot be told apart (a faint scan prints as light as the seal)."""
    print_level = float(np.percentile(grey, 1))
    ink = grey[grey < 200]
    if ink.size < 50:
        return grey
    seal_level = float(np.percentile(ink, 60))
    if seal_level - print_level < 40:
        return grey
    cut = (print_level + seal_level) / 2
    return np.where(grey <= cut, grey, 255).astype(np.uint8)


SOLID_SHARE = 0.06
"""Ink thicker than this share of a seal's radius (its star: print strokes are a tenth of that) is the seal's own."""

SOLID_DENSITY = 0.6
"""A window :data:`SOLID_SHARE` of the radius wide holding this share of ink is solid ink (a star's body)."""


def ring_radii(ink: np.ndarray, cx: float, cy: float, radius: float) -> tuple[float, float, float, float] | None:
    """The ring of a seal found near (``cx``, ``cy``) with about ``radius`` in an ink mask, measured at the image's
    own resolution: (centre x, centre y, inner radius, outer radius), or None when no ring lies there (a grey
    scan's seal already faded). The centre is sought within a twentieth of the radius around the one given: the
    circle was found on a reduced copy and mapped through the page's turn."""
    h, w = ink.shape
    angles = np.linspace(0, 2 * np.pi, 240, endpoint=False)
    radii = np.arange(int(radius * 0.75), int(radius * 1.08) + 1)
    cos, sin = np.outer(radii, np.cos(angles)), np.outer(radii, np.sin(angles))
    reach = max(2, round(radius / 20))
    best = (0.0, cx, cy, np.zeros(len(radii)))
    for dy in range(-reach, reach + 1, 2):
        for dx in range(-reach, reach + 1, 2):
            xs = np.clip(np.round(cx + dx + cos).astype(int), 0, w - 1)
            ys = np.clip(np.round(cy + dy + sin).astype(int), 0, h - 1)
            support = ink[ys, xs].mean(axis=1)
            if support.max() > best[0]:
                best = (float(support.max()), cx + dx, cy + dy, support)
    peak, bx, by, support = best
    if peak < RING_SUPPORT:
        return None
    on = radii[support >= peak / 2]
    return bx, by, float(on.min()), float(on.max())


def without_seal_shapes(grey: np.ndarray) -> np.ndarray:
    """A region around a round seal on a page scanned without colour (its disc centred in it), with what is the
    seal's by its shape taken out for reading the print it covers: its ring (painted over from the pixels beside
    it, so print strokes the ring crosses are carried across it) and the solid ink at its centre (the star:
    thicker than any print stroke). A bitonal scan leaves no other way to tell the seal from print: its red and
    the black print are both black. Left as it is when no ring is found there."""
    ink = grey < 128
    h, w = grey.shape
    ring = ring_radii(ink, w / 2, h / 2, 0.92 * min(h, w) / 2)  # the box holds the ring's width too
    if ring is None:
        return grey
    cx, cy, inner, outer = ring
    pad = 4 + 0.3 * (outer - inner)  # the ring's ragged edge and the ink its pixels bled
    centre = (round(cx), round(cy))
    band = np.zeros(grey.shape, np.uint8)
    cv2.circle(band, centre, round((inner + outer) / 2), 255, thickness=max(1, round(outer - inner + 2 * pad)))
    out = cv2.inpaint(grey, band, 5, cv2.INPAINT_TELEA)
    size = max(3, round(SOLID_SHARE * outer)) | 1
    # solid: most of a window that wide is ink (a bitonal scan speckles a seal's uneven ink, so no plain opening)
    solid = (cv2.blur(ink.astype(np.float32), (size, size)) >= SOLID_DENSITY).astype(np.uint8)
    middle = np.zeros(grey.shape, np.uint8)
    cv2.circle(middle, centre, round(0.5 * inner), 1, -1)
    solid = cv2.dilate(solid & middle, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    out[solid > 0] = 255
    return out
