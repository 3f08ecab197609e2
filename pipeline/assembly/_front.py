"""The pages around the scans: the cover (卷皮), the 卷内目录 and the 卷内备考表, and the stamped page numbers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pymupdf

from pipeline.assembly._drawing import (
    A4,
    FIELD_NAMES,
    PAGE_NUMBER_INSET_MM,
    PAGE_NUMBER_SIZE,
    SECURITY_NAMES,
    TOC_BOTTOM_MM,
    TOC_COLUMNS,
    TOC_LEFT_MM,
    TOC_SIZE,
    TOC_TOP_MM,
    Canvas,
    cn_date,
    display_date,
    draw_cell,
    flag_text,
    line_height,
    number_ranges,
    page_range,
    wrap_cell,
)
from pipeline.assembly._fonts import MM, numeral_font, wrap_text
from pipeline.assembly._types import VolumeContext
from pipeline.models import CatalogueEntry


def draw_cover(page: pymupdf.Page, context: VolumeContext, pages: int) -> None:
    """The volume cover (卷皮)."""
    c = Canvas(page)
    width = page.rect.width / MM
    level = SECURITY_NAMES.get(context.security_level, context.security_level)
    if context.security_level in ("secret", "confidential", "top-secret"):
        c.text(22.0, 22.0, f"{level}★", 16.0)
    if context.copy_mark:
        c.text(width - 22.0, 22.0, context.copy_mark, 16.0, "right")
    y = 48.0
    for line in wrap_text(context.agency, 18.0, 160 * MM):
        c.text(width / 2, y, line, 18.0, "centre")
        y += line_height(18.0)
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
        lines = wrap_cell(value or "—", size, x1 - x_mid, pad=3.0)
        h = max(12.0, line_height(size) * len(lines) + 5.0)
        draw_cell(c, x0, row_top, x_mid, row_top + h, [label], size, "centre")
        draw_cell(c, x_mid, row_top, x1, row_top + h, lines, size, "left", pad=3.0)
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
        cells = tuple(tuple(wrap_cell(v, TOC_SIZE, w)) for v, (_, w, _) in zip(values, TOC_COLUMNS))
        height = max(9.0, max(len(c) for c in cells) * line_height(TOC_SIZE) + 3.0)
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
    c = Canvas(page)
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
        draw_cell(c, x0, top, x1, top + header, [name], 9.5, "centre")
    y = top + header
    c.line(xs[0], y, xs[-1], y)
    for row in rows:
        for cell, (_, _, align), x0, x1 in zip(row.cells, TOC_COLUMNS, xs, xs[1:]):
            draw_cell(c, x0, y, x1, y + row.height, cell, TOC_SIZE, align)
        y += row.height
        c.line(xs[0], y, xs[-1], y)
    c.box(xs[0], top, xs[-1], y, thick=True)
    for x in xs[1:-1]:
        c.line(x, top, x, y)
    c.close()


def record_lines(context: VolumeContext, pages: int) -> list[tuple[bool, str]]:
    """The 备考表's statement of the volume: (indented, paragraph) items."""
    lines = [(False, f"本卷共有文件 {len(context.entries)} 件，共 {pages} 页"
              + (f"（页号 1—{pages}）。" if pages else "。"))]
    if context.copy_note:
        lines.append((False, context.copy_note))
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
    lh = line_height(size) + 1.5
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
        c = Canvas(page)
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
    c = Canvas(page)
    x = page.rect.width / MM - PAGE_NUMBER_INSET_MM[0]
    c.text(x, PAGE_NUMBER_INSET_MM[1], str(number), PAGE_NUMBER_SIZE, "right", font=numeral_font())
    c.close()
