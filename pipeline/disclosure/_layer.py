"""The text of a rebuilt page: the page's characters with every burnt-out one left out and every replaced one
(a given name's 某) written as its replacement, in the recogniser's shape (lines of words of characters) so that the
assembly's text-layer writer draws it exactly as it draws an original page's."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.disclosure._detect import Finding
from pipeline.disclosure._text import Glyph, PageText
from pipeline.ocr import OcrChar, OcrLine, OcrResult, OcrWord


def cell_map(findings: Sequence[Finding]) -> dict[int, str]:
    """What each found character becomes: '' removed, else its replacement (a removal wins over a replacement)."""
    cells: dict[int, str] = {}
    for f in findings:
        for g, cell in zip(f.glyphs, f.cells):
            cells[g] = "" if cell == "" or cells.get(g) == "" else cell
    return cells


def _word(chars: list[tuple[Glyph, str]]) -> OcrWord:
    ocr_chars = tuple(OcrChar(text, round(g.x0), round(g.x1), 100.0) for g, text in chars)
    glyphs = [g for g, _ in chars]
    return OcrWord("".join(t for _, t in chars), round(glyphs[0].x0), round(min(g.y0 for g in glyphs)),
                   round(glyphs[-1].x1), round(max(g.y1 for g in glyphs)), 100.0, ocr_chars)


def redacted_result(page: PageText, findings: Sequence[Finding], width: int, height: int, dpi: float) -> OcrResult:
    """The page's text as an OCR result, without what the findings remove (see the module docstring)."""
    cells = cell_map(findings)
    lines: dict[int, list[list[tuple[Glyph, str]]]] = {}
    for i, g in enumerate(page.glyphs):
        words = lines.setdefault(g.line, [[]])
        text = cells.get(i, g.text)
        if not text or text.isspace():  # a removed character or a space ends the word
            if words[-1]:
                words.append([])
            continue
        words[-1].append((g, text))  # 某2 shares its character's cell
    out = []
    for _, words in sorted(lines.items()):
        kept = [_word(w) for w in words if w]
        if kept:
            out.append(OcrLine(tuple(kept), min(w.x0 for w in kept), min(w.y0 for w in kept),
                               max(w.x1 for w in kept), max(w.y1 for w in kept)))
    return OcrResult(width, height, dpi, tuple(out))
