"""The CJK fonts of generated pages and fitting text into widths with them.

Text is drawn in WenQuanYi Zen Hei (TrueType); a character it lacks (𠮷 of CJK Extension B, common in names) in
Hanazono Mincho A or B, also TrueType. Left to itself, PyMuPDF draws such a character in a built-in OpenType font,
which PDF/A-1b forbids: the volume failed its PDF/A check and a legitimate case was quarantined. Characters that draw
nothing (bidirectional and other format marks in a 备注) are left out of what is drawn, and one no font has is printed
as 〓, the printer's sign for a missing character. Used by the separator sheets and the volume pages, so that a PDF
sheet and the volume's cover measure text the same way.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pymupdf

from pipeline.common import CJK_FONT_FILE, cjk_extension_font_files, cjk_font_file, invisible

FONT_PATH = CJK_FONT_FILE
"""The only font allowed in output PDFs (TrueType CJK, embeddable in PDF/A-1b)."""

MM = 72.0 / 25.4
"""PDF points per millimetre."""

MISSING = "〓"
"""GETA MARK: printed for a character no embedded font has."""

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


@lru_cache(maxsize=1)
def _extension_coverage() -> tuple[tuple[pymupdf.Font, str], ...]:
    """The extension fonts (to ask which characters they have) and their files, in the order they are tried."""
    return tuple((pymupdf.Font(fontfile=str(path)), str(path)) for path in cjk_extension_font_files())


@lru_cache(maxsize=512)
def _extension_font(ch: str) -> pymupdf.Font | None:
    """A font of the one character ``ch``, cut from the first extension font that has it (~0.5 CPU-s, once per
    character and process), or None when none has it.

    Cut down with fontTools, not left to MuPDF: MuPDF's subsetter zeroes the advance of every glyph past the font's
    last full horizontal metric (𠮷 is glyph 38,060 of HanaMin A, which has 37,208), and Preflight refuses the width
    (3.1.6); a font of two glyphs has none past it."""
    import io
    import logging

    from fontTools import subset
    from fontTools.ttLib import TTFont

    for font, path in _extension_coverage():
        if not font.has_glyph(ord(ch)):
            continue
        logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
        options = subset.Options()
        options.layout_features, options.name_IDs, options.hinting, options.notdef_outline = [], ["*"], False, True
        with TTFont(path, lazy=True) as full:
            subsetter = subset.Subsetter(options)
            subsetter.populate(text=ch)
            subsetter.subset(full)
            buf = io.BytesIO()
            full.save(buf)
        return pymupdf.Font(fontbuffer=buf.getvalue())
    return None


def font_runs(text: str) -> list[tuple[str, pymupdf.Font]]:
    """A text as runs of characters, each with the embedded font that draws them (WenQuanYi Zen Hei, or a one-glyph
    cut of an extension font); characters that draw nothing are left out, and one no font has becomes
    :data:`MISSING`."""
    runs: list[tuple[str, pymupdf.Font]] = []
    main = cjk_font()
    for ch in text:
        if invisible(ch):
            continue
        font = main if main.has_glyph(ord(ch)) else _extension_font(ch)
        if font is None:
            ch, font = MISSING, main
        if runs and runs[-1][1] is font:
            runs[-1] = (runs[-1][0] + ch, font)
        else:
            runs.append((ch, font))
    return runs


_WIDE_BFCHAR = re.compile(rb"(<[0-9A-Fa-f]{4}>\s*)<([0-9A-Fa-f]{5,6})>")


def fix_astral_unicode(doc: pymupdf.Document) -> None:
    """Make the text of characters beyond U+FFFF extractable: MuPDF writes their ToUnicode entries as the bare code
    point (``<0001> <20bb7>``), which readers take for U+20BB and a 7 (𠮷 copied as ₻); PDF wants UTF-16, a surrogate
    pair (``<D842DFB7>``). Call after ``subset_fonts``."""
    for xref in range(1, doc.xref_length()):
        if doc.xref_get_key(xref, "ToUnicode")[0] != "xref":
            continue
        cmap = int(doc.xref_get_key(xref, "ToUnicode")[1].split()[0])
        data = doc.xref_stream(cmap)
        fixed = _WIDE_BFCHAR.sub(lambda m: m.group(1) + b"<" + chr(int(m.group(2), 16)).encode("utf-16-be").hex()
                                 .upper().encode() + b">", data)
        if fixed != data:
            doc.update_stream(cmap, fixed)


def text_width(text: str, size: float) -> float:
    """Width in points of a text at a font size, as :func:`append_text` draws it."""
    return sum(font.text_length(run, fontsize=size) for run, font in font_runs(text))


def append_text(writer: pymupdf.TextWriter, x: float, y: float, text: str, size: float) -> None:
    """Add a text to a writer, its baseline's start at (x, y) in points, each run in the font that draws it."""
    for run, font in font_runs(text):
        writer.append((x, y), run, font=font, fontsize=size)
        x += font.text_length(run, fontsize=size)


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
