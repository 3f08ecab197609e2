"""A page's characters as the detectors read them: every character with its box on the page image, and the page's
text normalised into streams whose positions lead back to the characters.

Case files write numbers in every way a hand or a typewriter does: full-width digits (４１０７…), spaces between
groups (4107 2719 8506 0312 34), straight after Han characters (身份证号码410727…), and broken over a line end. A
stream is the page's text with full-width forms folded (NFKC), spaces inside digit runs dropped and — in the
``joined`` stream — line ends inside a run of digits (or inside Han text) closed up; each position of a stream names
the character it came from, so a match found in a stream is a set of characters, each with its box.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.ocr import OcrResult

DIGITISH = frozenset("0123456789Xx")
SPECK = ".,·':"  # what a recogniser reads a scan's speck (or a seal's point) between two digits as (、 parts a list)
GAP = 0.6  # a gap between two characters of a line wider than this many line heights reads as a space
COLUMN = 1.0  # a wider one (blank or spaces) parts two columns of a table: a number never runs across it


@dataclass(frozen=True)
class Glyph:
    """One character of a page where it was read: its box in pixels of the page image (origin top-left) and the
    line it belongs to."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    line: int


@dataclass(frozen=True)
class PageText:
    """The characters of one page in reading order, lines numbered from 0; ``page`` is the page's number in its
    volume, ``volume`` the volume's."""

    volume: int
    page: int
    glyphs: tuple[Glyph, ...]
    width: int = 0  # the page image's size in pixels, when known
    height: int = 0

    @property
    def lines(self) -> list[str]:
        """The text of each line."""
        out: dict[int, list[str]] = {}
        for g in self.glyphs:
            out.setdefault(g.line, []).append(g.text)
        return ["".join(chars) for _, chars in sorted(out.items())]

    @property
    def text(self) -> str:
        """The page's text, lines joined by newlines."""
        return "\n".join(self.lines)


def fold(ch: str) -> str:
    """A character as detectors compare it: NFKC (full-width digits and letters to ASCII), the ideographic space and
    other spaces to a plain space."""
    folded = unicodedata.normalize("NFKC", ch)
    return " " if folded.isspace() else folded


@dataclass(frozen=True)
class Stream:
    """Normalised text of a page and, for each of its characters, the glyph it came from (None: a line break)."""

    text: str
    origin: tuple[int | None, ...]

    def glyphs(self, start: int, end: int) -> tuple[int, ...]:
        """The glyph indices behind ``text[start:end]``, in order, without line breaks."""
        return tuple(i for i in self.origin[start:end] if i is not None)


def stream(page: PageText, join: str = "none") -> Stream:
    """The page's normalised text. ``join``: ``none`` keeps every line end as ``\\n``; ``digits`` closes a line end
    between two digits (a number broken over lines; a point after the first may be a speck) unless the digits
    ending the line stand in a table's cell of their own, and reads boxes side by side on one row (PP-OCR reads a
    table's cells apart) as one line; ``all`` closes every line end (a name or an address broken over lines).
    Spaces between two digits are always dropped; other spaces stay."""
    chars: list[str] = []
    origin: list[int | None] = []
    previous: Glyph | None = None
    printed: Glyph | None = None  # the last glyph of the line that is not a space
    own_cell = False  # only digits since a column gap on this line: a table's cell (a call's 时长), not running text
    for i, g in enumerate(page.glyphs):
        text = "".join(fold(c) for c in g.text)
        if previous is not None and g.line != previous.line and not (join == "digits" and _same_row(previous, g)):
            printed = None
            closes = join == "all" or (join == "digits" and _last_digit(chars) and text[:1].isdigit()
                                       and not own_cell)
            own_cell = False
            if not closes:
                chars.append("\n")
                origin.append(None)
        elif previous is not None and g.x0 - previous.x1 > GAP * max(g.y1 - g.y0, previous.y1 - previous.y0, 1.0):
            chars.append(" ")  # the text layer keeps no space for a gap (被询问人：张三　性别：男)
            origin.append(None)
        if text.strip() and printed is not None and \
                g.x0 - printed.x1 > COLUMN * max(g.y1 - g.y0, printed.y1 - printed.y0, 1.0):
            chars.append("\t")  # a table's columns (号码 | 时长): spaces between digits are dropped, this is not
            origin.append(None)
            own_cell = True
        previous = g
        printed = g if text.strip() else printed
        own_cell = own_cell and all(c in DIGITISH or c.isspace() for c in text)
        for c in text:
            chars.append(c)
            origin.append(i)
    return _drop_spaces_in_numbers(chars, origin)


def _same_row(before: Glyph, after: Glyph) -> bool:
    """Whether ``after`` stands to the right of ``before`` on the same row (their heights overlap by half)."""
    overlap = min(before.y1, after.y1) - max(before.y0, after.y0)
    return after.x0 >= before.x1 - 1 and overlap >= 0.5 * min(before.y1 - before.y0, after.y1 - after.y0)


def _last_digit(chars: Sequence[str]) -> bool:
    """Whether the text so far ends in a digit, or in a digit and a point that may be a speck (卡号6228 0892
    8905. | 8516 174: the point stays in the stream, for the detectors to judge)."""
    k = len(chars) - 1
    while k >= 0 and chars[k] == " ":
        k -= 1
    if k >= 1 and chars[k] in SPECK:
        k -= 1
    return k >= 0 and chars[k] in DIGITISH


def _drop_spaces_in_numbers(chars: list[str], origin: list[int | None]) -> Stream:
    keep_chars: list[str] = []
    keep_origin: list[int | None] = []
    n = len(chars)
    for k, c in enumerate(chars):
        if c == " ":
            before = next((chars[j] for j in range(k - 1, -1, -1) if chars[j] != " "), "")
            after = next((chars[j] for j in range(k + 1, n) if chars[j] != " "), "")
            if before in DIGITISH and after in DIGITISH:
                continue
        keep_chars.append(c)
        keep_origin.append(origin[k])
    return Stream("".join(keep_chars), tuple(keep_origin))


def page_text_from_ocr(result: OcrResult, volume: int, page: int) -> PageText:
    """A page's characters as a recogniser read them: each character where the engine placed it (PP-OCR), or spread
    evenly over its word's box (Tesseract gives words only)."""
    glyphs: list[Glyph] = []
    for k, line in enumerate(result.lines):
        for w in line.words:
            if w.chars:
                glyphs += [Glyph(c.text, c.x0, w.y0, c.x1, w.y1, k) for c in w.chars]
            elif w.text:
                step = (w.x1 - w.x0) / len(w.text)
                glyphs += [Glyph(ch, w.x0 + i * step, w.y0, w.x0 + (i + 1) * step, w.y1, k)
                           for i, ch in enumerate(w.text)]
    return PageText(volume, page, tuple(glyphs), result.width, result.height)
