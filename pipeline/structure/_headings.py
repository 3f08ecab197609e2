"""The top of a page as OCR read it: type sizes, heading lines, and whether a document's title block starts there."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from pipeline.ocr import OcrLine, OcrResult
from pipeline.structure._lexicon import TitleMatch, authority_name, match_title


def line_text(line: OcrLine) -> str:
    """The text of an OCR line, words joined without spaces between CJK words."""
    out = ""
    for w in line.words:
        if out and out[-1].isascii() and out[-1].isalnum() and w.text[:1].isascii() and w.text[:1].isalnum():
            out += " "
        out += w.text
    return out


def _units(text: str) -> float:
    """Width of a text in ems: 1 for a CJK or full-width character, about half for ASCII."""
    return sum(0.55 if ch.isascii() else 1.0 for ch in text if not ch.isspace())


def type_size(line: OcrLine) -> float:
    """Type size of a line in pixels: its words' width per character, gaps between words (table cells, letter-spaced
    titles) left out. Tesseract's box heights are no guide to CJK type size."""
    units = sum(_units(w.text) for w in line.words)
    return sum(w.x1 - w.x0 for w in line.words) / units if units else 0.0


def _body_size(ocr: OcrResult) -> float | None:
    sizes = [type_size(ln) for ln in ocr.lines if ln.words and _units(line_text(ln)) >= 6]
    return statistics.median(sizes) if len(sizes) >= 3 else None


def _px_per_mm(ocr: OcrResult) -> float:
    return (ocr.dpi or 300.0) / 25.4


HEADING_MIN_MM = 6.5  # type size of a title when there is no body text to compare with (二号 22 pt = 7.8 mm)


def _is_heading(line: OcrLine, ocr: OcrResult, body: float | None, text_centre: float) -> bool:
    """Large type (1.2x the body text, or 6.5 mm when there is no body), centred, in the top third of the page."""
    if line.y0 > ocr.height / 3:
        return False
    size = type_size(line)
    large = size >= 1.2 * body if body else size >= HEADING_MIN_MM * _px_per_mm(ocr)
    cx = (line.x0 + line.x1) / 2
    centred = min(abs(cx - ocr.width / 2), abs(cx - text_centre)) <= 0.08 * ocr.width
    narrow = (line.x1 - line.x0) <= 0.75 * ocr.width
    return large and centred and narrow


def _text_centre(ocr: OcrResult) -> float:
    lines = [ln for ln in ocr.lines if ln.words]
    if not lines:
        return ocr.width / 2
    return (min(ln.x0 for ln in lines) + max(ln.x1 for ln in lines)) / 2


@dataclass(frozen=True)
class PageHeading:
    """What the top of a page says about it starting a document."""

    title: TitleMatch | None
    authority: str  # a 红头 authority line above or in the title, or ""
    title_line: int | None  # index of the title line in ``ocr.lines``


def page_heading(ocr: OcrResult) -> PageHeading:
    """Find a title (lexicon match on a heading line) and a 红头 authority on one page."""
    body = _body_size(ocr)
    centre = _text_centre(ocr)
    title: TitleMatch | None = None
    title_line = None
    authority = ""
    for i, line in enumerate(ocr.lines):
        if not line.words or not _is_heading(line, ocr, body, centre):
            continue
        text = line_text(line)
        match = match_title(text)
        if match and (title is None or match.errors < title.errors):
            title, title_line = match, i
            if match.authority and not authority:
                authority = match.authority
            continue
        name = authority_name(text)
        if name and not authority and title is None:
            authority = name
    return PageHeading(title, authority, title_line)


def has_title(ocr: OcrResult) -> bool:
    """Whether a page's OCR shows a document title in a heading line."""
    return page_heading(ocr).title is not None
