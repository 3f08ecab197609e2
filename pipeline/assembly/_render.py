"""Assemble one volume PDF: cover (卷皮), 卷内目录, the scanned pages numbered top-right, 卷内备考表, bookmarks, labels.

Generated pages are drawn with PyMuPDF in the embedded CJK TrueType font (WenQuanYi Zen Hei, subset); scanned
pages are blank carriers of the right size with the page number stamped, into which pikepdf then puts each archival
image file as it is (CCITT G4 → /CCITTFaxDecode, JPEG → /DCTDecode): no image is decoded or re-encoded. Nothing uses
transparency, annotations, links or JavaScript, so that PDF/A finishing (``pipeline.pdfa``) only adds metadata,
output intent and font fixes. Page labels: 封面, 目录-1…, 1…N, 备考表.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pymupdf
from PIL import Image

from pipeline.assembly._fonts import MM, cjk_font, numeral_font, wrap_text
from pipeline.assembly._types import BuiltVolume, VolumeContext
from pipeline.errors import VolumeError
from pipeline.models import CatalogueEntry
from pipeline.ocr import OcrResult, read_ocr_result
from pipeline.pages import PageArtifact
from pipeline.structure import VolumePlan

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


# --------------------------------------------------------------------------------------------------------------------
# Drawing on generated pages

class _Canvas:
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
        font = font or cjk_font()
        w = font.text_length(text, fontsize=size) / MM
        x0 = {"left": x, "centre": x - w / 2, "right": x - w}[align]
        if align == "left" and text[0] in HANGING:
            x0 -= size * 0.5 / MM  # a full-width opening bracket's ink sits in the right half of its em
        self.writer.append((x0 * MM, y * MM), text, font=font, fontsize=size)

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


def _line_height(size: float) -> float:
    """Baseline-to-baseline distance in mm for a size in points."""
    return size * 1.45 / MM


def _cell(canvas: _Canvas, x0: float, y0: float, x1: float, y1: float, lines: Sequence[str], size: float,
          align: str, pad: float = 1.0) -> None:
    """Lines of text vertically centred in a cell."""
    lh = _line_height(size)
    block = lh * len(lines)
    top = y0 + (y1 - y0 - block) / 2
    for i, line in enumerate(lines):
        base = top + lh * i + size * 0.95 / MM
        x = {"left": x0 + pad, "centre": (x0 + x1) / 2, "right": x1 - pad}[align]
        canvas.text(x, base, line, size, align)


def _wrap(text: str, size: float, width_mm: float, pad: float = 1.0) -> list[str]:
    return wrap_text(text, size, (width_mm - 2 * pad) * MM) or [""]


def display_date(value: str) -> str:
    """A catalogue date as the 卷内目录 prints it: 8 digits YYYYMMDD (DA/T 22) for ISO dates, else as given."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value or "")
    return "".join(m.groups()) if m else (value or "")


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


# --------------------------------------------------------------------------------------------------------------------
# Cover, 卷内目录, 备考表

def draw_cover(page: pymupdf.Page, context: VolumeContext, pages: int) -> None:
    """The volume cover (卷皮)."""
    c = _Canvas(page)
    width = page.rect.width / MM
    level = SECURITY_NAMES.get(context.security_level, context.security_level)
    if context.security_level in ("secret", "confidential", "top-secret"):
        c.text(22.0, 22.0, f"{level}★", 16.0)
    y = 48.0
    for line in wrap_text(context.agency, 18.0, 160 * MM):
        c.text(width / 2, y, line, 18.0, "centre")
        y += _line_height(18.0)
    c.text(width / 2, max(y + 22.0, 80.0), "卷　　宗", 40.0, "centre")
    c.text(width / 2, max(y + 40.0, 98.0), f"第 {context.number} 卷　共 {context.of} 卷", 16.0, "centre")
    start, end = context.date_range
    dates = f"{start} 至 {end}" if start and end and start != end else start or end or "—"
    rows = [
        ("案号", context.case_no),
        ("案件名称", context.case_title),
        ("立卷单位", context.agency),
        ("本卷文件", f"{len(context.entries)} 件"),
        ("本卷页数", f"{pages} 页"),
        ("起止日期", dates),
        ("保管期限", context.retention),
        ("密级", level),
    ]
    x0, x_mid, x1 = 30.0, 62.0, 180.0
    top = max(y + 55.0, 112.0)
    size = 13.0
    c.line(x0, top, x1, top, thick=True)
    row_top = top
    for label, value in rows:
        lines = _wrap(value or "—", size, x1 - x_mid, pad=3.0)
        h = max(12.0, _line_height(size) * len(lines) + 5.0)
        _cell(c, x0, row_top, x_mid, row_top + h, [label], size, "centre")
        _cell(c, x_mid, row_top, x1, row_top + h, lines, size, "left", pad=3.0)
        row_top += h
        c.line(x0, row_top, x1, row_top)
    c.line(x0, row_top, x1, row_top, thick=True)
    c.line(x0, top, x0, row_top, thick=True)
    c.line(x1, top, x1, row_top, thick=True)
    c.line(x_mid, top, x_mid, row_top)
    foot = page.rect.height / MM - 18.0
    if context.prepared_on:
        c.text(width / 2, foot - 6.0, f"立卷日期：{cn_date(context.prepared_on)}", 10.0, "centre")
    c.text(width / 2, foot, f"数字化依据 {context.standard}　制作程序 scan-to-dossier {context.pipeline_version}",
           8.0, "centre")
    c.close()


@dataclass(frozen=True)
class _TocRow:
    entry: CatalogueEntry
    cells: tuple[tuple[str, ...], ...]
    height: float


def toc_rows(entries: Sequence[CatalogueEntry]) -> list[_TocRow]:
    """The 卷内目录 rows with their cell text wrapped to the column widths and their heights in mm."""
    rows = []
    for e in entries:
        values = (str(e.seq), e.doc_no, e.author, e.title or "（无题名）", display_date(e.date), page_range(e),
                  e.remark)
        cells = tuple(tuple(_wrap(v, TOC_SIZE, w)) for v, (_, w, _) in zip(values, TOC_COLUMNS))
        height = max(9.0, max(len(c) for c in cells) * _line_height(TOC_SIZE) + 3.0)
        rows.append(_TocRow(e, cells, height))
    return rows


def paginate_toc(rows: Sequence[_TocRow]) -> list[list[_TocRow]]:
    """Rows grouped into 卷内目录 pages (at least one page, even for an empty volume)."""
    pages: list[list[_TocRow]] = [[]]
    room = TOC_BOTTOM_MM - TOC_TOP_MM - 10.0
    used = 0.0
    for row in rows:
        if pages[-1] and used + row.height > room:
            pages.append([])
            used = 0.0
        pages[-1].append(row)
        used += row.height
    return pages


def draw_toc_page(page: pymupdf.Page, context: VolumeContext, rows: Sequence[_TocRow], continued: bool) -> None:
    """One page of the 卷内目录."""
    c = _Canvas(page)
    width = page.rect.width / MM
    c.text(width / 2, 24.0, "卷内目录（续）" if continued else "卷内目录", 20.0, "centre")
    c.text(TOC_LEFT_MM, 34.0, f"案号：{context.case_no}", 10.0)
    c.text(width - 15.0, 34.0, f"第 {context.number} 卷　共 {context.of} 卷", 10.0, "right")
    xs = [TOC_LEFT_MM]
    for _, w, _ in TOC_COLUMNS:
        xs.append(xs[-1] + w)
    top = TOC_TOP_MM
    header = 10.0
    for (name, _, _), x0, x1 in zip(TOC_COLUMNS, xs, xs[1:]):
        _cell(c, x0, top, x1, top + header, [name], 9.5, "centre")
    y = top + header
    c.line(xs[0], y, xs[-1], y)
    for row in rows:
        for cell, (_, _, align), x0, x1 in zip(row.cells, TOC_COLUMNS, xs, xs[1:]):
            _cell(c, x0, y, x1, y + row.height, cell, TOC_SIZE, align)
        y += row.height
        c.line(xs[0], y, xs[-1], y)
    c.box(xs[0], top, xs[-1], y, thick=True)
    for x in xs[1:-1]:
        c.line(x, top, x, y)
    c.close()


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


def record_lines(context: VolumeContext, pages: int) -> list[tuple[bool, str]]:
    """The 备考表's statement of the volume: (indented, paragraph) items."""
    lines = [(False, f"本卷共有文件 {len(context.entries)} 件，共 {pages} 页"
              + (f"（页号 1—{pages}）。" if pages else "。"))]
    lines.append((False, f"空白页 {context.blank_pages} 页，未编页号，不计入页数，保留于原始扫描件中。"
                  if context.blank_pages else "本卷无空白页。"))
    for e in context.entries:
        if e.continued:
            lines.append((False, f"第 {e.seq} 件《{e.title or '无题名'}》接前卷，本卷第 {page_range(e)} 页。"))
    if context.flagged:
        lines.append((False, f"以下 {len(context.flagged)} 页经机器检查标记，请核对："))
        for number, reason in context.flagged:
            reasons = "；".join(flag_text(f) for f in re.split(r";\s*", reason) if f)
            lines.append((True, f"第 {number} 页：{reasons}"))
    else:
        lines.append((False, "本卷无机器检查标记页。"))
    gaps = []
    for field, name in FIELD_NAMES.items():
        seqs = [e.seq for e in context.entries if f"{field}-missing" in e.flags]
        if seqs:
            gaps.append(f"{name}：第 {number_ranges(seqs)} 件")
    if gaps:
        lines.append((False, "卷内目录以下项目空缺（原件未载明或未能识别，照实空缺，未予补填）："))
        lines.extend((True, gap) for gap in gaps)
    lines.append((False, f"数字化依据：{context.standard}；制作程序：scan-to-dossier {context.pipeline_version}。"))
    return lines


def draw_record_pages(doc: pymupdf.Document, context: VolumeContext, pages: int) -> int:
    """The 卷内备考表 (as many pages as its lines need); returns the number of pages drawn."""
    size, text_w, indent = 12.0, 148.0, 8.0
    wrapped = [(ind, ln) for ind, para in record_lines(context, pages)
               for ln in (wrap_text(para, size, (text_w - (indent if ind else 0)) * MM) or [""])]
    lh = _line_height(size) + 1.5
    first_room = int((238.0 - 62.0) / lh)
    other_room = int((238.0 - 52.0) / lh)
    chunks = [wrapped[:first_room]]
    rest = wrapped[first_room:]
    while rest:
        chunks.append(rest[:other_room])
        rest = rest[other_room:]
    width = A4[0] / MM
    for k, chunk in enumerate(chunks):
        page = doc.new_page(width=A4[0], height=A4[1])
        c = _Canvas(page)
        c.text(width / 2, 28.0, "卷内备考表" if k == 0 else "卷内备考表（续）", 20.0, "centre")
        c.text(25.0, 38.0, f"案号：{context.case_no}", 10.0)
        c.text(width - 25.0, 38.0, f"第 {context.number} 卷　共 {context.of} 卷", 10.0, "right")
        c.box(25.0, 42.0, width - 25.0, 270.0, thick=True)
        y = 52.0
        if k == 0:
            c.text(30.0, y, "本卷情况说明", 13.0)
            y += 10.0
        for ind, line in chunk:
            c.text(30.0 + (indent if ind else 0.0), y, line, size)
            y += lh
        if k == len(chunks) - 1:
            c.line(25.0, 245.0, width - 25.0, 245.0)
            blank = "　" * 5
            c.text(30.0, 258.0, f"立卷人：{context.prepared_by or blank}", size)
            c.text(80.0, 258.0, f"检查人：{context.checked_by or blank}", size)
            c.text(130.0, 258.0, f"立卷时间：{cn_date(context.prepared_on) if context.prepared_on else blank}", size)
        c.close()
    return len(chunks)


def stamp_page_number(page: pymupdf.Page, number: int) -> None:
    """The page number top-right, as a numbering stamp would put it."""
    c = _Canvas(page)
    x = page.rect.width / MM - PAGE_NUMBER_INSET_MM[0]
    c.text(x, PAGE_NUMBER_INSET_MM[1], str(number), PAGE_NUMBER_SIZE, "right", font=numeral_font())
    c.close()


# --------------------------------------------------------------------------------------------------------------------
# Archival images as PDF image XObjects, without decoding

@dataclass(frozen=True)
class ImageSource:
    """Where an archival image's encoded data is and how a PDF reads it."""

    path: Path
    width: int
    height: int
    filter: str  # CCITTFaxDecode | DCTDecode
    colour_space: str  # DeviceGray | DeviceRGB
    bits: int
    offset: int = 0
    length: int = -1  # -1: to the end of the file
    black_is_1: bool = False
    reverse_bits: bool = False

    def chunks(self, size: int = 1 << 20):
        """The encoded image data in pieces of at most ``size`` bytes (bits reversed for FillOrder 2 TIFFs)."""
        remaining = self.length
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            while remaining != 0:
                data = f.read(size if remaining < 0 else min(size, remaining))
                if not data:
                    break
                remaining -= len(data) if remaining > 0 else 0
                yield data.translate(_REVERSED) if self.reverse_bits else data
        if remaining > 0:
            raise VolumeError(f"image {self.path}: strip truncated ({remaining} bytes missing)")

    def dictionary(self) -> str:
        """The image XObject dictionary in PDF syntax, without /Length."""
        parms = ""
        if self.filter == "CCITTFaxDecode":
            parms = (f"/DecodeParms<</K -1/Columns {self.width}/Rows {self.height}"
                     f"/BlackIs1 {'true' if self.black_is_1 else 'false'}>>")
        return (f"/Type/XObject/Subtype/Image/Width {self.width}/Height {self.height}/ColorSpace/{self.colour_space}"
                f"/BitsPerComponent {self.bits}/Filter/{self.filter}{parms}")


_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def image_source(path: Path) -> ImageSource:
    """Inspect an archival image file (single-strip G4 TIFF or baseline JPEG) from its header only."""
    try:
        with Image.open(path) as img:
            fmt, size, mode = img.format, img.size, img.mode
            if fmt == "TIFF":
                return _g4_source(path, img)
    except OSError as exc:
        raise VolumeError(f"cannot read page image {path}: {exc}") from exc
    if fmt == "JPEG":
        spaces = {"L": ("DeviceGray", 8), "RGB": ("DeviceRGB", 8)}
        if mode not in spaces:
            raise VolumeError(f"page image {path} is a {mode} JPEG; expected greyscale or RGB")
        space, bits = spaces[mode]
        return ImageSource(path, size[0], size[1], "DCTDecode", space, bits)
    raise VolumeError(f"page image {path} is {fmt}; expected a CCITT G4 TIFF or a JPEG")


def _g4_source(path: Path, img: Image.Image) -> ImageSource:
    tags = img.tag_v2
    if getattr(img, "n_frames", 1) != 1:
        raise VolumeError(f"page image {path} has {img.n_frames} pages; expected one")
    compression = tags.get(259)
    if compression != 4:
        raise VolumeError(f"page image {path} is a TIFF with compression {compression}; expected CCITT G4 (4)")
    offsets, counts = tags.get(273), tags.get(279)
    if not offsets or not counts or len(offsets) != 1 or len(counts) != 1:
        raise VolumeError(f"page image {path} has {len(offsets or ())} strips; expected a single-strip G4 TIFF")
    photometric = tags.get(262, 0)
    if photometric not in (0, 1):
        raise VolumeError(f"page image {path} has photometric interpretation {photometric}; expected 0 or 1")
    return ImageSource(path, img.size[0], img.size[1], "CCITTFaxDecode", "DeviceGray", 1, int(offsets[0]),
                       int(counts[0]), black_is_1=photometric == 1, reverse_bits=tags.get(266, 1) == 2)


def write_image_container(sources: Sequence[ImageSource], path: Path) -> list[int]:
    """Write the images as the only objects of a minimal PDF file, copying their data through in pieces; returns the
    object number of each image. The volume is built on top of this file: qpdf reads a stream of the file it opened
    only when it writes it, so memory stays flat however large the images (copying them into another PDF with
    ``copy_foreign`` loads them all: measured +52 MB for 64 MB of JPEGs)."""
    offsets: list[int] = []
    with open(path, "wb") as f:
        f.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets.append(f.tell())
        f.write(b"1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n")
        offsets.append(f.tell())
        f.write(b"2 0 obj\n<</Type/Pages/Kids[]/Count 0>>\nendobj\n")
        for n, source in enumerate(sources, start=3):
            offsets.append(f.tell())
            length_at = None
            f.write(f"{n} 0 obj\n<<{source.dictionary()}/Length ".encode())
            length_at = f.tell()
            f.write(b"0000000000>>\nstream\n")
            start = f.tell()
            for chunk in source.chunks():
                f.write(chunk)
            end = f.tell()
            f.write(b"\nendstream\nendobj\n")
            resume = f.tell()
            f.seek(length_at)
            f.write(f"{end - start:010d}".encode())
            f.seek(resume)
        xref = f.tell()
        f.write(f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode())
        for off in offsets:
            f.write(f"{off:010d} 00000 n \n".encode())
        f.write(f"trailer\n<</Size {len(offsets) + 1}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n".encode())
    return list(range(3, 3 + len(sources)))


# --------------------------------------------------------------------------------------------------------------------
# The volume

@dataclass(frozen=True)
class _Scanned:
    number: int
    artifact: PageArtifact
    source: ImageSource
    width_pt: float
    height_pt: float


def _scanned_pages(plan: VolumePlan, pages: Mapping[int, PageArtifact]) -> list[_Scanned]:
    out = []
    for number, position in enumerate(plan.positions, start=1):
        artifact = pages.get(position)
        if artifact is None or artifact.image_path is None:
            raise VolumeError(f"volume {plan.number}: page at batch position {position} (page {number}) has no "
                              "archival image", plan.number)
        source = image_source(Path(artifact.image_path))
        if artifact.width and artifact.height and (artifact.width, artifact.height) != (source.width, source.height):
            raise VolumeError(f"volume {plan.number}: {artifact.image_path} is {source.width}x{source.height} px but "
                              f"the page record says {artifact.width}x{artifact.height}", plan.number)
        dpi = artifact.dpi or 300.0
        out.append(_Scanned(number, artifact, source, source.width * 72.0 / dpi, source.height * 72.0 / dpi))
    return out


def _skeleton(plan: VolumePlan, context: VolumeContext, scanned: Sequence[_Scanned]) -> tuple[bytes, int, int]:
    """The volume with every page but without the images: cover, 卷内目录, numbered carriers, 备考表.
    Returns the PDF bytes, the number of 卷内目录 pages and of 备考表 pages."""
    doc = pymupdf.open()
    try:
        draw_cover(doc.new_page(width=A4[0], height=A4[1]), context, len(scanned))
        toc_pages = paginate_toc(toc_rows(context.entries))
        for k, rows in enumerate(toc_pages):
            draw_toc_page(doc.new_page(width=A4[0], height=A4[1]), context, rows, continued=k > 0)
        carriers = [doc.new_page(width=s.width_pt, height=s.height_pt).number for s in scanned]
        record_pages = draw_record_pages(doc, context, len(scanned))
        doc.subset_fonts()
        # stamped after subsetting: the numeral font is a subset already, and MuPDF's subsetter zeroes the advance
        # that fontTools left shared by the digits after an unused one (Preflight 3.1.6 on volumes without a "0")
        for number, s in zip(carriers, scanned):
            stamp_page_number(doc[number], s.number)
        return doc.tobytes(garbage=3, deflate=True, no_new_id=True), len(toc_pages), record_pages
    finally:
        doc.close()


def _labels(pdf: pikepdf.Pdf, toc: int, numbered: int, record: int) -> None:
    nums: list = [0, pikepdf.Dictionary(P=pikepdf.String("封面")),
                  1, pikepdf.Dictionary(S=pikepdf.Name.D, P=pikepdf.String("目录-"), St=1)]
    if numbered:
        nums += [1 + toc, pikepdf.Dictionary(S=pikepdf.Name.D, St=1)]
    if record == 1:
        nums += [1 + toc + numbered, pikepdf.Dictionary(P=pikepdf.String("备考表"))]
    else:
        nums += [1 + toc + numbered, pikepdf.Dictionary(S=pikepdf.Name.D, P=pikepdf.String("备考表-"), St=1)]
    pdf.Root.PageLabels = pdf.make_indirect(pikepdf.Dictionary(Nums=pikepdf.Array(nums)))


def _outline(pdf: pikepdf.Pdf, entries: Sequence[CatalogueEntry], toc: int, numbered: int) -> None:
    with pdf.open_outline() as outline:
        outline.root.append(pikepdf.OutlineItem("封面", 0))
        outline.root.append(pikepdf.OutlineItem("卷内目录", 1))
        for e in entries:
            title = f"{e.seq}. {e.title or '（无题名）'}" + ("（续）" if e.continued else "")
            outline.root.append(pikepdf.OutlineItem(title, toc + e.first_page))
        outline.root.append(pikepdf.OutlineItem("卷内备考表", 1 + toc + numbered))


def build_volume(plan: VolumePlan, pages: Mapping[int, PageArtifact], context: VolumeContext, out: Path,
                 text_layer: TextLayer | None = None) -> BuiltVolume:
    """Write one volume PDF to ``out``: cover, 卷内目录, the scanned pages numbered from 1, 卷内备考表."""
    if (context.number, context.of) != (plan.number, plan.of):
        raise VolumeError(f"volume {plan.number}/{plan.of}: context is for {context.number}/{context.of}", plan.number)
    scanned = _scanned_pages(plan, pages)
    last = max((e.last_page for e in context.entries), default=0)
    if last != len(scanned):
        raise VolumeError(f"volume {plan.number}: the 卷内目录 ends at page {last} but the volume has "
                          f"{len(scanned)} pages", plan.number)
    skeleton, toc, record = _skeleton(plan, context, scanned)
    out.parent.mkdir(parents=True, exist_ok=True)
    container = out.with_name(out.name + ".images.tmp")
    try:
        numbers = write_image_container([s.source for s in scanned], container)
        with pikepdf.open(container) as pdf, pikepdf.open(io.BytesIO(skeleton)) as generated:
            for page in generated.pages:
                pdf.pages.append(page)
            _place_images(pdf, numbers, scanned, 1 + toc, text_layer)
            _labels(pdf, toc, len(scanned), record)
            _outline(pdf, context.entries, toc, len(scanned))
            pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, force_version="1.4",
                     stream_decode_level=pikepdf.StreamDecodeLevel.none, compress_streams=True)
            total = len(pdf.pages)
    except (pikepdf.PdfError, OSError) as exc:
        raise VolumeError(f"volume {plan.number}: cannot write {out}: {exc}", plan.number) from exc
    finally:
        container.unlink(missing_ok=True)
    return BuiltVolume(path=out, number=plan.number, pdf_pages=total, numbered_pages=len(scanned))


def _place_images(pdf: pikepdf.Pdf, numbers: Sequence[int], scanned: Sequence[_Scanned], first: int,
                  text_layer: TextLayer | None) -> None:
    """Draw each image (an object of ``pdf`` itself, read from disk only when written) under its page's number."""
    for i, s in enumerate(scanned):
        page = pdf.pages[first + i]
        # PyMuPDF shares one /Resources object between pages that look alike: give each page its own
        page.obj.Resources = pikepdf.Dictionary({k: v for k, v in page.obj.Resources.items() if k != "/XObject"})
        name = page.add_resource(pdf.get_object(numbers[i], 0), pikepdf.Name.XObject, prefix="Im")
        draw = f"q {s.width_pt:.4f} 0 0 {s.height_pt:.4f} 0 0 cm {name} Do Q\n".encode()
        page.contents_add(pikepdf.Stream(pdf, draw), prepend=True)
        if text_layer is not None and s.artifact.ocr_path is not None:

            ocr = read_ocr_result(s.artifact.ocr_path, f"{s.artifact.record.source.file}[{s.artifact.record.source.index}]")
            if ocr is not None:
                text_layer(pdf, page, ocr, s.width_pt, s.height_pt)
