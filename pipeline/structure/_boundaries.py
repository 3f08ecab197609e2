"""Where documents start: the batch manifest's list, separator sheets, else title blocks found by OCR."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.errors import ReviewNeeded
from pipeline.models import (
    BatchManifest,
    DocumentSpec,
    SeparatorPayload,
)
from pipeline.ocr import HeadingReader
from pipeline.pages import PageArtifact
from pipeline.structure._dates import parse_date
from pipeline.structure._fields import Fields
from pipeline.structure._headings import has_title
from pipeline.structure._lexicon import normalise
from pipeline.structure._reader import OcrLoader, PageReader, _name, load_ocr
from pipeline.structure._types import Document


def _numbered(page: PageArtifact) -> bool:
    return not page.record.blank and not page.record.separator and page.image_path is not None


def _case_key(case_no: str) -> str:
    return normalise(case_no).replace("〔", "(").replace("〕", ")").replace("[", "(").replace("]", ")")


def find_documents(pages: Sequence[PageArtifact], manifest: BatchManifest | None = None,
                   ocr: OcrLoader = load_ocr,
                   headings: HeadingReader | None = HeadingReader(has_title)) -> list[Document]:
    """The documents of a batch, in scan order: from the manifest's list, else separator sheets, else OCR titles.

    ``headings`` re-reads titles the page OCR dropped (None: use the page OCR only). Raises ReviewNeeded when the
    evidence contradicts itself (page counts that do not add up, a sheet of another case, a separator sheet that
    could not be read, a declared document without pages).
    """
    pages = sorted(pages, key=lambda p: p.position)
    unreadable = [p for p in pages if p.record.separator and p.separator is None]
    if unreadable:
        raise ReviewNeeded("separator sheet could not be decoded on page(s) "
                           + ", ".join(_name(p) for p in unreadable) + ": check the sheet and rescan")
    case_no = manifest.case_no if manifest else ""
    for p in pages:
        if p.separator is not None and case_no and p.separator.case_no \
                and _case_key(p.separator.case_no) != _case_key(case_no):
            raise ReviewNeeded(f"separator sheet {_name(p)} is for case {p.separator.case_no}, "
                               f"but the batch is case {case_no}: a sheet or pages of another case are in the batch")
    known = (manifest.agency, manifest.case_no) if manifest else ()
    reader = PageReader(ocr, headings, known)
    if manifest is not None and manifest.documents:
        return documents_from_manifest(pages, manifest.documents, reader)
    if any(p.separator is not None and p.separator.kind == "document" for p in pages):
        return documents_from_separators(pages, reader)
    return documents_from_ocr(pages, reader)


def _reader(ocr: PageReader | OcrLoader) -> PageReader:
    return ocr if isinstance(ocr, PageReader) else PageReader(ocr)


def _complete(index: int, positions: Sequence[int], declared: Fields, boundary: str,
              by_pos: Mapping[int, PageArtifact], reader: PageReader, remark: str = "",
              extra_flags: Sequence[str] = ()) -> Document:
    """A document from declared fields, reading empty ones from the OCR of its first and last pages."""
    values = {"title": declared.title, "doc_no": declared.doc_no, "author": declared.author, "date": declared.date}
    flags = list(declared.flags) + list(extra_flags)
    if not all(values.values()):
        last = by_pos[positions[-1]] if len(positions) > 1 else None
        read = reader.fields(by_pos[positions[0]], last)
        for name in values:
            if values[name]:
                continue
            found = getattr(read, name) if read else ""
            if found:
                values[name] = found
                flags.append(f"{name}-ocr")
            else:
                flags.append(f"{name}-missing")
        if read and "title-fuzzy" in read.flags and "title-ocr" in flags:
            flags.append("title-fuzzy")
    return Document(index, values["title"], tuple(positions), values["doc_no"], values["author"], values["date"],
                    remark, boundary, tuple(dict.fromkeys(flags)))


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
    documents, start = [], 0
    for i, spec in enumerate(specs):
        chunk = content[start : start + spec.pages]
        start += spec.pages
        positions = [p.position for p in chunk if _numbered(p)]
        if not positions:
            raise ReviewNeeded(f"document {i + 1} of batch.json ({spec.title}) has only blank pages: "
                               + ", ".join(_name(p) for p in chunk))
        documents.append(_complete(i, positions, Fields(spec.title, spec.doc_no, spec.author, _iso_or_as_is(spec.date)),
                                   "manifest", by_pos, reader, remark=spec.remark))
    return documents


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
                                      doc.remark, "ocr", tuple(dict.fromkeys((*doc.flags, "no-separator")))))
    for sheet, members in groups[1:]:
        payload: SeparatorPayload = sheet.separator  # type: ignore[union-attr]
        positions = [p.position for p in members if _numbered(p)]
        if not positions:
            raise ReviewNeeded(f"separator sheet {_name(sheet)} ({payload.title or 'untitled document'}) is followed "
                               "by no page with content")
        extra = []
        if payload.pages is not None and payload.pages != len(members):
            extra.append(f"pages-mismatch: sheet says {payload.pages}, scanned {len(members)}")
        documents.append(_complete(len(documents), positions,
                                   Fields(payload.title, payload.doc_no, payload.author, _iso_or_as_is(payload.date)),
                                   "separator", by_pos, reader, extra_flags=extra))
    return documents


def documents_from_ocr(pages: Sequence[PageArtifact], ocr: PageReader | OcrLoader = load_ocr) -> list[Document]:
    """Documents split where a page's top carries a known title in large centred type, or a 红头 authority that
    differs from the current document's; one untitled document (boundary "single") when nothing is found."""
    reader = _reader(ocr)
    ordered = [p for p in sorted(pages, key=lambda p: p.position) if _numbered(p)]
    starts: list[tuple[int, bool]] = []
    current_authority = ""
    for i, page in enumerate(ordered):
        heading = reader.heading(page)
        new = heading is not None and (
            heading.title is not None
            or bool(heading.authority and current_authority and heading.authority != current_authority)
        )
        if i == 0 or new:
            starts.append((i, new))
        if heading is not None and heading.authority:
            current_authority = heading.authority
    by_pos = {p.position: p for p in pages}
    boundary = "ocr" if any(found for _, found in starts) else "single"
    documents = []
    for k, (i, _) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(ordered)
        positions = [p.position for p in ordered[i:end]]
        documents.append(_complete(len(documents), positions, Fields(), boundary, by_pos, reader))
    return documents
