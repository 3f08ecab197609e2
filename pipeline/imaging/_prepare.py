"""One raw page in, an upright, straight, classified page out: the archive image and a cleaner copy for OCR."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from pipeline.errors import PageError
from pipeline.imaging._content import colour_decision, is_blank
from pipeline.imaging._geometry import mapped_boxes, output_geometry, turn_matrix, warp_onto_white
from pipeline.imaging._orientation import (
    MIN_LINES,
    Orientation,
    TextReader,
    line_bands,
    line_direction,
    page_orientation,
)
from pipeline.imaging._paper import infer_dpi, inner_paper, paper_region, paper_size_px, snap_dpi
from pipeline.imaging._raster import (
    hole_mask,
    ink_grey,
    ink_mask,
    luminance,
    paper_tone,
    picture_regions,
    reduce,
    to_array,
    work_factor,
)
from pipeline.imaging._red import darkest_ink, seal_rings, without_red, without_seal_shapes
from pipeline.imaging._skew import estimate_skew, rotate_expand
from pipeline.models import StandardProfile

MIN_SKEW = 0.03
"""Corrections smaller than this (degrees) are not worth resampling the image for."""

EDGE_MM = 2.0
"""Content analysis ignores this much of the paper along its edges (edge shadow, torn edges)."""


@dataclass(frozen=True)
class PreparedPage:
    """A page ready for OCR and archiving, with what was done to it and what was found on it."""

    archive: Image.Image  # upright, deskewed, borders removed; mode "1" (bitonal), "L" (grey) or "RGB" (colour)
    ocr: Image.Image | None  # what the OCR engine reads, same geometry as archive ("L"): a cleaned grey copy (for a
    # bitonal page the grey its bits were cut from); None if blank
    dpi: float  # resolution of `archive` (and `ocr`)
    dpi_inferred: bool
    rotation: int  # degrees clockwise applied to make the page upright: 0/90/180/270
    skew: float  # degrees counter-clockwise applied to straighten it, after the rotation
    blank: bool
    colour: str  # "bitonal" | "grey" | "colour"
    colour_reason: str
    seal: bool
    flags: tuple[str, ...]  # e.g. "skew-unknown", "orientation-unsure", "dpi-inferred", "dpi-below-ocr-minimum"
    bits: np.ndarray | None = None  # a bitonal page's pixels as 0/255 uint8, what `archive` is made of
    # (numpy reads a Pillow image only through a copy: ~16 ms for an A4 page)


SEAL_NOT_IN_COLOUR = "seal-not-in-colour"
"""The flag of a page whose round seal was scanned without colour (found by its ring): rescan it in colour."""


def _check_resolution(dpi: float, profile: StandardProfile, label: str, flags: list[str]) -> None:
    """Refuse or flag a page by its resolution, as the profile says."""
    res = profile.resolution
    if dpi < res.min_dpi:
        if res.below_min == "refuse":
            raise PageError(f"{label}: {dpi:.0f} dpi is below the minimum of {res.min_dpi} dpi", page=label)
        flags.append("dpi-below-minimum")
    if dpi < res.ocr_min_dpi:
        flags.append("dpi-below-ocr-minimum")
    if dpi > res.max_dpi:
        flags.append("dpi-above-maximum")


def _ocr_grey(pixels: np.ndarray, seals, rings, matrix: np.ndarray, scale: float) -> np.ndarray:
    """Grey copy of a page for OCR, the seals' ink taken out where the print they cover is read: on a colour page
    luma (red titles stay dark) but the seal's red removed in its boxes (:func:`without_red`); on a page without
    colour, only the darkest ink kept inside the seal rings found (:func:`darkest_ink`), and what is the seal's by
    its shape, its ring and star, taken out (:func:`without_seal_shapes`: a bitonal scan leaves nothing else to go
    by). A copy: the archived pixels are never changed."""
    if pixels.ndim == 3:
        grey = luminance(pixels)
        for rows, cols in mapped_boxes(seals, matrix, scale, grey.shape):
            grey[rows, cols] = without_red(pixels[rows, cols])
        return grey
    if not rings:
        return pixels
    grey = pixels.copy()
    for rows, cols in mapped_boxes(rings, matrix, scale, grey.shape):
        grey[rows, cols] = without_seal_shapes(darkest_ink(grey[rows, cols]))
    return grey


def _infer_resolution(arr: np.ndarray, profile: StandardProfile) -> float:
    """Resolution of a scan that does not say: from the size of its sheet (bed and skew taken off) on a quick pass."""
    height, width = arr.shape[:2]
    k = max(1, max(height, width) // 1200)
    small = reduce(arr, k)
    rough_dpi = infer_dpi(width, height).dpi / k
    grey = luminance(small)
    paper = paper_region(grey, rough_dpi) if profile.imaging.remove_borders else np.ones(grey.shape, dtype=bool)
    bordered = not bool(paper.all())
    skew = None
    if not bordered:
        text_grey = ink_grey(small)
        skew = estimate_skew(ink_mask(text_grey, paper_tone(text_grey)), profile.imaging.max_skew, rough_dpi).angle
    size = paper_size_px(paper, skew, bordered)
    return infer_dpi(size[0] * k, size[1] * k).dpi


@dataclass
class _Analysis:
    """What the reduced working copy of a page shows: where the paper and the ink are, and how they lie."""

    factor: int  # working copy = archive source reduced by this
    small: np.ndarray
    work_dpi: float
    grey: np.ndarray
    paper: np.ndarray  # True on paper (not scanner bed)
    bordered: bool
    tone: float
    text_grey: np.ndarray
    text: np.ndarray  # ink of text lines, pictures and punch holes left out
    pictures: np.ndarray
    frames: np.ndarray
    blank: bool
    rings: tuple[tuple[int, int, int, int], ...] = ()  # boxes of round seals found by their ring (no colour to go by)


def prepare_page(image: Image.Image, dpi: float | None, profile: StandardProfile, label: str,
                 use_ocr: bool = True, reader: TextReader | None = None) -> PreparedPage:
    """Make a raw scan upright, straight and clean, decide its archive mode; label names it in errors.

    ``reader`` (the OCR engine's ``read_glyphs``) settles the orientation of pages the cheap
    detectors are unsure of; without it, or with ``use_ocr=False``, such pages are flagged.
    """
    policy = profile.imaging
    flags: list[str] = []
    try:
        arr = to_array(image)
    except (OSError, ValueError) as exc:
        raise PageError(f"{label}: cannot decode the image ({exc})", page=label) from exc
    if arr.size == 0 or min(arr.shape[:2]) < 16:
        raise PageError(f"{label}: image of {image.size} is too small to be a page", page=label)
    dpi_value, inferred = _resolution(arr, dpi, profile, label, flags)
    src, out_dpi = _archive_source(arr, dpi_value, policy.archive_max_dpi)
    a = _analyse(src, out_dpi, profile)
    if a.blank and src is not arr and _inked_as_scanned(arr, profile):
        a.blank = False  # the marks were lost when the scan was brought down to its declared resolution
        flags.append(f"not-blank: marks at the scanned size ({arr.shape[1]}x{arr.shape[0]} pixels) vanish at "
                     f"{dpi_value:g} dpi brought down to {out_dpi:g}")
    skew, rotation = 0.0, 0
    if (policy.deskew or policy.orientation) and not a.blank:
        skew, rotation = _straighten(a, profile, reader if use_ocr else None, label, flags)
    mode, reason, seal, seal_boxes = _colour(a, src, arr.ndim, image.mode, profile)
    if a.rings and policy.keep_colour_for_seals:
        # DA/T 31-2017 keeps seals in colour; without it the seal's ink is the print's and the print under it is lost
        flags.append(f"{SEAL_NOT_IN_COLOUR}: {'黑白扫描' if image.mode == '1' else '灰度扫描'}")
    archive_arr, full, to_src = _archive_pixels(src, a, rotation, skew, mode)
    archive, ocr, bits = _archive_and_ocr_images(archive_arr, a, mode, seal_boxes, full, to_src, out_dpi)
    return PreparedPage(
        archive=archive, ocr=ocr, dpi=out_dpi, dpi_inferred=inferred, rotation=rotation, skew=round(skew, 3),
        blank=bool(a.blank), colour=mode, colour_reason=reason, seal=bool(seal), flags=tuple(flags), bits=bits,
    )


def _resolution(arr: np.ndarray, dpi: float | None, profile: StandardProfile, label: str,
                flags: list[str]) -> tuple[float, bool]:
    """The scan's resolution (snapped to a standard one, or inferred from its paper size) and whether inferred.

    A declared resolution above the profile's ``max_dpi`` (a TIFF tag of 65,535 dpi), or one that is not a positive
    number, is taken as absent: believed, it would shrink a full page to a few pixels."""
    if dpi is not None and not (math.isfinite(dpi) and 0 < dpi <= profile.resolution.max_dpi):
        flags.append(f"dpi-declared-ignored: {dpi:,.0f} dpi is not a scan resolution (the profile allows up to "
                     f"{profile.resolution.max_dpi})")
        dpi = None
    if dpi is not None:
        dpi = snap_dpi(float(dpi))
        _check_resolution(dpi, profile, label, flags)
    inferred = not dpi
    if inferred:
        dpi = _infer_resolution(arr, profile)
        flags.append("dpi-inferred")
        _check_resolution(dpi, profile, label, flags)
    return float(dpi), inferred


def _archive_source(arr: np.ndarray, dpi: float, max_dpi: float) -> tuple[np.ndarray, float]:
    """What the archive is made from: the scan brought down to ``max_dpi`` if it is finer, and its resolution."""
    if dpi <= max_dpi:
        return arr, dpi
    height, width = arr.shape[:2]
    scale = max_dpi / dpi
    src = cv2.resize(arr, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    return src, float(max_dpi)


def _inked_as_scanned(arr: np.ndarray, profile: StandardProfile) -> bool:
    """Whether the scan as it came, before any reduction, holds a real mark, judged at the resolution its pixel size
    implies for a usual sheet: a page is never called blank that had ink at its scanned size."""
    return not _analyse(arr, infer_dpi(arr.shape[1], arr.shape[0]).dpi, profile).blank


def _analyse(src: np.ndarray, out_dpi: float, profile: StandardProfile) -> _Analysis:
    """Paper, ink, pictures and blankness, found on a reduced copy."""
    policy = profile.imaging
    factor = work_factor(out_dpi)
    small = reduce(src, factor)
    work_dpi = out_dpi / factor
    grey = luminance(small)
    paper = paper_region(grey, work_dpi) if policy.remove_borders else np.ones(grey.shape, dtype=bool)
    bordered = not bool(paper.all())
    inner = inner_paper(paper, work_dpi, EDGE_MM)
    tone = paper_tone(grey, paper)
    marks = ink_mask(grey, tone, inner)
    text_grey = ink_grey(small)
    text = ink_mask(text_grey, paper_tone(text_grey, paper), inner)
    pictures, frames = picture_regions(ink_mask(grey, tone, inner, depth=25.0), work_dpi)
    text &= ~pictures & ~hole_mask(text, work_dpi)
    blank = policy.blank_detection and is_blank(marks, work_dpi)
    rings: tuple[tuple[int, int, int, int], ...] = ()
    if src.ndim == 2 and not blank:
        # a seal scanned without colour is ink like print: its disc is left out of the lines that tell the skew
        # and the way up (on a sparse last page it outweighs the signature block)
        for cx, cy, r in seal_rings(text, work_dpi):
            r += 1.5 * work_dpi / 25.4  # the ring's own width
            box = (max(0, round(cx - r)), max(0, round(cy - r)), round(2 * r) + 1, round(2 * r) + 1)
            rows, cols = slice(box[1], box[1] + box[3]), slice(box[0], box[0] + box[2])
            disc = np.zeros(text[rows, cols].shape, np.uint8)
            cv2.circle(disc, (round(cx) - box[0], round(cy) - box[1]), round(r), 1, -1)
            text[rows, cols] &= ~disc.astype(bool) | (darkest_ink(text_grey[rows, cols]) < 255)
            rings += (box,)
    return _Analysis(factor, small, work_dpi, grey, paper, bordered, tone, text_grey, text, pictures, frames, blank,
                     rings)


def _straightened_text(a: _Analysis, max_skew: float):
    """The skew estimate and the text mask turned straight, or None when the page's lines do not tell its angle."""
    est = estimate_skew(a.text, max_skew, a.work_dpi)
    if est.angle is None and a.frames.any():
        # no lines of text: a photograph's frame still says how the sheet lies
        est = estimate_skew(a.text | a.frames, max_skew, a.work_dpi)
    if est.angle is None:
        return est, None
    straight = rotate_expand(a.text.astype(np.uint8), est.angle, fill=0, interpolation=cv2.INTER_NEAREST) > 0
    if a.pictures.any():
        # photographs are rectangles: once straight, clear their whole frame of any stray edge pixels
        pics = rotate_expand(a.pictures.astype(np.uint8), est.angle, fill=0, interpolation=cv2.INTER_NEAREST)
        _, _, stats, _ = cv2.connectedComponentsWithStats(pics)
        for x, y, w, h, _a in stats[1:]:
            straight[y : y + h, x : x + w] = False
    vertical, _ = line_direction(straight, est.row_gaps, est.col_gaps)
    lines = len(line_bands(np.rot90(straight, -1) if vertical else straight, a.work_dpi))
    if lines < 2 and not a.frames.any():
        # one line (a signature, a page number) does not tell the sheet's angle well enough
        return est, None
    return est, straight


def _straighten(a: _Analysis, profile: StandardProfile, reader: TextReader | None, label: str,
                flags: list[str]) -> tuple[float, int]:
    """(skew to correct in degrees, rotation clockwise to make the page upright), flagging what stays unsure."""
    policy = profile.imaging
    est, straight = _straightened_text(a, policy.max_skew)
    if straight is None:
        flags.append("skew-unknown")
        if policy.orientation:
            flags.append("orientation-unsure")  # no lines, so no way up to read: left as it lies
        return 0.0, 0
    assert est.angle is not None
    skew = est.angle if policy.deskew and abs(est.angle) >= MIN_SKEW else 0.0
    if not policy.orientation:
        return skew, 0
    angle = est.angle

    def straight_grey() -> np.ndarray:
        """The page's grey, straightened like `straight` (made only if the OCR engine is asked)."""
        return rotate_expand(a.text_grey, angle, fill=255)

    found: Orientation = page_orientation(straight, est.row_gaps, est.col_gaps,
                                          straight_grey if reader is not None else None, a.work_dpi, reader, label)
    if found.sure:
        return skew, found.rotation
    flags.append("orientation-unsure")
    # a page with real lines of text takes the best guess; a sparse page is left as it lies
    return skew, found.rotation if found.lines >= MIN_LINES else 0


def _colour(a: _Analysis, src: np.ndarray, scan_ndim: int, scan_mode: str, profile: StandardProfile):
    """(archive mode, reason, seal found, seal boxes): bitonal, grey or colour."""
    if a.blank:
        return "bitonal", "blank page", False, ()
    # colours are judged on a plain subsample, not the area-averaged copy: averaging thin blue strokes with
    # the paper around them washes their colour out (measured: chroma 90 down to under 35 after JPEG)
    small, factor = a.small, a.factor
    view = small if factor == 1 else cv2.resize(src[: small.shape[0] * factor, : small.shape[1] * factor],
                                                (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    d = colour_decision(view, a.paper, a.work_dpi, a.tone, profile.imaging.keep_colour_for_seals, a.pictures)
    mode, reason, seal, seal_boxes = d.mode, d.reason, d.seal, d.seal_boxes
    if scan_ndim == 2 and mode == "colour":
        mode = "grey"
    if scan_mode == "1":
        mode, reason = "bitonal", "bitonal scan"
    return mode, reason, seal, seal_boxes


def _archive_pixels(src: np.ndarray, a: _Analysis, rotation: int, skew: float,
                    mode: str) -> tuple[np.ndarray, np.ndarray, float]:
    """The page turned, straightened and cropped to its paper: (pixels, the affine map from src, src/working scale)."""
    sh, sw = src.shape[:2]
    to_src = float(a.factor)
    tm, tw, th = turn_matrix(sw, sh, rotation)
    paper_turned = None
    if a.bordered:
        paper_turned = np.rot90(a.paper, -(rotation // 90)) if rotation else a.paper
    m, ow, oh = output_geometry(tw, th, skew, paper_turned, to_src)
    full = np.vstack([m, [0, 0, 1]]) @ np.vstack([tm, [0, 0, 1]])
    full = full[:2]
    if mode == "colour" and src.ndim == 3:
        archive_arr = warp_onto_white(src, full, (ow, oh))
    else:
        archive_arr = warp_onto_white(luminance(src), full, (ow, oh))
    if a.bordered:
        # whiten what is still bed inside the frame (corners of a sheet that was not quite square, torn edges)
        small_m = np.vstack([np.array([[1 / to_src, 0, 0], [0, 1 / to_src, 0]]), [0, 0, 1]])
        bed_small = cv2.warpAffine((~a.paper).astype(np.uint8), (small_m @ np.vstack([full, [0, 0, 1]]) @
                                   np.linalg.inv(small_m))[:2], (math.ceil(ow / to_src), math.ceil(oh / to_src)),
                                   flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=1)
        if bed_small.any():
            bed = cv2.resize(bed_small * 255, (ow, oh), interpolation=cv2.INTER_NEAREST)
            white = (255, 255, 255, 0) if archive_arr.ndim == 3 else 255
            archive_arr = cv2.add(archive_arr, white, mask=bed, dst=archive_arr)
    return archive_arr, full, to_src


def _archive_and_ocr_images(archive_arr: np.ndarray, a: _Analysis, mode: str, seal_boxes, full: np.ndarray,
                            to_src: float, out_dpi: float) -> tuple[Image.Image, Image.Image | None, np.ndarray | None]:
    """(archive image in its mode, the grey image OCR reads or None when blank, a bitonal page's 0/255 pixels)."""
    bits = None
    ocr_arr = _ocr_grey(archive_arr, seal_boxes, a.rings, full, to_src)
    if archive_arr.ndim == 3:
        archive = Image.fromarray(archive_arr, "RGB")
    else:
        if mode == "bitonal":
            # a global cut well below the paper tone: faint strokes stay, bleed-through and paper tint go
            _, bits = cv2.threshold(archive_arr, int(0.72 * a.tone), 255, cv2.THRESH_BINARY)
            archive = Image.fromarray(bits, "L").convert("1", dither=Image.Dither.NONE)
        else:
            archive = Image.fromarray(archive_arr, "L")
    # a bitonal page's OCR copy is the grey its bits were cut from: PP-OCR reads it with half the errors of the bits
    # (CER 1.67 % vs 3.26 % on 24 pages; smoothing the bits did not help, 3.29-3.38 %). Tesseract, which read the
    # bits better than the grey (CER 10.7 % vs 12.3 %), is handed the G4 archive file itself by the page stage
    ocr = None if a.blank else Image.fromarray(ocr_arr, "L")
    for im in (archive, ocr):
        if im is not None:
            im.info["dpi"] = (out_dpi, out_dpi)
    return archive, ocr, bits
