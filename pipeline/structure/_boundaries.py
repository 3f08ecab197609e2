"""Where documents start: the batch manifest's list, separator sheets, else title blocks found by OCR."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.errors import ReviewNeeded
from pipeline.models import (
    BatchManifest,
    DocumentSpec,
    FieldEvidence,
    SeparatorPayload,
)
from pipeline.ocr import HeadingReader, LineReader
from pipeline.pages import PageArtifact
from pipeline.structure._dates import parse_date
from pipeline.structure._evidence import declared
from pipeline.structure._fields import Fields
from pipeline.structure._headings import has_title
from pipeline.structure._lexicon import expects_doc_no, normalise
from pipeline.structure._reader import OcrLoader, PageReader, load_ocr, page_label
from pipeline.structure._types import FIELDS, Document


def _numbered(page: PageArtifact) -> bool:
    return not page.record.blank and not page.record.separator and page.image_path is not None


def _case_key(case_no: str) -> str:
    return normalise(case_no).replace("〔", "(").replace("〕", ")").replace("[", "(").replace("]", ")")


def find_documents(pages: Sequence[PageArtifact], manifest: BatchManifest | None = None,
                   ocr: OcrLoader = load_ocr,
                   headings: HeadingReader | None = HeadingReader(has_title),
                   lines: LineReader | None = None, workers: int = 1) -> list[Document]:
    """The documents of a batch, in scan order: from the manifest's list, else separator sheets, else OCR titles.

    ``headings`` re-reads titles the page OCR dropped (None: use the page OCR only); ``lines`` reads the lines that
    decide a field again from the page image (None: use the page OCR only), pages side by side in ``workers``
    threads. Raises ReviewNeeded when the
    evidence contradicts itself (page counts that do not add up, a sheet of another case, a separator sheet that
    could not be read, a declared document without pages).
    """
    pages = sorted(pages, key=lambda p: p.position)
    unreadable = [p for p in pages if p.record.separator and p.separator is None]
    if unreadable:
        raise ReviewNeeded("separator sheet could not be decoded on page(s) "
                           + ", ".join(page_label(p) for p in unreadable) + ": check the sheet and rescan")
    case_no = manifest.case_no if manifest else ""
    for p in pages:
        if p.separator is not None and case_no and p.separator.case_no \
                and _case_key(p.separator.case_no) != _case_key(case_no):
            raise ReviewNeeded(f"separator sheet {page_label(p)} is for case {p.separator.case_no}, "
                               f"but the batch is case {case_no}: a sheet or pages of another case are in the batch")
    known = (manifest.agency, manifest.case_no) if manifest else ()
    reader = PageReader(ocr, headings, known, lines, workers)
    if manifest is not None and manifest.documents:
        return documents_from_manifest(pages, manifest.documents, reader)
    if any(p.separator is not None and p.separator.kind == "document" for p in pages):
        return documents_from_separators(pages, reader)
    return documents_from_ocr(pages, reader)


def _reader(ocr: PageReader | OcrLoader) -> PageReader:
    return ocr if isinstance(ocr, PageReader) else PageReader(ocr)


def _complete(index: int, positions: Sequence[int], declared_fields: Fields, boundary: str,
              by_pos: Mapping[int, PageArtifact], reader: PageReader, remark: str = "",
              extra_flags: Sequence[str] = (), source: str = "ocr") -> Document:
    """A document from declared fields (``source``: manifest or sheet), reading empty ones from the OCR of its first
    and last pages; each field keeps its evidence."""
    values = {name: getattr(declared_fields, name) for name in FIELDS}
    evidence = {name: declared(values[name], source) for name in FIELDS if values[name]}
    if not all(values.values()):
        last = by_pos[positions[-1]] if len(positions) > 1 else None
        read = reader.fields(by_pos[positions[0]], last)
        for name in FIELDS:
            if values[name]:
                continue
            if read is None:
                evidence[name] = FieldEvidence(flags=["missing", "no-ocr"])
                continue
            values[name] = getattr(read, name)
            evidence[name] = read.evidence.get(name, FieldEvidence(flags=["missing"]))
    if not values["doc_no"] and values["title"] and not expects_doc_no(values["title"]):
        evidence["doc_no"] = FieldEvidence(confidence=0.9)  # a 笔录, a 清单…: no 文号 to be had
    return Document(index, values["title"], tuple(positions), values["doc_no"], values["author"], values["date"],
                    remark, boundary, tuple(dict.fromkeys(extra_flags)), evidence)


def documents_from_manifest(pages: Sequence[PageArtifact], specs: Sequence[DocumentSpec],
                            ocr: PageReader | OcrLoader = load_ocr) -> list[Document]:
    """Documents as batch.json declares them: each takes the next ``pages`` scanned pages (blank ones included,
    separator sheets not counted); the counts must add up to the pages scanned."""
    reader = _reader(ocr)
    content = [p for p in sorted(pages, key=lambda p: p.position) if not p.record.separator]
    declared = sum(s.pages for s in specs)
    if declared != len(content):
        raise ReviewNeeded(f"batch.json declares {declared} pages in {len(specs)} documents but the batch has "
                           f"{len(content)} pages (separator sheets not counted): fix the document list or rescan")
    by_pos = {p.position: p for p in pages}
    spans, start = [], 0
    for i, spec in enumerate(specs):
        chunk = content[start : start + spec.pages]
        start += spec.pages
        positions = [p.position for p in chunk if _numbered(p)]
        if not positions:
            raise ReviewNeeded(f"document {i + 1} of batch.json ({spec.title}) has only blank pages: "
                               + ", ".join(page_label(p) for p in chunk))
        spans.append(positions)
    return reader.map(lambda i: _complete(i, spans[i], Fields(specs[i].title, specs[i].doc_no, specs[i].author,
                                                              _iso_or_as_is(specs[i].date)),
                                          "manifest", by_pos, reader, remark=specs[i].remark, source="manifest"),
                      range(len(specs)))


def _iso_or_as_is(text: str) -> str:
    """A declared date as ISO 8601 when it parses, else as given."""
    return (parse_date(text) or text.strip()) if text else ""


def documents_from_separators(pages: Sequence[PageArtifact], ocr: PageReader | OcrLoader = load_ocr) -> list[Document]:
    """Documents started by separator sheets (the sheets themselves are in no document). Pages before the first
    document sheet, if any, are split by their OCR titles and flagged ``no-separator``."""
    reader = _reader(ocr)
    ordered = sorted(pages, key=lambda p: p.position)
    by_pos = {p.position: p for p in ordered}
    groups: list[tuple[PageArtifact | None, list[PageArtifact]]] = [(None, [])]
    for p in ordered:
        if p.separator is not None and p.separator.kind == "document":
            groups.append((p, []))
        elif not p.record.separator:
            groups[-1][1].append(p)
    documents: list[Document] = []
    if any(_numbered(p) for p in groups[0][1]):
        for doc in documents_from_ocr(groups[0][1], reader):
            documents.append(Document(len(documents), doc.title, doc.positions, doc.doc_no, doc.author, doc.date,
                                      doc.remark, "ocr", tuple(dict.fromkeys((*doc.flags, "no-separator"))),
                                      doc.evidence))
    sheets: list[tuple[SeparatorPayload, list[int], list[str]]] = []
    for sheet, members in groups[1:]:
        payload: SeparatorPayload = sheet.separator  # type: ignore[union-attr]
        positions = [p.position for p in members if _numbered(p)]
        if not positions:
            raise ReviewNeeded(f"separator sheet {page_label(sheet)} ({payload.title or 'untitled document'}) is "
                               "followed by no page with content")
        extra = []
        if payload.pages is not None and payload.pages != len(members):
            extra.append(f"pages-mismatch: sheet says {payload.pages}, scanned {len(members)}")
        sheets.append((payload, positions, extra))

    def from_sheet(k: int) -> Document:
        payload, positions, extra = sheets[k]
        return _complete(len(documents) + k, positions,
                         Fields(payload.title, payload.doc_no, payload.author, _iso_or_as_is(payload.date)),
                         "separator", by_pos, reader, extra_flags=extra, source="sheet")

    return documents + reader.map(from_sheet, range(len(sheets)))


@dataclass(frozen=True)
class _Mark:
    """What a page shows of a boundary: a title block, the authority over it, its page-number footer."""

    starts: bool = False
    authority: str = ""
    titled: bool = False
    footer: tuple[int, int | None] | None = None


def _mark(reader: PageReader, page: PageArtifact) -> _Mark:
    view = reader.view(page)
    if view is None:
        return _Mark()
    head = view.head
    return _Mark(head.starts, head.authority.value, head.title_line is not None, view.layout.footer)


def documents_from_ocr(pages: Sequence[PageArtifact], ocr: PageReader | OcrLoader = load_ocr) -> list[Document]:
    """Documents split where a page opens with a title block (a title, or an authority over a 文号; two documents of
    one type from one authority in a row are two title blocks), where an issuing authority changes, and where the
    page-number footer starts again at 1; one untitled document (boundary "single") when nothing is found."""
    reader = _reader(ocr)
    ordered = [p for p in sorted(pages, key=lambda p: p.position) if _numbered(p)]
    marks = reader.map(lambda page: _mark(reader, page), ordered)
    starts: list[tuple[int, bool, tuple[str, ...]]] = []
    current_authority, expected_end = "", None
    for i, mark in enumerate(marks):
        footer = mark.footer
        by_title = mark.starts
        by_authority = bool(mark.authority and current_authority and mark.authority != current_authority
                            and mark.titled)
        by_footer = footer is not None and footer[0] == 1 and i > 0
        notes: tuple[str, ...] = ()
        if (by_title or by_authority) and footer is not None and footer[0] > 1:
            notes = (f"boundary-uncertain: a title on a page numbered {footer[0]}",)
        elif by_footer and not by_title:
            notes = ("boundary-footer",)
        if i == 0 or by_title or by_authority or by_footer:
            starts.append((i, by_title or by_authority or by_footer, notes))
            current_authority, expected_end = "", None
        elif expected_end is not None and i >= expected_end:
            starts.append((i, True, ("boundary-uncertain: the page count in the footer ended",)))
            current_authority, expected_end = "", None
        if mark.authority:
            current_authority = mark.authority
        if footer is not None and footer[1] and footer[0] == 1:
            expected_end = i + footer[1]
    by_pos = {p.position: p for p in pages}
    boundary = "ocr" if any(found for _, found, _ in starts) else "single"
    ends = [i for i, _, _ in starts[1:]] + [len(ordered)]
    return reader.map(lambda k: _complete(k, [p.position for p in ordered[starts[k][0]:ends[k]]], Fields(), boundary,
                                          by_pos, reader, extra_flags=starts[k][2]), range(len(starts)))
