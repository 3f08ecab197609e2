"""What a disclosure copy is made from: a published volume, read back — each numbered page's characters with their
boxes (its text layer, in pixels of its scanned image), the scanned image itself, and what its 备考表 says of who
made the volume."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pymupdf

from pipeline.assembly import LayerPage, numbered_pages
from pipeline.disclosure import Glyph, PageText
from pipeline.errors import VolumeError


@dataclass(frozen=True)
class SourcePage:
    """A numbered page of a published volume: its place in the PDF, its text in image pixels, its image's size."""

    volume: int
    number: int
    pdf_index: int
    text: PageText
    width: int
    height: int
    dpi: float


def _image_size(pdf: pikepdf.Pdf, pdf_index: int, label: str) -> tuple[int, int]:
    images = list(pdf.pages[pdf_index].get_images(recursive=False).values())
    if len(images) != 1:
        raise VolumeError(f"{label}: expected one scanned image on the page, found {len(images)}")
    return int(images[0].Width), int(images[0].Height)


def _page_text(layer: LayerPage, volume: int, width: int, height: int) -> PageText:
    sx, sy = width / layer.width, height / layer.height
    glyphs = tuple(Glyph(c.text, c.x0 * sx, c.y0 * sy, c.x1 * sx, c.y1 * sy, k)
                   for k, line in enumerate(layer.lines) for c in line)
    return PageText(volume, layer.number, glyphs, width, height)


def source_pages(path: Path, volume: int) -> Iterator[SourcePage]:
    """Every numbered page of a published volume with its text in pixels of its scanned image."""
    with pikepdf.open(path) as pdf:
        for layer in numbered_pages(path):
            label = f"volume {volume} page {layer.number}"
            width, height = _image_size(pdf, layer.pdf_index, label)
            yield SourcePage(volume, layer.number, layer.pdf_index, _page_text(layer, volume, width, height),
                             width, height, width * 72.0 / layer.width)


_PREPARED = re.compile(r"立卷人[：:]\s*(\S*?)\s*检查人[：:]\s*(\S*?)\s*立卷时间")


def record_people(path: Path) -> tuple[str, str]:
    """(立卷人, 检查人) as the volume's 备考表 prints them ('' where it leaves the blank)."""
    try:
        with pymupdf.open(path) as doc:
            for index in range(doc.page_count - 1, -1, -1):
                text = doc[index].get_text()
                m = _PREPARED.search(text.replace("\n", " "))
                if m:
                    return tuple(v.strip("　") for v in m.groups())  # type: ignore[return-value]
    except (RuntimeError, ValueError) as exc:
        raise VolumeError(f"{path}: cannot read its 备考表: {exc}") from exc
    return "", ""
