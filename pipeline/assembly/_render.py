"""Assemble one volume PDF: cover (卷皮), 卷内目录, the scanned pages numbered top-right, 卷内备考表, bookmarks and
page labels."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pymupdf

from pipeline.assembly._drawing import A4, TextLayer
from pipeline.assembly._fonts import fix_astral_unicode
from pipeline.assembly._front import (
    draw_cover,
    draw_record_pages,
    draw_toc_page,
    paginate_toc,
    stamp_page_number,
    toc_rows,
)
from pipeline.assembly._images import ImageSource, image_source, write_image_container
from pipeline.assembly._types import BuiltVolume, VolumeContext
from pipeline.errors import VolumeError
from pipeline.models import CatalogueEntry
from pipeline.ocr import read_ocr_result
from pipeline.pages import PageArtifact
from pipeline.structure import VolumePlan


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
        fix_astral_unicode(doc)
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

            source = s.artifact.record.source
            ocr = read_ocr_result(s.artifact.ocr_path, f"{source.file}[{source.index}]")
            if ocr is not None:
                text_layer(pdf, page, ocr, s.width_pt, s.height_pt)
