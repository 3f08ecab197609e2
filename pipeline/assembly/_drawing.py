"""Drawing on the generated pages of a volume: the canvas, table cells, wrapped text, and how fields print."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pikepdf
import pymupdf

from pipeline.assembly._fonts import MM, append_text, text_width, wrap_text
from pipeline.models import CatalogueEntry
from pipeline.ocr import OcrResult

TextLayer = Callable[[pikepdf.Pdf, pikepdf.Page, OcrResult, float, float], None]


A4 = (210.0 * MM, 297.0 * MM)
BLACK = (0.0, 0.0, 0.0)


SECURITY_NAMES = {"public": "公开", "internal": "内部", "secret": "秘密", "confidential": "机密", "top-secret": "绝密"}


# Reasons pages are flagged, as the 备考表 prints them (prefix of the flag → Chinese); unknown flags print as they are.
FLAG_NAMES = {
    "ocr-confidence-low": "文字识别置信度低",
    "ocr-no-text": "未识别到文字",
    "dpi-inferred": "分辨率为推定值",
    "dpi-low": "分辨率偏低",
    "below-ocr-dpi": "分辨率低于文字识别要求",
    "skew": "纠偏后仍有倾斜",
    "seal": "含印章",
    "seal-not-in-colour": "印章未彩色扫描，应彩色重扫",
}


# TOC columns: heading, width in mm, alignment.
TOC_COLUMNS: tuple[tuple[str, float, str], ...] = (
    ("顺序号", 12.0, "centre"), ("文号", 45.0, "left"), ("责任者", 30.0, "left"), ("题名", 42.0, "left"),
    ("日期", 18.0, "centre"), ("页号", 15.0, "centre"), ("备注", 13.0, "centre"),
)
HANGING = set("（〔《「『【〈“‘")
TOC_LEFT_MM = 20.0
TOC_SIZE = 9.0  # pt, body of the table
TOC_TOP_MM = 40.0
TOC_BOTTOM_MM = 280.0
PAGE_NUMBER_SIZE = 12.0
PAGE_NUMBER_INSET_MM = (10.0, 12.0)  # right edge to the number's end, top edge to its baseline


class Canvas:
    """Text and rules on one PyMuPDF page, in millimetres; written out by :meth:`close`."""

    def __init__(self, page: pymupdf.Page):
        self.page = page
        self.writer = pymupdf.TextWriter(page.rect, color=BLACK)
        self.thin: list[tuple[float, float, float, float]] = []
        self.thick: list[tuple[float, float, float, float]] = []

    def text(self, x: float, y: float, text: str, size: float, align: str = "left",
             font: pymupdf.Font | None = None) -> None:
        """Text with its baseline at y; x is the left edge, the centre or the right edge per ``align``; in the CJK
        font unless another is given."""
        if not text:
            return
        w = (font.text_length(text, fontsize=size) if font else text_width(text, size)) / MM
        x0 = {"left": x, "centre": x - w / 2, "right": x - w}[align]
        if align == "left" and text[0] in HANGING:
            x0 -= size * 0.5 / MM  # a full-width opening bracket's ink sits in the right half of its em
        if font:
            self.writer.append((x0 * MM, y * MM), text, font=font, fontsize=size)
        else:
            append_text(self.writer, x0 * MM, y * MM, text, size)

    def line(self, x0: float, y0: float, x1: float, y1: float, thick: bool = False) -> None:
        """A rule between two points."""
        (self.thick if thick else self.thin).append((x0, y0, x1, y1))

    def box(self, x0: float, y0: float, x1: float, y1: float, thick: bool = False) -> None:
        """A rectangle outline."""
        for seg in ((x0, y0, x1, y0), (x1, y0, x1, y1), (x1, y1, x0, y1), (x0, y1, x0, y0)):
            self.line(*seg, thick=thick)

    def close(self) -> None:
        """Write the rules and the text into the page's content."""
        shape = self.page.new_shape()
        for segments, width in ((self.thin, 0.5), (self.thick, 1.2)):
            if segments:
                for x0, y0, x1, y1 in segments:
                    shape.draw_line((x0 * MM, y0 * MM), (x1 * MM, y1 * MM))
                shape.finish(color=BLACK, width=width, closePath=False)
        shape.commit()
        self.writer.write_text(self.page)


def line_height(size: float) -> float:
    """Baseline-to-baseline distance in mm for a size in points."""
    return size * 1.45 / MM


def draw_cell(canvas: Canvas, x0: float, y0: float, x1: float, y1: float, lines: Sequence[str], size: float,
             align: str, pad: float = 1.0) -> None:
    """Lines of text vertically centred in a cell."""
    lh = line_height(size)
    block = lh * len(lines)
    top = y0 + (y1 - y0 - block) / 2
    for i, line in enumerate(lines):
        base = top + lh * i + size * 0.95 / MM
        x = {"left": x0 + pad, "centre": (x0 + x1) / 2, "right": x1 - pad}[align]
        canvas.text(x, base, line, size, align)


def wrap_cell(text: str, size: float, width_mm: float, pad: float = 1.0) -> list[str]:
    """A text broken into the lines that fit a cell of ``width_mm`` (padding ``pad`` mm each side); at least one."""
    return wrap_text(text, size, (width_mm - 2 * pad) * MM) or [""]


def display_date(value: str) -> str:
    """A catalogue date as the 卷内目录 prints it: 8 digits YYYYMMDD (DA/T 22) for ISO dates, 6 for a year and month
    only, else as given."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", value or "")
    return "".join(g for g in m.groups() if g) if m else (value or "")


def page_range(entry: CatalogueEntry) -> str:
    """页号 of a catalogue row: 5 or 5-12."""
    return str(entry.first_page) if entry.first_page == entry.last_page else f"{entry.first_page}-{entry.last_page}"


def flag_text(flag: str) -> str:
    """A page flag in words for the 备考表."""
    code, _, detail = flag.partition(":")
    name = FLAG_NAMES.get(code.strip())
    if name is None:
        return flag
    return f"{name}（{detail.strip()}）" if detail.strip() else name


FIELD_NAMES = {"title": "题名", "doc_no": "文号", "author": "责任者", "date": "日期"}


def cn_date(value) -> str:
    """A date as written on archival forms: 2024年6月20日."""
    return f"{value.year}年{value.month}月{value.day}日"


def number_ranges(numbers: Sequence[int]) -> str:
    """1、3—5、8 for [1, 3, 4, 5, 8]."""
    parts: list[str] = []
    run: list[int] = []
    for n in sorted(set(numbers)) + [None]:  # type: ignore[operator]
        if run and (n is None or n != run[-1] + 1):
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}、{run[1]}" if len(run) == 2
                         else f"{run[0]}—{run[-1]}")
            run = []
        if n is not None:
            run.append(n)
    return "、".join(parts)
