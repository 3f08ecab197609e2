"""Reading the text layer back: a published volume's numbered pages with every OCR character and its box.

The reader sees only what ``_textlayer.py`` wrote — spans in its glyphless font — so the stamped page number, the
cover, the 卷内目录 and the 备考表 (visible text in other fonts) are left out. A page is known by the number stamped
on it, which is its page label (``_render._labels``: numbered pages are labelled ``1``, ``2``, … in each volume).

Boxes are in PDF points with the origin at the page's top-left corner (PyMuPDF's convention), in the page's
unrotated frame; ``LayerPage.width``/``height`` give the page's size, so a box divided by them is the share of the
page image it covers at any resolution.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymupdf

from pipeline.assembly._textlayer import FONT_NAME
from pipeline.errors import VolumeError


@dataclass(frozen=True)
class LayerChar:
    """One character of the text layer and its box (points, top-left origin)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class LayerPage:
    """One numbered page of a volume as its text layer reads: lines of characters in reading order."""

    pdf_index: int  # 0-based page of the PDF
    number: int  # the page number stamped on it
    width: float  # points
    height: float
    lines: tuple[tuple[LayerChar, ...], ...]

    @property
    def text(self) -> str:
        """The page's text, its lines joined by newlines."""
        return "\n".join("".join(c.text for c in line) for line in self.lines)


def _layer_lines(page: pymupdf.Page) -> tuple[tuple[LayerChar, ...], ...]:
    raw = page.get_text("rawdict", flags=pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP)
    lines = []
    for block in raw["blocks"]:
        for line in block.get("lines", ()):
            chars = tuple(LayerChar(c["c"], *c["bbox"]) for span in line["spans"] if span["font"] == FONT_NAME
                          for c in span["chars"])
            if chars:
                lines.append(chars)
    return tuple(lines)


def read_layer_page(doc: pymupdf.Document, pdf_index: int) -> LayerPage:
    """The text layer of one page of an open volume (its number: the page label, 0 when it has none)."""
    page = doc[pdf_index]
    label = page.get_label()
    rect = page.rect
    return LayerPage(pdf_index, int(label) if label.isdigit() else 0, rect.width, rect.height, _layer_lines(page))


def numbered_pages(path: Path) -> Iterator[LayerPage]:
    """Every numbered page of a volume PDF, in order, with its text layer (cover, 卷内目录 and 备考表 are skipped)."""
    try:
        doc = pymupdf.open(path)
    except (RuntimeError, ValueError) as exc:
        raise VolumeError(f"{path}: cannot open the volume to read its text layer: {exc}") from exc
    with doc:
        for index in range(doc.page_count):
            label = doc[index].get_label()
            if label.isdigit():
                yield read_layer_page(doc, index)


def page_image(path: Path, number: int, dpi: float = 110.0) -> bytes:
    """A numbered page of a volume rendered as PNG (the page as printed: the scan and its stamped number; the text
    layer is invisible). VolumeError when the volume has no page of that number."""
    try:
        doc = pymupdf.open(path)
    except (RuntimeError, ValueError) as exc:
        raise VolumeError(f"{path}: cannot open the volume to render page {number}: {exc}") from exc
    with doc:
        found = doc.get_page_numbers(str(number))
        if not found:
            raise VolumeError(f"{path}: the volume has no page numbered {number}")
        return doc[found[0]].get_pixmap(dpi=int(dpi)).tobytes("png")
