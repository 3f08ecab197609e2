"""Page imaging: make every scan upright, straight, free of scanner-bed borders, and decide how to archive it.

``prepare_page`` is what the flow calls; the detectors are public so they can be tested and benchmarked alone.
"""

import cv2

from pipeline.imaging._content import ColourDecision, colour_decision, is_blank
from pipeline.imaging._g4 import g4_available, g4_tiff
from pipeline.imaging._marks import has_grey_marks
from pipeline.imaging._orientation import (
    Orientation,
    TextReader,
    line_bands,
    line_direction,
    ocr_up_or_down,
    page_orientation,
    stroke_score,
)
from pipeline.imaging._paper import DpiGuess, infer_dpi, inner_paper, paper_region, paper_size_px, snap_dpi
from pipeline.imaging._prepare import SEAL_NOT_IN_COLOUR, PreparedPage, prepare_page
from pipeline.imaging._raster import (
    hole_mask,
    ink_grey,
    ink_mask,
    luminance,
    paper_tone,
    picture_mask,
    picture_regions,
    reduce,
    to_array,
    work_factor,
)
from pipeline.imaging._red import METHODS as RED_METHODS
from pipeline.imaging._red import without_red
from pipeline.imaging._skew import SkewEstimate, deskew_angle, estimate_skew, rotate_expand, turn
from pipeline.imaging._thumbnails import Thumb, contact_sheet, thumbnail_of, thumbnail_path, write_contact_sheet


def one_thread_per_page() -> None:
    """Keep OpenCV's work on a page in the calling thread: pages are already processed one per core, and OpenCV's own
    thread pool only double-books the cores (imaging measured 0.282 CPU-s a page with it, 0.248 without)."""
    cv2.setNumThreads(1)


__all__ = [
    "Thumb", "contact_sheet", "g4_available", "g4_tiff", "thumbnail_of", "thumbnail_path", "write_contact_sheet",
    "ColourDecision", "DpiGuess", "Orientation", "TextReader", "PreparedPage", "SkewEstimate",
    "colour_decision", "deskew_angle", "estimate_skew", "has_grey_marks", "hole_mask", "infer_dpi", "ink_grey",
    "ink_mask", "inner_paper", "is_blank", "line_bands", "line_direction", "luminance", "ocr_up_or_down",
    "one_thread_per_page", "page_orientation", "paper_region", "paper_size_px", "paper_tone", "picture_mask",
    "picture_regions", "prepare_page", "reduce", "rotate_expand", "snap_dpi", "stroke_score", "to_array", "turn",
    "work_factor", "RED_METHODS", "SEAL_NOT_IN_COLOUR", "without_red",
]
