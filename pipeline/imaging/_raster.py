"""Pixels in, numpy arrays out: any PIL mode to 8-bit grey or RGB, reduced working copies, ink masks."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

MIN_WORK_DPI = 130.0
"""The reduced copy the detectors look at keeps at least this resolution (enough for 0.05° of skew)."""


def to_array(image: Image.Image) -> np.ndarray:
    """Decode a PIL image of any mode to uint8: H×W for bitonal/grey sources, H×W×3 for colour ones."""
    mode = image.mode
    if mode in ("RGB", "L"):
        return np.asarray(image, dtype=np.uint8)
    if mode == "1":
        return np.asarray(image.convert("L"), dtype=np.uint8)
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(image)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("="))
        top = float(arr.max()) if arr.size else 0.0
        if mode == "F" and top <= 1.0:
            alpha = 255.0  # floating-point grey in 0..1
        elif top > 255:
            alpha = 255.0 / (65535.0 if top <= 65535 else top)  # 16-bit (or wider) grey
        else:
            alpha = 1.0
        if arr.dtype not in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
            arr = arr.astype(np.float32)
        return cv2.convertScaleAbs(arr, alpha=alpha)
    if mode in ("LA", "PA", "RGBA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba).convert("RGB")
        if mode in ("LA", "La"):
            return np.asarray(image.convert("L"), dtype=np.uint8)
        return np.asarray(image, dtype=np.uint8)
    if mode == "P":
        palette = image.getpalette() or []
        rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
        if palette and all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3)):
            return np.ascontiguousarray(rgb[..., 0])
        return rgb
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def luminance(arr: np.ndarray) -> np.ndarray:
    """Grey (ITU-R 601 luma) of an H×W or H×W×3 uint8 array."""
    if arr.ndim == 2:
        return arr
    return cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)


def ink_grey(arr: np.ndarray) -> np.ndarray:
    """Grey in which coloured marks fade: the brightest channel, so red seals go light and black text stays dark."""
    if arr.ndim == 2:
        return arr
    r, g, b = cv2.split(arr)
    return cv2.max(cv2.max(r, g), b)


def work_factor(dpi: float) -> int:
    """Whole-number reduction that keeps at least ~130 dpi (1 at 200 dpi, 2 at 300, 3 at 400, 4 at 600).

    The line and stroke measures need body text at least ~25 px high; below that they were seen to flip.
    """
    return max(1, int(dpi // MIN_WORK_DPI))


def reduce(arr: np.ndarray, factor: int) -> np.ndarray:
    """Shrink an array by a whole factor with area averaging (the last partial block is dropped)."""
    if factor <= 1:
        return arr
    h, w = arr.shape[:2]
    bh, bw = max(1, h // factor), max(1, w // factor)
    return cv2.resize(arr[: bh * factor, : bw * factor], (bw, bh), interpolation=cv2.INTER_AREA)


def paper_tone(grey: np.ndarray, mask: np.ndarray | None = None) -> float:
    """The paper's grey level: a high percentile of the pixels on paper (text is a minority)."""
    values = grey[mask] if mask is not None else grey.ravel()
    if values.size == 0:
        return 255.0
    if values.size > 400_000:
        values = values[:: values.size // 200_000]
    return float(np.percentile(values, 90))


def ink_mask(grey: np.ndarray, tone: float, paper: np.ndarray | None = None, depth: float = 70.0) -> np.ndarray:
    """Pixels clearly darker than the paper (by `depth` grey levels, or 40% of the tone if less), on the paper."""
    threshold = tone - min(depth, 0.4 * tone)
    mask = grey < threshold
    if paper is not None:
        mask &= paper
    return mask


def picture_mask(ink: np.ndarray, dpi: float) -> np.ndarray:
    """Areas of dense ink ~2 cm across and more (photographs, solid blocks); text, rules and tables are never so
    dense."""
    block = max(2, round(6.0 / 25.4 * dpi))  # 6 mm blocks
    h, w = ink.shape
    bh, bw = max(1, h // block), max(1, w // block)
    density = cv2.resize(ink[: bh * block, : bw * block].astype(np.float32), (bw, bh), interpolation=cv2.INTER_AREA)
    dense = (density > 0.45).astype(np.uint8)
    dense = cv2.morphologyEx(dense, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if not dense.any():
        return np.zeros_like(ink, dtype=bool)
    dense = cv2.dilate(dense, np.ones((3, 3), np.uint8))
    big = cv2.resize(dense, (bw * block, bh * block), interpolation=cv2.INTER_NEAREST)
    out = np.zeros((h, w), dtype=bool)
    out[: bh * block, : bw * block] = big.astype(bool)
    return out


def picture_regions(busy: np.ndarray, dpi: float) -> tuple[np.ndarray, np.ndarray]:
    """Photographs on the page: (filled mask to leave out of text analysis, 1-px outline of each).

    `busy` marks pixels that are not plain paper (even slightly darker or coloured). A picture is an area of
    dense busy pixels at least 15 mm across; its frame is the smallest rectangle around the busy blobs in that
    area, so light patches and ragged corners of a photograph (or of its bitonal rendering) are covered too.
    """
    filled = np.zeros(busy.shape, dtype=np.uint8)
    outline = np.zeros(busy.shape, dtype=np.uint8)
    dense = picture_mask(busy, dpi)
    if not dense.any():
        return filled.astype(bool), outline.astype(bool)
    mm = dpi / 25.4
    k = max(3, round(2 * mm) | 1)
    n, regions = cv2.connectedComponents(dense.astype(np.uint8))
    for i in range(1, n):
        blobs = cv2.morphologyEx((busy & (regions == i)).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
        contours, _ = cv2.findContours(blobs, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        big = [c for c in contours if min(cv2.boundingRect(c)[2:]) >= 5 * mm]
        if not big:
            continue
        box = cv2.boxPoints(cv2.minAreaRect(np.concatenate(big)))
        _, _, w, h = cv2.boundingRect(box.astype(np.int32))
        if w < 15 * mm or h < 15 * mm:
            continue
        corners = np.round(box).astype(np.int32)
        cv2.fillPoly(filled, [corners], 1)
        cv2.polylines(outline, [corners], True, 1, 1)
    grow = max(3, round(1.5 * mm) | 1)
    filled = cv2.dilate(filled, np.ones((grow, grow), np.uint8))
    return filled.astype(bool), outline.astype(bool)


def hole_mask(ink: np.ndarray, dpi: float) -> np.ndarray:
    """Round solid blobs 4-10 mm across (punched binding holes showing the bed), so text analysis can skip them.

    Strokes of text are never 3 mm thick, so an opening with a 3 mm square leaves only solid areas; of those,
    round ones of hole size are holes.
    """
    mm = dpi / 25.4
    k = max(3, round(3 * mm))
    solid = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    out = np.zeros(ink.shape, dtype=np.uint8)
    if not solid.any():
        return out.astype(bool)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if 4 * mm <= max(w, h) <= 10 * mm and min(w, h) >= 0.75 * max(w, h) and area >= 0.6 * w * h:
            pad = max(1, round(0.5 * mm))
            cv2.circle(out, (int(x + w / 2), int(y + h / 2)), int(max(w, h) / 2 + pad), 1, -1)
    return out.astype(bool)
