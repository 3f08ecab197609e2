"""Pages of text for the disclosure tests: characters on a grid, one line per string."""

from __future__ import annotations

from pipeline.disclosure import Glyph, PageText

PITCH = 50  # pixels a Han character takes; digits and Latin take half
LINE = 80


def _laid(text: str, x: float, row: int, line: int) -> list[Glyph]:
    """The characters of ``text`` from ``x`` on grid row ``row``, in cells of the grid, as line ``line``."""
    glyphs = []
    for ch in text:
        width = PITCH / 2 if ch.isascii() else PITCH
        glyphs.append(Glyph(ch, x, 100 + row * LINE, x + width, 100 + row * LINE + 48, line))
        x += width
    return glyphs


def page(*lines: str, volume: int = 1, number: int = 1) -> PageText:
    """A page whose lines hold the given texts, each character in a cell of the grid (half cells for ASCII)."""
    glyphs = [g for k, text in enumerate(lines) for g in _laid(text, 100.0, k, k)]
    return PageText(volume, number, tuple(glyphs), 2480, 3508)


def text_of(page_text: PageText, glyphs) -> str:
    """The characters at the given glyph indices."""
    return "".join(page_text.glyphs[g].text for g in glyphs)


def boxes(*rows: tuple[tuple[float, str], ...], volume: int = 1, number: int = 1) -> PageText:
    """A page read as PP-OCR reads a table: each row's cells ``(x, text)`` separate boxes (lines) on one row."""
    cells = [(r, x, text) for r, row in enumerate(rows) for x, text in row]
    glyphs = [g for k, (r, x, text) in enumerate(cells) for g in _laid(text, x, r, k)]
    return PageText(volume, number, tuple(glyphs), 2480, 3508)
