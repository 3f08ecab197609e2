"""Pages of text for the disclosure tests: characters on a grid, one line per string."""

from __future__ import annotations

from pipeline.disclosure import Glyph, PageText

PITCH = 50  # pixels a Han character takes; digits and Latin take half
LINE = 80


def page(*lines: str, volume: int = 1, number: int = 1) -> PageText:
    """A page whose lines hold the given texts, each character in a cell of the grid (half cells for ASCII)."""
    glyphs = []
    for k, text in enumerate(lines):
        x = 100.0
        for ch in text:
            width = PITCH / 2 if ch.isascii() else PITCH
            glyphs.append(Glyph(ch, x, 100 + k * LINE, x + width, 100 + k * LINE + 48, k))
            x += width
    return PageText(volume, number, tuple(glyphs), 2480, 3508)


def text_of(page_text: PageText, glyphs) -> str:
    """The characters at the given glyph indices."""
    return "".join(page_text.glyphs[g].text for g in glyphs)


def boxes(*rows: tuple[tuple[float, str], ...], volume: int = 1, number: int = 1) -> PageText:
    """A page read as PP-OCR reads a table: each row's cells ``(x, text)`` separate boxes (lines) on one row."""
    glyphs, k = [], 0
    for r, cells in enumerate(rows):
        for x, text in cells:
            for ch in text:
                width = PITCH / 2 if ch.isascii() else PITCH
                glyphs.append(Glyph(ch, x, 100 + r * LINE, x + width, 100 + r * LINE + 48, k))
                x += width
            k += 1
    return PageText(volume, number, tuple(glyphs), 2480, 3508)
