"""The one CJK font of generated pages (WenQuanYi Zen Hei, TrueType) and fitting text into widths with it.

Used by the separator sheets and the volume pages, so that a PDF sheet, its raster twin and the volume's cover all
measure text the same way.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pymupdf

from pipeline.common import CJK_FONT_FILE, cjk_font_file

FONT_PATH = CJK_FONT_FILE
"""The only font allowed in output PDFs (TrueType CJK, embeddable in PDF/A-1b)."""

MM = 72.0 / 25.4
"""PDF points per millimetre."""

# Characters that must not begin a line (closing punctuation) or end one (opening brackets): 避头尾.
NO_LINE_START = set("，。、；：？！）〕》」』】〉”’%…—·,.;:?!)]}")
NO_LINE_END = set("（〔《「『【〈“‘([{")
_TOKEN = re.compile(r"[A-Za-z0-9_./\-]+[号年月日页件卷]?|\s+|.", re.S)  # 172号 stays together


@lru_cache(maxsize=1)
def cjk_font() -> pymupdf.Font:
    """The CJK font as a PyMuPDF font object (loaded once per process)."""
    return pymupdf.Font(fontfile=str(cjk_font_file()))


@lru_cache(maxsize=1)
def numeral_font() -> pymupdf.Font:
    """The CJK font cut down to the ten digits (~3 KB), for the page-number stamp on every scanned page.

    A volume's pages each name the font of their number; PDFBox Preflight parses that font program again for every
    page, so the whole cover-and-TOC subset (~270 KB) cost it ~11 ms a page against ~0 for this one (measured).
    """
    import io
    import logging

    from fontTools import subset
    from fontTools.ttLib import TTFont

    cjk_font()  # the same checks and error as the full font
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # it notes each table it drops
    options = subset.Options()
    options.layout_features, options.name_IDs, options.hinting, options.notdef_outline = [], ["*"], False, True
    with TTFont(str(FONT_PATH), fontNumber=0, lazy=True) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text="0123456789")
        subsetter.subset(font)
        buf = io.BytesIO()
        font.save(buf)
    return pymupdf.Font(fontbuffer=buf.getvalue())


def text_width(text: str, size: float) -> float:
    """Width in points of a text at a font size."""
    return cjk_font().text_length(text, fontsize=size)


def wrap_text(text: str, size: float, width: float) -> list[str]:
    """Break a text into lines no wider than ``width`` points: between any two CJK characters, Latin/digit runs kept
    whole when they fit, closing punctuation never at a line start; an empty text gives no lines."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(paragraph, size, width))
    return lines


def _wrap_paragraph(text: str, size: float, width: float) -> list[str]:
    tokens: list[str] = []
    for tok in _TOKEN.findall(text):
        if tok.strip() and len(tok) > 1 and text_width(tok, size) > width:
            tokens.extend(tok)  # a run longer than the line: break it anywhere
        else:
            tokens.append(tok)
    lines: list[list[str]] = [[]]
    for tok in tokens:
        line = lines[-1]
        if not line and tok.isspace():
            continue
        if not line or text_width("".join(line) + tok, size) <= width:
            line.append(tok)
            continue
        carry: list[str] = []
        # keep closing punctuation with the character before it, and opening brackets with the one after them
        if tok[0] in NO_LINE_START and len(line) > 1:
            carry.append(line.pop())
        while len(line) > 1 and line[-1] and line[-1][-1] in NO_LINE_END:
            carry.insert(0, line.pop())
        while line and line[-1].isspace():
            line.pop()
        lines.append(carry + ([] if tok.isspace() else [tok]))
    return ["".join(line).rstrip() for line in lines if "".join(line).strip()]
