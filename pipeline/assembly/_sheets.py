"""Separator sheets to print and put between the documents before scanning: a batch cover and one per document.

Each sheet carries a large QR code (payload: :class:`pipeline.models.SeparatorPayload` as compact JSON), the same
data as text, and a black banner at top and bottom (分隔页 — 不计页数) that tells a clerk the sheet is not part of the
file. The layout is computed once in millimetres and drawn either into a PDF (vector, embedded CJK font) or into a
raster image (:func:`separator_page_image`), so tests and sample generators "print" exactly the sheet the clerk gets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pymupdf
import yaml
from PIL import Image, ImageDraw, ImageFont
from pydantic import ValidationError

from pipeline.assembly._fonts import FONT_PATH, MM, append_text, fix_astral_unicode, text_width, wrap_text
from pipeline.capture import encode_payload, qr_modules
from pipeline.errors import BadInputError
from pipeline.models import SeparatorPayload

PAGE_MM = (210.0, 297.0)
BANNER_TEXT = "分隔页 — 不计页数"
BANNER_MM = ((12.0, 12.0, 198.0, 34.0), (12.0, 263.0, 198.0, 285.0))  # x0, y0, x1, y1 of the two black banners
QR_BOX_MM = (57.5, 62.0, 95.0)  # x, y of the top-left corner and side of the QR code (quiet zone included)
QR_QUIET = 4  # modules of white around the code, as the QR standard asks
MIN_MODULE_MM = 0.7  # below this a 200-dpi bitonal scan no longer reads reliably: refuse to print
HEADINGS = {"batch": "批次封面", "document": "文件分隔页"}
FOOTER = "本页是扫描用的分隔页，只用于识别文件的起点，不属于卷内文件，不编页号，扫描后取出。"


class SheetError(BadInputError):
    """A separator sheet cannot be made (e.g. its payload is too long for a readable QR code)."""


@dataclass(frozen=True)
class TextRun:
    """One line of text: left x and baseline y in mm, size in points, white or black."""

    x: float
    y: float
    size: float
    text: str
    white: bool = False


@dataclass(frozen=True)
class SheetLayout:
    """Everything on one sheet, in millimetres from the top-left corner of an A4 page."""

    banners: tuple[tuple[float, float, float, float], ...]
    texts: tuple[TextRun, ...]
    qr: np.ndarray  # modules, True = dark, quiet zone included
    qr_box: tuple[float, float, float]  # x, y, side


def _centred(text: str, size: float, y: float, white: bool = False) -> TextRun:
    width_mm = text_width(text, size) / MM
    return TextRun((PAGE_MM[0] - width_mm) / 2, y, size, text, white)


def sheet_fields(payload: SeparatorPayload) -> list[tuple[str, str]]:
    """The human-readable label/value pairs printed under the QR code."""
    if payload.kind == "batch":
        return [("案号", payload.case_no), ("案件名称", payload.case_title), ("立卷单位", payload.agency)]
    return [
        ("案号", payload.case_no),
        ("题名", payload.title),
        ("文号", payload.doc_no),
        ("责任者", payload.author),
        ("日期", payload.date),
        ("页数", str(payload.pages) if payload.pages else ""),
    ]


def sheet_layout(payload: SeparatorPayload) -> SheetLayout:
    """Lay out the sheet of one payload."""
    text = encode_payload(payload)
    name = payload.title or payload.case_no
    what = f"separator sheet for {name[:20] + ('…' if len(name) > 20 else '')!r}: payload of {len(text.encode())} bytes"
    try:
        modules = qr_modules(text, QR_QUIET)
    except ValueError as exc:
        raise SheetError(f"{what} does not fit in a QR code; shorten the fields") from exc
    x, y, side = QR_BOX_MM
    if side / modules.shape[0] < MIN_MODULE_MM:
        raise SheetError(f"{what} makes QR modules of {side / modules.shape[0]:.2f} mm (< {MIN_MODULE_MM} mm); "
                         "shorten the fields")
    texts: list[TextRun] = []
    for _, y0, _, y1 in BANNER_MM:
        size = 30.0
        texts.append(_centred(BANNER_TEXT, size, y0 + (y1 - y0) / 2 + size * 0.36 / MM, white=True))
    texts.append(_centred(HEADINGS[payload.kind], 24.0, 52.0))
    label_x, value_x, right = 22.0, 50.0, 190.0
    size, leading = 13.0, 7.0
    line_y = y + side + 10.0
    for label, value in sheet_fields(payload):
        texts.append(TextRun(label_x, line_y, size, label + "："))
        lines = wrap_text(value or "—", size, (right - value_x) * MM)
        if len(lines) > 3:  # the QR code carries it all; the print shows the start
            lines = lines[:2] + [lines[2][:-1] + "…"]
        for line in lines:
            texts.append(TextRun(value_x, line_y, size, line))
            line_y += leading
    footer_lines = wrap_text(FOOTER, 10.0, 170.0 * MM)
    fy = BANNER_MM[1][1] - 4.0 - 5.0 * (len(footer_lines) - 1)
    for line in footer_lines:
        texts.append(_centred(line, 10.0, fy))
        fy += 5.0
    return SheetLayout(BANNER_MM, tuple(texts), modules, QR_BOX_MM)


def separator_page_image(payload: SeparatorPayload, dpi: int = 200) -> Image.Image:
    """The sheet of a payload as a white RGB page image at a resolution, as if printed on A4 (for tests and samples)."""
    layout = sheet_layout(payload)
    px = dpi / 25.4
    img = Image.new("RGB", (round(PAGE_MM[0] * px), round(PAGE_MM[1] * px)), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for x0, y0, x1, y1 in layout.banners:
        draw.rectangle([round(x0 * px), round(y0 * px), round(x1 * px) - 1, round(y1 * px) - 1], fill=(0, 0, 0))
    x, y, side = layout.qr_box
    size_px = round(side * px)
    qr = Image.fromarray(np.where(layout.qr, 0, 255).astype(np.uint8)).resize((size_px, size_px), Image.NEAREST)
    img.paste(qr.convert("RGB"), (round(x * px), round(y * px)))
    fonts: dict[float, ImageFont.FreeTypeFont] = {}
    for run in layout.texts:
        size_px_font = max(6, round(run.size / 72.0 * dpi))
        fnt = fonts.get(size_px_font) or ImageFont.truetype(str(FONT_PATH), size_px_font, index=0)
        fonts[size_px_font] = fnt
        colour = (255, 255, 255) if run.white else (0, 0, 0)
        draw.text((run.x * px, run.y * px), run.text, font=fnt, fill=colour, anchor="ls")
    return img


def _draw_sheet(page: pymupdf.Page, layout: SheetLayout) -> None:
    """Draw one sheet on a PDF page (vector banners and QR modules, text in the embedded CJK font)."""
    shape = page.new_shape()
    for x0, y0, x1, y1 in layout.banners:
        shape.draw_rect(pymupdf.Rect(x0 * MM, y0 * MM, x1 * MM, y1 * MM))
    x, y, side = layout.qr_box
    mod = side / layout.qr.shape[0] * MM
    for r, row in enumerate(layout.qr):
        c = 0
        while c < len(row):  # one rectangle per horizontal run of dark modules
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                shape.draw_rect(pymupdf.Rect(x * MM + start * mod, y * MM + r * mod,
                                             x * MM + c * mod, y * MM + (r + 1) * mod))
            else:
                c += 1
    shape.finish(color=None, fill=(0, 0, 0), width=0)
    shape.commit()
    for white in (False, True):
        writer = pymupdf.TextWriter(page.rect, color=(1, 1, 1) if white else (0, 0, 0))
        for run in layout.texts:
            if run.white == white:
                append_text(writer, run.x * MM, run.y * MM, run.text, run.size)
        writer.write_text(page)


def write_sheets(payloads: Sequence[SeparatorPayload], out: Path) -> Path:
    """Write a PDF with one A4 sheet per payload, in order; returns ``out``."""
    doc = pymupdf.open()
    try:
        for payload in payloads:
            page = doc.new_page(width=PAGE_MM[0] * MM, height=PAGE_MM[1] * MM)
            _draw_sheet(page, sheet_layout(payload))
        doc.subset_fonts()
        fix_astral_unicode(doc)
        doc.set_metadata({"title": "分隔页", "creator": "scan-to-dossier", "producer": "scan-to-dossier"})
        out.parent.mkdir(parents=True, exist_ok=True)
        doc.save(str(out), garbage=3, deflate=True)
    finally:
        doc.close()
    return out


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def sheet_payloads(case_no: str, documents: Iterable[dict], case_title: str = "", agency: str = ""
                   ) -> list[SeparatorPayload]:
    """The batch cover followed by one document sheet per entry (title, doc_no, author, date, pages)."""
    payloads = [SeparatorPayload(kind="batch", case_no=case_no, case_title=case_title, agency=agency)]
    for i, doc in enumerate(documents, start=1):
        if not isinstance(doc, dict):
            raise SheetError(f"document {i} of the sheet list is not a mapping: {doc!r}")
        unknown = set(doc) - {"title", "doc_no", "author", "date", "pages", "remark"}
        if unknown:
            raise SheetError(f"document {i} of the sheet list has unknown field(s) {', '.join(sorted(unknown))}")
        try:
            payloads.append(SeparatorPayload(
                kind="document", case_no=case_no, title=_as_text(doc.get("title")), doc_no=_as_text(doc.get("doc_no")),
                author=_as_text(doc.get("author")), date=_as_text(doc.get("date")),
                pages=int(doc["pages"]) if doc.get("pages") not in (None, "") else None,
            ))
        except (ValidationError, ValueError, TypeError) as exc:
            raise SheetError(f"document {i} of the sheet list is invalid: {exc}") from exc
    return payloads


def load_sheet_list(path: Path) -> tuple[list[dict], dict[str, str]]:
    """Read a sheet list: a YAML (or JSON, e.g. batch.json) list of documents, or a mapping with ``documents`` and
    optionally ``case_no``, ``case_title``, ``agency``; returns the documents and the case fields found."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SheetError(f"cannot read sheet list {path}: {exc}") from exc
    if isinstance(data, list):
        return data, {}
    if isinstance(data, dict) and isinstance(data.get("documents", []), list):
        case = {k: _as_text(data.get(k)) for k in ("case_no", "case_title", "agency") if data.get(k)}
        return list(data.get("documents", [])), case
    raise SheetError(f"sheet list {path} must be a list of documents or a mapping with a 'documents' list")
