"""A page's OCR lines as a reader sees the page: in order from the top, their type size and alignment, the body text
size, the head block above the body, the signature block at the end, and the page-number footer.

Works on :class:`pipeline.ocr.OcrResult` lines (text and word boxes) whatever engine produced them.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from functools import cached_property

from pipeline.ocr import OcrLine, OcrResult
from pipeline.structure._headings import line_text, type_size
from pipeline.structure._lexicon import normalise

_FOOTER = (re.compile(r"^[-—–一~_]{1,2}(\d{1,3})[-—–一~_]{1,2}$"),  # - 1 -
           re.compile(r"^第(\d{1,3})页[,，]?共(\d{1,3})页$"),  # 第1页 共3页
           re.compile(r"^(\d{1,3})/(\d{1,3})$"))  # 1/3


@dataclass(frozen=True)
class Line:
    """One OCR line with what layout says of it."""

    index: int  # position in ``OcrResult.lines``
    text: str  # as read, CJK words joined without spaces
    norm: str  # normalised for matching
    x0: int
    y0: int
    x1: int
    y1: int
    size: float  # type size in pixels (see type_size)
    conf: float  # lowest word confidence, 0-100
    mean_conf: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) in OCR pixels."""
        return self.x0, self.y0, self.x1, self.y1

    @property
    def centre(self) -> float:
        """Horizontal centre of the line."""
        return (self.x0 + self.x1) / 2


def _line(i: int, ln: OcrLine) -> Line:
    confs = [w.conf for w in ln.words] or [0.0]
    text = line_text(ln)
    return Line(i, text, normalise(text), ln.x0, ln.y0, ln.x1, ln.y1, type_size(ln), min(confs),
                sum(confs) / len(confs))


def _merge(row: list[Line]) -> Line:
    if len(row) == 1:
        return row[0]
    text = "".join(ln.text for ln in row)
    return Line(row[0].index, text, "".join(ln.norm for ln in row), min(ln.x0 for ln in row),
                min(ln.y0 for ln in row), max(ln.x1 for ln in row), max(ln.y1 for ln in row),
                sum(ln.size * len(ln.norm) for ln in row) / max(1, sum(len(ln.norm) for ln in row)),
                min(ln.conf for ln in row), sum(ln.mean_conf for ln in row) / len(row))


@dataclass(frozen=True)
class PageLayout:
    """The lines of one page from the top, and the measures that classify them."""

    ocr: OcrResult

    @cached_property
    def lines(self) -> tuple[Line, ...]:
        """Lines with words, top to bottom (engines do not always hand them over in that order)."""
        found = [_line(i, ln) for i, ln in enumerate(self.ocr.lines) if ln.words and normalise(line_text(ln))]
        # specks read as a letter or two (Te, |) are no line: left in, they join the title's row
        found = [ln for ln in found if not (len(ln.norm) <= 2 and ln.norm.isascii() and ln.mean_conf < 50)]
        return tuple(sorted(found, key=lambda ln: (ln.y0, ln.x0)))

    @cached_property
    def body_size(self) -> float | None:
        """Median type size of the page's running text (lines of 8 characters or more), None without any."""
        sizes = [ln.size for ln in self.lines if len(ln.norm) >= 8]
        return statistics.median(sizes) if len(sizes) >= 3 else None

    @cached_property
    def text_box(self) -> tuple[float, float]:
        """Left and right edge of the running text (the widest lines), else of all lines."""
        long = [ln for ln in self.lines if len(ln.norm) >= 12] or list(self.lines)
        if not long:
            return 0.0, float(self.ocr.width)
        return float(statistics.median(ln.x0 for ln in long)), float(max(ln.x1 for ln in long))

    def centred(self, line: Line, tolerance: float = 0.07) -> bool:
        """Whether a line is centred on the page or on the text block (and not a full-width line of text)."""
        left, right = self.text_box
        width = self.ocr.width
        off = min(abs(line.centre - width / 2), abs(line.centre - (left + right) / 2))
        narrow = (line.x1 - line.x0) <= 0.9 * (right - left)
        return off <= tolerance * width and (narrow or self.large(line, 1.4))

    def right_aligned(self, line: Line) -> bool:
        """Whether a line sits in the right half, ending near the text block's right edge (signatures, dates)."""
        _, right = self.text_box
        return line.x0 >= 0.35 * self.ocr.width and abs(line.x1 - right) <= 0.12 * self.ocr.width

    def large(self, line: Line, factor: float = 1.2) -> bool:
        """Type clearly larger than the body (or 6.5 mm when the page has no body text)."""
        if self.body_size:
            return line.size >= factor * self.body_size
        return line.size >= 6.5 * (self.ocr.dpi or 300) / 25.4

    @cached_property
    def footer(self) -> tuple[int, int | None] | None:
        """The page number printed at the foot (- 3 -, 第3页 共5页, 3/5) as (number, total or None)."""
        for line in reversed(self.lines):
            if line.y0 < 0.85 * self.ocr.height:
                break
            for rx in _FOOTER:
                m = rx.match(line.norm)
                if m:
                    total = int(m.group(2)) if m.lastindex and m.lastindex >= 2 else None
                    return int(m.group(1)), total
        return None

    @cached_property
    def body_start(self) -> int:
        """Index in :attr:`lines` of the first line of running text (a long line of body size), or len(lines)."""
        left, right = self.text_box
        for k, line in enumerate(self.lines):
            wide = (line.x1 - line.x0) >= 0.55 * (right - left)
            if len(line.norm) >= 14 and wide and not self.large(line, 1.35) and not self.centred(line, 0.03):
                return k
        return len(self.lines)

    def head(self, top_share: float = 0.45) -> list[Line]:
        """The head block: lines above the running text, in the top part of the page."""
        return [ln for ln in self.lines[: self.body_start] if ln.y0 <= top_share * self.ocr.height]

    def rows(self, lines: list[Line]) -> list[Line]:
        """Lines that share a row merged into one (a date the seal split in two, the two columns of a signature
        block), left to right, top to bottom."""
        rows: list[list[Line]] = []
        for line in sorted(lines, key=lambda ln: (ln.y0, ln.x0)):
            for row in rows:
                top, bottom = min(r.y0 for r in row), max(r.y1 for r in row)
                overlap = min(bottom, line.y1) - max(top, line.y0)
                if overlap >= 0.5 * min(bottom - top, line.y1 - line.y0):
                    row.append(line)
                    break
            else:
                rows.append([line])
        return [_merge(sorted(row, key=lambda ln: ln.x0)) for row in rows]

    def tail(self) -> list[Line]:
        """The lines after the running text's last long line (the signature block), footer excluded."""
        lines = [ln for ln in self.lines if self.footer is None or ln.y0 < 0.85 * self.ocr.height
                 or not any(rx.match(ln.norm) for rx in _FOOTER)]
        last_body = max((k for k, ln in enumerate(lines) if len(ln.norm) >= 18 and ln.x0 < 0.3 * self.ocr.width),
                        default=-1)
        return lines[last_body + 1:]
