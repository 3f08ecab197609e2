"""Separator sheets on scans: encode their QR payload, and find and decode them among the scanned pages.

Most pages are not separators, so :func:`find_separator` first runs a cheap check on a small grey thumbnail (QR
finder patterns of the size the sheets print, or the sheets' black banner) and only then tries to decode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from PIL import Image
from pydantic import ValidationError

from pipeline.common import parse_json
from pipeline.models import SeparatorPayload


def encode_payload(payload: SeparatorPayload) -> str:
    """The QR text of a payload: compact JSON, UTF-8 Chinese kept as is, empty fields left out, ``v`` first."""
    data = payload.model_dump(mode="json", exclude_defaults=True)
    data.pop("v", None)
    return json.dumps({"v": payload.v, **data}, ensure_ascii=False, separators=(",", ":"))


def decode_payload(text: str) -> SeparatorPayload:
    """Parse a QR text into a payload; raises ValueError when it is not a separator payload."""
    try:
        data = parse_json(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    try:
        return SeparatorPayload.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"not a separator payload: {exc.errors()[0]['msg']}") from exc


def qr_modules(text: str, quiet: int = 4) -> np.ndarray:
    """The QR code of a text (byte mode, UTF-8, error correction Q) as a boolean module matrix, dark = True,
    with ``quiet`` white modules around it."""
    params = cv2.QRCodeEncoder_Params()
    params.correction_level = cv2.QRCODE_ENCODER_CORRECT_LEVEL_Q
    params.mode = cv2.QRCODE_ENCODER_MODE_BYTE
    try:
        code = cv2.QRCodeEncoder.create(params).encode(text)
    except cv2.error as exc:
        raise ValueError(f"QR encoder refused a payload of {len(text.encode())} bytes: too long") from exc
    if code is None or code.size == 0:
        raise ValueError(f"QR encoder refused a payload of {len(text.encode())} bytes")
    return np.pad(code < 128, quiet, constant_values=False)


# --------------------------------------------------------------------------------------------------------------------
# Finding separator sheets on scans

THUMB_LONG_SIDE = 1000  # pixels: ~85 dpi for A4, QR modules of the printed sheets stay >= 2.5 px
PAGE_LONG_MM = 297.0  # assumed paper length when turning thumbnail pixels into millimetres (A4)
FINDER_MM = (3.5, 22.0)  # side of a QR finder pattern the sheets can carry (7 modules of 0.7 .. 1.6 mm, skew, slack)
BANNER_LONG_MM = (100.0, 230.0)
BANNER_SHORT_MM = (12.0, 36.0)
BANNER_MIN_GLYPH_HOLES = 4  # the white text printed in the banner (分隔页 — 不计页数) leaves holes in the black band
MAX_OTHER_INK = 0.03  # a sheet is mostly blank: ink beyond its banners and QR code (its text lines: ~1%) at most this


@dataclass(frozen=True)
class SeparatorResult:
    """What a page is: not a separator, a decoded separator sheet, or a page that looks like one but cannot be read."""

    kind: Literal["none", "separator", "undecodable"]
    payload: SeparatorPayload | None = None
    reason: str = ""


@dataclass(frozen=True)
class _Clues:
    finders: tuple[tuple[float, float, float], ...]  # centre x, centre y, side, in thumbnail pixels
    banners: int
    scale: float  # thumbnail pixels per full-image pixel
    mm_per_px: float  # millimetres per thumbnail pixel
    layout: str = ""  # why the page does not have a printed separator sheet's layout ("" when it has)


def _grey_thumbnail(image: Image.Image) -> tuple[np.ndarray, float]:
    """A small grey copy of the page (about 85 dpi for A4) and its scale; the cheap start of every check."""
    long_side = max(image.size)
    factor = max(1, long_side // THUMB_LONG_SIDE)
    if image.mode == "RGB":
        img = image.getchannel("G")  # 2x cheaper than a luminance conversion; red ink stays dark in green
    else:
        img = _grey(image)
    if factor > 1:
        img = img.reduce(factor)
    return np.asarray(img), img.width / image.width


def _grey(image: Image.Image) -> Image.Image:
    """An 8-bit grey copy of any page image (16-bit and float scans scaled, not clipped as PIL's convert does)."""
    if image.mode == "L":
        return image
    if image.mode.startswith("I") or image.mode == "F":
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.uint8))
    return image.convert("L")


def _looks(image: Image.Image) -> _Clues:
    """Look for QR finder patterns of the printed size and for the black banner, on a thumbnail."""
    grey, scale = _grey_thumbnail(image)
    mm_per_px = PAGE_LONG_MM / max(grey.shape)
    _, ink = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    contours, hierarchy = cv2.findContours(ink, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    finders: list[tuple[float, float, float]] = []
    banners: list[int] = []
    if hierarchy is None:
        return _Clues((), 0, scale, mm_per_px, "no marks")
    tree = hierarchy[0]
    lo, hi = FINDER_MM[0] / mm_per_px, FINDER_MM[1] / mm_per_px
    height, width = ink.shape
    depth = _depths(tree)
    for i, (_, _, child, _) in enumerate(tree):
        cnt = contours[i]
        if len(cnt) < 4 or depth[i] % 2:  # odd depth: the outline of a hole, not of ink
            continue
        x, y, w, h = cv2.boundingRect(cnt)
        side = max(w, h)
        if side > BANNER_LONG_MM[0] / mm_per_px * 0.9:
            if _is_banner(cnt, ink, mm_per_px, x, y, w, h, width, height):
                banners.append(i)
            continue
        if not (lo <= side <= hi * 1.5) or child < 0:
            continue
        # a finder pattern: dark square ring (cnt) > white hole (child) > one solid dark square inside
        hole = child
        if tree[hole][0] >= 0:  # the ring has more than one hole
            continue
        core = tree[hole][2]
        if core < 0 or tree[core][0] >= 0 or tree[core][2] >= 0:
            continue
        area = cv2.contourArea(cnt)
        (_, _), (rw, rh), _ = cv2.minAreaRect(cnt)
        if area <= 0 or min(rw, rh) <= 0 or max(rw, rh) / min(rw, rh) > 1.4 or area / (rw * rh) < 0.75:
            continue
        side = float(np.sqrt(area))
        if not lo <= side <= hi:
            continue
        r_hole = cv2.contourArea(contours[hole]) / area
        r_core = cv2.contourArea(contours[core]) / area
        if not (0.25 <= r_hole <= 0.75 and 0.06 <= r_core <= 0.4):
            continue
        m = cv2.moments(cnt)
        finders.append((m["m10"] / m["m00"], m["m01"] / m["m00"], side))
    found = tuple(_consistent_finders(finders))
    layout = _layout_problem(ink, contours, tree, banners, found, mm_per_px) if found or banners else "no marks"
    return _Clues(found, len(banners), scale, mm_per_px, layout)


def _layout_problem(ink: np.ndarray, contours, tree: np.ndarray, banners: list[int],
                    finders: tuple[tuple[float, float, float], ...], mm_per_px: float) -> str:
    """Why a page is not laid out like a printed separator sheet, or "" when it is: a black banner with the sheet's
    white text in it, and beyond the banners, the QR code and the scanner bed, hardly any ink (a few text lines)."""
    texts = [_holes(tree, i) for i in banners]
    if not banners:
        return "no separator banner"
    if max(texts) < BANNER_MIN_GLYPH_HOLES:
        return "a black band without the separator sheet's text in it"
    keep_out = np.zeros_like(ink)
    for i in banners:
        cv2.drawContours(keep_out, contours, i, 255, cv2.FILLED)
    if finders:  # around the finder patterns found: the code, even where a stain broke it up
        xs, ys = [f[0] for f in finders], [f[1] for f in finders]
        side = max(f[2] for f in finders)
        reach = float(np.hypot(max(xs) - min(xs), max(ys) - min(ys))) + 1.5 * side if len(finders) > 1 else 6 * side
        cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        cv2.rectangle(keep_out, (int(cx - reach), int(cy - reach)), (int(cx + reach), int(cy + reach)), 255, -1)
    keep_out = cv2.bitwise_or(keep_out, _code_blocks(ink, mm_per_px))
    other = cv2.bitwise_and(ink, cv2.bitwise_not(keep_out))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(other, connectivity=8)
    height, width = ink.shape
    x, y, w, h = (stats[1:, k] for k in range(4))
    bed = (x <= 1) | (y <= 1) | (x + w >= width - 1) | (y + h >= height - 1)  # scanner-bed borders touch the edges
    share = float(stats[1:, cv2.CC_STAT_AREA][~bed].sum()) / (height * width)
    if share > MAX_OTHER_INK:
        return f"{share:.0%} of the page inked beyond the banner and QR code (a sheet has at most {MAX_OTHER_INK:.0%})"
    return ""


def _code_blocks(ink: np.ndarray, mm_per_px: float) -> np.ndarray:
    """A mask of the square blocks densely covered with ink, as a QR code is (whether or not its finder patterns were
    found): the ink closed over gaps of a module or two, then the squares of at least 30 mm at least a third inked."""
    k = max(3, round(2.5 / mm_per_px))
    closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    mask = np.zeros_like(ink)
    for i in range(1, count):
        x, y, w, h, area = stats[i]
        if min(w, h) * mm_per_px < 30 or max(w, h) > 1.6 * min(w, h) or area < 0.7 * w * h:
            continue
        block = labels[y:y + h, x:x + w] == i
        if ink[y:y + h, x:x + w][block].mean() >= 255 / 3:
            mask[y:y + h, x:x + w][block] = 255
    return mask


def _holes(tree: np.ndarray, i: int) -> int:
    """How many holes (white shapes) a contour of a RETR_TREE hierarchy encloses directly."""
    count, child = 0, tree[i][2]
    while child >= 0:
        count += 1
        child = tree[child][0]
    return count


def _depths(tree: np.ndarray) -> list[int]:
    """Nesting depth of every contour of a RETR_TREE hierarchy (0 = outermost ink)."""
    depth = [-1] * len(tree)
    for i in range(len(tree)):
        chain, j = [], i
        while j >= 0 and depth[j] < 0:
            chain.append(j)
            j = tree[j][3]
        d = depth[j] if j >= 0 else -1
        for k in reversed(chain):
            d += 1
            depth[k] = d
    return depth


def _is_banner(cnt: np.ndarray, ink: np.ndarray, mm_per_px: float, x: int, y: int, w: int, h: int,
               width: int, height: int) -> bool:
    """A solid dark band of the banner's size, away from the image edges (scanner-bed borders touch them)."""
    if x <= 1 or y <= 1 or x + w >= width - 1 or y + h >= height - 1:
        return False
    (_, _), (rw, rh), _ = cv2.minAreaRect(cnt)
    long_mm, short_mm = max(rw, rh) * mm_per_px, min(rw, rh) * mm_per_px
    if not (BANNER_LONG_MM[0] <= long_mm <= BANNER_LONG_MM[1] and BANNER_SHORT_MM[0] <= short_mm <= BANNER_SHORT_MM[1]):
        return False
    area = cv2.contourArea(cnt)
    if area < 0.85 * rw * rh:
        return False
    mask = np.zeros((h, w), np.uint8)
    cv2.drawContours(mask, [cnt - [x, y]], -1, 255, cv2.FILLED)
    dark = cv2.countNonZero(cv2.bitwise_and(ink[y : y + h, x : x + w], mask))
    return dark >= 0.45 * area


def _consistent_finders(finders: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """The finder candidates that have a partner of similar size (a QR code has three)."""
    keep = []
    for i, (x, y, s) in enumerate(finders):
        for j, (x2, y2, s2) in enumerate(finders):
            if i != j and 0.67 <= s / s2 <= 1.5 and np.hypot(x - x2, y - y2) <= 40 * max(s, s2):
                keep.append((x, y, s))
                break
    return keep


def find_separator(image: Image.Image, label: str) -> SeparatorResult:
    """Whether a scanned page is a separator sheet: decoded payload, "none", or "undecodable" (looks like a sheet
    but cannot be read: the batch must go to review with ``label`` named in the reason).

    Only a page laid out like the sheets ``dossier sheets`` prints is one: the black banner with its white text, a
    QR code, and otherwise hardly any ink. An ordinary page carrying a QR code, even one in our format, stays an
    ordinary page of the volume.
    """
    clues = _looks(image)
    if not clues.finders and not clues.banners:
        return SeparatorResult("none", None, "no QR finder pattern or separator banner")
    seen = _describe(clues)
    if clues.layout:
        # a QR code on an ordinary page (a court's verification code, or one in our format) never makes it a sheet
        return SeparatorResult("none", None, f"{label}: not laid out like a separator sheet ({clues.layout}; "
                                             f"{seen}): an ordinary page")
    texts = _decode_attempts(image, clues)
    foreign = []
    for text in texts:
        try:
            return SeparatorResult("separator", decode_payload(text), f"{label}: decoded ({seen})")
        except ValueError as exc:
            if _claims_to_be_ours(text):
                return SeparatorResult("undecodable", None, f"{label}: QR code read but payload invalid ({exc})")
            foreign.append(text)
    if foreign and not clues.banners:
        return SeparatorResult("none", None, f"{label}: a QR code that is not a separator sheet ({foreign[0][:40]!r})")
    if foreign:
        return SeparatorResult("undecodable", None,
                               f"{label}: separator banner found but the QR code is not a separator payload")
    return SeparatorResult("undecodable", None, f"{label}: looks like a separator sheet ({seen}) but its QR code "
                                                "cannot be decoded")


def _describe(clues: _Clues) -> str:
    parts = []
    if clues.finders:
        parts.append(f"{len(clues.finders)} QR finder pattern(s)")
    if clues.banners:
        parts.append(f"{clues.banners} banner(s)")
    return ", ".join(parts)


def _claims_to_be_ours(text: str) -> bool:
    """A QR text that is a JSON object with our ``kind`` key: one of our sheets, even if it fails validation."""
    try:
        data = parse_json(text)
    except ValueError:
        return False
    return isinstance(data, dict) and "kind" in data


def _decode_attempts(image: Image.Image, clues: _Clues) -> list[str]:
    """Decode QR codes from the page, trying cheap views first: the region around the finder patterns in grey, then
    binarised, half size, and the whole page; returns the distinct texts read (empty if none)."""
    grey = np.asarray(_grey(image))
    views: list[tuple[np.ndarray, bool]] = []  # (region, try it at full size too)
    if len(clues.finders) >= 2:
        xs = [f[0] for f in clues.finders]
        ys = [f[1] for f in clues.finders]
        side = max(f[2] for f in clues.finders)
        margin = side * 2.5 + 0.5 * max(max(xs) - min(xs), max(ys) - min(ys))
        s = clues.scale
        x0, x1 = int(max(0, (min(xs) - margin) / s)), int(min(grey.shape[1], (max(xs) + margin) / s))
        y0, y1 = int(max(0, (min(ys) - margin) / s)), int(min(grey.shape[0], (max(ys) + margin) / s))
        views.append((np.ascontiguousarray(grey[y0:y1, x0:x1]), True))
    views.append((grey, not views))  # the whole page: only at half size when the code's region was tried already
    found: list[str] = []
    detectors = (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco())
    for view, full in views:
        for variant in _variants(view, full):
            for detector in detectors:
                try:
                    text, points, _ = detector.detectAndDecode(variant)
                except cv2.error:
                    continue
                if text:
                    if text not in found:
                        found.append(text)
                    return found
    return found


def _variants(view: np.ndarray, full: bool = True):
    """The views of a region a decoder gets, in order: as scanned, binarised, half size (modules of big scans)."""
    if full:
        yield view
    _, binary = cv2.threshold(view, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    if full:
        yield binary
    if min(view.shape) > 400:
        yield cv2.resize(binary, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)

